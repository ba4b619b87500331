"""Universes: strategies on many symbols of a store, aggregated (mean, median, worst, an
equal-weight portfolio), against per-symbol runs on the same bars in memory and a naive
portfolio built from the traced equity curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genepool.backtest import INVALID_FITNESS, StrategyProblem, import_store
from genepool.backtest.data import synthetic_ohlcv
from genepool.backtest.enums import METRIC_SENSES, METRICS, Metric
from genepool.backtest.trace import trace_strategy
from genepool.errors import ConfigError, DataError

SYMBOLS = ["AAA", "BBB", "CCC"]
ACTIVE = {"window": [5, 14], "lower": [30, 45], "upper": [55, 70]}  # RSI rules that trade


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("universe")
    files = []
    for k, name in enumerate(SYMBOLS):
        path = root / f"{name}.csv"
        synthetic_ohlcv(1500, "1h", seed=10 + k).to_csv(path)
        files.append(path)
    odd = root / "ODD.csv"  # another calendar: 2 h bars
    synthetic_ohlcv(900, "2h", seed=99).to_csv(odd)
    files.append(odd)
    return import_store(files, root / "store")


def frames(store, names):
    return {s: store.frame(s) for s in names}


@pytest.mark.parametrize("family", ["rsi", "macd", "breakout"])
@pytest.mark.parametrize("how", ["mean", "median", "worst"])
def test_aggregates_equal_per_symbol_runs_in_memory(store, family, how):
    names = [*SYMBOLS, "ODD"]
    prob = StrategyProblem(store, family, symbols=names, aggregate=how, stops=True)
    X = prob.space.sample(40, np.random.default_rng(0))
    per = np.stack(
        [
            StrategyProblem(
                df, family, stops=True, bars_per_year=store.bars_per_year(s).value
            ).metrics_array(X)
            for s, df in frames(store, names).items()
        ]
    )
    assert np.array_equal(prob.symbol_metrics_array(X), per, equal_nan=True)
    agg = prob.metrics_array(X)
    if how == "mean":
        ref = per.mean(axis=0)
    elif how == "median":
        ref = np.median(per, axis=0)
    else:
        worst_max = np.array([METRIC_SENSES[m] == "minimize" for m in METRICS])
        ref = np.where(worst_max, per.max(axis=0), per.min(axis=0))
    ref[~np.isfinite(per).all(axis=0)] = np.nan  # not finite on one symbol: not finite
    assert np.array_equal(agg, ref, equal_nan=True)
    long = prob.symbol_metrics(X)
    assert len(long) == 40 * 4 and set(long["symbol"]) == set(names)
    row = long[(long["strategy"] == 3) & (long["symbol"] == "BBB")].iloc[0]
    assert row["sharpe_ratio"] == per[1, 3, Metric.SHARPE_RATIO]


def test_a_symbol_never_traded_makes_the_strategy_invalid(store):
    """Its Sharpe there is +inf: a median or a minimum must not hide it."""
    for how in ("mean", "median", "worst"):
        prob = StrategyProblem(store, "rsi", symbols="all", aggregate=how)
        X = prob.space.sample(60, np.random.default_rng(6))
        per = prob.symbol_metrics_array(X)[:, :, Metric.SHARPE_RATIO]
        never = ~np.isfinite(per).all(axis=0)
        assert never.any() and (~never).any()
        fit = prob.evaluate(X)
        assert np.all(fit[never] == INVALID_FITNESS)
        assert np.all(fit[~never] > INVALID_FITNESS)


def naive_portfolio(store, prob, X, names, ann):
    """Mean of the traced equity curves, metrics by numpy."""
    params = prob.space.decode(X)
    out = []
    for i in range(X.shape[0]):
        q = {k: v[i] for k, v in params.items()}
        curves = [
            trace_strategy(
                StrategyProblem(
                    store.frame(s),
                    prob.family.name,
                    stops=prob.stops,
                    bars_per_year=ann,
                    ranges=prob.ranges,
                ),
                q,
            ).value.to_numpy()
            for s in names
        ]
        v = np.mean(curves, axis=0)
        prev = np.concatenate([[prob.init_cash], v[:-1]])
        r = (v - prev) / prev
        sd = r.std(ddof=1)
        sharpe = np.inf if sd == 0 else r.mean() / sd * np.sqrt(ann)  # the kernels' convention
        mdd = float(np.min(v / np.maximum.accumulate(v) - 1.0))
        out.append((v[-1] / prob.init_cash - 1.0, sharpe, mdd, v[-1]))
    return np.array(out)


@pytest.mark.parametrize("block", [None, 1, 97])
def test_portfolio_equals_the_mean_equity_curve(store, block):
    ann = store.bars_per_year("AAA").value
    prob = StrategyProblem(
        store,
        "rsi",
        symbols=SYMBOLS,
        aggregate="portfolio",
        stops=True,
        block_bars=block,
        ranges=ACTIVE,
    )
    X = prob.space.sample(12, np.random.default_rng(4))
    m = prob.metrics_array(X)
    assert (m[:, Metric.N_TRADES] > 0).sum() >= 6
    ref = naive_portfolio(store, prob, X, SYMBOLS, ann)
    cols = [Metric.TOTAL_RETURN, Metric.SHARPE_RATIO, Metric.MAX_DRAWDOWN, Metric.FINAL_VALUE]
    np.testing.assert_allclose(m[:, cols], ref, rtol=1e-9, atol=1e-12)
    per = prob.symbol_metrics_array(X)
    assert np.array_equal(m[:, Metric.N_TRADES], per[:, :, Metric.N_TRADES].sum(axis=0))
    np.testing.assert_allclose(m[:, Metric.EXPOSURE], per[:, :, Metric.EXPOSURE].mean(axis=0))
    if block is not None:  # the portfolio too is bit-identical across block lengths
        whole = StrategyProblem(
            store, "rsi", symbols=SYMBOLS, aggregate="portfolio", stops=True, ranges=ACTIVE
        )
        assert np.array_equal(whole.metrics_array(X), m, equal_nan=True)


def test_portfolio_of_one_symbol_is_its_run(store):
    prob = StrategyProblem(store, "ma_cross", symbols=["BBB"], aggregate="portfolio")
    X = prob.space.sample(30, np.random.default_rng(2))
    one = StrategyProblem(store, "ma_cross", symbols=["BBB"]).metrics_array(X)
    np.testing.assert_allclose(prob.metrics_array(X), one, rtol=1e-9, atol=1e-12)


def test_portfolio_needs_one_calendar(store):
    with pytest.raises(DataError, match=r"one calendar.*'ODD'.*bar 1 "):
        StrategyProblem(store, "rsi", symbols=["AAA", "ODD"], aggregate="portfolio")


def test_time_range_selects_each_symbols_bars(store):
    start, end = "2020-01-10", "2020-02-10"
    prob = StrategyProblem(store, "rsi", symbols="AAA,ODD", start=start, end=end)
    X = prob.space.sample(20, np.random.default_rng(1))
    for k, s in enumerate(["AAA", "ODD"]):
        df = store.frame(s)
        idx = df.index.tz_localize("UTC") if df.index.tz is None else df.index.tz_convert("UTC")
        part = df[(idx >= pd.Timestamp(start, tz="UTC")) & (idx < pd.Timestamp(end, tz="UTC"))]
        ref = StrategyProblem(part, "rsi", bars_per_year=store.bars_per_year(s).value)
        assert prob.universe[k].n_bars == len(part)
        assert np.array_equal(
            prob.symbol_metrics_array(X)[k], ref.metrics_array(X), equal_nan=True
        )


def test_processes_executor_maps_the_store_itself(store):
    import genepool as gp

    prob = StrategyProblem(store, "rsi", symbols="all", aggregate="median")
    assert prob.shared_arrays() == {}  # no prices are shipped
    X = prob.space.sample(64, np.random.default_rng(8))
    with gp.Evaluator(prob, executor="processes", workers=2) as ev:
        par = ev.evaluate(X)
    assert np.array_equal(par, prob.evaluate(X))


def test_bad_universe_input(store):
    with pytest.raises(DataError, match="ZZZ"):
        StrategyProblem(store, "rsi", symbols=["ZZZ"])
    with pytest.raises(ConfigError, match="aggregate"):
        StrategyProblem(store, "rsi", aggregate="average")
    with pytest.raises(ConfigError, match="empty"):
        StrategyProblem(store, "rsi", symbols=[])
    with pytest.raises(ConfigError, match="more than once"):
        StrategyProblem(store, "rsi", symbols="AAA,AAA")
    with pytest.raises(DataError, match="no bars"):
        StrategyProblem(store, "rsi", symbols="AAA", start="2030-01-01")
    with pytest.raises(ConfigError, match="before end"):
        StrategyProblem(store, "rsi", start="2020-02-01", end="2020-01-01")
    with pytest.raises(ConfigError, match="freq"):
        StrategyProblem(store, "rsi", freq="1h")
    with pytest.raises(DataError, match="at least"):
        StrategyProblem(store, "rsi", symbols="AAA", end="2020-01-02")
