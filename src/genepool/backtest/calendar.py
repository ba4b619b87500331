"""Bars per year, inferred from the data's own calendar (the annualization of the metrics).

A Sharpe ratio or an annualized return scales per-bar figures by the number of bars in a year.
That number is a property of the market's calendar, not of the bar spacing: daily stock bars are
about 252 a year (weekends and holidays have no bars), hourly FX bars about 6,200 (24 hours x 5
days), hourly crypto bars 8,760 (24 x 365). :func:`infer_bars_per_year` counts them in the data.
See docs/backtest.md, "Annualization", for how this differs from :func:`simulate_signals`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import DataError

__all__ = ["BarsPerYear", "infer_bars_per_year"]

_NS_DAY = 86_400 * 10**9
# A calendar year whose first (last) bar is this close to its start (end) counts as full, so
# that data from the first to the last trading day of a year cover it (New Year's Day and a
# weekend leave at most 3 days without bars). Never more than the largest gap between bars: on
# 24/7 data a year missing its first hours is not full.
_YEAR_EDGE = 4 * _NS_DAY


@dataclass(frozen=True)
class BarsPerYear:
    """How many bars make a year, and how that number was found.

    Attributes
    ----------
    value : float
        Bars per year (> 0): the annualization factor of Sharpe, Sortino, annualized return and
        volatility, Calmar.
    method : str
        A sentence saying where ``value`` comes from, e.g. ``"median of 252 bars per full
        calendar year (2005-2012, 8 years)"``.
    """

    value: float
    method: str

    def __str__(self) -> str:
        return f"{format_bars(self.value)} bars/year, {self.method}"


def format_bars(value: float) -> str:
    """``252``, ``6,257.14``, ``98,280``: a bars-per-year figure for people."""
    return f"{value:,.6g}" if value < 1e6 else f"{value:,.0f}"


def infer_bars_per_year(
    index: pd.Index | pd.Series | Sequence[datetime] | npt.ArrayLike,
) -> BarsPerYear:
    """Bars per year of a time index, counted on its calendar.

    In order, the first rule that applies:

    1. The data cover at least one full calendar year: the median number of bars per full
       year, a leap year's count scaled by 365/366 so that a year is 365 days as in the other
       rules: 24/7 hourly data give exactly 8,760 every year, the figure of a 365-day year and of
       vectorbt (8,766, the 365.25-day average, would differ by 0.03 % in a Sharpe ratio and
       would change the numbers of every existing 24/7 run). Scaling, rather than not counting
       February 29, is right on average for every calendar: month-end bars fall on that day.
    2. At least one full calendar week (Monday to Sunday, in the index's own time zone) lies
       inside the data: the mean number of bars per full week times 365 / 7. Weekends and
       holidays without bars lower it, as they should (daily stock bars: about 4.8 bars a week,
       252 a year; hourly FX: 120 a week, 6,257 a year).
    3. At least one full calendar day lies inside the data: the mean number of bars per day
       with bars, times 7 days a week when some bars fall on a weekend and 5 otherwise, times
       365 / 7.
    4. Otherwise, or when bars are sparser than weekly (rule 2) or daily (rule 3) so that
       counting them in a few weeks or days would be noise: 365 days divided by the median
       spacing of the bars (vectorbt's convention; monthly bars give about 12).

    A year (week, day) is full when the data have bars before and after it; a year also when
    its first and last bars are within 4 days (and within the largest gap between bars) of its
    start and end, so that data from 2 January to 31 December of one year count it.

    Parameters
    ----------
    index : DatetimeIndex (or anything :class:`pandas.DatetimeIndex` accepts) of shape (T,)
        Bar times; tz-aware times are counted on the local calendar of their zone. Need not be
        sorted. O(T) time and memory (sorted input), vectorized.

    Returns
    -------
    BarsPerYear
        ``value`` and the ``method`` sentence.

    Raises
    ------
    DataError
        Fewer than 2 bars, missing times, or all times equal: nothing to count.

    Examples
    --------
    >>> import pandas as pd
    >>> hours = pd.date_range("2020-01-01", "2023-01-01", freq="h", inclusive="left")
    >>> infer_bars_per_year(hours)
    BarsPerYear(value=8760.0, method='median of 8,760 bars per full calendar year (2020-2022, 3 years; leap years scaled by 365/366)')
    >>> weekdays = pd.bdate_range("2024-01-01", periods=60)  # 12 weeks, no full year
    >>> print(infer_bars_per_year(weekdays))
    260.714 bars/year, scaled from 10 full weeks: 5 days/week x 1 bar/day x 365/7 weeks
    """  # noqa: E501
    times = _wall_times(index)
    n = times.size
    if n < 2:
        raise DataError(
            f"cannot infer bars per year from {n} bar{'s' if n != 1 else ''}: at least 2 are "
            "needed"
        )
    gaps = np.diff(times)
    if (gaps < 0).any():
        times = np.sort(times)
        gaps = np.diff(times)
    largest = int(gaps.max())
    if largest == 0:
        raise DataError(f"cannot infer bars per year: all {n:,} bars have the same time")
    median = float(np.median(gaps))
    found = _by_years(times, largest)
    if found is None and median <= 7 * _NS_DAY:
        found = _by_weeks(times)
    if found is None and median <= _NS_DAY:
        found = _by_days(times)
    return found or _by_spacing(gaps)


#: Rows per slice when a long sorted series of times is read piece by piece.
_SLICE = 1 << 22


def _gap_slices(stamps: np.ndarray) -> Any:
    """The gaps between consecutive times, one slice of ``_SLICE`` at a time (the gap across
    a slice boundary included): memory O(_SLICE) whatever the length."""
    for lo in range(0, len(stamps) - 1, _SLICE):
        yield np.diff(np.asarray(stamps[lo : lo + _SLICE + 1]))


def median_gap(stamps: np.ndarray) -> int:
    """``int(np.median(np.diff(stamps)))`` of sorted int64 times, read by slices: the exact
    median from the counts of each distinct gap (few in real calendars). A series with more
    than 2**20 distinct gaps (irregular ticks) falls back to one ``np.median``."""
    counts: dict[int, int] = {}
    for gaps in _gap_slices(stamps):
        values, k = np.unique(gaps, return_counts=True)
        for v, c in zip(values.tolist(), k.tolist()):
            counts[v] = counts.get(v, 0) + c
        if len(counts) > 1 << 20:
            return int(np.median(np.diff(np.asarray(stamps))))
    values = np.array(sorted(counts), dtype=np.int64)
    cum = np.cumsum([counts[v] for v in values.tolist()])
    n = int(cum[-1])
    lo = values[np.searchsorted(cum, (n - 1) // 2 + 1)]
    hi = values[np.searchsorted(cum, n // 2 + 1)]
    return int(np.median(np.array([lo, hi], dtype=np.int64)))


def infer_bars_per_year_sorted(stamps: np.ndarray, tz: Any = None) -> BarsPerYear:
    """:func:`infer_bars_per_year` of strictly increasing int64 nanoseconds since the epoch
    in UTC (a market store's memory-mapped times) whose zone is ``tz``, equal to it.

    When the calendar is UTC or naive and covers a full calendar year (rule 1), the times are
    read by slices (the largest gap) and by binary searches (the year boundaries): O(2**22)
    memory for any length, so a store imports a 10^8-bar symbol without a copy of its times.
    Otherwise the index is built and counted as :func:`infer_bars_per_year` does."""
    if (tz is None or str(tz) == "UTC") and len(stamps) >= 2:
        largest = max(int(g.max()) for g in _gap_slices(stamps))
        if largest > 0:
            found = _by_years(stamps, largest)
            if found is not None:
                return found
    index = pd.DatetimeIndex(np.asarray(stamps).view("M8[ns]"))
    if tz is not None:
        index = index.tz_localize("UTC").tz_convert(tz)
    return infer_bars_per_year(index)


def _wall_times(index: Any) -> np.ndarray:
    """Local wall-clock times as int64 nanoseconds (tz-aware times in their own zone)."""
    try:
        idx = index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot infer bars per year: the index is not times ({exc})") from None
    if idx.hasnans:
        raise DataError("cannot infer bars per year: the index has missing times (NaT)")
    idx = idx.as_unit("ns")
    if idx.tz is None:
        return idx.asi8
    offset = idx.tz.utcoffset(None)  # fixed offsets (CSV times with +01:00): one addition
    if offset is not None:
        return idx.asi8 + pd.Timedelta(offset).value
    return idx.tz_localize(None).asi8  # wall time of the zone: calendars are local


def _day_starts(days: Any) -> np.ndarray:
    """Nanosecond times of the given day numbers (clipped to int64: no overflow past 2262)."""
    top = np.iinfo(np.int64).max
    return np.array([min(int(d) * _NS_DAY, top) for d in days], dtype=np.int64)


def _by_years(times: np.ndarray, largest: int) -> BarsPerYear | None:
    """Median bars per full calendar year; the rows are sorted, so each year is a slice."""
    first, last = pd.Timestamp(times[0]).year, pd.Timestamp(times[-1]).year
    span = np.arange(first, last + 2)
    start_days = (span - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    starts = _day_starts(start_days)
    edge = min(largest, _YEAR_EDGE)
    full = (times[0] <= starts[:-1] + edge) & (times[-1] >= starts[1:] - edge)
    if not full.any():
        return None
    counts = np.diff(np.searchsorted(times, starts))
    year = span[:-1]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    per_year = counts * 365 / np.where(leap, 366, 365)  # 8,784 hours of 2020 -> 8,760
    value = float(np.median(per_year[full]))
    chosen = year[full]
    k = len(chosen)
    years_text = f"{chosen[0]}" if k == 1 else f"{chosen[0]}-{chosen[-1]}"
    note = "; leap years scaled by 365/366" if leap[full].any() else ""
    return BarsPerYear(
        value,
        f"median of {format_bars(value)} bars per full calendar year "
        f"({years_text}, {k} year{'s' if k > 1 else ''}{note})",
    )


def _by_weeks(times: np.ndarray) -> BarsPerYear | None:
    """Mean bars per full Monday-to-Sunday week inside the data, times 365 / 7."""
    first, last = ((times[[0, -1]] // _NS_DAY) + 3) // 7  # 1970-01-01 was a Thursday
    n_full = int(last - first - 1)
    if n_full < 1:
        return None
    lo, hi = np.searchsorted(times, _day_starts([(first + 1) * 7 - 3, last * 7 - 3]))
    n_bars = int(hi - lo)
    if n_bars == 0:
        return None
    n_days = int(np.count_nonzero(np.diff(times[lo:hi] // _NS_DAY))) + 1
    per_week = n_bars / n_full
    if n_days >= n_full:
        per = n_days / n_full
        detail = f"{per:.3g} day{'s' if per != 1 else ''}/week x {_per_day(n_bars / n_days)}"
    else:
        detail = f"{per_week:.3g} bars/week"
    return BarsPerYear(
        per_week * 365 / 7,
        f"scaled from {n_full} full week{'s' if n_full > 1 else ''}: {detail} x 365/7 weeks",
    )


def _by_days(times: np.ndarray) -> BarsPerYear | None:
    """Mean bars per full day inside the data, times 5 or 7 days a week, times 365 / 7."""
    first, last = times[[0, -1]] // _NS_DAY
    if last - first < 2:
        return None
    lo, hi = np.searchsorted(times, _day_starts([first + 1, last]))
    if hi == lo:
        return None
    n_days = int(np.count_nonzero(np.diff(times[lo:hi] // _NS_DAY))) + 1
    per_day = (hi - lo) / n_days
    weekday = (times // _NS_DAY + 3) % 7  # 0 = Monday
    if (weekday >= 5).any():
        per_week, why = 7, "bars on weekends"
    else:
        per_week, why = 5, "no bars on weekends"
    return BarsPerYear(
        per_day * per_week * 365 / 7,
        f"scaled from {n_days} full day{'s' if n_days > 1 else ''}: {_per_day(per_day)} x "
        f"{per_week} days/week ({why}) x 365/7 weeks",
    )


def _by_spacing(gaps: np.ndarray) -> BarsPerYear:
    spacing = int(np.median(gaps[gaps > 0]))
    return BarsPerYear(
        365 * _NS_DAY / spacing,
        f"365 days / median bar spacing of {_duration(spacing)}",
    )


def _per_day(value: float) -> str:
    return f"{value:.4g} bar{'s' if value != 1 else ''}/day"


def _duration(ns: int) -> str:
    if ns >= _NS_DAY:
        days = ns / _NS_DAY
        return f"{days:.4g} day{'s' if days != 1 else ''}"
    for unit, size in (("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9)):
        if ns % size == 0:
            return f"{ns // size} {unit}"
    return str(pd.Timedelta(ns, unit="ns"))
