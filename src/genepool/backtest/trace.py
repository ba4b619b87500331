"""``trace_strategy``: the equity curve, per-bar returns and trades of one strategy.

For the few strategies a report shows (the best, the hall of fame), not for populations: it
allocates O(T) for one strategy. Its numbers agree with :class:`StrategyProblem`'s metrics
(``tests/test_trace.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..space import GeneValues
from ._trace_nb import trace_nb
from .enums import TRADE_DTYPE, ExitReason
from .problem import StrategyProblem

__all__ = ["Trace", "trace_strategy", "trades_frame"]

#: Fields of a trade record shown in the trades DataFrame, in its column order (around them
#: ``entry_time``/``exit_time`` after the bars and ``status`` last).
TRADE_COLUMNS = ["entry_bar", "exit_bar", "entry_price", "exit_price", "pnl", "return"]


@dataclass
class Trace:
    """One strategy bar by bar.

    Attributes
    ----------
    value : pandas.Series of shape (T,)
        Portfolio value at each close (indexed like the data).
    returns : ndarray of shape (T,)
        Simple return of each bar (the first bar against the initial cash), the series the
        metrics are computed from.
    trades : pandas.DataFrame
        One row per trade: ``entry_bar``, ``exit_bar`` (-1 while still open at the end),
        ``entry_time``, ``exit_time``, ``entry_price``, ``exit_price`` (after slippage),
        ``pnl`` (after fees), ``return`` (pnl over the cash put in), ``status``.
    records : structured ndarray of dtype ``enums.TRADE_DTYPE``
        The same trades as the kernel wrote them (bars not shifted by ``bar_offset``), with
        ``size``, ``entry_fees``, ``exit_fees``, ``direction`` and ``exit_reason``
        (``enums.ExitReason``: a signal, a stop loss, a take profit, or still open).
    """

    value: pd.Series
    returns: np.ndarray
    trades: pd.DataFrame
    records: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=TRADE_DTYPE))

    @property
    def drawdown(self) -> pd.Series:
        """Drawdown from the running peak at each bar (<= 0)."""
        v = self.value
        return v / v.cummax() - 1.0


def trace_strategy(
    problem: StrategyProblem,
    params: Mapping[str, GeneValues],
    index: pd.Index | None = None,
    bar_offset: int = 0,
) -> Trace:
    """Replay one strategy of ``problem`` with its decoded ``params``.

    Parameters
    ----------
    problem : StrategyProblem
        Data, family, fees, slippage, initial cash and stops.
    params : mapping
        Decoded parameters, e.g. ``result.best_params``.
    index : pandas.Index, optional
        Timestamps of the bars (default: the problem's own index, else 0..T-1).
    bar_offset : int, optional
        Added to ``entry_bar`` and ``exit_bar``: the position of the problem's first bar in
        the data it was cut from (an out-of-sample segment's bars then count from the start
        of the run's data, like its in-sample bars, not from the start of the segment). The
        times ``entry_time``/``exit_time`` do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> from genepool.backtest import StrategyProblem
    >>> from genepool.backtest.trace import trace_strategy
    >>> close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 500)))
    >>> prob = StrategyProblem(close, "rsi", freq="1h")
    >>> tr = trace_strategy(prob, {"window": 14, "lower": 30.0, "upper": 70.0})
    >>> len(tr.value), list(tr.trades.columns)[:2]
    (500, ['entry_bar', 'exit_bar'])
    """
    x = problem.space.check(problem.space.encode(dict(params)))  # names every bad parameter
    params = problem.space.decode_row(x[0])
    entries, exits = problem.signals(params)
    close = problem.data["close"]
    n = close.shape[0]
    value = np.empty(n)
    records = np.zeros(n // 2 + 1, dtype=TRADE_DTYPE)
    sl = float(params.get("stop_loss", 0.0)) if problem.stops else 0.0
    tp = float(params.get("take_profit", 0.0)) if problem.stops else 0.0
    k = trace_nb(
        close,
        np.ascontiguousarray(entries, dtype=np.bool_),
        np.ascontiguousarray(exits, dtype=np.bool_),
        sl,
        tp,
        problem.fees,
        problem.slippage,
        problem.init_cash,
        value,
        records,
    )
    if index is None:
        index = getattr(problem, "index", None)
    index = pd.RangeIndex(n) if index is None else pd.Index(index)
    prev = np.concatenate(([problem.init_cash], value[:-1]))
    returns = (value - prev) / prev
    records = records[:k].copy()
    trades = trades_frame(records, index, bar_offset)
    return Trace(pd.Series(value, index=index, name="value"), returns, trades, records)


def trades_frame(records: np.ndarray, index: pd.Index, bar_offset: int = 0) -> pd.DataFrame:
    """The public trades DataFrame of trade records (``enums.TRADE_DTYPE``) on ``index``.

    Columns: ``entry_bar``, ``exit_bar`` (int64; -1 while open), ``entry_time``,
    ``exit_time`` (the last bar's time while open), ``entry_price``, ``exit_price``, ``pnl``,
    ``return`` (float64) and ``status`` (``"open"``/``"closed"``); bars are shifted by
    ``bar_offset`` (an open trade's exit bar stays -1), times are not.
    """
    trades = pd.DataFrame({name: records[name] for name in TRADE_COLUMNS})
    is_open = records["exit_reason"] == ExitReason.OPEN
    trades.insert(2, "entry_time", index[records["entry_bar"]])
    trades.insert(3, "exit_time", index[np.where(is_open, len(index) - 1, records["exit_bar"])])
    offset = int(bar_offset)
    if offset:
        trades["entry_bar"] += offset
        trades.loc[~is_open, "exit_bar"] += offset
    trades["status"] = np.where(is_open, "open", "closed")
    return trades
