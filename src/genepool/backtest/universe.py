"""Universes: strategies evaluated on many symbols of a market data store and aggregated.

A :class:`SymbolSeries` is one symbol's bars in a time range, as memory-mapped arrays of the
store (nothing is read until a block needs it). :func:`aggregate_metrics` turns the metrics of
every strategy on every symbol, shape (S, n, N_METRICS), into one row per strategy:

- ``"mean"`` / ``"median"``: of each metric over the symbols;
- ``"worst"``: of each metric, the symbol where it is worst in the metric's natural sense
  (:data:`~genepool.backtest.enums.METRIC_SENSES`: the lowest Sharpe, the deepest drawdown,
  the highest volatility);
- ``"portfolio"``: the metrics of one equal-weight portfolio of the per-symbol runs (each run
  starts with the same cash; the portfolio's value at a bar is their mean, and its returns,
  drawdown and final value come from that one equity curve; orders, trades, wins and
  profits are summed over the runs, exposure is their mean). It needs one calendar: the
  symbols' times must be identical (``MarketStore.check_calendars``), else a DataError names
  the first symbol and time that differ; select symbols that share a calendar, or a time
  range where they do.

A metric that is not finite on any symbol (the +inf Sharpe of a strategy that never traded
there, a NaN win rate) is NaN in the mean, median and worst aggregates, so a strategy whose
objective is such a metric is invalid: a universe strategy must hold up on every symbol.
``min_trades`` applies to the aggregated trade count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Union

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from .enums import METRIC_SENSES, METRICS

__all__ = [
    "AGGREGATES",
    "SymbolSeries",
    "TimeBound",
    "aggregate_metrics",
    "is_store",
    "select_series",
]

#: A bound of a time range: ISO text, a Timestamp, a datetime or a numpy datetime64 (UTC
#: when naive).
TimeBound = Union[str, pd.Timestamp, datetime, np.datetime64]

#: How per-symbol metrics become one row per strategy.
AGGREGATES = ("mean", "median", "worst", "portfolio")

_WORST_IS_MAX = np.array([METRIC_SENSES[m] == "minimize" for m in METRICS])


@dataclass
class SymbolSeries:
    """One symbol's bars [first, first + n_bars) of a store, as (memory-mapped) arrays."""

    name: str
    arrays: dict[str, np.ndarray]
    n_bars: int
    ann_factor: float
    first: int = 0


def is_store(data: Any) -> bool:
    """Whether ``data`` is a market data store (:func:`genepool.backtest.open_store`)."""
    return hasattr(data, "symbols") and hasattr(data, "array") and hasattr(data, "times")


def _bound(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a time, got {value!r}: {exc}") from None
    if ts is pd.NaT:
        raise ConfigError(f"{name} must be a time, got {value!r}")
    return ts.tz_convert("UTC") if ts.tzinfo is not None else ts.tz_localize("UTC")


def _symbols(store: Any, symbols: Any) -> list[str]:
    if symbols is None or (isinstance(symbols, str) and symbols.strip().lower() == "all"):
        return list(store.symbols)
    names = [s.strip() for s in symbols.split(",")] if isinstance(symbols, str) else list(symbols)
    names = [str(s) for s in names if str(s)]
    if not names:
        raise ConfigError("symbols is empty: name at least one symbol, or 'all'")
    dupes = sorted({s for s in names if names.count(s) > 1})
    if dupes:
        raise ConfigError(f"symbols lists {dupes} more than once")
    for name in names:
        store.n_bars(name)  # DataError naming the unknown symbol and close matches
    return names


def select_series(
    store: Any,
    symbols: str | Sequence[str] | None,
    fields: Sequence[str],
    *,
    start: TimeBound | None = None,
    end: TimeBound | None = None,
    bars_per_year: float | None = None,
) -> list[SymbolSeries]:
    """The bars of ``symbols`` (names, a comma-separated string, or ``"all"``/None) with
    times in [start, end) (UTC when naive), memory-mapped; annualized by each symbol's own
    calendar (the store's ``bars_per_year``) unless ``bars_per_year`` is given."""
    lo, hi = _bound(start, "start"), _bound(end, "end")
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"start ({lo}) must be before end ({hi})")
    out = []
    for name in _symbols(store, symbols):
        times = store.times(name)
        i0 = 0 if lo is None else int(np.searchsorted(times, lo.value, side="left"))
        i1 = len(times) if hi is None else int(np.searchsorted(times, hi.value, side="left"))
        if i1 <= i0:
            raise DataError(
                f"symbol {name!r} has no bars in [{start}, {end}) (its bars run from "
                f"{pd.Timestamp(int(times[0]), tz='UTC')} to "
                f"{pd.Timestamp(int(times[-1]), tz='UTC')})"
            )
        arrays = {f: store.array(name, f)[i0:i1] for f in fields}
        ann = bars_per_year if bars_per_year is not None else store.bars_per_year(name).value
        out.append(SymbolSeries(name, arrays, i1 - i0, float(ann), i0))
    return out


def aggregate_metrics(per_symbol: np.ndarray, how: str) -> np.ndarray:
    """One metrics row per strategy from ``per_symbol`` (S, n, N_METRICS) by ``how``."""
    if per_symbol.shape[0] == 1:
        return per_symbol[0].copy()
    if how == "mean":
        out = per_symbol.mean(axis=0)
    elif how == "median":
        out = np.median(per_symbol, axis=0)
    elif how == "worst":
        lo = per_symbol.min(axis=0)
        hi = per_symbol.max(axis=0)
        out = np.where(_WORST_IS_MAX[None, :], hi, lo)
    else:
        raise ConfigError(f"aggregate must be one of {AGGREGATES[:3]} here, got {how!r}")
    # a median or a minimum would hide the +inf Sharpe of a symbol never traded: not finite
    # on one symbol is not finite in the aggregate
    out[~np.isfinite(per_symbol).all(axis=0)] = np.nan
    return out
