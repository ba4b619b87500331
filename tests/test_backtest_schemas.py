"""The kernels' named schemas (backtest/enums.py) and their one order-fill routine.

Metric columns, family codes and trade records are named once; the public frames follow them;
the fused and the trace kernel fill orders through the same ``_order_nb.fill_order_nb``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import naive_backtest
from genepool.backtest import (
    METRICS,
    StrategyProblem,
    _order_nb,
    _sim_nb,
    _trace_nb,
    family_names,
    get_family,
    simulate_signals,
    synthetic_ohlcv,
)
from genepool.backtest.enums import (
    FAMILY_CODES,
    INTEGER_METRICS,
    N_METRICS,
    TRADE_DTYPE,
    ExitReason,
    FamilyCode,
    Metric,
    OrderSide,
    TradeDirection,
    family_code,
    family_name,
)
from genepool.backtest.trace import TRADE_COLUMNS, trace_strategy, trades_frame

DATA = synthetic_ohlcv(1500, freq="1h", seed=11)
EXIT_REASONS = {
    "signal": ExitReason.SIGNAL,
    "stop_loss": ExitReason.STOP_LOSS,
    "take_profit": ExitReason.TAKE_PROFIT,
    "open": ExitReason.OPEN,
}


# -- metrics --------------------------------------------------------------------------------------
def test_metric_indices_are_the_columns_0_to_k():
    indices = sorted(int(m) for m in Metric)
    assert indices == list(range(len(Metric)))  # unique and contiguous
    assert N_METRICS == len(Metric) == len(METRICS)
    assert METRICS == tuple(m.name.lower() for m in sorted(Metric))
    for m in Metric:
        assert METRICS[m] == m.label
    assert set(INTEGER_METRICS) == {Metric.N_ORDERS, Metric.N_TRADES}


def test_public_metric_frames_follow_the_names():
    close = DATA["close"].to_numpy()
    rng = np.random.default_rng(0)
    entries, exits = rng.random((2, len(close), 3)) < 0.05
    frame = simulate_signals(close, entries, exits, freq="1h")
    assert tuple(frame.columns) == METRICS
    for m in Metric:
        want = np.int64 if m in INTEGER_METRICS else np.float64
        assert frame[m.label].dtype == want, m
    # the column a kernel writes is the one its name says: the naive twin by name
    ref = naive_backtest.simulate(close, entries[:, 0], exits[:, 0], ann=8760.0)
    for m in (Metric.N_TRADES, Metric.FINAL_VALUE, Metric.MAX_DRAWDOWN, Metric.EXPOSURE):
        np.testing.assert_allclose(frame[m.label].iloc[0], ref[m.label], rtol=1e-9)
    prob = StrategyProblem(DATA, "rsi")
    X = prob.space.sample(4, np.random.default_rng(1))
    metrics = prob.metrics(X)
    assert tuple(metrics.columns[-N_METRICS:]) == METRICS
    np.testing.assert_array_equal(
        metrics["n_trades"].to_numpy(), prob.metrics_array(X)[:, Metric.N_TRADES]
    )


# -- family codes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", family_names())
def test_family_codes_round_trip(name):
    code = family_code(name)
    assert family_name(code) == name
    assert family_name(int(code)) == name
    assert get_family(name).code is code
    assert FAMILY_CODES[name] is code


def test_every_kernel_family_has_a_strategy_family():
    assert sorted(FAMILY_CODES) == family_names()
    assert FamilyCode.EXPLICIT not in FAMILY_CODES.values()  # explicit signals: no family
    assert len(set(FamilyCode)) == len(FamilyCode)
    with pytest.raises(KeyError):
        family_code("explicit")
    with pytest.raises(ValueError):
        family_name(len(FamilyCode))


# -- trade records --------------------------------------------------------------------------------
def test_trade_dtype_has_integer_bars_and_small_codes():
    for name in ("entry_bar", "exit_bar"):
        assert TRADE_DTYPE[name] == np.dtype(np.int64)
    for name in ("entry_price", "exit_price", "size", "entry_fees", "exit_fees", "pnl", "return"):
        assert TRADE_DTYPE[name] == np.dtype(np.float64)
    for name in ("direction", "exit_reason"):
        assert TRADE_DTYPE[name] == np.dtype(np.int8)
    assert set(TRADE_COLUMNS) <= set(TRADE_DTYPE.names)


#: dtypes of the public trades frame (as before the trade records had integer bars)
TRADES_DTYPES = {
    "entry_bar": np.dtype(np.int64),
    "exit_bar": np.dtype(np.int64),
    "entry_time": DATA.index.dtype,
    "exit_time": DATA.index.dtype,
    "entry_price": np.dtype(np.float64),
    "exit_price": np.dtype(np.float64),
    "pnl": np.dtype(np.float64),
    "return": np.dtype(np.float64),
    "status": pd.Series(np.array(["open"])).dtype,  # str (pandas 3) or object (pandas 2)
}


def naive_trades_frame(trades, index, bar_offset=0):
    """The trades DataFrame from naive_backtest.replay's dicts, written from its docstring."""
    rows = []
    for tr in trades:
        is_open = tr["exit_bar"] < 0
        rows.append(
            {
                "entry_bar": tr["entry_bar"] + bar_offset,
                "exit_bar": -1 if is_open else tr["exit_bar"] + bar_offset,
                "entry_time": index[tr["entry_bar"]],
                "exit_time": index[len(index) - 1 if is_open else tr["exit_bar"]],
                "entry_price": tr["entry_price"],
                "exit_price": tr["exit_price"],
                "pnl": tr["pnl"],
                "return": tr["return"],
                "status": "open" if is_open else "closed",
            }
        )
    columns = ["entry_bar", "exit_bar", "entry_time", "exit_time", "entry_price", "exit_price"]
    columns += ["pnl", "return", "status"]
    frame = pd.DataFrame(rows, columns=columns)
    floats = {name: np.float64 for name in ("entry_price", "exit_price", "pnl", "return")}
    return frame.astype({"entry_bar": np.int64, "exit_bar": np.int64, **floats})


@pytest.mark.parametrize(
    ("family", "stops", "offset"),
    [("rsi", False, 0), ("ma_cross", True, 0), ("bollinger", True, 250), ("breakout", True, 7)],
)
def test_trades_frame_equals_the_naive_replay(family, stops, offset):
    prob = StrategyProblem(DATA, family, fees=0.002, slippage=0.001, stops=stops)
    rng = np.random.default_rng(3)
    for X in prob.space.sample(6, rng):
        params = prob.space.decode_row(X)
        if stops:  # tight stops, so that both kinds of stop occur
            params = {**params, "stop_loss": 0.01, "take_profit": 0.01}
        tr = trace_strategy(prob, params, index=DATA.index, bar_offset=offset)
        entries, exits = prob.signals(params)
        close = DATA["close"].to_numpy()
        sl, tp = (0.01, 0.01) if stops else (0.0, 0.0)
        _, _, _, trades = naive_backtest.replay(
            close, entries, exits, prob.init_cash, prob.fees, prob.slippage, sl, tp
        )
        ref = naive_trades_frame(trades, DATA.index, offset)
        assert list(tr.trades.columns) == list(ref.columns)
        assert tr.trades.dtypes.to_dict() == TRADES_DTYPES, tr.trades.dtypes
        exact = ["entry_bar", "exit_bar", "entry_time", "exit_time", "status"]
        pd.testing.assert_frame_equal(tr.trades[exact], ref[exact], check_dtype=False)
        close_cols = ["entry_price", "exit_price", "pnl", "return"]
        pd.testing.assert_frame_equal(tr.trades[close_cols], ref[close_cols], rtol=1e-9)
        # the records behind the frame: sizes, reasons, direction, integer bars unshifted
        rec = tr.records
        assert rec.dtype == TRADE_DTYPE and len(rec) == len(trades)
        np.testing.assert_array_equal(rec["entry_bar"], [t["entry_bar"] for t in trades])
        np.testing.assert_allclose(rec["size"], [t["size"] for t in trades], rtol=1e-12)
        reasons = [EXIT_REASONS[t["exit_reason"]] for t in trades]
        np.testing.assert_array_equal(rec["exit_reason"], reasons)
        assert (rec["direction"] == TradeDirection.LONG).all()
        if stops and len(trades) > 3:
            assert {ExitReason.STOP_LOSS, ExitReason.TAKE_PROFIT} <= set(rec["exit_reason"])


def test_trades_frame_of_hand_made_records():
    rec = np.zeros(2, dtype=TRADE_DTYPE)
    rec[0] = (1, 3, 10.0, 11.0, 2.0, 0.1, 0.2, 1.7, 0.08, TradeDirection.LONG, ExitReason.SIGNAL)
    rec[1] = (4, -1, 12.0, 9.0, 1.5, 0.1, 0.0, -4.6, -0.25, TradeDirection.LONG, ExitReason.OPEN)
    index = pd.date_range("2024-01-01", periods=6, freq="1D")
    frame = trades_frame(rec, index, bar_offset=100)
    assert frame["entry_bar"].tolist() == [101, 104]
    assert frame["exit_bar"].tolist() == [103, -1]
    assert frame["entry_time"].tolist() == [index[1], index[4]]
    assert frame["exit_time"].tolist() == [index[3], index[5]]  # open: the last bar's time
    assert frame["status"].tolist() == ["closed", "open"]
    assert frame["pnl"].tolist() == [1.7, -4.6]
    assert frame["entry_bar"].dtype == np.int64 and frame["return"].dtype == np.float64


# -- the order fill -------------------------------------------------------------------------------
def test_fill_order_closed_form():
    cash, close, fees, slip = 1000.0, 10.0, 0.01, 0.002
    cash_after, size, price, paid = _order_nb.fill_order_nb(
        OrderSide.BUY, cash, 0.0, close, fees, slip
    )
    assert price == close * (1 + slip)
    assert size == pytest.approx(cash / (1 + fees) / (close * (1 + slip)), rel=1e-15)
    assert paid == pytest.approx(cash * fees / (1 + fees), rel=1e-12)
    assert cash_after == 0.0
    assert size * price + paid == pytest.approx(cash, rel=1e-15)  # all cash in

    cash_after, size_after, price, paid = _order_nb.fill_order_nb(
        OrderSide.SELL, 3.0, 5.0, 12.0, fees, slip
    )
    assert price == 12.0 * (1 - slip)
    assert paid == pytest.approx(5.0 * 12.0 * (1 - slip) * fees, rel=1e-15)
    assert cash_after == pytest.approx(3.0 + 5.0 * 12.0 * (1 - slip) * (1 - fees), rel=1e-15)
    assert size_after == 0.0


def test_trade_pnl_closed_form_and_vectorbt_snapping():
    pnl = _order_nb.trade_pnl_nb(2.0, 10.0, 11.0, 0.1, 0.2)
    assert pnl == pytest.approx(2.0 * (11.0 - 10.0) - 0.3, rel=1e-15)
    # prices equal within vectorbt's tolerance in additions: exactly 0 before fees
    entry, exit_ = 10.0 * (1 + 1e-12), 10.0
    assert 3.0 * exit_ - 3.0 * entry != 0.0
    assert _order_nb.trade_pnl_nb(3.0, entry, exit_, 0.25, 0.5) == -0.75


def test_both_kernels_fill_orders_through_the_one_routine():
    for kernel in (_sim_nb, _trace_nb):
        assert kernel.fill_order_nb is _order_nb.fill_order_nb
        assert kernel.trade_pnl_nb is _order_nb.trade_pnl_nb
        source = inspect.getsource(kernel)
        for arithmetic in ("1.0 + slippage", "1.0 - slippage", "1.0 + fees", "* fees"):
            assert arithmetic not in source, (kernel.__name__, arithmetic)
