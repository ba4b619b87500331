"""trace_strategy (one strategy bar by bar) agrees with the fused kernel's metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genepool.backtest import StrategyProblem, synthetic_ohlcv
from genepool.backtest.trace import trace_strategy
from genepool.errors import SpaceError

DATA = synthetic_ohlcv(3000, freq="1h", seed=5)


@pytest.mark.parametrize("family", ["rsi", "ma_cross", "bollinger", "macd", "breakout"])
@pytest.mark.parametrize("stops", [False, True])
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_trace_matches_fused_metrics(family, stops, seed):
    prob = StrategyProblem(DATA, family, fees=0.002, slippage=0.001, stops=stops)
    X = prob.space.sample(1, np.random.default_rng(seed))
    m = prob.metrics(X).iloc[0]
    tr = trace_strategy(prob, prob.space.decode_row(X[0]), index=DATA.index)
    assert len(tr.value) == len(DATA)
    np.testing.assert_allclose(tr.value.iloc[-1], m["final_value"], rtol=1e-12)
    assert len(tr.trades) == m["n_trades"]
    np.testing.assert_allclose(tr.drawdown.min(), m["max_drawdown"], rtol=1e-9, atol=1e-12)
    r = tr.returns
    if m["n_trades"] and r.std(ddof=1) > 0:
        sharpe = r.mean() / r.std(ddof=1) * np.sqrt(prob.ann_factor)
        np.testing.assert_allclose(sharpe, m["sharpe_ratio"], rtol=1e-7)
    # the trades account for the whole change of value (exit fees of an open trade aside)
    np.testing.assert_allclose(
        tr.trades["pnl"].sum(), m["final_value"] - prob.init_cash, rtol=1e-9, atol=1e-6
    )
    if len(tr.trades):
        closed = tr.trades[tr.trades["status"] == "closed"]
        assert (closed["exit_bar"] > closed["entry_bar"]).all()
        times = DATA.index[tr.trades["entry_bar"].to_numpy()]
        assert (tr.trades["entry_time"].to_numpy() == times.to_numpy()).all()


def test_no_trades_gives_a_flat_curve():
    prob = StrategyProblem(DATA, "rsi")
    tr = trace_strategy(prob, {"window": 50, "lower": 10.0, "upper": 90.0})
    if len(tr.trades) == 0:  # an RSI(50) below 10 never happens on this data
        assert (tr.value == prob.init_cash).all()
        assert (tr.returns == 0).all()
    m = prob.metrics(prob.space.encode({"window": 50, "lower": 10.0, "upper": 90.0})).iloc[0]
    assert len(tr.trades) == m["n_trades"]


def test_bad_parameters_are_named():
    prob = StrategyProblem(DATA, "rsi")
    with pytest.raises(SpaceError, match="window"):
        trace_strategy(prob, {"lower": 30.0, "upper": 70.0})


def test_bar_offset_counts_bars_from_the_start_of_the_data():
    # An out-of-sample segment replayed alone: with its offset, its bar numbers point at the
    # same bars of the whole data as its timestamps (they used to count from the segment).
    k = 1700
    seg = DATA.iloc[k:]
    prob = StrategyProblem(seg, "rsi")
    params = {"window": 10, "lower": 30.0, "upper": 70.0}
    tr = trace_strategy(prob, params, index=seg.index, bar_offset=k)
    plain = trace_strategy(prob, params, index=seg.index)
    assert len(tr.trades) > 2
    assert (DATA.index[tr.trades["entry_bar"]] == tr.trades["entry_time"]).all()
    closed = tr.trades[tr.trades["status"] == "closed"]
    assert (DATA.index[closed["exit_bar"]] == closed["exit_time"]).all()
    assert (tr.trades["entry_bar"] == plain.trades["entry_bar"] + k).all()
    assert (tr.trades.loc[tr.trades["status"] == "open", "exit_bar"] == -1).all()


def test_the_problem_s_own_times_label_the_trace():
    """Without ``index=``, a problem built on timed bars labels its trace with their times."""
    bars = synthetic_ohlcv(400, "1h", seed=2)
    prob = StrategyProblem(bars, "rsi")
    tr = trace_strategy(prob, {"window": 14, "lower": 30.0, "upper": 70.0})
    pd.testing.assert_index_equal(tr.value.index, bars.index, check_names=False)
    assert (tr.trades["entry_time"].isin(bars.index)).all() and len(tr.trades)
    plain = StrategyProblem(bars["close"].to_numpy(), "rsi", freq="1h")
    assert isinstance(trace_strategy(plain, {"window": 14, "lower": 30.0, "upper": 70.0})
                      .value.index, pd.RangeIndex)  # fmt: skip
