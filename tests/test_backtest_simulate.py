"""simulate_signals against a naive loop and against vectorbt (the oracle extra)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_backtest
from genepool.backtest.simulate import METRICS, annualization_factor, simulate_signals
from genepool.errors import ConfigError, DataError

RTOL, ATOL = 1e-9, 1e-12


def market(T, seed, n_cols=0):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2021-01-01", periods=T, freq="1h")
    close = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, T))), index=idx)
    return close, rng


def signals(rng, T, N, p=0.05, conflicts=True):
    e = rng.random((T, N)) < p
    x = rng.random((T, N)) < p
    if conflicts:  # some bars with both signals, which must both be ignored
        both = rng.random((T, N)) < p / 2
        e |= both
        x |= both
    e[:, 0] = False  # a strategy that never trades
    x[:, 0] = False
    e[:, 1] = False  # one that enters on the first bar and never leaves
    e[0, 1] = True
    x[:, 1] = False
    return e, x


def assert_metrics_close(ours: pd.DataFrame, ref: pd.DataFrame):
    for m in METRICS:
        a = ours[m].to_numpy(dtype=float)
        b = ref[m].to_numpy(dtype=float)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=m)
    for m in ("n_orders", "n_trades"):
        np.testing.assert_array_equal(ours[m].to_numpy(), ref[m].to_numpy().astype(np.int64))


@pytest.mark.parametrize(("fees", "slippage"), [(0.0, 0.0), (0.001, 0.0), (0.0025, 0.0005)])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_naive_loop(fees, slippage, seed):
    T, N = 400, 12
    close, rng = market(T, seed)
    e, x = signals(rng, T, N)
    ours = simulate_signals(close, e, x, fees=fees, slippage=slippage)
    ann = annualization_factor("1h")
    ref = pd.DataFrame(
        [
            naive_backtest.simulate(
                close.to_numpy(), e[:, j], x[:, j], fees=fees, slippage=slippage, ann=ann
            )
            for j in range(N)
        ]
    )
    assert_metrics_close(ours, ref)


@pytest.mark.parametrize(("fees", "slippage"), [(0.0, 0.0), (0.001, 0.0), (0.002, 0.001)])
@pytest.mark.parametrize(("T", "seed"), [(2, 3), (300, 4), (5000, 5)])
def test_matches_vectorbt(fees, slippage, T, seed):
    vbt = pytest.importorskip("vectorbt")
    close, rng = market(T, seed)
    N = 25
    e, x = signals(rng, T, N, p=0.03 if T > 100 else 0.5)
    ent = pd.DataFrame(e, index=close.index)
    ex = pd.DataFrame(x, index=close.index)
    pf = vbt.Portfolio.from_signals(
        close, ent, ex, init_cash=10_000, fees=fees, slippage=slippage, freq="1h"
    )
    ref = pd.DataFrame(
        {
            "total_return": pf.total_return(),
            "sharpe_ratio": pf.sharpe_ratio(),
            "sortino_ratio": pf.sortino_ratio(),
            "max_drawdown": pf.max_drawdown(),
            "calmar_ratio": pf.calmar_ratio(),
            "annualized_return": pf.annualized_return(),
            "annualized_volatility": pf.annualized_volatility(),
            "n_orders": pf.orders.count(),
            "n_trades": pf.trades.count(),
            "win_rate": pf.trades.win_rate(),
            "profit_factor": pf.trades.profit_factor(),
            "exposure": pf.position_mask().mean(),
            "final_value": pf.final_value(),
        }
    )
    ours = simulate_signals(close, ent, ex, init_cash=10_000, fees=fees, slippage=slippage)
    assert_metrics_close(ours, ref)
    assert np.isinf(ours["sharpe_ratio"][0])  # never trades: +inf, as vectorbt


def test_per_column_close_and_daily_freq_inferred():
    vbt = pytest.importorskip("vectorbt")
    rng = np.random.default_rng(7)
    T, N = 250, 6
    idx = pd.date_range("2020-01-01", periods=T, freq="1D")
    close = pd.DataFrame(50 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0)), index=idx)
    e, x = signals(rng, T, N, p=0.1)
    ent, ex = pd.DataFrame(e, index=idx), pd.DataFrame(x, index=idx)
    ours = simulate_signals(close, ent, ex, fees=0.001)  # freq from the index
    pf = vbt.Portfolio.from_signals(close, ent, ex, init_cash=10_000, fees=0.001)
    np.testing.assert_allclose(ours["sharpe_ratio"], pf.sharpe_ratio(), rtol=RTOL, equal_nan=True)
    np.testing.assert_allclose(ours["final_value"], pf.final_value(), rtol=RTOL)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    T=st.integers(1, 60),
    p=st.floats(0.0, 1.0),
    fees=st.sampled_from([0.0, 0.001, 0.01]),
)
def test_property_naive_agreement_on_small_random_cases(seed, T, p, fees):
    close, rng = market(T, seed)
    e = rng.random((T, 3)) < p
    x = rng.random((T, 3)) < p
    ours = simulate_signals(close.to_numpy(), e, x, fees=fees, freq="1h")
    ann = annualization_factor("1h")
    ref = pd.DataFrame(
        [
            naive_backtest.simulate(close.to_numpy(), e[:, j], x[:, j], fees=fees, ann=ann)
            for j in range(3)
        ]
    )
    assert_metrics_close(ours, ref)
    assert (ours["max_drawdown"] <= 0).all() and (ours["exposure"].between(0, 1)).all()


def test_validation_errors():
    close = np.array([1.0, 2.0, 3.0])
    ok = np.array([True, False, False])
    with pytest.raises(DataError, match="row 1"):
        simulate_signals(np.array([1.0, np.nan, 3.0]), ok, ok, freq="1h")
    with pytest.raises(DataError, match="row 2"):
        simulate_signals(np.array([1.0, 2.0, -3.0]), ok, ok, freq="1h")
    with pytest.raises(ConfigError, match="freq is needed"):
        simulate_signals(close, ok, ok)
    with pytest.raises(ConfigError, match="boolean"):
        simulate_signals(close, ok.astype(int), ok, freq="1h")
    with pytest.raises(ConfigError, match="same shape"):
        simulate_signals(close, ok, np.ones((3, 2), bool), freq="1h")
    with pytest.raises(ConfigError, match="fees"):
        simulate_signals(close, ok, ok, fees=1.5, freq="1h")
    with pytest.raises(ConfigError, match="freq must be"):
        simulate_signals(close, ok, ok, freq="soon")
