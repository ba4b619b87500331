"""`genepool evolve --store DIR --symbols ... --aggregate ...`: universes end to end.

Oracles: a universe of one symbol is the run on that symbol's frame (``--data``); every
aggregate is the naive aggregate of per-symbol StrategyProblem runs on ``store.frame(symbol)``
cut at the split time; processes equal serial; resume equals an uninterrupted run.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from genepool.backtest import METRICS, StrategyProblem, synthetic_ohlcv
from genepool.backtest.store import import_store, open_store
from genepool.backtest.walk_forward import (
    holdout_split,
    walk_forward_min_bars,
    walk_forward_splits,
)
from genepool.cli import main
from genepool.errors import ConfigError, DataError
from genepool.evolve import EvolveConfig
from genepool.evolve._files import read_json
from genepool.evolve.universe import UniverseData, min_bars, open_universe, union_index
from support import DETERMINISTIC

VOLATILE = {"elapsed", "peak_rss", "cache"}
SAME_CALENDAR = {"AAA": 1, "BBB": 2, "CCC": 3}  # seeds, 1h bars from the same start
OTHER = "DDD"  # 90-minute bars: a different calendar, its union with the others is larger


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("universe")
    files = []
    for name, seed in SAME_CALENDAR.items():
        path = root / f"{name}.csv"
        synthetic_ohlcv(1200, freq="1h", seed=seed, start="2021-01-04").to_csv(path)
        files.append(path)
    path = root / f"{OTHER}.csv"
    synthetic_ohlcv(800, freq="90min", seed=4, start="2021-01-04").to_csv(path)
    files.append(path)
    import_store(files, root / "store")
    return root / "store"


def _args(store: Path, out: Path, *extra: str) -> list[str]:
    return [
        "evolve", "--store", str(store), "--strategy", "rsi", "--population", "16",
        "--generations", "2", "--seed", "5", "--out", str(out), "--no-progress",
        "--min-trades", "1", "--hall-of-fame", "4", *extra,
    ]  # fmt: skip


def _best(run_dir: Path) -> dict:
    doc = read_json(run_dir / "best.json")  # "inf"/"nan" back as floats
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def _same_run(a: Path, b: Path) -> None:
    assert _best(a) == _best(b)
    ha = pd.read_parquet(a / "history.parquet").sort_values("generation")[DETERMINISTIC]
    hb = pd.read_parquet(b / "history.parquet").sort_values("generation")[DETERMINISTIC]
    pd.testing.assert_frame_equal(ha.reset_index(drop=True), hb.reset_index(drop=True))
    for name in ("hall_of_fame.parquet", "symbols.parquet", "equity.parquet", "trades.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))


@pytest.fixture(scope="module")
def median_run(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "median"
    assert main(_args(store, out, "--symbols", f"AAA,BBB,{OTHER}", "--aggregate", "median")) == 0
    return out


def _naive_metrics(store: Path, symbol: str, params: dict, lo, hi) -> pd.Series:
    """One symbol's metrics on its own frame between two times, by a plain StrategyProblem."""
    s = open_store(store)
    frame = s.frame(symbol)
    t = frame.index.tz_localize("UTC") if frame.index.tz is None else frame.index
    keep = (t >= lo) & (t < hi) if hi is not None else t >= lo
    problem = StrategyProblem(
        frame[keep], "rsi", bars_per_year=s.bars_per_year(symbol).value, min_trades=1
    )
    x = problem.space.encode(params)
    return problem.metrics(np.atleast_2d(x)).iloc[0]


def test_universe_run_writes_records_report_and_per_symbol_metrics(median_run, store):
    best = _best(median_run)
    names = ["AAA", "BBB", OTHER]
    block = best["symbols"]
    assert block["aggregate"] == "median" and block["names"] == names
    assert set(block["in_sample"]) == set(names) and set(block["out_of_sample"]) == set(names)
    # the deflated Sharpe counts strategies x symbols, and says so
    trials = best["trials"]
    assert trials["symbols"] == 3 and trials["n_trials"] == 3 * trials["n_distinct"]
    assert best["deflated_sharpe"]["n_trials"] == trials["n_trials"]
    assert f"{trials['n_distinct']:,} strategies x 3 symbols" in best["verdict"]["text"]
    cfg = json.loads((median_run / "config.json").read_text())
    assert cfg["config"]["store"] == str(store) and cfg["config"]["aggregate"] == "median"
    assert cfg["config"]["symbols"] == f"AAA,BBB,{OTHER}"
    assert cfg["data"]["symbols"] == names and cfg["data"]["store"] == str(store.resolve())
    # the union calendar: 1h bars and 90-minute bars meet every 3 hours
    union = open_universe(str(store), f"AAA,BBB,{OTHER}").index
    assert cfg["data"]["n_bars"] == len(union) > 1200
    # symbols.parquet: the top strategies on every symbol; rank 1 is best.json's block
    table = pd.read_parquet(median_run / "symbols.parquet")
    assert list(table.columns[:2]) == ["rank", "symbol"]
    assert table["rank"].min() == 1 and set(table["symbol"]) == set(names)
    first = table[table["rank"] == 1].set_index("symbol")
    for name in names:
        for m in METRICS:
            got, want = block["in_sample"][name][m], first.loc[name, f"is_{m}"]
            assert got == want or (np.isnan(got) and np.isnan(want))
    html = (median_run / "report.html").read_text()
    assert 'id="symbols"' in html and "Symbols of the universe" in html
    assert "median of each metric" in html


def test_aggregate_is_the_naive_aggregate_of_per_symbol_runs(median_run, store):
    best = _best(median_run)
    split = pd.Timestamp(best["test"]["start"])
    start = pd.Timestamp(best["train"]["start"])
    for side, lo, hi in (("in_sample", start, split), ("out_of_sample", split, None)):
        rows = {s: _naive_metrics(store, s, best["params"], lo, hi) for s in ("AAA", "BBB", OTHER)}
        for m in ("sharpe_ratio", "total_return", "max_drawdown", "n_trades"):
            values = np.array([float(rows[s][m]) for s in rows])
            # not finite on one symbol: NaN in the aggregate (a median would hide it)
            naive = float(np.median(values)) if np.isfinite(values).all() else np.nan
            assert best[side][m] == pytest.approx(naive, rel=1e-12, abs=0, nan_ok=True)
            for s in rows:  # and each symbol's own metric, as best.json keeps it
                got = best["symbols"][side][s][m]
                assert got == pytest.approx(float(rows[s][m]), rel=1e-12, nan_ok=True)
    assert best["fitness"] == best["in_sample"]["sharpe_ratio"]


def test_one_symbol_universe_is_the_run_on_its_frame(store, tmp_path):
    """The union calendar of one symbol is its calendar: the same splits, the same run."""
    out_store, out_data = tmp_path / "store", tmp_path / "data"
    assert main(_args(store, out_store, "--symbols", "BBB", "--no-report")) == 0
    csv = store.parent / "BBB.csv"
    args = _args(store, out_data, "--no-report")
    args[args.index("--store") : args.index("--store") + 2] = ["--data", str(csv)]
    assert main(args) == 0
    a, b = _best(out_store), _best(out_data)
    for key in ("params", "fitness", "in_sample", "out_of_sample", "deflated_sharpe", "pbo"):
        assert a[key] == b[key], key
    assert a["train"]["n_bars"] == b["train"]["n_bars"]
    assert a["trials"]["n_trials"] == a["trials"]["n_distinct"]  # one symbol: one trial each
    ea, eb = (
        pd.read_parquet(out_store / "equity.parquet"),
        pd.read_parquet(out_data / "equity.parquet"),
    )
    np.testing.assert_array_equal(ea["value"].to_numpy(), eb["value"].to_numpy())


def test_processes_equal_serial_and_resume_equals_one_run(store, tmp_path):
    serial, procs = tmp_path / "serial", tmp_path / "procs"
    common = ("--symbols", "all", "--aggregate", "worst", "--no-report")
    args = _args(store, serial, *common)
    args[args.index("--generations") + 1] = "3"
    assert main(args) == 0
    par = _args(store, procs, *common, "--executor", "processes", "--workers", "2")
    par[par.index("--generations") + 1] = "3"
    assert main(par) == 0
    _same_run(serial, procs)
    short = tmp_path / "short"
    assert main(_args(store, short, *common)) == 0
    assert main(["resume", str(short), "--generations", "3", "--no-progress", "--no-report"]) == 0
    _same_run(serial, short)
    assert _best(short)["symbols"]["names"] == ["AAA", "BBB", "CCC", OTHER]


def test_dask_executor_equals_serial(store, tmp_path):
    pytest.importorskip("distributed")
    serial, dask = tmp_path / "serial", tmp_path / "dask"
    common = ("--symbols", f"AAA,BBB,{OTHER}", "--aggregate", "mean", "--no-report")
    assert main(_args(store, serial, *common)) == 0
    assert main(_args(store, dask, *common, "--executor", "dask", "--workers", "2")) == 0
    _same_run(serial, dask)


def test_portfolio_aggregate_is_the_portfolio_curve_and_one_trial_per_strategy(store, tmp_path):
    """The fitness of aggregate=portfolio (the kernel's portfolio) and the equity the run
    traces (the report's equal-weight portfolio) are the same curve."""
    out = tmp_path / "portfolio"
    assert main(_args(store, out, "--symbols", "AAA,BBB,CCC", "--aggregate", "portfolio")) == 0
    best = _best(out)
    eq = pd.read_parquet(out / "equity.parquet")
    for side, sample in (("in_sample", "in"), ("out_of_sample", "out")):
        part = eq[eq["sample"] == sample]
        total = part["value"].iloc[-1] / 10_000.0 - 1.0
        assert best[side]["total_return"] == pytest.approx(total, rel=1e-9, abs=1e-12)
        assert best[side]["max_drawdown"] == pytest.approx(part["drawdown"].min(), abs=1e-12)
    trials = best["trials"]
    assert trials["symbols"] == 3 and trials["n_trials"] == trials["n_distinct"]
    assert best["deflated_sharpe"]["n_trials"] == trials["n_distinct"]
    assert "selected on the equal-weight portfolio" in best["verdict"]["text"]
    assert best["symbols"]["trials_per_strategy"] == 1


def test_walk_forward_over_a_universe(store, tmp_path):
    out = tmp_path / "wf"
    assert main(_args(store, out, "--symbols", "AAA,CCC", "--walk-forward", "2")) == 0
    best = _best(out)
    assert best["walk_forward"]["folds"] == 2 and best["symbols"]["names"] == ["AAA", "CCC"]
    wf = pd.read_parquet(out / "walk_forward.parquet")
    assert len(wf) == 2 and wf["test_start"].iloc[0] == wf["train_start"].iloc[1]  # rolling
    for fold in ("fold-00", "fold-01"):
        assert (out / "folds" / fold / "symbols.parquet").exists()
    assert (out / "symbols.parquet").exists()
    assert 'id="symbols"' in (out / "report.html").read_text()


def test_changed_store_is_refused_on_resume(tmp_path, capsys):
    root = tmp_path / "src"
    root.mkdir()
    path = root / "AAA.csv"
    synthetic_ohlcv(900, freq="1h", seed=1).to_csv(path)
    import_store([path], tmp_path / "store")
    out = tmp_path / "run"
    assert main(_args(tmp_path / "store", out, "--no-report")) == 0
    more = root / "more.csv"
    synthetic_ohlcv(1000, freq="1h", seed=1).iloc[900:].to_csv(more)
    import_store([more], tmp_path / "store", symbols=["AAA"], append=True)
    assert main(["resume", str(out), "--generations", "4", "--no-progress"]) == 2
    assert "changed since the run started" in capsys.readouterr().err


@pytest.fixture(scope="module")
def short_store(tmp_path_factory) -> Path:
    """AAA all along, EEE only in the first days: no bars in the test range."""
    root = tmp_path_factory.mktemp("short")
    a, e, f = root / "AAA.csv", root / "EEE.csv", root / "FFF.csv"
    synthetic_ohlcv(1000, freq="1h", seed=1, start="2021-01-04").to_csv(a)
    synthetic_ohlcv(200, freq="1h", seed=2, start="2021-01-04").to_csv(e)
    synthetic_ohlcv(720, freq="1h", seed=3, start="2021-01-04").to_csv(f)  # 20 test bars
    import_store([a, e, f], root / "store")
    return root / "store"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--symbols", "AAB,BBB"], "'AAB' is not in the store"),
        (["--symbols", "AAB"], "did you mean AAA"),
        (["--symbols", ""], "--symbols is empty"),
        (["--symbols", "AAA,,BBB"], "empty name"),
        (["--symbols", "AAA,AAA"], "more than once"),
        (["--aggregate", "medain"], "did you mean 'median'"),
        (["--symbols", f"AAA,{OTHER}", "--aggregate", "portfolio"], "needs one calendar"),
        (["--data", "x.csv"], "either --store (a universe of symbols) or --data"),
        (["--demo"], "either --store (a universe of symbols) or --demo"),
    ],
)
def test_bad_universe_input_is_one_line(store, tmp_path, capsys, extra, fragment):
    out = tmp_path / "run"
    assert main(_args(store, out, *extra)) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("genepool: error:")
    assert not out.exists()


def test_not_a_store_and_symbols_without_store(store, short_store, tmp_path, capsys):
    cases = [
        (_args(store.parent, tmp_path / "a"), "is not a genepool data store"),
        (_args(tmp_path / "nowhere", tmp_path / "b"), "no such directory"),
        (
            ["evolve", "--data", "x.csv", "--symbols", "AAA", "--out", str(tmp_path / "c")],
            "--symbols selects from a market data store",
        ),
        (
            _args(short_store, tmp_path / "d", "--symbols", "AAA,EEE"),
            "EEE has no bars in the test range",
        ),
        (
            _args(short_store, tmp_path / "e", "--symbols", "EEE,AAA", "--walk-forward", "3"),
            "EEE has no bars in the fold 1 test range",
        ),
        (
            _args(short_store, tmp_path / "f", "--symbols", "AAA,FFF"),
            "FFF has only 20 bars in the test range",
        ),
    ]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err and err.count("\n") == 1, err
    assert not any((tmp_path / n).exists() for n in "abcdef")


@pytest.mark.parametrize("family", ["rsi", "ma_cross", "bollinger", "macd", "breakout"])
def test_min_bars_is_what_the_problem_needs(family):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 400)))
    for stops in (False, True):
        need = min_bars(family, stops, None)
        StrategyProblem(close[:need], family, stops=stops, bars_per_year=252)
        with pytest.raises(DataError, match="at least"):
            StrategyProblem(close[: need - 1], family, stops=stops, bars_per_year=252)


def test_settings_of_a_universe():
    cfg = EvolveConfig.from_sources(store="s", symbols=["AAA", " BBB"])
    assert cfg.symbols == "AAA,BBB" and cfg.aggregate == "mean"
    assert EvolveConfig.from_sources(store="s").symbols == "all"
    assert "store" not in EvolveConfig.from_sources(demo=True).to_dict()
    with pytest.raises(ConfigError, match="aggregate"):
        EvolveConfig.from_sources(demo=True, aggregate="median")


class _Times:
    """A store of bar times only (what the union calendar and the splits read)."""

    def __init__(self, times: dict[str, np.ndarray]) -> None:
        self._times = times

    def times(self, name: str) -> np.ndarray:
        return self._times[name]


@settings(max_examples=60, deadline=None)
@given(
    calendars=st.lists(
        st.sets(st.integers(0, 400), min_size=1, max_size=60), min_size=1, max_size=4
    ),
    frac=st.floats(0.1, 1.0),
    folds=st.integers(0, 4),
)
def test_splits_by_time_partition_every_symbols_bars(calendars, frac, folds):
    hour = 3_600 * 10**9
    times = {f"S{i}": np.array(sorted(c), dtype=np.int64) * hour for i, c in enumerate(calendars)}
    store = _Times(times)
    names = list(times)
    index = union_index(store, names)
    want = np.array(sorted(set().union(*calendars)), dtype=np.int64) * hour
    np.testing.assert_array_equal(index.asi8, want)
    data = UniverseData(store, tuple(names), index)
    n = len(data)
    assume(n >= 10)  # runs need more (the longest window): tiny ones split to empty ranges
    if folds >= 2 and n >= walk_forward_min_bars(folds):
        splits = walk_forward_splits(n, folds, "rolling")
    else:
        splits = [holdout_split(n, frac)]
    for fold in splits:
        parts = [data.iloc[fold.train]] + ([] if fold.test is None else [data.iloc[fold.test]])
        for a, b in itertools.pairwise(parts):
            assert a.end == b.start  # half-open ranges that meet
        lo, hi = parts[0].start.value, parts[-1].end
        for _name, t in times.items():
            inside = t[(t >= lo) & ((t < hi.value) if hi is not None else True)]
            counted = 0
            for part in parts:  # every bar of the span in exactly one part, by its time
                end = np.inf if part.end is None else part.end.value
                mine = t[(t >= part.start.value) & (t < end)]
                assert np.isin(mine, part.index.asi8).all()
                counted += len(mine)
            assert counted == len(inside)
