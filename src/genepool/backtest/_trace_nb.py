"""One strategy, bar by bar: its portfolio value at every close and its trade records.

The fused kernel (``_sim_nb.simulate_one``) keeps O(1) state and writes only metrics; reports
need the equity curve and the trades of the few strategies a user looks at. This kernel applies
the same order rules (vectorbt's ``from_signals`` defaults, stops as in the fused kernel, fills
by the same ``_order_nb.fill_order_nb``) to explicit signals of one strategy. Oracle: the fused
kernel's metrics (tests/test_trace.py).
"""

from __future__ import annotations

from .._numba import njit
from ._order_nb import fill_order_nb, trade_pnl_nb
from .enums import ExitReason, OrderSide, TradeDirection

__all__ = ["trace_nb"]


@njit
def _exit_reason(c, sl, tp, stop_low, stop_high):
    """Why a position is closed at a bar whose close is ``c``: a stop if one is hit, else the
    exit signal (a stop closes the trade whatever the signals say)."""
    if sl > 0.0 and c <= stop_low:
        return ExitReason.STOP_LOSS
    if tp > 0.0 and c >= stop_high:
        return ExitReason.TAKE_PROFIT
    return ExitReason.SIGNAL


@njit
def _close_trade(trade, bar, exit_price, exit_fees, reason, size, entry_price, entry_fees):
    """Fill the exit fields of ``trade`` (a record of ``enums.TRADE_DTYPE``)."""
    pnl = trade_pnl_nb(size, entry_price, exit_price, entry_fees, exit_fees)
    trade["exit_bar"] = bar
    trade["exit_price"] = exit_price
    trade["exit_fees"] = exit_fees
    trade["pnl"] = pnl
    trade["return"] = pnl / (size * entry_price + entry_fees)
    trade["exit_reason"] = reason


@njit
def trace_nb(close, entries, exits, sl, tp, fees, slippage, init_cash, value, trades):
    """Value at each close into ``value`` (T,), trades into ``trades`` (T // 2 + 1,) of
    ``enums.TRADE_DTYPE``; returns the number of trades. An open trade at the end has exit bar
    -1, exit reason ``OPEN``, and is marked at the last close without exit fees, as in the
    fused kernel."""
    n = close.shape[0]
    cash = init_cash
    pos = 0.0
    entry_price = 0.0
    entry_fees = 0.0
    stop_low = 0.0
    stop_high = 0.0
    n_trades = 0
    has_stops = sl > 0.0 or tp > 0.0
    for t in range(n):
        c = close[t]
        e = entries[t]
        x = exits[t]
        if pos == 0.0:
            if e and not x and cash > 0.0:
                cash, pos, entry_price, entry_fees = fill_order_nb(
                    OrderSide.BUY, cash, pos, c, fees, slippage
                )
                stop_low = entry_price * (1.0 - sl)
                stop_high = entry_price * (1.0 + tp)
                trade = trades[n_trades]
                trade["entry_bar"] = t
                trade["entry_price"] = entry_price
                trade["size"] = pos
                trade["entry_fees"] = entry_fees
                trade["direction"] = TradeDirection.LONG
                value[t] = cash + pos * c
                continue
        else:
            reason = ExitReason.SIGNAL
            if has_stops:
                reason = _exit_reason(c, sl, tp, stop_low, stop_high)
                if reason != ExitReason.SIGNAL:
                    e = False
                    x = True
            if x and not e:
                size = pos
                cash, pos, exit_price, exit_fees = fill_order_nb(
                    OrderSide.SELL, cash, pos, c, fees, slippage
                )
                _close_trade(
                    trades[n_trades],
                    t,
                    exit_price,
                    exit_fees,
                    reason,
                    size,
                    entry_price,
                    entry_fees,
                )
                n_trades += 1
        value[t] = cash + pos * c
    if pos > 0.0:
        _close_trade(
            trades[n_trades], -1, close[n - 1], 0.0, ExitReason.OPEN, pos, entry_price, entry_fees
        )
        n_trades += 1
    return n_trades
