"""``simulate_signals``: metrics of explicit entry/exit signals, one row per column."""

from __future__ import annotations

import datetime
from typing import Any, Union

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import ConfigError, DataError, check_float
from ._sim_nb import simulate_signals_nb
from .enums import INTEGER_METRICS, METRICS, N_METRICS

__all__ = ["METRICS", "annualization_factor", "metrics_frame", "simulate_signals"]

#: A span of time as pandas reads it: ``"1h"``, ``"365 days"``, a Timedelta or an offset.
TimeSpan = Union[str, datetime.timedelta, np.timedelta64, pd.Timedelta, pd.DateOffset]
#: Prices or signals: an array or pandas object of shape ``(T,)`` or ``(T, N)``.
Series2D = Union[npt.ArrayLike, pd.Series, pd.DataFrame]


def annualization_factor(
    freq: TimeSpan | None, year: TimeSpan = "365 days", index: pd.Index | None = None
) -> float:
    """Bars per year: ``Timedelta(year) / Timedelta(freq)`` (vectorbt's convention).

    ``freq`` may be None when ``index`` is a DatetimeIndex: its ``freq``, else the median
    spacing of the timestamps. On data with weekends and holidays this is not the number of
    bars in a year (365 for daily stock bars, not 252): :func:`infer_bars_per_year` counts
    that, and ``StrategyProblem`` uses it by default. See docs/backtest.md, "Annualization".
    """
    if freq is None:
        if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
            raise ConfigError(
                "freq is needed to annualize (e.g. freq='1h'), or pass close as a pandas "
                "object with a DatetimeIndex"
            )
        # the index's own freq, else the typical spacing (robust to gaps such as weekends)
        freq = index.freq or pd.Series(index).diff().median()
    bar = _timedelta(freq)
    if bar is None:
        raise ConfigError(f"freq must be a time span like '1h' or '1D', got {freq!r}")
    try:
        span = pd.Timedelta(year)
    except (ValueError, TypeError):
        raise ConfigError(f"year must be a time span like '365 days', got {year!r}") from None
    if bar <= pd.Timedelta(0) or span <= pd.Timedelta(0):
        raise ConfigError(f"freq and year must be positive, got freq={freq!r}, year={year!r}")
    return span / bar


def _timedelta(value: Any) -> pd.Timedelta | None:
    for convert in (lambda v: pd.Timedelta(pd.tseries.frequencies.to_offset(v)), pd.Timedelta):
        try:
            return pd.Timedelta(convert(value))
        except (ValueError, TypeError):
            continue
    return None


def _as_2d(name: str, a: Any, dtype: Any) -> np.ndarray:
    arr = np.asarray(a.to_numpy() if isinstance(a, (pd.Series, pd.DataFrame)) else a)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ConfigError(f"{name} must have shape (T,) or (T, N), got {arr.shape}")
    if dtype is bool and arr.dtype != bool:
        raise ConfigError(f"{name} must be boolean, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def check_prices(close: np.ndarray, name: str = "close") -> None:
    """DataError naming the first row with a NaN/inf or non-positive price.

    Checked in slices of 2**20 rows, so that a memory-mapped series larger than memory is
    read once and no mask of its length is built."""
    step = 1 << 20
    for lo in range(0, max(len(close), 1), step):
        part = np.asarray(close[lo : lo + step])
        bad = ~np.isfinite(part) | (part <= 0)
        if bad.any():
            row = lo + int(np.argwhere(bad)[0][0])
            raise DataError(
                f"{name} has an invalid price {float(close.reshape(len(close), -1)[row][0])!r}"
                f" at row {row}: prices must be finite and > 0"
            )


def simulate_signals(
    close: Series2D,
    entries: Series2D,
    exits: Series2D,
    *,
    init_cash: float = 10_000.0,
    fees: float = 0.0,
    slippage: float = 0.0,
    freq: TimeSpan | None = None,
    year: TimeSpan = "365 days",
) -> pd.DataFrame:
    """Backtest explicit signals, long only, with vectorbt's ``Portfolio.from_signals`` rules.

    Each column is one strategy: all cash is invested at the close of an entry bar
    (``size = cash / (1 + fees) / price``), everything is sold at the close of an exit bar
    (``cash += size * price * (1 - fees)``); entries while long and exits while flat are
    ignored, and an entry and an exit on the same bar are both ignored. Slippage moves the fill
    price against the trade. Returns come from the portfolio value, the first one against
    ``init_cash``; an open position is marked at the last close.

    Parameters
    ----------
    close : array or pandas object of shape (T,) or (T, N)
        Prices (finite, > 0).
    entries, exits : bool arrays of shape (T, N) (or (T,))
    init_cash, fees, slippage : float
    freq : str or Timedelta, optional
        Bar duration; inferred from a DatetimeIndex of ``close`` when omitted.
    year : str or Timedelta, default "365 days"
        Length of a year for annualization (vectorbt's default, kept so that the metrics equal
        vectorbt's; ``StrategyProblem`` counts bars per year on the calendar instead, see
        docs/backtest.md, "Annualization").

    Returns
    -------
    pandas.DataFrame
        One row per column with ``total_return``, ``sharpe_ratio``, ``sortino_ratio``,
        ``max_drawdown`` (<= 0), ``calmar_ratio``, ``annualized_return``,
        ``annualized_volatility``, ``n_orders``, ``n_trades`` (open trade included),
        ``win_rate``, ``profit_factor``, ``exposure`` (share of bars in the market) and
        ``final_value``. As in vectorbt, a strategy that never trades has Sharpe and Sortino
        ``+inf`` (zero variance), and Calmar NaN.

    Examples
    --------
    >>> import numpy as np
    >>> close = np.array([10.0, 11.0, 12.0, 11.0, 13.0])
    >>> entries = np.array([True, False, False, False, False])
    >>> exits = np.array([False, False, True, False, False])
    >>> m = simulate_signals(close, entries, exits, freq="1D")
    >>> round(float(m["total_return"][0]), 6), int(m["n_trades"][0])
    (0.2, 1)
    """
    index = close.index if isinstance(close, (pd.Series, pd.DataFrame)) else None
    columns = entries.columns if isinstance(entries, pd.DataFrame) else None
    c = _as_2d("close", close, np.float64)
    e = _as_2d("entries", entries, bool)
    x = _as_2d("exits", exits, bool)
    if e.shape != x.shape:
        raise ConfigError(f"entries {e.shape} and exits {x.shape} must have the same shape")
    if c.shape[0] != e.shape[0]:
        raise ConfigError(f"close has {c.shape[0]} bars but the signals have {e.shape[0]}")
    if c.shape[1] not in (1, e.shape[1]):
        raise ConfigError(f"close has {c.shape[1]} columns, the signals {e.shape[1]}")
    if c.shape[0] == 0:
        raise DataError("close is empty")
    check_prices(c)
    init_cash = check_float("init_cash", init_cash, low=0.0, low_inclusive=False)
    fees = check_float("fees", fees, low=0.0, high=1.0, high_inclusive=False)
    slippage = check_float("slippage", slippage, low=0.0, high=1.0, high_inclusive=False)
    ann = annualization_factor(freq, year, index)
    out = np.empty((e.shape[1], N_METRICS))
    simulate_signals_nb(c, e, x, fees, slippage, init_cash, ann, out)
    return metrics_frame(out, index=columns)


def metrics_frame(metrics: np.ndarray, index: Any = None) -> pd.DataFrame:
    """The public metrics DataFrame of a kernel's metrics table (n, N_METRICS): one column per
    name of ``METRICS``, counts (``INTEGER_METRICS``) as int64, the rest float64."""
    df = pd.DataFrame(metrics, columns=list(METRICS), index=index)
    for metric in INTEGER_METRICS:
        df[metric.label] = df[metric.label].astype(np.int64)
    return df
