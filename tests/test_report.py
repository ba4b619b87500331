"""The HTML report of a strategy-evolution run (genepool.report)."""

from __future__ import annotations

import base64
import dataclasses
import io
import math
import os
import re
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genepool
from genepool.errors import ConfigError
from genepool.report import ReportData, render_report, write_report
from genepool.report._example import example_data
from genepool.report._figures import minmax_indices
from genepool.report._format import flatten_config, fmt_value

SECTIONS = [
    "verdict",
    "walk-forward",
    "equity",
    "trades",
    "hall-of-fame",
    "convergence",
    "parameters",
    "memory",
    "configuration",
]
NO_WF = [s for s in SECTIONS if s != "walk-forward"]


class Doc(HTMLParser):
    """What the tests look at in a report: sections in order with their text, images,
    scripts, table rows per section."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.text: dict[str, str] = {}
        self.rows: dict[str, int] = {}
        self.images: list[dict[str, str | None]] = []
        self.scripts = 0
        self.h1 = ""
        self.title = ""
        self._section: str | None = None
        self._in: str | None = None
        self._tbody = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._section = a["id"]
            self.sections.append(a["id"])
            self.text[a["id"]] = ""
            self.rows[a["id"]] = 0
        elif tag == "img":
            self.images.append(a)
        elif tag == "script":
            self.scripts += 1
        elif tag in ("h1", "title"):
            self._in = tag
        elif tag == "tbody":
            self._tbody = True
        elif tag == "tr" and self._tbody and self._section:
            self.rows[self._section] += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None
        elif tag in ("h1", "title"):
            self._in = None
        elif tag == "tbody":
            self._tbody = False

    def handle_data(self, data):
        if self._section:
            self.text[self._section] += data
        if self._in == "h1":
            self.h1 += data
        elif self._in == "title":
            self.title += data


def png_size(src: str) -> tuple[int, int]:
    """Check that ``src`` is a base64 PNG data URI and return (width, height) from IHDR."""
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    raw = base64.b64decode(src[len(prefix) :], validate=True)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", raw[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", raw[16:24])
    (crc,) = struct.unpack(">I", raw[29:33])
    assert zlib.crc32(raw[12:29]) == crc
    assert raw.endswith(b"IEND\xaeB`\x82")
    return width, height


def check(data: ReportData, sections: list[str] | None = None) -> tuple[str, Doc]:
    """Render ``data`` and check what every report must satisfy."""
    html = render_report(data)
    doc = Doc(html)
    expected = sections or (SECTIONS if data.walk_forward is not None else NO_WF)
    assert doc.sections == expected
    for sid in expected:
        assert doc.text[sid].strip(), sid
    assert html.startswith("<!DOCTYPE html>")
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "url(" not in html
    assert doc.scripts == 1
    for im in doc.images:
        w, h = png_size(im["src"])
        assert w > 0 and h > 0
        assert (im["width"], im["height"]) == (str(w), str(h))
        assert im["alt"]
    return html, doc


def part(sid: str, data: ReportData) -> tuple[str, list[dict[str, str | None]], int]:
    """Text, images and table rows of one section, built alone (cheaper than a full report)."""
    from genepool.report import _figures, _sections
    from genepool.report._data import validate

    validate(data)
    body = getattr(_sections, sid.replace("-", "_"))(data, _figures)
    doc = Doc(f'<section id="{sid}">{body}</section>')
    for im in doc.images:
        png_size(im["src"])
    return doc.text[sid], doc.images, doc.rows[sid]


def test_full_report_sections_images_and_order():
    data = example_data(3)
    html, doc = check(data)
    assert len(doc.images) == 5  # convergence, memory, equity, parameters, walk-forward
    import matplotlib.image

    for im in doc.images:
        pixels = matplotlib.image.imread(
            io.BytesIO(base64.b64decode(im["src"].split(",", 1)[1])), format="png"
        )
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 400
        assert float(pixels[..., :3].std()) > 0.01  # something is drawn
    assert doc.h1 == data.title
    assert doc.text["verdict"].count("0.97") >= 1 and "0.18" in doc.text["verdict"]
    assert "significant: yes" in doc.text["verdict"]
    for name in ("window", "wilder", "sharpe_ratio", "out of sample"):
        assert name in doc.text["verdict"]
    assert "budget 2.00 GiB" in doc.text["memory"] or "2.00 GiB" in doc.text["memory"]
    assert "Self-check needs JavaScript" in html
    assert "data-report-check" not in html.split("<script>")[0]
    assert 'http-equiv="Content-Security-Policy"' in html and "default-src 'none'" in html


def test_render_is_deterministic():
    data = example_data(5, generations=5, bars_in=200, bars_out=50, population=50)
    assert render_report(data) == render_report(data)


def test_user_strings_are_escaped():
    evil = '<script>alert("x")</script> & <b>bold</b>'
    data = example_data(1, generations=3, bars_in=100, bars_out=30, population=30, trades=5)
    pop = data.population.rename(columns={"ma": "<img src=x onerror=alert(1)>"})
    pop["<img src=x onerror=alert(1)>"] = "<i>evil</i>"
    data = dataclasses.replace(
        data,
        title=evil,
        subtitle=evil,
        config={"<k>": {"</td><script>alert(2)</script>": evil}},
        population=pop,
        best={**data.best, "params": {evil: evil}},
        hall_of_fame=data.hall_of_fame.rename(columns={"ma": evil}),
        verdict={**data.verdict, "text": evil, evil: evil},
        trades=data.trades.assign(note=evil),
        walk_forward=data.walk_forward.rename(columns={"test_sharpe": evil}),
    )
    html, doc = check(data)
    assert "<script>alert" not in html and "<b>bold" not in html and "<img src=x" not in html
    assert "<i>evil" not in html and "</td><script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert doc.h1 == evil and doc.title.startswith(evil)
    assert "<k>.</td><script>alert(2)</script>" in doc.text["configuration"]
    assert evil in doc.text["verdict"] and evil in doc.text["trades"]


def test_trades_are_truncated_with_a_count():
    data = example_data(2, bars_in=4000, bars_out=1000, trades=1234, generations=3)
    _, doc = check(data)
    n_in = int((data.trades["sample"] == "in").sum())
    assert n_in > 500 > 1234 - n_in
    assert (
        f"first 500 of {n_in:,} in-sample trades ({n_in - 500:,} left out)" in doc.text["trades"]
    )
    assert doc.rows["trades"] == 500 + 1234 - n_in  # out of sample in full, then in sample
    assert (
        f"1,234 trades ({n_in:,} in sample, {1234 - n_in:,} out of sample)" in doc.text["trades"]
    )


def test_short_trade_list_is_not_truncated():
    data = example_data(2, generations=3, trades=40)
    _, doc = check(data)
    assert doc.rows["trades"] == 40 and "left out" not in doc.text["trades"]


def test_no_trades():
    data = example_data(4, generations=3, trades=0)
    assert len(data.trades) == 0
    _, doc = check(dataclasses.replace(data, trades=pd.DataFrame()))
    assert doc.text["trades"].strip().endswith("no trades")
    assert part("trades", data)[0] == "no trades"  # empty, but with the columns


def test_no_out_of_sample_data():
    data = example_data(6, bars_out=0, walk_forward=False)
    assert data.equity_out is None and data.best["out_of_sample"] is None
    html, doc = check(data)
    assert "No out-of-sample data" in doc.text["equity"]
    assert "No out-of-sample split" in doc.text["verdict"]
    assert ">out of sample</th>" not in html
    assert "walk-forward" not in doc.sections and 'href="#walk-forward"' not in html
    assert len(doc.images) == 4


def test_single_generation():
    data = example_data(7, generations=1, bars_in=50, bars_out=10, population=5, trades=2)
    _, doc = check(data)
    assert "1 generation;" in doc.text["convergence"]
    assert len(doc.images) == 5


def test_nan_metrics_and_values():
    data = example_data(8, generations=10, bars_in=300, bars_out=100, population=100)
    history = data.history.copy()
    history.loc[::2, "std"] = np.nan
    history.loc[3, "mean"] = np.inf
    equity_in = data.equity_in.copy()
    equity_in.iloc[10:20] = np.nan
    pop = data.population.copy()
    pop.loc[:9, "fitness"] = -1e12  # penalized individuals
    pop.loc[10:14, "fitness"] = np.nan
    pop.loc[:4, "lower"] = np.nan
    hof = data.hall_of_fame.copy()
    hof.loc[0, "sharpe_out"] = np.nan
    data = dataclasses.replace(
        data,
        history=history,
        equity_in=equity_in,
        population=pop,
        hall_of_fame=hof,
        best={
            "params": data.best["params"],
            "in_sample": {"sharpe_ratio": np.nan, "profit_factor": np.inf, "n_trades": 0},
            "out_of_sample": {"sharpe_ratio": None, "extra": float("nan")},
        },
        verdict={"text": "Cannot tell.", "significant": None, "dsr": np.nan, "pbo": None},
    )
    _, doc = check(data)
    assert "significant: unknown" in doc.text["verdict"]
    # undefined metrics read n/a, never NaN or infinity
    assert "n/a" in doc.text["verdict"]
    assert "NaN" not in doc.text["verdict"] and "\u221e" not in doc.text["verdict"]


def test_constant_and_degenerate_gene_columns():
    n = 200
    pop = pd.DataFrame(
        {
            "const_float": np.full(n, 2.5),
            "const_int": np.full(n, 7),
            "const_cat": ["a"] * n,
            "const_bool": np.ones(n, bool),
            "all_nan": np.full(n, np.nan),
            "many_cats": [f"c{i % 40}" for i in range(n)],
            "fitness": np.full(n, 1.0),
        }
    )
    data = dataclasses.replace(
        example_data(9, generations=3, population=n),
        population=pop,
        best={"params": {"const_float": 2.5, "many_cats": "c3"}, "in_sample": {"sharpe": 1.0}},
    )
    _, doc = check(data)
    assert "6 genes" in doc.text["parameters"]


def test_one_individual_and_many_genes(monkeypatch):
    from genepool.report import _figures

    monkeypatch.setattr(_figures, "MAX_GENE_PANELS", 5)
    pop = pd.DataFrame({f"g{i}": [float(i)] for i in range(8)} | {"fitness": [0.5]})
    data = dataclasses.replace(example_data(9, generations=3), population=pop)
    text, images, _ = part("parameters", data)
    assert "Not drawn (3 more genes): g5, g6, g7." in text and len(images) == 1


def test_empty_parts():
    data = dataclasses.replace(
        example_data(10, generations=3, walk_forward=False),
        history=pd.DataFrame(columns=["generation", "best", "mean", "std"]),
        memory=pd.DataFrame(),
        memory_limit=None,
        population=pd.DataFrame(),
        hall_of_fame=pd.DataFrame(),
        config={},
        best={"params": {}, "in_sample": {}, "out_of_sample": None},
        equity_in=pd.Series([], dtype=float),
        equity_out=None,
    )
    _, doc = check(data)
    assert "no generations recorded" in doc.text["convergence"]
    assert "no memory samples" in doc.text["memory"]
    assert "no equity data" in doc.text["equity"]
    assert "empty population" in doc.text["parameters"]
    assert "no strategies" in doc.text["hall-of-fame"]
    assert "no configuration" in doc.text["configuration"]
    assert doc.images == []


def test_memory_without_samples_or_chunk_sizes():
    data = example_data(11, generations=5, memory=False)
    _, doc = check(data)
    assert "no memory samples" in doc.text["memory"] and len(doc.images) == 4
    text, images, _ = part("memory", dataclasses.replace(data, memory_limit=2**30))
    assert "no memory samples" in text and "1.00 GiB" in text and not images
    mem = pd.DataFrame({"generation": [0, 1, 2], "rss": [1e8, 1.1e8, 1.2e8]})
    text, images, _ = part("memory", dataclasses.replace(data, memory=mem, memory_limit=None))
    assert "Peak RSS 114.44 MiB at generation 2." in text and len(images) == 1
    mem["chunk_size"] = [0, np.nan, 0]
    text, images, _ = part("memory", dataclasses.replace(data, memory=mem, memory_limit=2**27))
    assert "89% of the budget" in text and "Chunk size" not in text and len(images) == 1


def test_large_equity_and_population():
    data = example_data(12, bars_in=75_000, bars_out=25_000, population=10_000, generations=50)
    html, doc = check(data)
    assert len(html) < 3_000_000
    for im in doc.images:
        w, h = png_size(im["src"])
        assert w <= 1600 and h <= 3000
    assert "minimum and maximum of each of 2,000 buckets" in doc.text["equity"]


def test_range_index_and_timezones():
    data = example_data(13, datetime_index=False, generations=4)
    assert isinstance(data.equity_out.index, pd.RangeIndex) and data.equity_out.index[0] == 0
    check(data)
    tz = example_data(13, generations=4)
    eq_in = tz.equity_in.tz_localize("UTC")
    eq_out = tz.equity_out.tz_localize("UTC").tz_convert("America/New_York")
    trades = tz.trades.assign(entry_time=tz.trades["entry_time"].dt.tz_localize("UTC"))
    tz = dataclasses.replace(tz, equity_in=eq_in, equity_out=eq_out, trades=trades)
    assert len(part("equity", tz)[1]) == 1
    assert "UTC" in part("trades", tz)[0]
    # mixed: in sample on dates, out of sample by bar number
    mixed = dataclasses.replace(tz, equity_out=tz.equity_out.reset_index(drop=True))
    assert len(part("equity", mixed)[1]) == 1


def test_walk_forward_section():
    data = example_data(14, generations=4)
    text, images, rows = part("walk-forward", data)
    assert "test_sharpe, test_total_return" in text and len(images) == 1 and rows == 5
    assert "2020-02-01" in text and "00:00:00" not in text
    text, _, _ = part(
        "walk-forward", dataclasses.replace(data, walk_forward_metrics=["train_sharpe"])
    )
    assert "Per fold: train_sharpe." in text
    only_dates = data.walk_forward[["fold", "train_start", "train_end"]]
    text, images, _ = part("walk-forward", dataclasses.replace(data, walk_forward=only_dates))
    assert "Per fold" not in text and not images
    empty = dataclasses.replace(data, walk_forward=pd.DataFrame())
    _, doc = check(empty)
    assert "no walk-forward folds" in doc.text["walk-forward"]


def test_configuration_is_flattened():
    config = {"a": {"b": {"c": 1}, "d": [1, 2]}, "e": 0.1, "f": None, "g": {}, "h": True}
    assert flatten_config(config) == [
        ("a.b.c", 1),
        ("a.d", [1, 2]),
        ("e", 0.1),
        ("f", None),
        ("g", "{}"),
        ("h", True),
    ]
    data = dataclasses.replace(example_data(15, generations=3), config=config)
    _, doc = check(data)
    text = doc.text["configuration"]
    for piece in ("a.b.c1", "a.d[1, 2]", "e0.1", "f\u2014", "g{}", "hTrue"):
        assert piece in text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "\u2014"),
        (True, "True"),
        (np.bool_(False), "False"),
        (1234567, "1,234,567"),
        (np.int64(-5), "-5"),
        (0.0, "0"),
        (0.123456, "0.1235"),
        (-12.3456, "-12.35"),
        (1234.56, "1,234.6"),
        (1234567.8, "1,234,568"),
        (1.5e-7, "1.500e-07"),
        (2e16, "2.000e+16"),
        (math.nan, "NaN"),
        (-math.inf, "\u2212\u221e"),
        (pd.Timestamp("2021-03-04"), "2021-03-04"),
        (pd.Timestamp("2021-03-04 05:06"), "2021-03-04 05:06:00"),
        (pd.NaT, "\u2014"),
        ("text", "text"),
    ],
)
def test_fmt_value(value, text):
    assert fmt_value(value) == text


def test_minmax_downsampling_keeps_extremes():
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=100_003))
    y[54_321] = -1e3  # a one-bar crash must stay visible
    y[777] = np.nan
    idx = minmax_indices(y, 4000)
    assert len(idx) <= 4002 and np.all(np.diff(idx) > 0)
    assert idx[0] == 0 and idx[-1] == len(y) - 1
    assert 54_321 in idx and int(np.nanargmax(y)) in idx
    k = math.ceil(len(y) / 2000)
    for start in range(0, len(y), k):
        bucket = y[start : start + k]
        assert start + int(np.nanargmin(bucket)) in idx
        assert start + int(np.nanargmax(bucket)) in idx
    assert np.array_equal(minmax_indices(y[:4000], 4000), np.arange(4000))
    assert len(minmax_indices(np.full(10_000, np.nan), 100)) <= 102


def test_write_report_is_atomic(tmp_path, monkeypatch):
    import genepool.report._html as html_mod

    data = example_data(16, generations=3, bars_in=200, bars_out=50, population=40)
    target = tmp_path / "run" / "report.html"
    out = write_report(data, target)
    assert out == target and os.listdir(target.parent) == ["report.html"]
    first = target.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>") and Doc(first).sections == SECTIONS
    if os.name == "posix":  # the usual permissions, not mkstemp's 0o600
        umask = os.umask(0o022)
        os.umask(umask)
        assert target.stat().st_mode & 0o777 == 0o666 & ~umask

    # from here on the rendering itself is not under test
    monkeypatch.setattr(html_mod, "render_report", lambda d: f"<p>{d.title}</p>")

    def boom(src, dst):
        raise OSError("disk full")

    with monkeypatch.context() as m:  # a failed move leaves the old report, no temporary file
        m.setattr(html_mod.os, "replace", boom)
        with pytest.raises(OSError, match="disk full"):
            write_report(dataclasses.replace(data, title="new"), target)
    assert os.listdir(target.parent) == ["report.html"]
    assert target.read_text(encoding="utf-8") == first

    write_report(dataclasses.replace(data, title="second"), str(target))
    assert target.read_text(encoding="utf-8") == "<p>second</p>"
    assert os.listdir(target.parent) == ["report.html"]
    monkeypatch.undo()

    # bad data fails before anything is written
    with pytest.raises(ConfigError):
        write_report(dataclasses.replace(data, history=pd.DataFrame()), tmp_path / "x.html")
    assert sorted(os.listdir(tmp_path)) == ["run"]


def _bad(field: str, value: object) -> ReportData:
    return dataclasses.replace(
        example_data(17, generations=3, bars_in=100, bars_out=20, population=20), **{field: value}
    )


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: _bad("history", pd.DataFrame({"generation": [0], "best": [1.0]})),
            r"history.*'mean'",
        ),
        (lambda: _bad("history", [1, 2]), r"history must be a pandas DataFrame"),
        (lambda: _bad("memory", pd.DataFrame({"generation": [0]})), r"memory.*'rss'"),
        (lambda: _bad("memory_limit", -1), r"memory_limit"),
        (lambda: _bad("memory_limit", 1.5), r"memory_limit"),
        (lambda: _bad("equity_in", np.ones(3)), r"equity_in must be a pandas Series"),
        (lambda: _bad("equity_out", pd.Series(["a", "b"])), r"equity_out must hold numbers"),
        (lambda: _bad("population", pd.DataFrame({"x": [1.0]})), r"population.*'fitness'"),
        (lambda: _bad("trades", pd.DataFrame({"pnl": [1.0]})), r"trades.*'entry_time'"),
        (lambda: _bad("best", {"params": {}}), r"best.*'in_sample'"),
        (lambda: _bad("best", {"params": [], "in_sample": {}}), r"best\['params'\]"),
        (lambda: _bad("hall_of_fame", None), r"hall_of_fame"),
        (lambda: _bad("verdict", {"significant": True}), r"verdict\['text'\]"),
        (lambda: _bad("config", [("a", 1)]), r"config must be a dict"),
        (lambda: _bad("title", None), r"title must be a str"),
        (lambda: _bad("walk_forward", pd.DataFrame({"x": [1]})), r"walk_forward.*'fold'"),
        (lambda: _bad("walk_forward_metrics", ["nope"]), r"walk_forward.*'nope'"),
        (lambda: _bad("walk_forward_metrics", "test_sharpe"), r"walk_forward_metrics"),
    ],
)
def test_bad_input_raises_config_error(make, match):
    with pytest.raises(ConfigError, match=match):
        render_report(make())


def test_not_a_report_data():
    with pytest.raises(ConfigError, match="ReportData"):
        render_report({"title": "x"})  # type: ignore[arg-type]


def test_import_is_lazy_and_pyplot_is_never_used():
    src = str(Path(genepool.__file__).resolve().parents[1])
    code = (
        "import sys, genepool, genepool.report\n"
        "assert 'matplotlib' not in sys.modules, 'import genepool.report imported matplotlib'\n"
        "from genepool.report._example import example_data\n"
        "genepool.report.render_report(example_data(0, generations=3, bars_in=50,"
        " bars_out=10, population=10, trades=3))\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("MPLBACKEND", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr


def test_axis_tick_labels():
    from genepool.report._figures import _axis_number

    assert [_axis_number(v) for v in (0.95, 12_500, 1_250_000, 3e9)] == [
        "0.95",
        "12,500",
        "1.25M",
        "3B",
    ]


# -- run directories: coherent reports whatever the runs found (issue 14, items 3, 8, 9) --------
from genepool.evolve import _files as F  # noqa: E402
from genepool.evolve.report_data import report_data, write_run_report  # noqa: E402
from genepool.report._check import fact_problems  # noqa: E402

BARS = pd.date_range("2021-01-04 00:00", periods=1200, freq="h")
METRIC_NAMES = ("total_return", "sharpe_ratio", "max_drawdown", "n_trades", "final_value")
NO_VALID = "no valid strategy"


def _metrics(n_trades: int, rng: np.random.Generator) -> dict:
    if n_trades == 0:  # what the engine gives a strategy without trades
        return {"total_return": 0.0, "sharpe_ratio": math.inf, "max_drawdown": 0.0,
                "n_trades": 0, "final_value": 10_000.0}  # fmt: skip
    return {"total_return": float(rng.normal(0.02, 0.01)), "sharpe_ratio": float(rng.normal(1)),
            "max_drawdown": -0.05, "n_trades": n_trades, "final_value": 10_200.0}  # fmt: skip


def _history(d: Path, gens: int, rng: np.random.Generator) -> None:
    g = np.arange(1, gens + 1)
    best = -np.maximum.accumulate(rng.normal(1, 0.1, gens))  # stored minimized (old runs)
    df = pd.DataFrame({"generation": g, "best": best, "mean": best + 0.5, "std": 0.2})
    (d / F.HISTORY).mkdir(parents=True)
    df.to_parquet(d / F.HISTORY / "part-000000.parquet")


def _equity(train: pd.DatetimeIndex, test: pd.DatetimeIndex, rng) -> pd.DataFrame:
    parts = []
    for sample, ix in (("in", train), ("out", test)):
        v = 10_000 * np.exp(np.cumsum(rng.normal(0, 0.001, len(ix))))
        parts.append(pd.DataFrame({"time": ix, "value": v, "drawdown": 0.0, "sample": sample}))
    return pd.concat(parts, ignore_index=True)


def _trades(train, test, n_in: int, n_out: int) -> pd.DataFrame:
    rows = []
    for sample, ix, n in (("in", train, n_in), ("out", test, n_out)):
        for k in range(n):
            a, b = 10 + 20 * k, 15 + 20 * k
            rows.append({"entry_bar": a, "exit_bar": b, "entry_time": ix[a], "exit_time": ix[b],
                         "entry_price": 1.07219 + k * 1e-5, "exit_price": 1.0726,
                         "pnl": 4.0, "return": 0.0004, "status": "closed",
                         "sample": sample})  # fmt: skip
    cols = ["entry_bar", "exit_bar", "entry_time", "exit_time", "entry_price", "exit_price",
            "pnl", "return", "status", "sample"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _config(d: Path, start, end, n_bars: int, walk_forward: int = 0) -> None:
    F.write_json(d / F.CONFIG, {
        "config": {"strategy": "rsi", "seed": 7, "memory_limit": None, "population": 8,
                   "walk_forward": walk_forward},
        "data": {"source": "demo", "n_bars": n_bars, "start": start, "end": end},
    })  # fmt: skip


def _single(d: Path, train, test, *, gens: int, status: str, n_in: int, n_out: int, seed: int,
            warnings: list[str] | None = None) -> dict:  # fmt: skip
    """One run (or fold) directory, as the runner writes it; returns its best.json."""
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    _config(d, train[0], test[-1], len(train) + len(test))
    _history(d, gens, rng)
    F.write_frame(d / F.EQUITY, _equity(train, test, rng))
    F.write_frame(d / F.TRADES, _trades(train, test, n_in, n_out))
    pop = pd.DataFrame({"window": rng.integers(5, 30, 8), "fitness": rng.normal(1, 0.3, 8)})
    F.write_frame(d / F.POPULATION, pop)
    ins, oos = _metrics(n_in, rng), _metrics(n_out, rng)
    hof = pd.DataFrame({"rank": [1], "window": [14], "fitness": [1.0]})
    for m in METRIC_NAMES:
        hof[f"is_{m}"], hof[f"oos_{m}"] = ins[m], oos[m]
    F.write_frame(d / F.HALL_OF_FAME, hof)
    best = {
        "strategy": "rsi", "params": {"window": 14}, "fitness": 1.0 if n_in else -1e12,
        "in_sample": ins, "out_of_sample": oos, "status": status, "n_generations": gens,
        "n_evaluations": 8 * gens,
        "train": {"start": train[0], "end": train[-1], "n_bars": len(train)},
        "test": {"start": test[0], "end": test[-1], "n_bars": len(test)},
        "verdict": None if status == NO_VALID else
        {"text": "Not significant.", "significant": False, "dsr": 0.2, "pbo": None},
    }  # fmt: skip
    if warnings is not None:
        best["warnings"] = warnings
    F.write_json(d / F.BEST, best)
    return best


def _walk_forward_run(d: Path, statuses: list[str], gens: int = 4) -> Path:
    """A walk-forward run directory of ``len(statuses)`` rolling folds."""
    k = len(statuses)
    seg = len(BARS) // (k + 1)
    d.mkdir(parents=True)
    rows, stitched, docs = [], [], []
    for i, status in enumerate(statuses):
        train, test = BARS[i * seg : (i + 1) * seg], BARS[(i + 1) * seg : (i + 2) * seg]
        n = 0 if status == NO_VALID else 3
        doc = _single(d / "folds" / f"fold-{i:02d}", train, test, gens=gens, status=status,
                      n_in=n, n_out=n, seed=i)  # fmt: skip
        docs.append(doc)
        rows.append({"fold": i, "train_start": train[0], "train_end": train[-1],
                     "test_start": test[0], "test_end": test[-1],
                     **{f"is_{m}": doc["in_sample"][m] for m in METRIC_NAMES},
                     **{f"oos_{m}": doc["out_of_sample"][m] for m in METRIC_NAMES}})  # fmt: skip
        eq = F.read_frame(d / "folds" / f"fold-{i:02d}" / F.EQUITY)
        stitched.append(eq[eq["sample"] == "out"])
    F.write_frame(d / F.WALK_FORWARD, pd.DataFrame(rows))
    first = F.read_frame(d / "folds" / "fold-00" / F.EQUITY)
    last = F.read_frame(d / "folds" / f"fold-{k - 1:02d}" / F.EQUITY)
    # the runner's top-level equity: the LAST fold's in-sample curve, then the stitched one
    F.write_frame(d / F.EQUITY, pd.concat([last[last["sample"] == "in"], *stitched]))
    assert len(first)
    for name in (F.TRADES, F.POPULATION, F.HALL_OF_FAME):
        (d / name).write_bytes((d / "folds" / f"fold-{k - 1:02d}" / name).read_bytes())
    _config(d, BARS[0], BARS[k * seg + seg - 1], len(BARS), walk_forward=k)
    bad = [s for s in statuses if s != "complete"]
    best = {
        "strategy": "rsi", "params": {"window": 14}, "fitness": docs[-1]["fitness"],
        "in_sample": docs[-1]["in_sample"], "out_of_sample": {"total_return": 0.0},
        "walk_forward": {"folds": k, "done": k, "mode": "rolling"},
        "status": NO_VALID if len(bad) == k else "complete",
        "n_generations": gens * k, "n_evaluations": 8 * gens * k,
        "verdict": None if len(bad) == k else
        {"text": "Not significant.", "significant": False, "dsr": None, "pbo": None},
    }  # fmt: skip
    if bad:
        best["warnings"] = [f"{len(bad)} of {k} folds found no valid strategy; lower "
                            "--min-trades or use more data"]  # fmt: skip
    F.write_json(d / F.BEST, best)
    return d


def _coherent(run: Path) -> tuple[str, Doc]:
    """Write the report of ``run`` and check that its header agrees with its plots."""
    data = report_data(run)
    assert fact_problems(data) == []
    html = write_run_report(run).read_text(encoding="utf-8")
    doc = Doc(html)
    header = re.search(r"<header([^>]*)>", html).group(1)
    said = dict(re.findall(r'data-(\w[\w-]*)="([^"]*)"', header))
    for key in ("generations", "folds", "split"):
        shown = re.findall(rf'<img [^>]*data-{key}="([^"]*)"', html)
        if key in said:
            assert shown == [said[key]], key
    assert "Self-check:" not in doc.text.get("verdict", "")
    # undefined metrics read n/a (the raw value stays in the cell's tooltip)
    assert not any("\u221e" in t for t in doc.text.values())
    return html, doc


def test_walk_forward_all_folds_valid(tmp_path):
    run = _walk_forward_run(tmp_path / "wf", ["complete"] * 3)
    html, doc = _coherent(run)
    header = re.search(r"<header([^>]*)>", html).group(1)
    assert 'data-generations="12"' in header and 'data-folds="3"' in header
    assert 'id="warnings"' not in html
    assert "12 generations in 3 walk-forward folds" in doc.text["convergence"]
    assert len(re.findall(r"<img [^>]*data-generations=", html)) == 1
    # the in-sample curve shown is the first fold's, which ends where out of sample starts
    m = re.search(r'data-split="([^"]+)" data-in-end="([^"]+)"', html)
    assert m and m.group(2) < m.group(1)
    # out-of-sample trades of every fold are listed, with their fold
    assert "Out of sample (9)" in doc.text["trades"]


def test_walk_forward_some_folds_invalid(tmp_path):
    run = _walk_forward_run(tmp_path / "wf", ["complete", NO_VALID, "complete"])
    html, doc = _coherent(run)
    top = html.split("<main>")[0]
    assert 'id="warnings"' in top and "1 of 3 folds found no valid strategy" in top
    assert "did not end complete: 1 (no valid strategy)" in doc.text["walk-forward"]
    assert "n/a" in doc.text["walk-forward"]


def test_walk_forward_all_folds_invalid(tmp_path):
    run = _walk_forward_run(tmp_path / "wf", [NO_VALID] * 3)
    html, doc = _coherent(run)
    top = html.split("<main>")[0]
    assert "Status: no valid strategy." in top
    assert "3 of 3 folds found no valid strategy" in top
    assert "No verdict: no valid strategy." in doc.text["verdict"]
    assert "significant: unknown" in doc.text["verdict"]


def test_zero_trade_best(tmp_path):
    run = tmp_path / "run"
    _single(run, BARS[:800], BARS[800:], gens=5, status=NO_VALID, n_in=0, n_out=0, seed=3,
            warnings=["no strategy made 10 trades; lower --min-trades"])  # fmt: skip
    html, doc = _coherent(run)
    top = html.split("<main>")[0]
    assert "no strategy made 10 trades; lower --min-trades" in top
    assert "made no trades in sample" in top
    assert "n/a" in doc.text["verdict"] and "\u221e" not in doc.text["verdict"]
    assert "5 generations" in doc.text["convergence"]


def test_old_run_without_status_or_warnings(tmp_path):
    run = tmp_path / "run"
    best = _single(run, BARS[:800], BARS[800:], gens=3, status="complete", n_in=4, n_out=2,
                   seed=4)  # fmt: skip
    del best["status"], best["test"]
    F.write_json(run / F.BEST, best)
    html, _ = _coherent(run)
    assert 'id="warnings"' not in html


def test_header_and_plots_that_disagree_fail_the_check():
    data = example_data(5, generations=6, walk_forward=True)
    split = data.equity_out.index[0]
    ok = dataclasses.replace(data, facts={"generations": 6, "folds": 5, "split": split})
    assert fact_problems(ok) == []
    bad = dataclasses.replace(
        data,
        facts={"generations": 40, "folds": 4, "split": split + pd.Timedelta("1h")},
        equity_in=pd.concat([data.equity_in, data.equity_out.iloc[:3]]),
    )
    problems = fact_problems(bad)
    assert len(problems) == 4
    html = render_report(bad)
    top = html.split("<main>")[0]
    assert "Self-check: the header says 40 generations but the convergence plot shows 6" in top
    assert "4 walk-forward folds but the report lists 5" in top
    assert "runs into the out-of-sample region" in top


def test_out_of_sample_equity_continues_from_the_in_sample_end():
    from genepool.report import _figures

    data = example_data(9, generations=3, walk_forward=False)
    end = data.equity_in.iloc[-1]
    calls = []
    real = _figures.equity_png

    def spy(eq_in, eq_out, scale=None):
        calls.append(scale)
        return real(eq_in, eq_out, scale=scale)

    _figures.equity_png = spy
    try:
        text = part("equity", dataclasses.replace(data, initial_cash=10_000.0))[0]
        assert calls[-1] == pytest.approx(end / 10_000.0)
        assert "continuing from the in-sample end value" in text
        text = part("equity", dataclasses.replace(data, initial_cash=None))[0]
        assert calls[-1] is None and "restarts at its own initial cash" in text
    finally:
        _figures.equity_png = real


def test_hall_of_fame_puts_in_and_out_of_sample_side_by_side():
    hof = pd.DataFrame({"rank": [1, 2], "window": [14, 9], "fitness": [2.0, 1.5]})
    for m in ("total_return", "sharpe_ratio", "sortino_ratio", "max_drawdown", "n_trades"):
        hof[f"is_{m}"] = 1.0
    for m in ("total_return", "sharpe_ratio", "sortino_ratio", "max_drawdown", "n_trades"):
        hof[f"oos_{m}"] = 0.5
    data = dataclasses.replace(example_data(1, generations=2), hall_of_fame=hof)
    from genepool.report import _figures, _sections

    body = _sections.hall_of_fame(data, _figures)
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", body)
    assert heads == ["rank", "window", "fitness", "Sharpe IS", "Sharpe OOS", "return IS",
                     "return OOS", "max DD IS", "max DD OOS", "trades IS", "trades OOS",
                     "sortino_ratio IS", "sortino_ratio OOS"]  # fmt: skip


@pytest.mark.parametrize(
    ("prices", "decimals"),
    [
        ([1.07219, 1.0716, 1.0726], 5),  # FX: pips and pipettes
        ([602.5, 601.25, 600.0], 2),
        ([105, 110, 120], 2),
        ([0.00001234, 0.00001301], 8),
        ([1.0726 * 1.0005, 1.0716 * 0.9995], 5),  # slippage: six significant digits
    ],
)
def test_price_decimals_follow_the_tick(prices, decimals):
    from genepool.report._format import fmt_price, price_decimals

    assert price_decimals(prices) == decimals
    assert fmt_price(1.07219, 5) == "1.07219"


def test_fx_trade_prices_show_every_pip():
    data = example_data(3, generations=2, trades=20)
    trades = data.trades.assign(entry_price=1.07219, exit_price=1.0726)
    text = part("trades", dataclasses.replace(data, trades=trades))[0]
    assert "1.07219" in text and "1.07260" in text and "1.072" + "<" not in text


def test_out_of_sample_trades_come_first():
    data = example_data(3, generations=2, trades=60)
    text = part("trades", data)[0]
    assert text.index("Out of sample (") < text.index("In sample (")


def test_fitness_panel_marks_the_best():
    data = example_data(3, generations=2)
    text = part("parameters", dataclasses.replace(data, best={**data.best, "fitness": 1.25}))[0]
    assert "The best fitness is 1.25." in text


def test_verdict_wording_follows_the_sign_of_the_sharpe():
    from genepool.backtest.overfitting import DeflatedSharpe, verdict

    def text(sr: float) -> str:
        d = DeflatedSharpe(dsr=0.01, sr=sr, sr0=0.06, n_trials=500, var_trials=0.001,
                           n_obs=2000, skew=0.0, kurtosis=3.0)  # fmt: skip
        return verdict(d)

    assert "this high" in text(0.05)
    assert "this high" not in text(-0.05) and "not above zero" in text(-0.05)


def test_cli_prints_the_report_path_once_and_absolute(tmp_path, monkeypatch, capsys):
    from genepool.cli import main

    monkeypatch.chdir(tmp_path)
    args = ["evolve", "--demo", "--strategy", "rsi", "--population", "8", "--generations",
            "2", "--min-trades", "1", "--out", "rel", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("report.html") == 1
    assert f"report: {tmp_path / 'rel' / 'report.html'}" in out
    trades = pd.read_parquet(tmp_path / "rel" / "trades.parquet")
    oos = trades[trades["sample"] == "out"]
    n_train = F.read_json(tmp_path / "rel" / "best.json")["train"]["n_bars"]
    assert len(oos) and (oos["entry_bar"] >= n_train).all()  # bars count from the first bar


def test_old_run_whose_best_is_the_invalid_penalty_says_so(tmp_path):
    run = tmp_path / "run"
    best = _single(run, BARS[:800], BARS[800:], gens=3, status="complete", n_in=1, n_out=0,
                   seed=6)  # fmt: skip
    F.write_json(run / F.BEST, {**best, "fitness": -1e12})  # what runs wrote before
    html, _ = _coherent(run)
    assert "The best strategy is invalid (fitness -1e+12" in html.split("<main>")[0]
