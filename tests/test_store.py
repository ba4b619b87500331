"""The memory-mapped market data store: import, open, verify, append (docs/data.md)."""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genepool.backtest import (
    MarketStore,
    _store_import,
    demo_data,
    import_store,
    infer_bars_per_year,
    load_ohlcv,
    open_store,
    synthetic_ohlcv,
    validate_ohlcv,
)
from genepool.errors import ConfigError, DataError, WriteError

FIELDS = ("open", "high", "low", "close", "volume")


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.equals(want)
    assert got.index.name == "time" and got.index.freq is None
    assert str(got.index.dtype) == str(want.index.dtype)


def _odd_calendar(n: int, seed: int) -> pd.DataFrame:
    """Hourly bars with random holes and a weekend gap: no regular spacing."""
    bars = synthetic_ohlcv(n, "1h", seed=seed, start="2021-03-01")
    keep = np.random.default_rng(seed).random(n) > 0.3
    keep[:2] = True
    bars = bars[keep]
    return bars[bars.index.day_of_week < 5]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Files of every kind, one symbol each."""
    out = {}
    demo = demo_data()
    out["DEMO"] = tmp_path / "DEMO.csv"
    demo.to_csv(out["DEMO"])  # pandas' own to_csv: the unnamed-index layout
    ny = synthetic_ohlcv(600, "B", seed=1, periods_per_year=252,
                         start=pd.Timestamp("2020-01-01", tz="America/New_York"))  # fmt: skip
    out["ny"] = tmp_path / "ny.parquet"
    ny.to_parquet(out["ny"])
    odd = _odd_calendar(3000, 2)
    out["Odd.x"] = tmp_path / "Odd.x.csv.gz"
    odd.reset_index().rename(columns=str.upper).to_csv(out["Odd.x"], index=False)
    berlin = synthetic_ohlcv(
        400, "1h", seed=3, start=pd.Timestamp("2024-03-30", tz="Europe/Berlin")
    )
    out["BER"] = tmp_path / "BER.csv"  # UTC offsets change mid-file (DST): read as UTC
    berlin.to_csv(out["BER"])
    one = synthetic_ohlcv(1, "1h", seed=4)
    out["ONE"] = tmp_path / "ONE.csv"
    one.to_csv(out["ONE"])
    return out


def test_round_trip_one_file_per_symbol(files, tmp_path):
    lines: list[str] = []
    store = import_store(list(files.values()), tmp_path / "store", progress=lines.append)
    assert isinstance(store, MarketStore)
    assert store.symbols == tuple(files)  # file name without its ending, case kept
    assert lines == [f"imported {s}: {store.n_bars(s):,} bars" for s in files]
    reopened = open_store(tmp_path / "store")
    for symbol, path in files.items():
        want = load_ohlcv(path)
        _same(reopened.frame(symbol), want)
        assert reopened.n_bars(symbol) == len(want)
        for field in FIELDS:
            array = reopened.array(symbol, field)
            assert isinstance(array, np.memmap) and array.dtype == np.float64
            assert not array.flags.writeable
            np.testing.assert_array_equal(array, want[field].to_numpy())
        times = reopened.times(symbol)
        assert times.dtype == np.int64 and not times.flags.writeable
        assert (times == want.index.asi8).all()
        _same(reopened.frame(symbol, 1, -1), want.iloc[1:-1])
        assert reopened.index(symbol, 2, 5).equals(want.index[2:5])
        if len(want) > 1:
            assert reopened.bars_per_year(symbol) == infer_bars_per_year(want.index)
    with pytest.raises(DataError, match="ONE has 1 bar"):
        reopened.bars_per_year("ONE")
    assert str(reopened.tz("BER")) == "UTC" and reopened.tz("DEMO") is None
    reopened.verify()
    info = reopened.info()
    json.dumps(info)
    assert info["n_symbols"] == 5 and info["n_bars"] == sum(store.n_bars(s) for s in files)
    row = {r["symbol"]: r for r in info["symbols"]}
    assert row["DEMO"]["freq"] == "h" and row["DEMO"]["bars_per_year"] == 8760
    assert row["ny"]["tz"] == "America/New_York"
    assert row["ny"]["start"] == "2020-01-01T00:00:00-05:00"
    on_disk = sum(p.stat().st_size for p in (tmp_path / "store").rglob("*.npy"))
    assert store.nbytes == on_disk + (tmp_path / "store" / "manifest.json").stat().st_size


def test_npy_files_are_plain_numpy(files, tmp_path):
    store = import_store([files["DEMO"]], tmp_path / "s")
    close = np.load(tmp_path / "s" / "symbols" / "DEMO" / "close.npy", mmap_mode="r")
    np.testing.assert_array_equal(close, demo_data()["close"].to_numpy())
    stamps = np.load(tmp_path / "s" / "symbols" / "DEMO" / "time.npy")
    assert stamps.dtype == np.int64 and (stamps == store.times("DEMO")).all()


def test_symbols_names_files_and_odd_names(files, tmp_path):
    store = import_store([files["DEMO"], files["ny"]], tmp_path / "s", symbols=["EUR/USD", "."])
    assert store.symbols == ("EUR/USD", ".")
    _same(store.frame("EUR/USD"), load_ohlcv(files["DEMO"]))
    assert all(
        p.parent == tmp_path / "s" / "symbols" for p in (tmp_path / "s" / "symbols").iterdir()
    )
    with pytest.raises(ConfigError, match="name each of the 2 files"):
        import_store([files["DEMO"], files["ny"]], tmp_path / "t", symbols=["A"])
    with pytest.raises(ConfigError, match="given twice"):
        import_store([files["DEMO"], files["DEMO"]], tmp_path / "u")
    assert not (tmp_path / "t").exists() and not (tmp_path / "u").exists()


def _long(n: int = 500) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """A long table of three symbols on different calendars, rows interleaved by time."""
    parts = {
        "AAA": synthetic_ohlcv(n, "1h", seed=10),
        "bb/b": _odd_calendar(n, 11),
        "aaa": synthetic_ohlcv(n // 2, "2h", seed=12),
    }
    table = pd.concat([p.assign(ticker=s) for s, p in parts.items()]).sort_index(kind="stable")
    return table, parts


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_long_table_round_trip(tmp_path, kind):
    table, parts = _long()
    path = tmp_path / f"long.{kind}"
    if kind == "csv":
        table.to_csv(path)
    else:
        table.to_parquet(path)
    lines: list[str] = []
    store = import_store(path, tmp_path / "s", symbol_column="ticker", chunk_rows=97,
                         progress=lines.append)  # fmt: skip
    assert set(store.symbols) == set(parts)
    assert sum(": rows " in line for line in lines) == -(-len(table) // 97)
    for symbol, part in parts.items():
        _same(store.frame(symbol), part)
    dirs = sorted(p.name for p in (tmp_path / "s" / "symbols").iterdir())
    assert dirs == ["AAA", "aaa~2", "bb%2Fb"]  # distinct even on a case-insensitive disk
    only = import_store(path, tmp_path / "t", symbol_column="ticker", symbols=["aaa"])
    assert only.symbols == ("aaa",)
    with pytest.raises(DataError, match="'zzz'"):
        import_store(path, tmp_path / "u", symbol_column="ticker", symbols=["zzz"])
    assert not (tmp_path / "u").exists()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk=st.integers(1, 400), block=st.sampled_from([8, 24, 1000, 1 << 26]))
def test_chunked_import_equals_one_shot(tmp_path_factory, monkeypatch, chunk, block):
    monkeypatch.setattr(_store_import, "CHECKSUM_BLOCK", block)
    folder = tmp_path_factory.mktemp("chunks")
    table, _ = _long(200)
    path = folder / "long.csv"
    table.to_csv(path)
    one = import_store(path, folder / "one", symbol_column="ticker", chunk_rows=10**6)
    many = import_store(path, folder / "many", symbol_column="ticker", chunk_rows=chunk)
    assert many.symbols == one.symbols
    for symbol in one.symbols:
        assert (many.times(symbol) == one.times(symbol)).all()
        for field in FIELDS:
            assert many.array(symbol, field).tobytes() == one.array(symbol, field).tobytes()
        a, b = (s.manifest["symbols"][symbol] for s in (one, many))
        assert {k: v for k, v in a.items()} == {k: v for k, v in b.items()}
    many.verify()


@pytest.mark.parametrize("block", [16, 1000, 1 << 26])
def test_append_equals_importing_the_concatenation(tmp_path, monkeypatch, block):
    monkeypatch.setattr(_store_import, "CHECKSUM_BLOCK", block)
    whole = _odd_calendar(2000, 5)
    other = synthetic_ohlcv(300, "1h", seed=6)
    whole.to_csv(tmp_path / "X.csv")
    for k, (lo, hi) in enumerate([(0, 700), (700, 701), (701, len(whole))]):
        _csv(whole.iloc[lo:hi], tmp_path / f"part{k}" / "X.csv")
    other.to_csv(tmp_path / "Y.csv")
    reference = import_store([tmp_path / "X.csv", tmp_path / "Y.csv"], tmp_path / "ref")

    store = import_store(tmp_path / "part0" / "X.csv", tmp_path / "s")
    created = store.manifest["created"]
    lines: list[str] = []
    import_store(tmp_path / "part1" / "X.csv", tmp_path / "s", append=True)
    store = import_store([tmp_path / "part2" / "X.csv", tmp_path / "Y.csv"], tmp_path / "s",
                         append=True, progress=lines.append)  # fmt: skip
    assert lines == [f"appended X: {len(whole) - 701:,} bars ({len(whole):,} in all)",
                     "imported Y: 300 bars"]  # fmt: skip
    assert store.symbols == ("X", "Y")
    for symbol in store.symbols:
        assert store.times(symbol).tobytes() == reference.times(symbol).tobytes()
        for field in FIELDS:
            assert store.array(symbol, field).tobytes() == reference.array(symbol, field).tobytes()
        # checksums, bars per year, range: all as if imported at once
        assert store.manifest["symbols"][symbol] == reference.manifest["symbols"][symbol]
    assert store.manifest["created"] == created
    store.verify()
    # the header was rewritten in place: plain numpy sees every bar
    assert len(np.load(tmp_path / "s" / "symbols" / "X" / "close.npy")) == len(whole)


def test_append_rejects_old_bars_and_leaves_the_store_as_it_was(tmp_path):
    bars = synthetic_ohlcv(100, "1h", seed=1)
    bars.to_csv(tmp_path / "A.csv")
    import_store(tmp_path / "A.csv", tmp_path / "s")
    before = _snapshot(tmp_path / "s")
    _csv(bars.iloc[50:], tmp_path / "again" / "A.csv")
    with pytest.raises(DataError, match=r"A: time 2020-01-03 02:00:00 at row 0 is not after "):
        import_store(tmp_path / "again" / "A.csv", tmp_path / "s", append=True)
    assert _snapshot(tmp_path / "s") == before
    bars.iloc[99:].to_csv(tmp_path / "again" / "A.csv")
    with pytest.raises(DataError, match="repeats"):
        import_store(tmp_path / "again" / "A.csv", tmp_path / "s", append=True)
    open_store(tmp_path / "s").verify()


def _csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# ---------------------------------------------------------------------------------------------
# errors and damage


def test_never_overwrites(tmp_path, files):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty .*notes.txt.*never overwrites"):
        import_store(files["DEMO"], tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]
    import_store(files["DEMO"], tmp_path / "s")
    with pytest.raises(ConfigError, match="append=True"):
        import_store(files["DEMO"], tmp_path / "s")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        import_store(files["DEMO"], tmp_path / "afile")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert import_store(files["DEMO"], empty).symbols == ("DEMO",)


def test_bad_row_in_a_later_chunk_names_symbol_file_row_and_time(tmp_path):
    table, _ = _long(300)
    table = table.reset_index()
    row = 250  # in the 3rd chunk of 100 rows
    table.loc[row, "close"] = -1.0
    table.to_csv(tmp_path / "long.csv", index=False)
    symbol = table.loc[row, "ticker"]
    time = table.loc[row, "time"]
    with pytest.raises(DataError) as info:
        import_store(tmp_path / "long.csv", tmp_path / "s", symbol_column="ticker",
                     chunk_rows=100)  # fmt: skip
    message = str(info.value)
    assert f"symbol {symbol}" in message and f"row {row} (time {time})" in message
    assert "close is not positive" in message and "long.csv" in message
    assert not (tmp_path / "s").exists()


def test_time_order_across_chunks(tmp_path):
    bars = synthetic_ohlcv(30, "1h", seed=2).assign(sym="S").reset_index()
    bars = pd.concat([bars, bars.iloc[[3]]], ignore_index=True)  # a late duplicate
    bars.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"symbol S: time 2020-01-01 03:00:00 at row 30 is not "
                       r"after 2020-01-02 05:00:00, its bar at row 29 of "):  # fmt: skip
        import_store(tmp_path / "t.csv", tmp_path / "s", symbol_column="sym", chunk_rows=10)
    with pytest.raises(DataError, match=r"symbol S: time goes backwards at row 30 .* at row 29\); "
                       r"sort the bars by time$"):  # fmt: skip
        import_store(tmp_path / "t.csv", tmp_path / "s", symbol_column="sym", chunk_rows=7)
    with pytest.raises(ConfigError, match="streamed"):
        import_store(tmp_path / "t.csv", tmp_path / "s", symbol_column="sym", sort=True)
    with pytest.raises(DataError, match="no symbol column 'ticker'"):
        import_store(tmp_path / "t.csv", tmp_path / "s", symbol_column="ticker")


@pytest.mark.parametrize("fail_at", [1, 7, 40])
def test_disk_full_during_import_leaves_nothing(tmp_path, monkeypatch, fail_at):
    table, _ = _long(300)
    table.to_csv(tmp_path / "long.csv")
    calls = {"n": 0}
    real = _store_import._write_at

    def flaky(path, offset, data):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, offset, data)

    monkeypatch.setattr(_store_import, "_write_at", flaky)
    with pytest.raises(WriteError) as info:
        import_store(tmp_path / "long.csv", tmp_path / "s", symbol_column="ticker",
                     chunk_rows=50)  # fmt: skip
    assert info.value.errno == errno.ENOSPC and "nothing was imported" in str(info.value)
    assert not (tmp_path / "s").exists()
    with pytest.raises(DataError, match="no such directory"):
        open_store(tmp_path / "s")


@pytest.mark.parametrize("fail_at", [1, 9, 30])
def test_disk_full_during_append_keeps_the_store(tmp_path, monkeypatch, fail_at):
    monkeypatch.setattr(_store_import, "CHECKSUM_BLOCK", 64)
    table, _ = _long(300)
    first, rest = table.iloc[:200], table.iloc[200:]
    first.to_csv(tmp_path / "a.csv")
    rest.assign(ticker=rest["ticker"].where(rest["ticker"] != "aaa", "NEW")).to_csv(
        tmp_path / "b.csv"
    )
    import_store(tmp_path / "a.csv", tmp_path / "s", symbol_column="ticker")
    before = _snapshot(tmp_path / "s")
    calls = {"n": 0}
    real = _store_import._write_at

    def flaky(path, offset, data):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, offset, data)

    monkeypatch.setattr(_store_import, "_write_at", flaky)
    with pytest.raises(WriteError):
        import_store(tmp_path / "b.csv", tmp_path / "s", symbol_column="ticker", append=True,
                     chunk_rows=20)  # fmt: skip
    assert _snapshot(tmp_path / "s") == before
    open_store(tmp_path / "s").verify()
    # and the same append goes through once there is room
    monkeypatch.setattr(_store_import, "_write_at", real)
    store = import_store(tmp_path / "b.csv", tmp_path / "s", symbol_column="ticker",
                         append=True)  # fmt: skip
    assert "NEW" in store and store.n_bars("AAA") == (table["ticker"] == "AAA").sum()
    store.verify()


def test_manifest_write_failure_during_append_rolls_back(tmp_path, monkeypatch):
    bars = synthetic_ohlcv(100, "1h", seed=1)
    bars.iloc[:60].to_csv(tmp_path / "A.csv")
    import_store(tmp_path / "A.csv", tmp_path / "s")
    before = _snapshot(tmp_path / "s")
    bars.iloc[60:].to_csv(tmp_path / "A.csv")

    def no_room(root, manifest):
        raise WriteError(root / "manifest.json", OSError(errno.ENOSPC, "full"))

    monkeypatch.setattr(_store_import, "write_manifest", no_room)
    with pytest.raises(WriteError):
        import_store(tmp_path / "A.csv", tmp_path / "s", append=True)
    assert _snapshot(tmp_path / "s") == before
    open_store(tmp_path / "s").verify()


def test_killed_append_leaves_a_readable_store(tmp_path):
    """Bytes past the manifest's bars (an append killed before its manifest) are ignored."""
    bars = synthetic_ohlcv(50, "1h", seed=1)
    bars.to_csv(tmp_path / "A.csv")
    store = import_store(tmp_path / "A.csv", tmp_path / "s")
    with open(tmp_path / "s" / "symbols" / "A" / "close.npy", "ab") as f:
        f.write(b"\x00" * 80)
    again = open_store(tmp_path / "s")
    again.verify()
    _same(again.frame("A"), store.frame("A"))


def _damage(tmp_path: Path) -> tuple[Path, MarketStore]:
    bars = synthetic_ohlcv(1000, "1h", seed=1)
    bars.to_csv(tmp_path / "SPY.csv")
    bars.to_csv(tmp_path / "QQQ.csv")
    store = import_store([tmp_path / "SPY.csv", tmp_path / "QQQ.csv"], tmp_path / "s")
    return tmp_path / "s" / "symbols" / "QQQ", store


def test_truncated_file(tmp_path):
    folder, _ = _damage(tmp_path)
    path = folder / "low.npy"
    os.truncate(path, path.stat().st_size - 8)
    with pytest.raises(DataError, match=r"QQQ's low \(symbols/QQQ/low.npy\) is truncated"):
        open_store(tmp_path / "s")


def test_flipped_byte_fails_verify(tmp_path):
    folder, _ = _damage(tmp_path)
    path = folder / "volume.npy"
    data = bytearray(path.read_bytes())
    data[5000] ^= 1
    path.write_bytes(bytes(data))
    opened = open_store(tmp_path / "s")  # sizes are right: only verify reads the bytes
    opened.verify(["SPY"])
    with pytest.raises(
        DataError, match=r"QQQ's volume \(symbols/QQQ/volume.npy\) fails its sha256"
    ):
        opened.verify()


def test_damaged_header(tmp_path):
    folder, _ = _damage(tmp_path)
    path = folder / "time.npy"
    data = bytearray(path.read_bytes())
    data[:6] = b"xxxxxx"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"QQQ's time .* not a readable .npy file"):
        open_store(tmp_path / "s").times("QQQ")


def test_missing_file(tmp_path):
    folder, _ = _damage(tmp_path)
    (folder / "open.npy").unlink()
    with pytest.raises(
        DataError, match=r"QQQ's open \(symbols/QQQ/open.npy\) is missing; re-import"
    ):
        open_store(tmp_path / "s")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda text: text[: len(text) // 2], "manifest.json is unreadable"),
        (lambda text: text.replace('"version": 1', '"version": 99'), "upgrade genepool"),
        (lambda text: text.replace('"n_bars"', '"bars"'), "not a valid store manifest"),
        (lambda text: text.replace("symbols/QQQ/low.npy", "../low.npy"), "leaves the store"),
        (lambda text: "[]", "not a valid store manifest"),
    ],
)
def test_bad_manifest(tmp_path, edit, match):
    _damage(tmp_path)
    manifest = tmp_path / "s" / "manifest.json"
    manifest.write_text(edit(manifest.read_text()))
    with pytest.raises(DataError, match=match):
        open_store(tmp_path / "s")


def test_not_a_store(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(DataError, match="not a genepool data store"):
        open_store(tmp_path / "d")
    (tmp_path / "d" / ".import-123").mkdir()
    with pytest.raises(DataError, match="did not finish"):
        open_store(tmp_path / "d")


def test_unknown_symbol_and_field(tmp_path):
    _, store = _damage(tmp_path)
    with pytest.raises(DataError, match=r"no symbol 'SPX' .*did you mean SPY"):
        store.array("SPX", "close")
    with pytest.raises(ConfigError, match="field must be one of"):
        store.array("SPY", "adj close")


def test_calendars(tmp_path):
    base = synthetic_ohlcv(500, "1h", seed=1)
    base.to_csv(tmp_path / "A.csv")
    base.to_csv(tmp_path / "B.csv")
    base.drop(base.index[200]).to_csv(tmp_path / "C.csv")
    base.iloc[:-1].to_csv(tmp_path / "D.csv")
    paths = [tmp_path / f"{s}.csv" for s in "ABCD"]
    store = import_store(paths, tmp_path / "s")
    store.check_calendars(["A", "B"])
    with pytest.raises(DataError, match=r"C is on a different calendar than A: bar 200 is "
                       r"2020-01-09 09:00:00 in C but 2020-01-09 08:00:00 in A"):  # fmt: skip
        store.check_calendars(["A", "B", "C"])
    with pytest.raises(DataError, match=r"bar 499 is missing in D"):
        store.check_calendars(["A", "D"])


def test_lock_refuses_a_second_writer(tmp_path):
    import fcntl

    bars = synthetic_ohlcv(20, "1h", seed=1)
    bars.to_csv(tmp_path / "A.csv")
    import_store(tmp_path / "A.csv", tmp_path / "s")
    with open(tmp_path / "s" / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(ConfigError, match="another import or append"):
            import_store(tmp_path / "A.csv", tmp_path / "s", append=True)


# ---------------------------------------------------------------------------------------------
# memory


_MEASURE = textwrap.dedent(
    """
    import sys
    from genepool.backtest import import_store
    import pandas, pyarrow  # noqa: F401

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

    # warm up: lazy imports and caches on a small file of the same kind
    import_store(sys.argv[3], sys.argv[2] + "-warm", symbol_column="sym", chunk_rows=300)
    before = hwm()
    store = import_store(sys.argv[1], sys.argv[2], symbol_column="sym", chunk_rows=20_000)
    print(hwm() - before, store.info()["n_bars"])
    """
)


def _import_growth(tmp_path: Path, table: pd.DataFrame, kind: str, tag: str) -> tuple[int, int]:
    """Peak RSS growth of importing ``table`` as a long ``kind`` file, measured in a fresh
    interpreter after a warm-up import of a small file of the same kind; and its bars."""
    path = tmp_path / f"long-{tag}.{kind}"
    warm = tmp_path / f"warm-{tag}.{kind}"
    if kind == "csv":
        table.to_csv(path)
        table.iloc[:2000].to_csv(warm)
    else:
        table.to_parquet(path, row_group_size=20_000)
        table.iloc[:2000].to_parquet(warm)
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(tmp_path / f"s-{tag}"), str(warm)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    growth, n_bars = map(int, out.stdout.split())
    return growth, n_bars


def _long_table(n: int) -> pd.DataFrame:
    parts = [synthetic_ohlcv(n, "1min", seed=k).assign(sym=f"S{k}") for k in range(3)]
    return pd.concat(parts).sort_index(kind="stable")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_import_streams_a_long_csv(tmp_path):
    table = _long_table(160_000)
    in_memory = int(pd.read_csv(io.StringIO(table.to_csv())).memory_usage(deep=True).sum())
    growth, n_bars = _import_growth(tmp_path, table, "csv", "a")
    assert n_bars == 3 * 160_000
    assert growth < in_memory / 3, (growth, in_memory)


def test_validate_oracle_for_groups(tmp_path):
    """A long table's symbol is the table's rows of that symbol, validated like load_ohlcv."""
    table, _ = _long(120)
    raw = table.reset_index()
    raw.to_csv(tmp_path / "t.csv", index=False)
    store = import_store(tmp_path / "t.csv", tmp_path / "s", symbol_column="ticker",
                         chunk_rows=13)  # fmt: skip
    for symbol in store.symbols:
        rows = raw[raw["ticker"] == symbol].drop(columns="ticker").astype({"time": str})
        _same(store.frame(symbol), validate_ohlcv(rows))


def test_pickles_as_a_path(tmp_path):
    import pickle

    _, store = _damage(tmp_path)
    store.array("SPY", "close")  # mapped: the map is not pickled
    data = pickle.dumps(store)
    assert len(data) < 5000
    again = pickle.loads(data)
    assert again.symbols == store.symbols and again.path == store.path
    assert (again.array("QQQ", "close") == store.array("QQQ", "close")).all()


def test_verify_locates_the_damaged_block(tmp_path, monkeypatch):
    monkeypatch.setattr(_store_import, "CHECKSUM_BLOCK", 800)  # 100 bars a block
    bars = synthetic_ohlcv(1000, "1h", seed=1)
    bars.to_csv(tmp_path / "A.csv")
    store = import_store(tmp_path / "A.csv", tmp_path / "s")
    assert len(store.manifest["symbols"]["A"]["files"]["close"]["checksums"]) == 10
    path = tmp_path / "s" / "symbols" / "A" / "close.npy"
    data = bytearray(path.read_bytes())
    data[128 + 3 * 800 + 17] ^= 4  # in the 4th block
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"A's close .* in bytes 2,528-3,328: "):
        store.verify()


def test_append_replaces_leftovers_of_a_killed_append(tmp_path):
    bars = synthetic_ohlcv(50, "1h", seed=1)
    bars.to_csv(tmp_path / "A.csv")
    bars.to_csv(tmp_path / "B.csv")
    import_store(tmp_path / "A.csv", tmp_path / "s")
    junk = tmp_path / "s" / "symbols" / "B"  # moved in, then killed before the manifest
    junk.mkdir()
    (junk / "close.npy").write_bytes(b"junk")
    assert open_store(tmp_path / "s").symbols == ("A",)
    store = import_store(tmp_path / "B.csv", tmp_path / "s", append=True)
    store.verify()
    _same(store.frame("B"), load_ohlcv(tmp_path / "B.csv"))
    assert not list((tmp_path / "s").glob(".append-*"))


_KILLED = textwrap.dedent(
    """
    import sys
    from genepool.backtest import import_store

    import_store(sys.argv[1], sys.argv[2], symbol_column="sym", chunk_rows=500,
                 append=sys.argv[3] == "append", progress=lambda line: print(line, flush=True))
    """
)


@pytest.mark.parametrize("lines_before_kill", [1, 6])
def test_kill_9_during_append_or_import(tmp_path, lines_before_kill):
    """A killed import leaves no store; a killed append leaves the previous one, verified."""
    import signal

    parts = [synthetic_ohlcv(6000, "1min", seed=k).assign(sym=f"S{k}") for k in range(3)]
    table = pd.concat(parts).sort_index(kind="stable")
    table.iloc[:3000].to_csv(tmp_path / "old.csv")
    table.iloc[3000:].to_csv(tmp_path / "new.csv")
    import_store(tmp_path / "old.csv", tmp_path / "s", symbol_column="sym")
    before = open_store(tmp_path / "s").info()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for mode, target in (("append", tmp_path / "s"), ("import", tmp_path / "fresh")):
        child = subprocess.Popen(
            [sys.executable, "-c", _KILLED, str(tmp_path / "new.csv"), str(target), mode],
            stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert child.stdout is not None
        for _ in range(lines_before_kill):
            child.stdout.readline()
        child.send_signal(signal.SIGKILL)
        child.wait()
        if mode == "append":
            store = open_store(target)
            store.verify()
            assert store.info()["n_bars"] in (before["n_bars"], len(table))
        else:
            with pytest.raises(DataError, match="did not finish|no such directory"):
                open_store(target)
    # the next append goes through and gives the whole table
    store = import_store(tmp_path / "new.csv", tmp_path / "s", symbol_column="sym", append=True)
    store.verify()
    for k, part in enumerate(parts):
        _same(store.frame(f"S{k}"), part.drop(columns="sym"))
        path = tmp_path / "s" / "symbols" / f"S{k}" / "close.npy"
        assert path.stat().st_size == 128 + 8 * len(part)  # leftovers cut


def test_long_table_layouts(tmp_path):
    """Excel-style CSV (';' and decimal commas, Date and Time columns, gzip) and a folder of
    Parquet files, streamed."""
    table, parts = _long(150)
    excel = table.reset_index()
    excel.insert(0, "Date", excel["time"].dt.strftime("%Y-%m-%d"))
    excel.insert(1, "Time", excel["time"].dt.strftime("%H:%M:%S"))
    excel = excel.drop(columns="time")
    excel.to_csv(tmp_path / "eu.csv.gz", sep=";", decimal=",", index=False)
    store = import_store(tmp_path / "eu.csv.gz", tmp_path / "s", symbol_column="TICKER",
                         chunk_rows=64)  # fmt: skip
    folder = tmp_path / "pq.parquet"
    folder.mkdir()
    table.iloc[:200].to_parquet(folder / "a.parquet")
    table.iloc[200:].to_parquet(folder / "b.parquet")
    again = import_store(folder, tmp_path / "t", symbol_column="ticker", chunk_rows=50)
    for symbol, part in parts.items():
        _same(again.frame(symbol), part)
        got = store.frame(symbol)
        assert (got.index == part.index).all()
        np.testing.assert_allclose(got.to_numpy(), part.to_numpy(), rtol=1e-15)


def test_dataframes_as_sources(tmp_path, files):
    demo = demo_data()
    odd = _odd_calendar(500, 3)
    store = import_store({"D": demo, "F": files["ny"]}, tmp_path / "a")
    assert store.symbols == ("D", "F")
    _same(store.frame("D"), demo)
    _same(store.frame("F"), load_ohlcv(files["ny"]))
    store = import_store([odd], tmp_path / "a", symbols=["O"], append=True)
    _same(store.frame("O"), odd)
    with pytest.raises(ConfigError, match="has no file name"):
        import_store([demo], tmp_path / "b")
    with pytest.raises(ConfigError, match="do not pass symbols="):
        import_store({"D": demo}, tmp_path / "b", symbols=["D"])
    bad = demo.copy()
    bad.iloc[7, 3] = np.nan
    with pytest.raises(DataError, match=r"frame D: close is missing \(NaN\) at row 7"):
        import_store({"D": bad}, tmp_path / "b")
    table, parts = _long(100)
    long = import_store(table, tmp_path / "c", symbol_column="ticker", chunk_rows=33)
    for symbol, part in parts.items():
        _same(long.frame(symbol), part)
    assert not (tmp_path / "b").exists()


def test_symbol_by_symbol_appends_equal_one_import(tmp_path):
    frames = {f"S{k}": synthetic_ohlcv(200 + k, "1h", seed=k) for k in range(4)}
    for name, frame in frames.items():
        import_store({name: frame}, tmp_path / "one-by-one", append=True)
    store = open_store(tmp_path / "one-by-one")
    whole = import_store(frames, tmp_path / "whole")
    assert store.symbols == whole.symbols == tuple(frames)
    for name in frames:
        assert store.manifest["symbols"][name] == whole.manifest["symbols"][name]
