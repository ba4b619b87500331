"""One strategy, bar by bar: its portfolio value at every close and its trade records.

The fused kernel (``_sim_nb.simulate_one``) keeps O(1) state and writes only metrics; reports
need the equity curve and the trades of the few strategies a user looks at. This kernel applies
the same order rules (vectorbt's ``from_signals`` defaults, stops as in the fused kernel) to
explicit signals of one strategy. Oracle: the fused kernel's metrics (tests/test_trace.py).
"""

from __future__ import annotations

from .._numba import njit
from ._sim_nb import _add

# columns of a trade record
ENTRY_BAR, EXIT_BAR, ENTRY_PRICE, EXIT_PRICE, PNL, RETURN = range(6)
N_TRADE_FIELDS = 6


@njit
def trace_nb(close, entries, exits, sl, tp, fees, slippage, init_cash, value, trades):
    """Value at each close into ``value`` (T,), trades into ``trades`` (T // 2 + 1, 6); returns
    the number of trades. An open trade at the end has exit bar -1 and is marked at the last
    close without exit fees, as in the fused kernel."""
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
                adj = c * (1.0 + slippage)
                max_req = cash / (1.0 + fees)
                pos = max_req / adj
                entry_fees = cash - max_req
                entry_price = adj
                stop_low = entry_price * (1.0 - sl)
                stop_high = entry_price * (1.0 + tp)
                cash = _add(cash, -cash)
                trades[n_trades, ENTRY_BAR] = t
                trades[n_trades, ENTRY_PRICE] = entry_price
                value[t] = cash + pos * c
                continue
        else:
            if has_stops and ((sl > 0.0 and c <= stop_low) or (tp > 0.0 and c >= stop_high)):
                e = False
                x = True
            if x and not e:
                adj = c * (1.0 - slippage)
                acq = pos * adj
                exit_fees = acq * fees
                cash = cash + _add(acq, -exit_fees)
                pnl = _add(pos * adj, -(pos * entry_price)) - entry_fees - exit_fees
                trades[n_trades, EXIT_BAR] = t
                trades[n_trades, EXIT_PRICE] = adj
                trades[n_trades, PNL] = pnl
                trades[n_trades, RETURN] = pnl / (pos * entry_price + entry_fees)
                n_trades += 1
                pos = 0.0
        value[t] = cash + pos * c
    if pos > 0.0:
        pnl = _add(pos * close[n - 1], -(pos * entry_price)) - entry_fees
        trades[n_trades, EXIT_BAR] = -1
        trades[n_trades, EXIT_PRICE] = close[n - 1]
        trades[n_trades, PNL] = pnl
        trades[n_trades, RETURN] = pnl / (pos * entry_price + entry_fees)
        n_trades += 1
    return n_trades
