"""StrategyProblem: the fused kernel equals explicit signals through simulate_signals (and so
vectorbt), for every family; objectives, penalties, memory, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genepool as gp
import naive_backtest
from genepool.backtest import INVALID_FITNESS, METRICS, StrategyProblem, simulate_signals
from genepool.errors import ConfigError, DataError

FAMILIES = ["rsi", "ma_cross", "bollinger", "macd", "breakout"]


def ohlc(T=2500, seed=0, freq="1h"):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2020-01-01", periods=T, freq=freq)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, T)))
    spread = np.abs(rng.normal(0, 0.003, T))
    return pd.DataFrame({"close": c, "high": c * (1 + spread), "low": c * (1 - spread)}, index=idx)


def assert_row_equal(row: pd.Series, ref: pd.Series):
    for m in METRICS:
        a, b = float(row[m]), float(ref[m])
        assert (np.isnan(a) and np.isnan(b)) or np.isclose(a, b, rtol=1e-9, atol=1e-12), (m, a, b)


@pytest.mark.parametrize(
    ("family", "rsi_method"), [(f, "wilder") for f in FAMILIES] + [("rsi", "sma")]
)
def test_fused_equals_explicit_signals(family, rsi_method):
    data = ohlc(seed=hash(family) % 1000)
    prob = StrategyProblem(data, family, fees=0.001, slippage=0.0005, rsi_method=rsi_method)
    X = prob.space.sample(30, np.random.default_rng(1))
    fused = prob.metrics(X)
    assert fused["n_trades"].sum() > 0
    for i in range(len(X)):
        entries, exits = prob.signals(prob.space.decode_row(X[i]))
        ref = simulate_signals(data["close"], entries, exits, fees=0.001, slippage=0.0005)
        assert_row_equal(fused.iloc[i], ref.iloc[0])


@pytest.mark.parametrize("family", FAMILIES)
def test_stops_equal_the_naive_simulator(family):
    data = ohlc(T=1500, seed=3)
    prob = StrategyProblem(data, family, stops=True, fees=0.001)
    X = prob.space.sample(15, np.random.default_rng(2))
    fused = prob.metrics(X)
    for i in range(len(X)):
        q = prob.space.decode_row(X[i])
        entries, exits = prob.signals(q)
        ref = naive_backtest.simulate(
            data["close"].to_numpy(),
            entries,
            exits,
            fees=0.001,
            ann=prob.ann_factor,
            sl=q["stop_loss"],
            tp=q["take_profit"],
        )
        assert_row_equal(fused.iloc[i], pd.Series(ref))


def test_seed_rsi_family_equals_vectorbt():
    vbt = pytest.importorskip("vectorbt")
    data = ohlc(T=4000, seed=11)
    close = data["close"]
    prob = StrategyProblem(close, "rsi", fees=0.001, rsi_method="sma")
    X = prob.space.sample(12, np.random.default_rng(5))
    fused = prob.metrics(X)
    for i in range(len(X)):
        q = prob.space.decode_row(X[i])
        rsi = vbt.RSI.run(close, window=q["window"], ewm=False).rsi.to_numpy()
        prev, cur = rsi[:-1], rsi[1:]
        with np.errstate(invalid="ignore"):
            entries = np.r_[False, (prev >= q["lower"]) & (cur < q["lower"])]
            exits = np.r_[False, (prev <= q["upper"]) & (cur > q["upper"])]
        pf = vbt.Portfolio.from_signals(
            close, entries, exits, init_cash=10_000, fees=0.001, freq="1h"
        )
        assert int(fused["n_trades"][i]) == pf.trades.count()
        for name, value in [
            ("total_return", pf.total_return()),
            ("sharpe_ratio", pf.sharpe_ratio()),
            ("max_drawdown", pf.max_drawdown()),
            ("final_value", pf.final_value()),
        ]:
            assert np.isclose(fused[name][i], value, rtol=1e-9, atol=1e-12) or (
                np.isinf(value) and fused[name][i] == value
            ), (name, fused[name][i], value)


def test_objectives_penalties_and_multi_objective():
    data = ohlc()
    probe = StrategyProblem(data, "ma_cross")
    X = probe.space.sample(50, np.random.default_rng(0))
    m = probe.metrics(X)
    threshold = int(np.median(m["n_trades"]))  # half the strategies fall short
    prob = StrategyProblem(data, "ma_cross", objective="sharpe_ratio", min_trades=threshold)
    y = prob.evaluate(X)
    few = m["n_trades"].to_numpy() < threshold
    assert few.any() and (~few).any()
    np.testing.assert_array_equal(y[few], INVALID_FITNESS)
    np.testing.assert_allclose(y[~few], m["sharpe_ratio"].to_numpy()[~few])
    multi = StrategyProblem(data, "ma_cross", objective=["sharpe_ratio", "-max_drawdown"])
    Y = multi.evaluate(X)
    assert Y.shape == (50, 2)
    traded = m["n_trades"].to_numpy() >= 1
    np.testing.assert_allclose(Y[traded, 1], -m["max_drawdown"].to_numpy()[traded])
    assert np.isfinite(Y).all()  # never +inf, even for strategies without variance


def test_evolving_improves_in_sample_sharpe():
    data = ohlc(T=3000, seed=21)
    prob = StrategyProblem(data, "rsi", fees=0.0005)
    res = gp.maximize(prob, gp.GA(prob.space, 60, seed=0), generations=8, progress=False)
    first = res.history["generation_best"].iloc[0]
    assert res.best_fitness >= first
    assert set(res.best_params) == {"window", "lower", "upper"}


def test_memory_is_not_t_times_n():
    import tracemalloc

    T, N = 200_000, 2_000  # a T x N float matrix would be 3.2 GB
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.001, T)))
    prob = StrategyProblem(close, "rsi", freq="1min")
    X = prob.space.sample(N, np.random.default_rng(1))
    prob.evaluate(X[:10])  # compile
    tracemalloc.start()
    prob.evaluate(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # tables: at most 46 unique RSI windows x T doubles (74 MB), metrics N x 13
    assert peak < 46 * T * 8 * 1.3 + 5e6, peak / 1e6


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"family": "momentum"}, ConfigError, "unknown strategy family 'momentum'"),
        ({"objective": "profit"}, ConfigError, "unknown objective 'profit'"),
        ({"objective": []}, ConfigError, "at least one metric"),
        ({"fees": -0.1}, ConfigError, "fees"),
        ({"rsi_method": "ema"}, ConfigError, "rsi_method"),
    ],
)
def test_bad_arguments(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        StrategyProblem(ohlc(T=300), **kwargs)


def test_bad_data():
    with pytest.raises(DataError, match=r"has 40 bars; at least \d+ are needed"):
        StrategyProblem(ohlc(T=40), "rsi")
    bad = ohlc(T=300)
    bad.iloc[7, 0] = np.nan
    with pytest.raises(DataError, match="row 7"):
        StrategyProblem(bad, "rsi")
    with pytest.raises(DataError, match="no 'close' column"):
        StrategyProblem(pd.DataFrame({"price": [1.0, 2.0]}), "rsi")
    with pytest.raises(ConfigError, match="pass bars_per_year"):
        StrategyProblem(np.linspace(1, 2, 500), "rsi")
