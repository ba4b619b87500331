"""Order fills: the one place the kernels turn a signal into size, fill price, fees and cash.

Every kernel that trades (the fused simulator ``_sim_nb`` and the trace kernel ``_trace_nb``)
fills its orders here, so the two cannot drift apart. The rules are those of
``vectorbt.Portfolio.from_signals`` with its defaults: long only, all cash in at the close of the
entry bar, the whole position out at the close of the exit bar, slippage moving the fill price
against the trade, fees a fraction of the traded value, and vectorbt's float tolerance in
additions (``_add``). Oracles: tests/naive_backtest.py ``simulate`` and vectorbt.
"""

from __future__ import annotations

import numpy as np

from .._numba import njit
from .enums import OrderSide

_REL_TOL = 1e-9  # vectorbt.utils.math_.rel_tol
_ABS_TOL = 1e-12  # vectorbt.utils.math_.abs_tol


@njit
def _is_close(a, b):
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit
def _add(a, b):
    """``a + b``, snapped to 0 when the two cancel within vectorbt's tolerance."""
    if (a > 0) != (b > 0) and _is_close(abs(a), abs(b)):
        return 0.0
    return a + b


@njit
def fill_order_nb(side, cash, size, close, fees, slippage):
    """Fill an order at the bar's ``close``: ``(cash, size, price, fees_paid)`` after it.

    ``OrderSide.BUY`` spends all the cash: the fill price is ``close * (1 + slippage)``, the
    size ``cash / (1 + fees) / price``, the fees the rest of the cash, and the cash left is 0.
    ``OrderSide.SELL`` sells the whole ``size`` at ``close * (1 - slippage)``: the cash grows by
    the proceeds less ``fees`` of them, and the size left is 0.
    """
    if side == OrderSide.BUY:
        price = close * (1.0 + slippage)
        spend = cash / (1.0 + fees)
        return _add(cash, -cash), spend / price, price, cash - spend
    price = close * (1.0 - slippage)
    proceeds = size * price
    fees_paid = proceeds * fees
    return cash + _add(proceeds, -fees_paid), 0.0, price, fees_paid


@njit
def trade_pnl_nb(size, entry_price, exit_price, entry_fees, exit_fees):
    """Profit of a long trade after fees; an open trade is marked at ``exit_price`` (the last
    close) with ``exit_fees`` 0."""
    return _add(size * exit_price, -(size * entry_price)) - entry_fees - exit_fees
