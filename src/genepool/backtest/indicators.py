"""Technical indicators: validating wrappers around the kernels of :mod:`genepool.backtest.nb`.

Every function takes numpy arrays or pandas Series of prices (1-D, finite) and returns the same
kind: a Series carries the index of the input (of ``close`` where there are several inputs).
Values are NaN during the warm-up. Definitions (Wilder vs SMA RSI, flat-price cases, ...) are
documented in :mod:`genepool.backtest.nb`.

Examples
--------
>>> import numpy as np
>>> close = np.array([1.0, 2.0, 3.0, 2.0, 3.0])
>>> sma(close, 2)
array([nan, 1.5, 2.5, 2.5, 2.5])
>>> rsi(close, 2, method="sma")
array([ nan,  nan, 100.,  50.,  50.])
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError, check_float, check_int
from . import nb

__all__ = [
    "MACD",
    "Bands",
    "Stochastic",
    "atr",
    "bollinger",
    "donchian",
    "ema",
    "macd",
    "rsi",
    "sma",
    "stochastic",
]

Prices = TypeVar("Prices", np.ndarray, pd.Series)

RSI_METHODS = ("wilder", "sma")


class MACD(NamedTuple):
    """MACD line (fast EMA - slow EMA), its signal EMA, and the histogram (line - signal)."""

    macd: Any
    signal: Any
    hist: Any


class Bands(NamedTuple):
    """A channel: middle line and upper and lower bands (Bollinger, Donchian)."""

    middle: Any
    upper: Any
    lower: Any


class Stochastic(NamedTuple):
    """Stochastic oscillator: %K and its SMA %D, both in [0, 100]."""

    k: Any
    d: Any


# -- boundary helpers -----------------------------------------------------------------------------


def _prices(name: str, values: Any) -> np.ndarray:
    """``values`` as a contiguous float64 1-D array of finite numbers, else :class:`DataError`."""
    raw = values.to_numpy() if isinstance(values, pd.Series) else values
    try:
        arr = np.ascontiguousarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric prices: {exc}") from None
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D (one series), got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        row = int(np.argmin(finite))
        label = f" (index {values.index[row]!r})" if isinstance(values, pd.Series) else ""
        raise DataError(f"{name} has a non-finite value {float(arr[row])!r} at row {row}{label}")
    return arr


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"price series differ in length: {lengths}")


def _same_index(**series: Any) -> None:
    indexed = [(name, s.index) for name, s in series.items() if isinstance(s, pd.Series)]
    for name, index in indexed[1:]:
        if not index.equals(indexed[0][1]):
            raise DataError(f"{name} and {indexed[0][0]} have different indexes")


def _window(name: str, value: Any, n: int) -> int:
    window = check_int(name, value, minimum=1)
    if window > n:
        raise ConfigError(f"{name}={window} is larger than the series ({n} bars)")
    return window


def _wrap(like: Any, out: np.ndarray) -> Any:
    if isinstance(like, pd.Series):
        return pd.Series(out, index=like.index, name=like.name)
    return out


# -- indicators -----------------------------------------------------------------------------------


def sma(a: Prices, window: int) -> Prices:
    """Simple moving average (bit-identical to vectorbt ``MA(ewm=False)``).

    Parameters
    ----------
    a : ndarray or Series of shape (n_bars,)
    window : int, 1 <= window <= n_bars

    Returns
    -------
    ndarray or Series of shape (n_bars,), NaN for the first ``window - 1`` bars.

    Examples
    --------
    >>> sma(np.array([1.0, 2.0, 4.0]), 2)
    array([nan, 1.5, 3. ])
    """
    arr = _prices("a", a)
    return _wrap(a, nb.sma_1d_nb(arr, _window("window", window, arr.shape[0])))


def ema(a: Prices, window: int) -> Prices:
    """Exponential moving average, alpha = 2 / (window + 1), as pandas
    ``ewm(span=window, adjust=False, min_periods=window).mean()``.

    Parameters
    ----------
    a : ndarray or Series of shape (n_bars,)
    window : int, 1 <= window <= n_bars

    Returns
    -------
    ndarray or Series of shape (n_bars,), NaN for the first ``window - 1`` bars.

    Examples
    --------
    >>> ema(np.array([1.0, 4.0, 1.0, 1.0]), 2)
    array([       nan, 3.        , 1.66666667, 1.22222222])
    """
    arr = _prices("a", a)
    return _wrap(a, nb.ema_1d_nb(arr, _window("window", window, arr.shape[0])))


def rsi(close: Prices, window: int = 14, method: str = "wilder") -> Prices:
    """Relative strength index in [0, 100].

    Parameters
    ----------
    close : ndarray or Series of shape (n_bars,)
    window : int, 1 <= window <= n_bars
    method : {"wilder", "sma"}
        ``"wilder"``: Wilder's smoothing as TA-Lib and TradingView. ``"sma"``: simple means of
        the gains and losses, bit-identical to vectorbt ``RSI(ewm=False)``.

    Returns
    -------
    ndarray or Series of shape (n_bars,): NaN for the first ``window`` bars, NaN where the
    average gain and loss are both 0 (flat prices), 100 where only the loss is 0.

    Examples
    --------
    >>> rsi(np.array([1.0, 2.0, 1.0, 2.0, 3.0]), 2)
    array([ nan,  nan, 50. , 75. , 87.5])
    """
    if method not in RSI_METHODS:
        raise ConfigError(f"method must be one of {RSI_METHODS}, got {method!r}")
    arr = _prices("close", close)
    w = _window("window", window, arr.shape[0])
    return _wrap(close, nb.rsi_1d_nb(arr, w, method == "wilder"))


def macd(close: Prices, fast: int = 12, slow: int = 26, signal: int = 9) -> MACD:
    """Moving average convergence/divergence from EMAs (vectorbt ``MACD`` with ``macd_ewm=True,
    signal_ewm=True``).

    Parameters
    ----------
    close : ndarray or Series of shape (n_bars,)
    fast, slow : int, 1 <= fast < slow <= n_bars
    signal : int, 1 <= signal <= n_bars

    Returns
    -------
    MACD of three ndarrays or Series of shape (n_bars,): ``macd`` (NaN for ``slow - 1`` bars),
    ``signal`` (NaN for ``slow + signal - 2`` bars) and ``hist``.
    """
    arr = _prices("close", close)
    n = arr.shape[0]
    f, s, g = _window("fast", fast, n), _window("slow", slow, n), _window("signal", signal, n)
    if f >= s:
        raise ConfigError(f"fast must be smaller than slow, got fast={f}, slow={s}")
    return MACD(*(_wrap(close, x) for x in nb.macd_1d_nb(arr, f, s, g)))


def bollinger(close: Prices, window: int = 20, k: float = 2.0) -> Bands:
    """Bollinger bands: SMA middle line, bands at ``k`` population (ddof=0) standard deviations.

    Parameters
    ----------
    close : ndarray or Series of shape (n_bars,)
    window : int, 1 <= window <= n_bars
    k : float > 0

    Returns
    -------
    Bands of three ndarrays or Series of shape (n_bars,): ``middle``, ``upper``, ``lower``.
    """
    arr = _prices("close", close)
    w = _window("window", window, arr.shape[0])
    kk = check_float("k", k, low=0.0, low_inclusive=False)
    return Bands(*(_wrap(close, x) for x in nb.bollinger_1d_nb(arr, w, kk)))


def atr(high: Prices, low: Prices, close: Prices, window: int = 14) -> Prices:
    """Wilder's average true range (TA-Lib).

    Parameters
    ----------
    high, low, close : ndarray or Series of shape (n_bars,)
    window : int, 1 <= window <= n_bars

    Returns
    -------
    ndarray or Series of shape (n_bars,), NaN for the first ``window`` bars.
    """
    h, lo, c = _prices("high", high), _prices("low", low), _prices("close", close)
    _same_length(high=h, low=lo, close=c)
    _same_index(close=close, high=high, low=low)
    w = _window("window", window, c.shape[0])
    return _wrap(close, nb.atr_1d_nb(h, lo, c, w))


def stochastic(
    high: Prices, low: Prices, close: Prices, k_window: int = 14, d_window: int = 3
) -> Stochastic:
    """Stochastic oscillator %K over ``k_window`` bars and %D, its SMA over ``d_window``.

    Parameters
    ----------
    high, low, close : ndarray or Series of shape (n_bars,)
    k_window, d_window : int, 1 <= window <= n_bars

    Returns
    -------
    Stochastic of two ndarrays or Series of shape (n_bars,): ``k`` and ``d``. %K is NaN where the
    highest high equals the lowest low, and %D is NaN wherever one of its %K values is.
    """
    h, lo, c = _prices("high", high), _prices("low", low), _prices("close", close)
    _same_length(high=h, low=lo, close=c)
    _same_index(close=close, high=high, low=low)
    n = c.shape[0]
    kw, dw = _window("k_window", k_window, n), _window("d_window", d_window, n)
    return Stochastic(*(_wrap(close, x) for x in nb.stoch_1d_nb(h, lo, c, kw, dw)))


def donchian(high: Prices, low: Prices, window: int = 20) -> Bands:
    """Donchian channel: highest high and lowest low of the last ``window`` bars (the current one
    included), and their midpoint. Pass the closes twice for a channel of closes.

    Parameters
    ----------
    high, low : ndarray or Series of shape (n_bars,)
    window : int, 1 <= window <= n_bars

    Returns
    -------
    Bands of three ndarrays or Series of shape (n_bars,): ``middle``, ``upper``, ``lower``.

    Examples
    --------
    >>> donchian(np.array([2.0, 3.0, 1.0]), np.array([1.0, 2.0, 0.0]), 2).upper
    array([nan,  3.,  3.])
    """
    h, lo = _prices("high", high), _prices("low", low)
    _same_length(high=h, low=lo)
    _same_index(high=high, low=low)
    w = _window("window", window, h.shape[0])
    upper = nb.rolling_max_1d_nb(h, w)
    lower = nb.rolling_min_1d_nb(lo, w)
    return Bands(_wrap(high, (upper + lower) / 2.0), _wrap(high, upper), _wrap(high, lower))
