"""``RingHistory``: a constant-memory ring of statistics, spilled to complete Parquet parts.

The oracle is the plain list of every row appended: without a directory the history must give
back its tail, with one all of it, in order and bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genepool.errors import ConfigError
from genepool.memory.history import RingHistory, write_parquet_atomic

DTYPE = [
    ("generation", "i8"),
    ("best", "f8"),
    ("mean", "f8"),
    ("feasible", "?"),
    ("spread", "f4"),
]
COLUMNS = [name for name, _ in DTYPE]


def make_rows(n: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    best = rng.normal(size=n)
    return [
        (g, float(best[g]), float(best[g] + rng.exponential()), bool(rng.random() < 0.5), g / 7)
        for g in range(n)
    ]


def expected_frame(rows: list[tuple], columns=None) -> pd.DataFrame:
    arr = np.array(rows, dtype=DTYPE)
    return pd.DataFrame({c: arr[c] for c in (columns or COLUMNS)})


def assert_frame(got: pd.DataFrame, rows: list[tuple], columns=None) -> None:
    pd.testing.assert_frame_equal(got, expected_frame(rows, columns), check_exact=True)


def test_ring_keeps_the_last_capacity_rows_in_constant_memory():
    rows = make_rows(70, seed=0)
    h = RingHistory(DTYPE, capacity=7)
    nbytes = h.nbytes
    assert nbytes == 7 * np.dtype(DTYPE).itemsize
    assert_frame(h.to_frame(), [])
    for i, row in enumerate(rows):
        h.append(row)
        n = i + 1
        assert h.nbytes == nbytes and len(h) == n and h.n_in_memory == min(n, 7)
        assert_frame(h.to_frame(), rows[max(0, n - 7) : n])
    for last in [0, 1, 3, 7, 20]:
        assert_frame(h.to_frame(last=last), rows[70 - min(last, 7) :])
    assert_frame(
        h.to_frame(columns=["spread", "generation"], last=2), rows[68:], ["spread", "generation"]
    )
    assert h.flush() == 0


@pytest.mark.parametrize("flush_every", [1, 3, 5, None])
def test_directory_keeps_every_row_in_order(tmp_path, flush_every):
    capacity, n_total = 5, 53
    per_part = flush_every or capacity
    rows = make_rows(n_total, seed=1)
    h = RingHistory(DTYPE, capacity=capacity, directory=tmp_path / "hist", flush_every=flush_every)
    nbytes = h.nbytes
    for i, row in enumerate(rows):
        h.append(row)
        n = i + 1
        assert h.nbytes == nbytes and len(h) == n
        if n in (1, 5, 6, 16, n_total):
            assert_frame(h.to_frame(), rows[:n])
            assert_frame(
                h.to_frame(columns=["spread", "generation"]), rows[:n], ["spread", "generation"]
            )
            for last in {0, 1, 2, 4, 5, 6, 7, 11, n - 1, n, n + 2}:
                assert_frame(h.to_frame(last=last), rows[n - min(last, n) : n])
            assert_frame(h.to_frame(columns=["best"], last=4), rows[max(0, n - 4) : n], ["best"])
    # Parts are flushed before the ring would overwrite unsaved rows, per_part rows each.
    parts = sorted((tmp_path / "hist").iterdir())
    assert all(p.suffix == ".parquet" for p in parts)  # no temporary file left behind
    n_parts = (n_total - 1) // per_part
    assert [p.name for p in parts] == [f"part-{k:06d}.parquet" for k in range(n_parts)]
    for k, p in enumerate(parts):
        table = pq.read_table(p)  # each part is a complete Parquet file on its own
        assert table.schema.names == COLUMNS
        assert [str(t) for t in table.schema.types] == [
            "int64",
            "double",
            "double",
            "bool",
            "float",
        ]
        assert_frame(table.to_pandas(), rows[k * per_part : (k + 1) * per_part])
    assert h.flush() == n_total - n_parts * per_part
    assert h.flush() == 0
    assert_frame(h.to_frame(), rows)
    assert_frame(pq.read_table(tmp_path / "hist").to_pandas(), rows)


def test_parquet_contents_are_the_appended_statistics_bit_for_bit(tmp_path):
    rng = np.random.default_rng(2)
    values = np.concatenate(
        [
            rng.normal(size=40) * 10.0 ** rng.integers(-300, 300, 40),
            [0.0, -0.0, np.inf, -np.inf, 5e-324],
        ]
    )
    h = RingHistory([("g", "i8"), ("v", "f8")], capacity=8, directory=tmp_path, flush_every=8)
    for g, v in enumerate(values):
        h.append((g, v))
    h.flush()
    on_disk = pa.concat_tables([pq.read_table(p) for p in sorted(tmp_path.glob("part-*"))])
    assert on_disk.column("g").to_pylist() == list(range(len(values)))
    np.testing.assert_array_equal(
        on_disk.column("v").to_numpy().view(np.uint64), values.view(np.uint64)
    )
    np.testing.assert_array_equal(
        h.to_frame()["v"].to_numpy().view(np.uint64), values.view(np.uint64)
    )


def test_nan_statistics_survive(tmp_path):
    h = RingHistory([("g", "i8"), ("v", "f8")], capacity=2, directory=tmp_path, flush_every=1)
    for g, v in enumerate([np.nan, 1.0, np.nan, 2.0]):
        h.append((g, v))
    assert np.isnan(h.to_frame()["v"].to_numpy()).tolist() == [True, False, True, False]


def test_directory_with_part_files_is_refused(tmp_path):
    h = RingHistory(DTYPE, capacity=2, directory=tmp_path, flush_every=2)
    for row in make_rows(3, seed=3):
        h.append(row)
    assert (tmp_path / "part-000000.parquet").exists()
    with pytest.raises(ConfigError, match="part files"):
        RingHistory(DTYPE, capacity=2, directory=tmp_path)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not a part file")
    RingHistory(DTYPE, capacity=2, directory=tmp_path / "other")  # other files are fine
    RingHistory(DTYPE, capacity=2, directory=tmp_path / "new" / "nested")
    assert (tmp_path / "new" / "nested").is_dir()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"capacity": 5, "flush_every": 6}, "flush_every"),
        ({"capacity": 5, "flush_every": 0}, "flush_every"),
        ({"capacity": 5, "flush_every": 2.5}, "flush_every"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"capacity": "10"}, "capacity"),
        ({"capacity": True}, "capacity"),
    ],
)
def test_bad_sizes_raise(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RingHistory(DTYPE, directory=tmp_path, **kwargs)


def test_flush_every_larger_than_capacity_raises_without_directory_too():
    with pytest.raises(ConfigError, match="flush_every"):
        RingHistory(DTYPE, capacity=3, flush_every=4)


def test_bad_dtype_and_unknown_columns_raise():
    with pytest.raises(ConfigError, match="structured"):
        RingHistory(np.dtype("f8"))
    h = RingHistory(DTYPE, capacity=3)
    with pytest.raises(ConfigError, match="nope"):
        h.to_frame(columns=["best", "nope"])


def test_write_parquet_atomic_replaces_whole_files(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet_atomic(pa.table({"a": [1, 2, 3]}), path)
    write_parquet_atomic(pa.table({"a": [4]}), path)
    assert pq.read_table(path).column("a").to_pylist() == [4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


_RSS_SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    import numpy as np, psutil
    from genepool.memory.history import RingHistory

    cols = [("generation", "i8")] + [(f"s{j}", "f8") for j in range(200)]
    h = RingHistory(cols, capacity=50, directory=sys.argv[1], flush_every=50)
    rng = np.random.default_rng(0)
    proc = psutil.Process()
    rss = {}
    for g in range(10_000):
        h.append((g, *rng.random(200).tolist()))
        if g + 1 in (100, 10_000):
            gc.collect()
            rss[g + 1] = proc.memory_info().rss
    print(json.dumps({"rss": rss, "rows": len(h), "nbytes": h.nbytes}))
    """
)


def test_rss_stays_flat_while_spilling(tmp_path):
    pytest.importorskip("psutil")
    # 10,000 rows of 201 columns are 16 MB: holding them would show in RSS, the ring does not.
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["rows"] == 10_000 and report["nbytes"] == 50 * 201 * 8
    growth = report["rss"]["10000"] - report["rss"]["100"]
    assert growth < 8 * 2**20, growth
    assert len(list(Path(tmp_path).glob("part-*.parquet"))) == 199
