"""Market data: load and validate OHLCV bars, synthetic regime-switching bars, the demo data set.

Every function here returns the same *canonical* frame, which the rest of :mod:`genepool.backtest`
relies on:

- columns ``open, high, low, close, volume`` in that order, all ``float64``;
- a ``DatetimeIndex`` named ``"time"`` at nanosecond resolution (tz-aware when the input was),
  strictly increasing (sorted, no duplicates), without a ``freq`` (data may have gaps);
- prices finite and positive with ``low <= open, close <= high``; volume ``>= 0`` or NaN
  (unknown).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .._numba import njit
from .._rng import make_rng
from ..errors import ConfigError, DataError, check_float, check_int

__all__ = ["COLUMNS", "demo_data", "load_ohlcv", "synthetic_ohlcv", "validate_ohlcv"]

#: Columns of the canonical frame, in order.
COLUMNS = ("open", "high", "low", "close", "volume")

#: File name endings :func:`load_ohlcv` understands, and the reader each one uses. A bare
#: compression ending (``prices.gz``, ``prices.zip``) holds a CSV file.
FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".csv.xz": "csv",
    ".csv.zip": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".gz": "csv",
    ".bz2": "csv",
    ".xz": "csv",
    ".zip": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_SEPARATORS = (",", ";", "\t", "|")

# Header names after _norm (lower case, '_'/'-' as spaces, whitespace collapsed).
_ALIASES = {
    "open": "open",
    "o": "open",
    "high": "high",
    "h": "high",
    "low": "low",
    "l": "low",
    "close": "close",
    "c": "close",
    "adj close": "adj close",
    "adjclose": "adj close",
    "adjusted close": "adj close",
    "volume": "volume",
    "vol": "volume",
    "v": "volume",
}
_TIME_NAMES = ("timestamp", "datetime", "date time", "date", "time", "local time", "open time")
_UTC_WORDS = ("utc", "gmt", "(utc)", "(gmt)", "[utc]", "[gmt]")
_DAY_MONTH = re.compile(r"\s*(\d{1,2})([./-])(\d{1,2})\2\d{2,4}\b")
_YEAR = pd.Timedelta(days=365)  # the year of vectorbt's default ``year_freq``


def _norm(label: Any) -> str:
    text = str(label).replace("\ufeff", "").replace("_", " ").replace("-", " ")
    return " ".join(text.split()).lower()


def _show(value: Any) -> str:
    """``repr`` of a cell, without numpy's ``np.float64(...)`` wrapper."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _rows(mask: np.ndarray, times: pd.DatetimeIndex | None = None) -> tuple[int, str]:
    """First flagged position and its description: ``row 17 (time ...) and 2 more rows``."""
    hits = np.flatnonzero(mask)
    pos = int(hits[0])
    text = f"row {pos}" + (f" (time {times[pos]})" if times is not None else "")
    if len(hits) > 1:
        text += f" and {len(hits) - 1} more row{'s' if len(hits) > 2 else ''}"
    return pos, text


# ---------------------------------------------------------------------------------------------
# validation


def validate_ohlcv(
    df: pd.DataFrame,
    *,
    min_bars: int = 1,
    sort: bool = False,
    name: str = "data",
    time_column: str | None = None,
    price_column: str | None = None,
) -> pd.DataFrame:
    """Check OHLCV bars and return them as the canonical float64 frame.

    Column names are matched case-insensitively, ignoring surrounding whitespace, with ``_`` and
    ``-`` read as spaces. Accepted names (other columns are dropped):

    - ``open``/``o``, ``high``/``h``, ``low``/``l``, ``close``/``c``, ``volume``/``vol``/``v``;
    - ``adj close`` (also ``adjclose``, ``adjusted close``) is used as ``close`` only when there
      is no ``close`` column or when ``price_column`` names it; then open, high and low are
      adjusted too (multiplied by ``adj close / close``, bar by bar), so bars stay consistent;
    - time: a ``DatetimeIndex``, an index named like a time column, one column named
      ``timestamp``, ``datetime``, ``date time``, ``date``, ``time``, ``local time`` or
      ``open time``, optionally with ``utc``/``gmt`` (``Gmt time``, ``Time (UTC)``: naive times
      are then UTC), or ``time_column``; separate ``date`` and ``time`` columns are joined.
      Without any of these, an unnamed first column (pandas' ``to_csv`` of an unnamed index:
      ``Unnamed: 0``) holds the time, unless it counts rows 0, 1, 2, ...; so does a first
      column of text under another name (``Datum``, ``Fecha``) whose first values read as
      dates.
    - time values: text is parsed with :func:`pandas.to_datetime`; ``dd.mm.yyyy`` (dots) is read
      day first and ``mm/dd/yyyy`` month first, unless only the other order gives valid
      increasing times (``13.05.2003``, ``05/13/2003`` decide it). Timestamps with different
      UTC offsets, such as local times across a DST change, are converted to UTC. Integers
      between 19000101 and 22001231 are read as ``YYYYMMDD``; other numbers as Unix epoch
      time, in seconds, milliseconds, microseconds or nanoseconds judged by magnitude.

    Only ``close`` is required. A missing ``open`` is set to ``close``; a missing ``high``
    (``low``) to the larger (smaller) of ``open`` and ``close``, so a close-only series becomes
    flat bars; a missing ``volume`` is NaN (unknown).

    Parameters
    ----------
    df : DataFrame
        Bars, one row per bar, in time order.
    min_bars : int, default 1
        Fewest bars accepted: the longest indicator window (plus warm-up) a strategy will use.
    sort : bool, default False
        Sort the bars by time instead of rejecting unsorted input (duplicates are still
        rejected).
    name : str, default "data"
        How messages refer to the data (:func:`load_ohlcv` passes the path).
    time_column : str, optional
        The column (or the index's name) holding the time, matched exactly or like the other
        names; other time-like columns are then ignored.
    price_column : str, optional
        The column traded as ``close``. ``"Adj Close"`` adjusts open/high/low with it (see
        above); another column than close/adj close gives flat bars at that price (open, high
        and low dropped). Default: ``close``, else ``adj close``.

    Returns
    -------
    DataFrame of shape (n_bars, 5)
        Columns ``open, high, low, close, volume`` (float64), a ``DatetimeIndex`` named
        ``"time"`` (nanoseconds, tz kept), strictly increasing. ``df`` itself is not modified.

    Raises
    ------
    DataError
        Naming the problem and, where there is one, the row: its 0-based position in ``df``
        (``row 17``) and its time. Problems: no rows; no close column; ambiguous columns; no or
        unparseable time; non-numeric values; NaN, infinite or non-positive prices; negative or
        infinite volume; ``high < low``; open or close above high or below low; timestamps out
        of order or duplicated; fewer than ``min_bars`` bars.
    ConfigError
        ``df`` is not a DataFrame, or ``min_bars`` is not a positive integer.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({" Date ": ["2024-01-02", "2024-01-03"], "CLOSE": [10.0, 10.5]})
    >>> validate_ohlcv(raw)  # doctest: +NORMALIZE_WHITESPACE
                open  high   low  close  volume
    time
    2024-01-02  10.0  10.0  10.0   10.0     NaN
    2024-01-03  10.5  10.5  10.5   10.5     NaN
    >>> raw.loc[1, "CLOSE"] = -1.0
    >>> validate_ohlcv(raw, name="prices")
    Traceback (most recent call last):
    ...
    genepool.errors.DataError: prices: close is not positive (-1.0) at row 1 (time 2024-01-03 ...)
    """
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    min_bars = check_int("min_bars", min_bars, minimum=1)
    if len(df) == 0:
        raise DataError(f"{name} is empty: it has no rows (columns: {list(df.columns)})")

    plan = _map_columns(df, name, time_column, price_column)
    times = _parse_times(df, plan, name)
    values = {c: _as_float(df.iloc[:, j], c, times, name) for c, j in plan.cols.items()}
    if plan.adjust is not None:
        _adjust(values, _as_float(df.iloc[:, plan.adjust], "close", times, name), times, name)
    _check_values(values, times, name)

    close = values["close"]
    open_ = values.get("open", close)
    high = values.get("high", np.maximum(open_, close))
    low = values.get("low", np.minimum(open_, close))
    volume = values.get("volume", np.full(len(close), np.nan))
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=times.rename("time"),
        copy=True,
    )
    frame = _check_order(frame, sort, name)
    if len(frame) < min_bars:
        raise DataError(
            f"{name} has {len(frame)} bar{'s' if len(frame) != 1 else ''}; at least "
            f"{min_bars} are needed"
        )
    return frame


def _adjust(
    values: dict[str, np.ndarray], raw_close: np.ndarray, times: pd.DatetimeIndex, name: str
) -> None:
    """Open/high/low scaled by adj close / close (the adjusted close is ``values["close"]``)."""
    _check_values({"close": values["close"]}, times, name)
    _check_values({"close": raw_close}, times, name)
    ratio = values["close"] / raw_close
    for c in ("open", "high", "low"):
        if c in values:
            values[c] = values[c] * ratio
    # rounding must not put the adjusted close a hair outside its scaled high/low
    if "high" in values:
        values["high"] = np.maximum(values["high"], values["close"])
    if "low" in values:
        values["low"] = np.minimum(values["low"], values["close"])


@dataclass
class _Plan:
    """Where the canonical columns come from: positions in the frame."""

    cols: dict[str, int]  # canonical name -> column position
    time_cols: list[int]  # one column, or date and time columns to join
    use_index: bool  # the index holds the time
    utc: bool  # naive times are UTC (a header says utc or gmt)
    adjust: int | None  # unadjusted close, when the close is an adjusted one


def _error(message: str, python: str = "", cli: str = "") -> DataError:
    """A DataError whose hint names the Python argument, or the flag on the command line."""
    exc = DataError(message + python)
    exc.cli_message = message + cli
    return exc


def _time_name(label: Any) -> tuple[str | None, bool]:
    """``("time", True)`` for ``Gmt time``: the time name of a header, and whether it is UTC."""
    words = _norm(label).split()
    utc = any(w in _UTC_WORDS for w in words)
    base = " ".join(w for w in words if w not in _UTC_WORDS)
    if base in _TIME_NAMES:
        return base, utc
    return None, False


def _find(labels: list[Any], wanted: str) -> int | None:
    """Position of the column named ``wanted``: exactly, else the one matching it loosely."""
    exact = [j for j, label in enumerate(labels) if str(label) == wanted]
    loose = [j for j, label in enumerate(labels) if _norm(label) == _norm(wanted)]
    hits = exact or loose
    return hits[0] if len(hits) == 1 else None


def _index_is_time(df: pd.DataFrame) -> bool:
    index = df.index
    return isinstance(index, pd.DatetimeIndex) or (
        index.name is not None and _time_name(index.name)[0] is not None
    )


def _row_numbers(col: pd.Series) -> bool:
    """True for a saved row counter (0, 1, 2, ... or 1, 2, 3, ...), which is not time."""
    if not pd.api.types.is_integer_dtype(col.dtype):
        return False
    values = col.to_numpy()
    return bool(values[0] in (0, 1) and (np.diff(values) == 1).all())


def _map_columns(
    df: pd.DataFrame, name: str, time_column: str | None, price_column: str | None
) -> _Plan:
    """Positions of the OHLCV columns and of the time column(s)."""
    labels = list(df.columns)
    found: dict[str, list[int]] = {}
    utc_cols: set[int] = set()
    for j, label in enumerate(labels):
        key = _norm(label)
        role = _ALIASES.get(key)
        if role is None and time_column is None:
            role, utc = _time_name(label)
            if utc:
                utc_cols.add(j)
        if role is not None:
            found.setdefault(role, []).append(j)
    for role, where in found.items():
        if len(where) > 1:
            both = ", ".join(repr(labels[j]) for j in where)
            raise DataError(f"{name}: columns {both} all mean {role!r}; keep one of them")
    adjust = None
    if price_column is not None:
        price = _find(labels, price_column)
        if price is None:
            raise DataError(f"{name}: no price column {price_column!r} among {labels}")
        role = _ALIASES.get(_norm(labels[price]))
        if role == "adj close" and "close" in found:
            adjust = found["close"][0]
        elif role not in ("close", "adj close"):  # bid, mid, ...: flat bars at that price
            for c in ("open", "high", "low"):
                found.pop(c, None)
        found["close"] = [price]
    elif "close" not in found and "adj close" in found:
        found["close"] = found["adj close"]
    if "close" not in found:
        message = (
            f"{name}: no close column among {labels} (expected close or adj close, and "
            "optionally open, high, low, volume; case-insensitive)"
        )
        if len(labels) == 1 and any(sep in str(labels[0]) for sep in ";\t|,"):
            sep = next(sep for sep in ";\t|," if sep in str(labels[0]))
            raise _error(
                message + f"; the file looks {sep!r}-separated",
                f": pass sep={sep!r}",
                f": use --sep {sep!r}",
            )
        raise _error(
            message,
            "; name the price column with price_column=",
            "; name the price column with --price-column",
        )
    cols = {c: found[c][0] for c in COLUMNS if c in found}
    use_index = _index_is_time(df)
    if time_column is not None:
        at = _find(labels, time_column)
        if at is None and use_index and str(df.index.name) == time_column:
            return _Plan(cols, [], True, False, adjust)
        if at is None:
            raise DataError(f"{name}: no time column {time_column!r} among {labels}")
        return _Plan(cols, [at], False, _time_name(labels[at])[1], adjust)
    time_names = [t for t in _TIME_NAMES if t in found]
    if len(time_names) == 2 and set(time_names) == {"date", "time"}:
        time_cols = [found["date"][0], found["time"][0]]
    elif len(time_names) > 1:
        names = [labels[j] for j in sorted(found[t][0] for t in time_names)]
        raise _error(
            f"{name}: several time columns {names}; keep one of them",
            " or choose it with time_column=",
            " or choose it with --time-column",
        )
    else:
        time_cols = [found[t][0] for t in time_names]
    if use_index and time_cols:
        column = df.columns[time_cols[0]]
        raise DataError(
            f"{name}: both the index and column {column!r} hold time; drop one of them"
        )
    if not use_index and not time_cols and labels and _is_unnamed(labels[0]):
        if not _row_numbers(df.iloc[:, 0]):  # pandas' to_csv() of an unnamed DatetimeIndex
            time_cols = [0]
    if not use_index and not time_cols and labels and 0 not in cols.values():
        if _text_of_times(df.iloc[:, 0]):  # a first column of dates under another name
            time_cols = [0]  # ("Datum", "Fecha", "Zeit", ...)
    return _Plan(cols, time_cols, use_index, any(j in utc_cols for j in time_cols), adjust)


def _text_of_times(col: pd.Series) -> bool:
    """Whether a text column's first values all read as dates (``"2024-01-02 09:30"``)."""
    if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
        return False
    head = col.dropna().head(5)
    if head.empty:
        return False
    return bool(pd.notna(_parse_text(head.astype(str), "coerce", dayfirst=False)).all())


def _is_unnamed(label: Any) -> bool:
    key = _norm(label)
    return key in ("", "index") or re.fullmatch(r"unnamed: \d+", key) is not None


def _parse_times(df: pd.DataFrame, plan: _Plan, name: str) -> pd.DatetimeIndex:
    time_cols = plan.time_cols
    if plan.use_index:
        raw = pd.Series(df.index, index=None, copy=False)
    elif len(time_cols) == 2:
        date, clock = (df.iloc[:, j].astype(str).str.strip() for j in time_cols)
        raw = date + " " + clock
        raw[df.iloc[:, time_cols[0]].isna().to_numpy()] = None
    elif time_cols:
        raw = df.iloc[:, time_cols[0]]
    else:
        raise _error(
            f"{name}: no time column among {list(df.columns)} and the index is not a "
            f"DatetimeIndex (expected a column named one of {', '.join(_TIME_NAMES)})",
            "; name it with time_column=",
            "; name it with --time-column",
        )
    raw = raw.reset_index(drop=True)
    try:
        parsed = pd.DatetimeIndex(_to_datetime(raw, name))
    except DataError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        coerced = _to_datetime(raw, name, errors="coerce")
        bad = np.asarray(pd.isna(coerced)) & raw.notna().to_numpy()
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = reason.split(" You might want to try")[0]  # pandas' hints follow
        if not bad.any():
            raise DataError(f"{name}: cannot parse the time column: {reason}") from exc
        pos, where = _rows(bad)
        raise DataError(
            f"{name}: cannot parse time {_show(raw.iloc[pos])} at {where}: {reason}"
        ) from exc
    if parsed.hasnans:
        pos, where = _rows(np.asarray(parsed.isna()))
        raise DataError(f"{name}: missing time ({_show(raw.iloc[pos])}) at {where}")
    if plan.utc and parsed.tz is None:
        parsed = parsed.tz_localize("UTC")
    try:
        return parsed.as_unit("ns")
    except (ValueError, OverflowError) as exc:
        raise DataError(f"{name}: time out of the range pandas supports: {exc}") from exc


def _to_datetime(raw: pd.Series, name: str, errors: str = "raise") -> Any:
    dtype = raw.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return raw
    if pd.api.types.is_bool_dtype(dtype):
        raise DataError(f"{name}: the time column holds booleans, not times")
    if pd.api.types.is_numeric_dtype(dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size and np.all(finite == np.round(finite)):
            if finite.min() >= 19000101 and finite.max() <= 22001231:
                text = pd.Series(values).map(lambda v: f"{v:.0f}" if v == v else None)
                return pd.to_datetime(text, format="%Y%m%d", errors=errors)
        top = float(np.abs(finite).max()) if finite.size else 0.0
        unit = "s" if top < 1e11 else "ms" if top < 1e14 else "us" if top < 1e17 else "ns"
        return pd.to_datetime(values, unit=unit, errors=errors)
    text = raw.dropna()
    match = _DAY_MONTH.match(str(text.iloc[0])) if len(text) else None
    if match is None:
        return _parse_text(raw, errors, dayfirst=False)
    # dd.mm.yyyy (Europe, dukascopy) or mm/dd/yyyy (US): the order that gives valid,
    # increasing times wins; the separator's usual order when both do.
    orders = (True, False) if match.group(2) == "." else (False, True)
    if errors == "coerce":
        return _parse_text(raw, errors, dayfirst=orders[0])
    results: list[Any] = []
    for dayfirst in orders:
        try:
            parsed = _parse_text(raw, errors, dayfirst=dayfirst)
        except ValueError as exc:
            results.append(exc)
            continue
        if pd.DatetimeIndex(parsed).is_monotonic_increasing:
            return parsed
        results.append(parsed)
    for result in results:
        if not isinstance(result, Exception):
            return result
    raise results[0]


def _parse_text(raw: pd.Series, errors: str, dayfirst: bool) -> Any:
    with warnings.catch_warnings():
        # "Could not infer format": elements are then parsed one by one, which is fine here;
        # "Parsing dates in %d.%m.%Y format when dayfirst=False": the order is chosen above.
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        warnings.filterwarnings("ignore", "Parsing dates in", UserWarning)
        try:
            return pd.to_datetime(raw, errors=errors, dayfirst=dayfirst)
        except ValueError as exc:
            if "Mixed timezones" not in str(exc):
                raise
            return pd.to_datetime(raw, errors=errors, utc=True, dayfirst=dayfirst)


def _as_float(col: pd.Series, role: str, times: pd.DatetimeIndex, name: str) -> np.ndarray:
    dtype = col.dtype
    label = f"column {col.name!r}" + (f" ({role})" if _norm(col.name) != role else "")
    if pd.api.types.is_bool_dtype(dtype) or not (
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        raise DataError(f"{name}: {label} has dtype {dtype}, expected numbers")
    if pd.api.types.is_numeric_dtype(dtype):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(col, errors="coerce")
    bad = numbers.isna().to_numpy() & col.notna().to_numpy()
    if bad.any():
        pos, where = _rows(bad, times)
        raise DataError(f"{name}: {label} is not numeric: {_show(col.iloc[pos])} at {where}")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_values(values: dict[str, np.ndarray], times: pd.DatetimeIndex, name: str) -> None:
    for c in ("open", "high", "low", "close"):
        if c not in values:
            continue
        x = values[c]
        for mask, what in (
            (np.isnan(x), "missing (NaN)"),
            (np.isinf(x), "infinite"),
        ):
            if mask.any():
                raise DataError(f"{name}: {c} is {what} at {_rows(mask, times)[1]}")
        if (x <= 0).any():
            pos, where = _rows(x <= 0, times)
            raise DataError(f"{name}: {c} is not positive ({float(x[pos])!r}) at {where}")
    if "volume" in values:
        v = values["volume"]
        for mask, what in ((np.isinf(v), "infinite"), (v < 0, "negative")):
            if mask.any():
                pos, where = _rows(mask, times)
                raise DataError(f"{name}: volume is {what} ({float(v[pos])!r}) at {where}")

    close = values["close"]
    open_ = values.get("open", close)
    high = values.get("high", np.maximum(open_, close))
    low = values.get("low", np.minimum(open_, close))
    if "high" in values and "low" in values and (high < low).any():
        pos, where = _rows(high < low, times)
        raise DataError(
            f"{name}: high < low ({float(high[pos])!r} < {float(low[pos])!r}) at {where}"
        )
    for c in ("close", "open"):
        if c not in values:
            continue
        x = values[c]
        for mask, side, bound in ((x > high, "above high", high), (x < low, "below low", low)):
            if mask.any():
                pos, where = _rows(mask, times)
                raise DataError(
                    f"{name}: {c} {float(x[pos])!r} is {side} {float(bound[pos])!r} at {where}"
                )


def _check_order(frame: pd.DataFrame, sort: bool, name: str) -> pd.DataFrame:
    stamps = frame.index.asi8
    if sort:
        order = np.argsort(stamps, kind="stable")
        stamps = stamps[order]
    else:
        order = np.arange(len(stamps))
    step = np.diff(stamps)
    bad = step <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0]) + 1
        a, b = int(order[i - 1]), int(order[i])
        ta, tb = frame.index[a], frame.index[b]
        if step[i - 1] == 0:
            n_dup = int(np.count_nonzero(step == 0))
            more = f" ({n_dup - 1} more duplicates follow)" if n_dup > 1 else ""
            raise DataError(f"{name}: duplicate time {tb} at rows {a} and {b}{more}")
        raise _error(
            f"{name}: time goes backwards at row {b} (time {tb} comes after {ta} at row {a}); "
            "sort the bars by time",
            " or pass sort=True",
            " in the file",
        )
    return frame.iloc[order] if sort else frame


# ---------------------------------------------------------------------------------------------
# files


def load_ohlcv(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    min_bars: int = 1,
    sort: bool = False,
    time_column: str | None = None,
    price_column: str | None = None,
    **read_kwargs: Any,
) -> pd.DataFrame:
    """Read OHLCV bars from a CSV or Parquet file and validate them (:func:`validate_ohlcv`).

    Parameters
    ----------
    path : str or path-like
        The file. Its ending picks the reader: ``.csv``, ``.tsv``, ``.txt`` (also compressed:
        ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zip``, or a bare ``.gz``/``.zip``/...
        holding one CSV file) or ``.parquet``/``.pq`` (a file, or a folder of Parquet files).
        Case does not matter. A CSV file's separator (``,``, ``;``, tab or ``|``) and decimal
        comma (``1,0716`` beside ``;``: Excel in many European locales) are detected from its
        first lines unless ``sep``/``decimal`` are given.
    format : {"csv", "parquet"}, optional
        Reader to use whatever the ending, for files named otherwise (``bars.txt``).
    min_bars : int, default 1
        Fewest bars accepted (the longest indicator window a strategy will use).
    sort : bool, default False
        Sort the bars by time instead of rejecting unsorted files.
    time_column, price_column : str, optional
        As in :func:`validate_ohlcv`: the column holding the time, the column traded as close.
    **read_kwargs
        Passed to :func:`pandas.read_csv` (``sep=";"``, ``decimal=","``, ...) or
        :func:`pandas.read_parquet` (``columns=...``).

    Returns
    -------
    DataFrame of shape (n_bars, 5)
        The canonical frame: float64 ``open, high, low, close, volume`` indexed by a strictly
        increasing ``DatetimeIndex`` named ``"time"`` (see :func:`validate_ohlcv` for how columns
        are recognised and what fills a missing one). A CSV stores UTC offsets, not zone names:
        its times come back with a fixed offset (or in UTC when the offsets vary), while Parquet
        keeps the zone.

    Raises
    ------
    DataError
        The file is missing, empty, of an unsupported kind, unreadable (the reader's message is
        kept, and the reader's exception chained), or its bars are invalid (the message names
        the path, the problem and the row).
    ConfigError
        ``format`` is unknown or ``read_kwargs`` are not options of the reader.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> bars = synthetic_ohlcv(48, "1h", seed=3)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "bars.csv"
    ...     bars.reset_index().rename(columns=str.upper).to_csv(path, index=False)
    ...     loaded = load_ohlcv(path, min_bars=20)
    >>> loaded.equals(bars)
    True
    >>> load_ohlcv("bars.xlsx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    genepool.errors.DataError: cannot load bars.xlsx: unsupported file type; supported: .csv, ...
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"path must be a str or a path-like object, got {type(path).__name__}")
    kind = _format_of(path, format)
    if not os.path.exists(path):
        raise DataError(f"cannot load {path}: no such file")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise DataError(f"{path} is empty (0 bytes)")
    reader = pd.read_csv if kind == "csv" else pd.read_parquet
    if kind == "csv" and os.path.isfile(path):
        read_kwargs = {**_sniff_csv(path, read_kwargs), **read_kwargs}
    try:
        df = reader(path, **read_kwargs)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} is empty: {exc}") from exc
    except TypeError as exc:
        raise ConfigError(f"invalid option for the {kind} reader of {path}: {exc}") from exc
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc).strip()}"
        raise DataError(f"cannot read {path} as {kind}: {reason}") from exc
    return validate_ohlcv(
        df,
        min_bars=min_bars,
        sort=sort,
        name=str(path),
        time_column=time_column,
        price_column=price_column,
    )


def _head(path: str | os.PathLike[str], size: int = 1 << 16) -> str | None:
    """The first ``size`` bytes of a (compressed) text file as text, or None."""
    lowered = Path(path).name.lower()
    try:
        if lowered.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    return None  # pandas says why
                with archive.open(members[0]) as f:
                    data = f.read(size)
        else:
            opener: Any = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(
                Path(lowered).suffix, open
            )
            with opener(path, "rb") as f:
                data = f.read(size)
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError):
        return None  # the reader reports it
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _sniff_csv(path: str | os.PathLike[str], given: dict[str, Any]) -> dict[str, Any]:
    """``sep`` and ``decimal`` (and ``thousands``) of a CSV file, from its first lines.

    The separator is the candidate found the same number of times on every line (text in
    quotes ignored), the most frequent one if several are; decimal commas are numbers like
    ``1,0716`` in the fields of a file not separated by commas.
    """
    if "delimiter" in given or ("sep" in given and "decimal" in given):
        return {}
    text = _head(path)
    if not text:
        return {}
    lines = [re.sub(r'"[^"]*"', "x", line) for line in text.splitlines()[:21] if line.strip()]
    if len(text) == 1 << 16 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    if not lines:
        return {}
    out: dict[str, Any] = {}
    sep = given.get("sep")
    if sep is None:
        counts = {c: [line.count(c) for line in lines] for c in _SEPARATORS}
        steady = [c for c, n in counts.items() if min(n) == max(n) > 0]
        ranked = steady or [c for c, n in counts.items() if min(n) > 0]
        if not ranked:
            return {}
        sep = max(ranked, key=lambda c: min(counts[c]))
        if sep != ",":
            out["sep"] = sep
    if sep == "," or "decimal" in given or not isinstance(sep, str) or len(sep) != 1:
        return out
    fields = [f.strip().strip('"') for line in lines[1:] for f in line.split(sep)]
    if any(re.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+,\d+", f) for f in fields):
        out.update(decimal=",", thousands=".")  # 1.234,56
    elif any(re.fullmatch(r"[-+]?\d+,\d+", f) for f in fields) and not any(
        re.fullmatch(r"[-+]?\d+\.\d+", f) for f in fields
    ):
        out["decimal"] = ","
    return out


def _format_of(path: str | os.PathLike[str], format: str | None) -> str:
    if format is not None:
        if format not in ("csv", "parquet"):
            raise ConfigError(f"format must be 'csv' or 'parquet', got {format!r}")
        return format
    lowered = Path(path).name.lower()
    for ending, kind in FORMATS.items():
        if lowered.endswith(ending):
            return kind
    raise DataError(f"cannot load {path}: unsupported file type; supported: {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------------------------
# synthetic data


@njit
def _markov_path_nb(u: np.ndarray, cum_pi: np.ndarray, cum_p: np.ndarray) -> np.ndarray:
    """States of a Markov chain, one uniform per step; oracle: naive_markov_path in tests."""
    n = u.shape[0]
    k = cum_pi.shape[0]
    out = np.empty(n, dtype=np.int64)
    state = 0
    while state < k - 1 and u[0] >= cum_pi[state]:
        state += 1
    out[0] = state
    for t in range(1, n):
        prev = state
        state = 0
        while state < k - 1 and u[t] >= cum_p[prev, state]:
            state += 1
        out[t] = state
    return out


def _transition_matrix(switch_prob: Any, k: int) -> np.ndarray:
    p = np.asarray(switch_prob, dtype=np.float64)
    if p.ndim == 0:
        q = check_float("switch_prob", float(p), low=0.0, high=1.0)
        if k == 1:
            return np.ones((1, 1))
        matrix = np.full((k, k), q / (k - 1))
        np.fill_diagonal(matrix, 1.0 - q)
        return matrix
    if p.shape != (k, k):
        raise ConfigError(
            f"switch_prob must be a probability or a ({k}, {k}) transition matrix for "
            f"{k} regimes, got shape {p.shape}"
        )
    if not np.all(np.isfinite(p)) or (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0):
        raise ConfigError(f"switch_prob rows must be probabilities summing to 1, got {p.tolist()}")
    return p / p.sum(axis=1, keepdims=True)


def _stationary(matrix: np.ndarray) -> np.ndarray:
    """Long-run regime probabilities (the uniform one among several when the chain is
    reducible, e.g. with switch_prob=0)."""
    k = matrix.shape[0]
    a = np.vstack([matrix.T - np.eye(k), np.ones((1, k))])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    pi = np.clip(np.linalg.lstsq(a, b, rcond=None)[0], 0.0, None)
    return pi / pi.sum()


@overload
def synthetic_ohlcv(
    n_bars: int,
    freq: str = ...,
    seed: int | np.random.Generator | None = ...,
    *,
    start: str | pd.Timestamp = ...,
    s0: float = ...,
    mu: float | Sequence[float] = ...,
    sigma: float = ...,
    regimes: Sequence[float] = ...,
    switch_prob: float | Sequence[Sequence[float]] | np.ndarray = ...,
    periods_per_year: float | None = ...,
    return_regimes: Literal[False] = ...,
) -> pd.DataFrame: ...


@overload
def synthetic_ohlcv(
    n_bars: int,
    freq: str = ...,
    seed: int | np.random.Generator | None = ...,
    *,
    start: str | pd.Timestamp = ...,
    s0: float = ...,
    mu: float | Sequence[float] = ...,
    sigma: float = ...,
    regimes: Sequence[float] = ...,
    switch_prob: float | Sequence[Sequence[float]] | np.ndarray = ...,
    periods_per_year: float | None = ...,
    return_regimes: Literal[True],
) -> tuple[pd.DataFrame, np.ndarray]: ...


def synthetic_ohlcv(
    n_bars: int,
    freq: str = "1h",
    seed: int | np.random.Generator | None = 0,
    *,
    start: str | pd.Timestamp = "2020-01-01",
    s0: float = 100.0,
    mu: float | Sequence[float] = 0.0,
    sigma: float = 0.2,
    regimes: Sequence[float] = (0.5, 2.0),
    switch_prob: float | Sequence[Sequence[float]] | np.ndarray = 0.01,
    periods_per_year: float | None = None,
    return_regimes: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Synthetic OHLCV bars: geometric Brownian motion with Markov-switching volatility.

    A hidden regime ``k_t`` follows a Markov chain over ``len(regimes)`` states, started from
    its long-run distribution. In regime ``k`` the volatility is ``sigma_k = sigma *
    regimes[k]`` and the drift ``mu_k`` (``mu``, or ``mu[k]``), both annualized, and bar ``t``
    has the log return (``dt = 1 / periods_per_year``, ``z_t`` standard normal)::

        r_t = (mu_k - sigma_k**2 / 2) * dt + sigma_k * sqrt(dt) * z_t

    ``open[0] = s0``, ``close[t] = open[t] * exp(r_t)`` and ``open[t] = close[t-1]`` (no
    gaps), so close-to-close log returns are exactly ``r_t``. ``high`` and ``low`` are drawn
    from the exact distributions of the maximum and the minimum of the log price's Brownian
    bridge from open to close within the bar, so ``high >= max(open, close)`` and ``low <=
    min(open, close)`` always. Volume is lognormal around 1000 units per bar, scaled by the
    regime's multiplier and larger on bars with large moves; always positive.

    Parameters
    ----------
    n_bars : int
        Number of bars, >= 1.
    freq : str, default "1h"
        Bar spacing, any pandas frequency (``"1min"``, ``"1h"``, ``"1D"``, ``"B"``, ...).
    seed : int, Generator or None, default 0
        The same seed gives bit-identical bars (a Generator is drawn from, not copied).
    start : str or Timestamp, default "2020-01-01"
        Time of the first bar; a tz-aware start gives a tz-aware index.
    s0 : float, default 100.0
        Opening price of the first bar, > 0.
    mu : float or sequence of float, default 0.0
        Annualized drift, for all regimes or one per regime.
    sigma : float, default 0.2
        Annualized volatility of a regime with multiplier 1, >= 0. The long-run volatility is
        ``sigma * sqrt(sum(pi_k * regimes[k]**2))`` with ``pi`` the chain's stationary
        distribution (``1.46 * sigma`` with the defaults).
    regimes : sequence of float, default (0.5, 2.0)
        Volatility multiplier of each regime (calm, volatile), > 0. ``(1.0,)`` gives plain GBM.
    switch_prob : float or array of shape (k, k), default 0.01
        Probability per bar of leaving the current regime (to one of the others, uniformly), or
        the full transition matrix ``P[i, j] = P(k_t = j | k_{t-1} = i)``.
    periods_per_year : float, optional
        Bars per year for annualization. Default: 365 days divided by ``freq`` (8760 for
        ``"1h"``), the year ``vectorbt`` and the backtest metrics use. Required for calendar
        frequencies without a fixed length (``"B"``, ``"W"``, ...); use 252 for daily stock bars.
    return_regimes : bool, default False
        Also return the regime of each bar.

    Returns
    -------
    bars : DataFrame of shape (n_bars, 5)
        The canonical frame (see :func:`validate_ohlcv`).
    regimes : ndarray of shape (n_bars,), int64
        Regime index of each bar (only with ``return_regimes=True``).

    Examples
    --------
    >>> bars, regime = synthetic_ohlcv(10_000, "1h", seed=42, return_regimes=True)
    >>> bars.shape, bars.index[1] - bars.index[0]
    ((10000, 5), Timedelta('0 days 01:00:00'))
    >>> bool((bars.high >= bars[["open", "close"]].max(axis=1)).all())
    True
    >>> r = np.diff(np.log(bars.close.to_numpy()))
    >>> calm, wild = (r[regime[1:] == k].std() * np.sqrt(8760) for k in (0, 1))
    >>> print(f"calm {calm:.2f}, volatile {wild:.2f}")
    calm 0.10, volatile 0.40
    >>> synthetic_ohlcv(5, seed=1).equals(synthetic_ohlcv(5, seed=1))
    True
    """
    n_bars = check_int("n_bars", n_bars, minimum=1)
    s0 = check_float("s0", s0, low=0.0, low_inclusive=False)
    sigma = check_float("sigma", sigma, low=0.0)
    mult = np.asarray(regimes, dtype=np.float64)
    if mult.ndim != 1 or mult.size == 0 or not np.all(np.isfinite(mult)) or (mult <= 0).any():
        raise ConfigError(f"regimes must be a non-empty list of multipliers > 0, got {regimes!r}")
    k = mult.size
    drift = np.asarray(mu, dtype=np.float64)
    if drift.ndim == 0:
        drift = np.full(k, check_float("mu", float(drift)))
    elif drift.shape != (k,) or not np.all(np.isfinite(drift)):
        raise ConfigError(
            f"mu must be a finite number or {k} of them (one per regime), got {mu!r}"
        )
    matrix = _transition_matrix(switch_prob, k)
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"freq must be a pandas frequency like '1h', got {freq!r}") from exc
    if offset is None:
        raise ConfigError("freq must be a pandas frequency like '1h', got None")
    if periods_per_year is None:
        try:
            step = pd.Timedelta(offset)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"freq {freq!r} has no fixed length; pass periods_per_year (e.g. 252)"
            ) from exc
        if step <= pd.Timedelta(0):
            raise ConfigError(f"freq must be a positive step, got {freq!r}")
        periods_per_year = _YEAR / step
    ppy = check_float("periods_per_year", periods_per_year, low=0.0, low_inclusive=False)
    try:
        index = pd.date_range(pd.Timestamp(start), periods=n_bars, freq=offset, name="time")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"cannot build {n_bars} bars from start={start!r}: {exc}") from exc

    rng = make_rng(seed)
    u_state = rng.random(n_bars)
    z = rng.standard_normal(n_bars)
    u_high = rng.random(n_bars)
    u_low = rng.random(n_bars)
    noise = rng.standard_normal(n_bars)

    if k == 1:
        state = np.zeros(n_bars, dtype=np.int64)
    else:
        cum_p = np.cumsum(matrix, axis=1)
        state = _markov_path_nb(u_state, np.cumsum(_stationary(matrix)), cum_p)
    dt = 1.0 / ppy
    vol = sigma * mult[state]
    var_dt = vol * vol * dt
    r = (drift[state] - 0.5 * vol * vol) * dt + np.sqrt(var_dt) * z
    with np.errstate(over="ignore"):
        close = s0 * np.exp(np.cumsum(r))
        open_ = np.empty(n_bars)
        open_[0] = s0
        open_[1:] = close[:-1]
        # Max (min) of a Brownian bridge from 0 to r with variance var_dt: inverse of
        # P(M > m) = exp(-2 m (m - r) / var_dt), sampled with one uniform per bar. The wick
        # is applied to max(open, close) (min), so it is exactly that price without noise.
        up = 0.5 * (r + np.sqrt(r * r - 2.0 * var_dt * np.log1p(-u_high)))
        down = 0.5 * (r - np.sqrt(r * r - 2.0 * var_dt * np.log1p(-u_low)))
        top, bottom = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(top * np.exp(up - np.maximum(r, 0.0)), top)
        low = np.minimum(bottom * np.exp(down - np.minimum(r, 0.0)), bottom)
    if not (np.all(np.isfinite(high)) and (low > 0).all()):
        raise ConfigError(
            f"mu={mu!r}, sigma={sigma!r} over {n_bars} bars drive prices out of float64 range"
        )
    # Lognormal volume, higher in volatile regimes and on large moves (E|z| = sqrt(2/pi)).
    size = np.abs(z) - math.sqrt(2.0 / math.pi)
    volume = 1000.0 * mult[state] * np.exp(0.5 * size + 0.3 * noise)
    bars = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=pd.DatetimeIndex(index.as_unit("ns"), freq=None),
    )
    return (bars, state) if return_regimes else bars


def demo_data() -> pd.DataFrame:
    """The demo data set: 20,000 hourly bars (about 2.3 years), synthetic, generated on the fly.

    No file and no network: it is ``synthetic_ohlcv`` with every parameter pinned (seed 7,
    hourly bars from 2020-01-01, ``s0=100``, no drift, ``sigma=0.2`` with calm/volatile regimes
    at 0.5x/2x switching with probability 0.005 per bar, i.e. about every 8 days), so it is the
    same on every machine. 20,000 bars keep a genetic search over an RSI strategy to seconds
    while spanning dozens of regime changes. Prices follow no exploitable pattern: a strategy
    that looks profitable on it is overfit.

    Returns
    -------
    DataFrame of shape (20000, 5)
        The canonical frame (see :func:`validate_ohlcv`).

    Examples
    --------
    >>> bars = demo_data()
    >>> bars.shape, str(bars.index[0]), str(bars.index[-1])
    ((20000, 5), '2020-01-01 00:00:00', '2022-04-13 07:00:00')
    """
    return synthetic_ohlcv(
        20_000,
        "1h",
        seed=7,
        start="2020-01-01",
        s0=100.0,
        mu=0.0,
        sigma=0.2,
        regimes=(0.5, 2.0),
        switch_prob=0.005,
        periods_per_year=8760.0,
    )
