"""Named schemas of the backtest kernels: metric columns, family codes, trade records.

The kernels and their Python wrappers meet on plain numbers (a column of the metrics table, the
code of a strategy family, a field of a trade record); this module names each of them once
(vectorbt's ``enums`` habit). numba reads ``IntEnum`` members as compile-time constants: a kernel
that writes ``out[Metric.SHARPE_RATIO]`` compiles to the same machine code as ``out[1]``.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "FAMILY_CODES",
    "INTEGER_METRICS",
    "METRICS",
    "METRIC_SENSES",
    "N_METRICS",
    "N_STATE",
    "TRADE_DTYPE",
    "ExitReason",
    "FamilyCode",
    "Metric",
    "OrderSide",
    "SimState",
    "TradeDirection",
    "family_code",
    "family_name",
]


class Metric(IntEnum):
    """Column of a metric in the kernels' metrics table (one row per strategy).

    The public name of a metric is its member name in lower case (``Metric.SHARPE_RATIO`` ->
    ``"sharpe_ratio"``); :data:`METRICS` lists them in column order.
    """

    TOTAL_RETURN = 0
    SHARPE_RATIO = 1
    SORTINO_RATIO = 2
    MAX_DRAWDOWN = 3
    CALMAR_RATIO = 4
    ANNUALIZED_RETURN = 5
    ANNUALIZED_VOLATILITY = 6
    N_ORDERS = 7
    N_TRADES = 8
    WIN_RATE = 9
    PROFIT_FACTOR = 10
    EXPOSURE = 11
    FINAL_VALUE = 12

    @property
    def label(self) -> str:
        """The public name: the column of the metrics DataFrame, the objective's name."""
        return self.name.lower()


class SimState(IntEnum):
    """Slot of a strategy's state row in the time-blocked kernel (``_sim_nb.simulate_block``):
    everything a backtest carries from one block of bars to the next (counts are stored as
    float64, exact below 2**53). A fresh row (``_sim_nb.init_state_nb``) is all cash, flat."""

    CASH = 0
    POS = 1
    ENTRY_PRICE = 2
    ENTRY_FEES = 3
    PREV_VALUE = 4
    S1 = 5  # sum of returns
    S2 = 6  # sum of squared returns
    SNEG = 7  # sum of squared negative returns
    PEAK = 8
    MDD = 9
    N_ORDERS = 10
    N_TRADES = 11
    N_WINS = 12
    WIN_PNL = 13
    LOSS_PNL = 14
    HAS_WIN = 15
    HAS_LOSS = 16
    BARS_IN = 17
    STOP_LOW = 18
    STOP_HIGH = 19
    IN_MARKET = 20
    HOLD_START = 21  # first holding bar of the open trade
    H0 = 22  # prefix sums of returns at HOLD_START
    H1 = 23
    H2 = 24
    EMA_AVG = 25  # the MACD signal EMA: average, observations, old weight
    EMA_NOBS = 26
    EMA_OLD_WT = 27
    LAST_DIFF = 28  # MACD minus signal at the last bar of the previous block


#: Length of a state row.
N_STATE = len(SimState)

#: Names of the metrics in column order (the columns of every metrics DataFrame).
METRICS: tuple[str, ...] = tuple(m.label for m in sorted(Metric))
N_METRICS = len(METRICS)
#: Metrics that are counts: integer columns in the public DataFrames.
INTEGER_METRICS: tuple[Metric, ...] = (Metric.N_ORDERS, Metric.N_TRADES)

#: The natural sense of each metric as an objective: whether a larger or a smaller *value* is
#: the better strategy (``genepool evolve --objectives`` gives each metric this sense).
#: ``max_drawdown`` is a loss from the peak, <= 0 (-0.25 is a 25 % drawdown): its larger
#: values (nearer 0) are the shallower drawdowns, so "maximize" here *minimizes the drawdown*.
#: Volatility and the time in the market (``exposure``) are risks: smaller is better. The
#: counts are read as evidence (more trades: a Sharpe ratio resting on more bets).
METRIC_SENSES: dict[str, str] = {
    "total_return": "maximize",
    "sharpe_ratio": "maximize",
    "sortino_ratio": "maximize",
    "max_drawdown": "maximize",  # <= 0: nearer 0 is a shallower drawdown
    "calmar_ratio": "maximize",
    "annualized_return": "maximize",
    "annualized_volatility": "minimize",
    "n_orders": "maximize",
    "n_trades": "maximize",
    "win_rate": "maximize",
    "profit_factor": "maximize",
    "exposure": "minimize",
    "final_value": "maximize",
}
assert tuple(METRIC_SENSES) == METRICS  # one sense per metric, in column order


class FamilyCode(IntEnum):
    """How the fused kernel computes a bar's signals: explicit arrays or a family's rule."""

    EXPLICIT = 0
    RSI = 1
    MA_CROSS = 2
    BOLLINGER = 3
    MACD = 4
    BREAKOUT = 5


#: Strategy family name -> kernel code (every code but ``EXPLICIT``, which has no family).
FAMILY_CODES: dict[str, FamilyCode] = {
    code.name.lower(): code for code in FamilyCode if code is not FamilyCode.EXPLICIT
}


def family_code(name: str) -> FamilyCode:
    """Kernel code of the strategy family ``name`` (``"ma_cross"`` -> ``FamilyCode.MA_CROSS``)."""
    return FAMILY_CODES[name]


def family_name(code: int) -> str:
    """Strategy family name of a kernel code (the inverse of :func:`family_code`)."""
    return FamilyCode(code).name.lower()


class OrderSide(IntEnum):
    """Side of an order filled by ``_order_nb.fill_order_nb``."""

    BUY = 0
    SELL = 1


class TradeDirection(IntEnum):
    """Direction of a trade (the kernels trade long only)."""

    LONG = 0
    SHORT = 1


class ExitReason(IntEnum):
    """Why a trade was closed; ``OPEN``: still open at the last bar (marked there)."""

    OPEN = 0
    SIGNAL = 1
    STOP_LOSS = 2
    TAKE_PROFIT = 3


#: One trade of the trace kernel. Bars are positions in the data (``exit_bar`` is -1 while the
#: trade is open); prices are fills after slippage (an open trade's exit price is the last
#: close); ``pnl`` is after entry and exit fees, ``return`` is ``pnl`` over the cash put in.
TRADE_DTYPE = np.dtype(
    [
        ("entry_bar", np.int64),
        ("exit_bar", np.int64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("size", np.float64),
        ("entry_fees", np.float64),
        ("exit_fees", np.float64),
        ("pnl", np.float64),
        ("return", np.float64),
        ("direction", np.int8),
        ("exit_reason", np.int8),
    ],
    align=True,
)
