"""Strategy families: a gene space, indicator tables per unique parameter, and signal rules.

Each family says how to turn a population's decoded parameters into (a) indicator tables with
one row per *unique* indicator parameter plus row indices per strategy, for the fused kernel
(built block by block in :mod:`genepool.backtest.stream`), and (b) explicit boolean signals for
one strategy, built with plain numpy from the one-pass indicators (the independent path the
tests compare the kernel with).

Signal rules (``t`` is a bar, crossings need finite values on both bars):

- ``rsi``: enter when the RSI crosses below ``lower`` (from >= to <), exit when it crosses above
  ``upper`` (from <= to >).
- ``ma_cross``: enter when the fast MA crosses above the slow MA, exit when it crosses below.
- ``bollinger`` (mean reversion): enter when the close crosses below ``mid - k * sd``, exit when
  it crosses above ``mid`` (SMA and population standard deviation over ``window``).
- ``macd``: enter when the MACD line crosses above its signal line, exit when it crosses below.
- ``breakout`` (Donchian): enter when the close exceeds the highest high of the previous
  ``window`` bars, exit when it falls below their lowest low.

With ``stops=True`` every family gains ``stop_loss`` and ``take_profit`` genes: an open trade
is closed at the close of the first bar whose close is at or below ``entry * (1 - stop_loss)``
or at or above ``entry * (1 + take_profit)`` (checked at closes, unlike vectorbt's intrabar
stops).

Constraints (:mod:`genepool.backtest.constraints`): every decoded strategy satisfies its family's
constraints, whatever the genome. Windows are whole bars, at least 2 for ``rsi`` and
``bollinger`` and ``macd``'s ``signal`` (an RSI or a standard deviation over one bar is
degenerate), at least 1 elsewhere (an MA of one bar is the close itself); ``0 <= lower < upper
<= 100`` for ``rsi``; ``k > 0`` for ``bollinger``; ``fast < slow`` for ``ma_cross`` and ``macd``;
``0 < stop_loss < 1`` and ``take_profit > 0``. Ordered pairs are kept by the decoding of
:class:`StrategySpace` (see there), not by rejecting or penalizing genomes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._numba import njit
from ..errors import ConfigError
from ..space import Categorical, Gene, Integer, Real
from . import nb as ind
from ._stream_nb import rolling_std_resume
from .enums import FamilyCode, family_code

__all__ = ["FAMILIES", "Family", "family_names", "get_family"]


@njit
def rolling_std_1d_nb(a, window):
    """Rolling population std (ddof=0) over ``window`` bars, sliding Welford (the fused
    kernel's, :func:`~genepool.backtest._stream_nb.rolling_std_resume`, in one block); oracle:
    naive_backtest.rolling_std and pandas ``rolling(window).std(ddof=0)``."""
    out = np.empty(a.shape[0])
    rolling_std_resume(a, 0, 0, a.shape[0], window, out, 0, np.zeros(2))
    return out


def _cross_below(a: np.ndarray, level: np.ndarray) -> np.ndarray:
    prev, cur = a[:-1], a[1:]
    lp, lc = level[:-1], level[1:]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(prev) & np.isfinite(cur) & np.isfinite(lp) & np.isfinite(lc)
        out = ok & (prev >= lp) & (cur < lc)
    return np.concatenate([[False], out])


def _cross_above(a: np.ndarray, level: np.ndarray) -> np.ndarray:
    prev, cur = a[:-1], a[1:]
    lp, lc = level[:-1], level[1:]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(prev) & np.isfinite(cur) & np.isfinite(lp) & np.isfinite(lc)
        out = ok & (prev <= lp) & (cur > lc)
    return np.concatenate([[False], out])


@dataclass(frozen=True)
class Family:
    """A strategy family: its code in the kernel, genes, longest window and signals (its
    indicator tables, block by block: :func:`genepool.backtest.stream.table_stream`)."""

    name: str
    code: FamilyCode
    genes: Callable[[], list[Gene]]
    longest_window: Callable[[dict[str, np.ndarray]], int]
    signals: Callable[
        [dict[str, Any], dict[str, np.ndarray], dict[str, Any]], tuple[np.ndarray, np.ndarray]
    ]
    needs_high_low: bool = False


# -- rsi ---------------------------------------------------------------------------------------
def _rsi_signals(q, data, opts):
    r = ind.rsi_1d_nb(data["close"], int(q["window"]), opts["rsi_method"] == "wilder")
    lower = np.full_like(r, q["lower"])
    upper = np.full_like(r, q["upper"])
    return _cross_below(r, lower), _cross_above(r, upper)


# -- ma_cross ------------------------------------------------------------------------------------
def _ma(kind: str, close: np.ndarray, window: int) -> np.ndarray:
    return ind.sma_1d_nb(close, window) if kind == "sma" else ind.ema_1d_nb(close, window)


def _ma_signals(q, data, opts):
    fast = _ma(q["ma"], data["close"], int(q["fast"]))
    slow = _ma(q["ma"], data["close"], int(q["slow"]))
    return _cross_above(fast, slow), _cross_below(fast, slow)


# -- bollinger -----------------------------------------------------------------------------------
def _bb_signals(q, data, opts):
    close = data["close"]
    mid = ind.sma_1d_nb(close, int(q["window"]))
    sd = rolling_std_1d_nb(close, int(q["window"]))
    return _cross_below(close, mid - q["k"] * sd), _cross_above(close, mid)


# -- macd ----------------------------------------------------------------------------------------
def _macd_signals(q, data, opts):
    line, sig, _ = ind.macd_1d_nb(data["close"], int(q["fast"]), int(q["slow"]), int(q["signal"]))
    diff = line - sig
    zero = np.zeros_like(diff)
    return _cross_above(diff, zero), _cross_below(diff, zero)


# -- breakout ------------------------------------------------------------------------------------
def _breakout_signals(q, data, opts):
    w = int(q["window"])
    hi = ind.rolling_max_1d_nb(data["high"], w)
    lo = ind.rolling_min_1d_nb(data["low"], w)
    close = data["close"]
    prev_hi = np.concatenate([[np.nan], hi[:-1]])
    prev_lo = np.concatenate([[np.nan], lo[:-1]])
    with np.errstate(invalid="ignore"):
        entries = np.isfinite(prev_hi) & (close > prev_hi)
        exits = np.isfinite(prev_lo) & (close < prev_lo)
    return entries, exits


FAMILIES: dict[str, Family] = {
    "rsi": Family(
        "rsi",
        family_code("rsi"),
        lambda: [Integer("window", 5, 50), Real("lower", 10.0, 30.0), Real("upper", 70.0, 90.0)],
        lambda p: int(np.max(p["window"])) + 1,
        _rsi_signals,
    ),
    "ma_cross": Family(
        "ma_cross",
        family_code("ma_cross"),
        lambda: [
            Integer("fast", 2, 50),
            Integer("slow", 10, 200),
            Categorical("ma", ["sma", "ema"]),
        ],
        lambda p: int(max(np.max(p["fast"]), np.max(p["slow"]))),
        _ma_signals,
    ),
    "bollinger": Family(
        "bollinger",
        family_code("bollinger"),
        lambda: [Integer("window", 10, 100), Real("k", 1.0, 3.0)],
        lambda p: int(np.max(p["window"])),
        _bb_signals,
    ),
    "macd": Family(
        "macd",
        family_code("macd"),
        lambda: [Integer("fast", 5, 20), Integer("slow", 21, 60), Integer("signal", 5, 20)],
        lambda p: int(np.max(p["slow"]) + np.max(p["signal"])),
        _macd_signals,
    ),
    "breakout": Family(
        "breakout",
        family_code("breakout"),
        lambda: [Integer("window", 10, 200)],
        lambda p: int(np.max(p["window"])) + 1,
        _breakout_signals,
        needs_high_low=True,
    ),
}

STOP_GENES = (Real("stop_loss", 0.005, 0.2), Real("take_profit", 0.005, 0.5))


def family_names() -> list[str]:
    """Names of the strategy families."""
    return sorted(FAMILIES)


def get_family(name: str) -> Family:
    """The family called ``name`` (ConfigError naming the choices otherwise)."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown strategy family {name!r}; choose one of {family_names()}"
        ) from None
