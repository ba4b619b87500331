"""Numba kernels of technical indicators: float64 1-D arrays in, float64 arrays out.

Conventions (as vectorbt's ``nb`` modules): no pandas, no validation (the wrappers in
:mod:`genepool.backtest.indicators` validate once at the boundary), NaN during warm-up.
``xxx_1d_nb`` works on one series; ``xxx_table_nb(a, windows)`` returns an array of shape
``(len(windows), len(a))`` with one row per window, rows computed in parallel and written only by
their own thread. Pass unique windows (``np.unique(windows, return_inverse=True)``) so that each
window is computed once.

Definitions that have more than one convention in the wild:

- SMA is vectorbt's ``rolling_mean_1d_nb`` operation for operation (one running cumsum, window
  sum = ``cumsum[i] - cumsum[i - window]``), so it is bit-identical to ``vbt.MA(ewm=False)``; its
  rounding error grows like ``eps * len(a) / window`` relative, as vectorbt's does.
- EMA is pandas' ``ewma`` recursion (``adjust=False``, ``min_periods=window``) operation for
  operation: leading NaNs are skipped, the first observation seeds it.
- RSI: ``wilder=True`` is Wilder/TA-Lib/TradingView (seeded with the simple mean of the first
  ``window`` gains and losses, first value at index ``window``); ``wilder=False`` is vectorbt's
  ``RSI(ewm=False)``, bit for bit. Both give NaN where average gain and loss are both 0 (flat
  prices: no direction; TA-Lib says 0, TradingView 100) and 100 where only the loss is 0.
- ATR is Wilder's (TA-Lib): true range from bar 1 (it needs the previous close), first value at
  index ``window`` = mean of the true ranges of bars ``1..window``.
- Stochastic %K is NaN where the ``k_window`` range is 0 (highest high == lowest low: no position
  in an empty range); %D, an SMA as above, is then NaN for ``d_window`` bars.
- Rolling min/max (Donchian) use a monotonic deque, O(T) for any window; a NaN anywhere in the
  window gives NaN (as vectorbt and pandas with ``min_periods=window``).
- Bollinger std is the population std (ddof=0) by a shifted two-pass sum over each window,
  O(T * window): exactly 0 on flat windows and free of running-sum drift.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import njit, njit_parallel

__all__ = [
    "atr_1d_nb",
    "bollinger_1d_nb",
    "ema_1d_nb",
    "ema_resume",
    "ema_table_nb",
    "macd_1d_nb",
    "nan_cumsum_resume",
    "rolling_extreme_into",
    "rolling_max_1d_nb",
    "rolling_max_table_nb",
    "rolling_min_1d_nb",
    "rolling_min_table_nb",
    "rsi_1d_nb",
    "rsi_table_nb",
    "rsi_wilder_resume",
    "sma_1d_nb",
    "sma_table_nb",
    "stoch_1d_nb",
    "true_range_1d_nb",
    "up_down_resume",
    "window_mean_at",
]


# -- simple moving average (vectorbt's cumsum formulation) ----------------------------------------


@njit
def nan_cumsum_resume(a, aoff, t0, t1, cs, nc, csoff, run):
    """Running sum skipping NaN and running NaN count of ``a`` (vectorbt's
    ``rolling_mean_1d_nb``) for the bars [t0, t1): ``cs[i - csoff]``, ``nc[i - csoff]`` from
    ``a[i - aoff]``, continuing ``run`` = [sum, count] (zeros at bar 0), which receives the
    totals at t1. Blocks add in the same order as one pass: the sums are bit-identical."""
    s = run[0]
    c = int(run[1])
    for i in range(t0, t1):
        x = a[i - aoff]
        if np.isnan(x):
            c += 1
        else:
            s = s + x
        cs[i - csoff] = s
        nc[i - csoff] = c
    run[0] = s
    run[1] = c


@njit
def _nan_cumsum(a):
    """Running sum skipping NaN and running NaN count, as vectorbt's ``rolling_mean_1d_nb``."""
    n = a.shape[0]
    cs = np.empty(n, dtype=np.float64)
    nc = np.empty(n, dtype=np.int64)
    nan_cumsum_resume(a, 0, 0, n, cs, nc, 0, np.zeros(2))
    return cs, nc


@njit
def window_mean_at(cs, nc, csoff, window, i):
    """Mean of the ``window`` values ending at bar ``i`` from the running sums (bar j at
    ``cs[j - csoff]``); NaN unless all of them are observations (``minp=window``)."""
    if i < window:
        count = i + 1 - nc[i - csoff]
        total = cs[i - csoff]
    else:
        count = window - (nc[i - csoff] - nc[i - window - csoff])
        total = cs[i - csoff] - cs[i - window - csoff]
    if count < window:
        return np.nan
    return total / count


@njit
def _window_mean(cs, nc, window, i):
    """:func:`window_mean_at` of arrays that start at bar 0."""
    return window_mean_at(cs, nc, 0, window, i)


@njit
def _sma_into(cs, nc, window, out):
    for i in range(out.shape[0]):
        out[i] = _window_mean(cs, nc, window, i)


@njit
def sma_1d_nb(a, window):
    """Simple moving average; oracle: naive.sma, pandas rolling mean, vectorbt MA (bit for bit)."""
    out = np.empty(a.shape[0], dtype=np.float64)
    cs, nc = _nan_cumsum(a)
    _sma_into(cs, nc, window, out)
    return out


@njit_parallel
def sma_table_nb(a, windows):
    """SMA of ``a`` for each window, shape (U, T); oracle: sma_1d_nb row by row."""
    out = np.empty((windows.shape[0], a.shape[0]), dtype=np.float64)
    cs, nc = _nan_cumsum(a)
    for r in prange(windows.shape[0]):
        _sma_into(cs, nc, windows[r], out[r])
    return out


# -- exponential moving average (pandas' ewma, adjust=False) --------------------------------------


@njit
def ema_resume(a, out, fresh, window, state):
    """pandas' ewma recursion over ``a`` into ``out`` (same length), continuing ``state`` =
    [average, observations, old weight] unless ``fresh`` (``a[0]`` is then the series' first
    value), and saving it: consecutive blocks give the one-pass values bit for bit."""
    n = a.shape[0]
    if n == 0:
        return
    com = (window - 1) / 2.0
    alpha = 1.0 / (1.0 + com)  # = 2 / (window + 1), computed as pandas does
    old_wt_factor = 1.0 - alpha
    new_wt = alpha
    i0 = 0
    if fresh:
        avg = a[0]
        nobs = 0 if np.isnan(avg) else 1
        out[0] = avg if nobs >= window else np.nan
        old_wt = 1.0
        i0 = 1
    else:
        avg = state[0]
        nobs = int(state[1])
        old_wt = state[2]
    for i in range(i0, n):
        cur = a[i]
        is_obs = not np.isnan(cur)
        if is_obs:
            nobs += 1
        if not np.isnan(avg):
            old_wt *= old_wt_factor
            if is_obs:
                # avg = ((1 - alpha) * avg + alpha * cur) / ((1 - alpha) + alpha), as pandas
                if avg != cur:
                    avg = (old_wt * avg + new_wt * cur) / (old_wt + new_wt)
                old_wt = 1.0
        elif is_obs:
            avg = cur
        out[i] = avg if nobs >= window else np.nan
    state[0] = avg
    state[1] = nobs
    state[2] = old_wt


@njit
def _ema_into(a, window, out):
    ema_resume(a, out, True, window, np.empty(3))


@njit
def ema_1d_nb(a, window):
    """EMA, alpha 2/(window+1), adjust=False; oracle: naive.ema, pandas ewm(span).mean()."""
    out = np.empty(a.shape[0], dtype=np.float64)
    _ema_into(a, window, out)
    return out


@njit_parallel
def ema_table_nb(a, windows):
    """EMA of ``a`` for each window, shape (U, T); oracle: ema_1d_nb row by row."""
    out = np.empty((windows.shape[0], a.shape[0]), dtype=np.float64)
    for r in prange(windows.shape[0]):
        _ema_into(a, windows[r], out[r])
    return out


# -- RSI ------------------------------------------------------------------------------------------


@njit
def _rsi_value(up, down):
    """``100 - 100 / (1 + up / down)`` with numpy's division semantics (numba scalars raise)."""
    if np.isnan(up) or np.isnan(down):
        return np.nan
    if down == 0.0:
        return np.nan if up == 0.0 else 100.0  # 0/0 -> NaN; x/0 -> inf -> 100
    return 100.0 - 100.0 / (1.0 + up / down)


@njit
def up_down_resume(close, coff, t0, t1, up, down, uoff):
    """Gains and losses of the bars [t0, t1) as vectorbt's RSI (NaN at bar 0, |delta| on one
    side) into ``up[i - uoff]``, ``down[i - uoff]``."""
    for i in range(t0, t1):
        if i == 0:
            up[i - uoff] = np.nan
            down[i - uoff] = np.nan
            continue
        d = close[i - coff] - close[i - 1 - coff]
        up[i - uoff] = 0.0 if d < 0.0 else d
        down[i - uoff] = 0.0 if d > 0.0 else abs(d)


@njit
def _up_down(close):
    """Gains and losses of each bar as vectorbt's RSI: NaN at bar 0, |delta| on one side."""
    n = close.shape[0]
    up = np.empty(n, dtype=np.float64)
    down = np.empty(n, dtype=np.float64)
    up_down_resume(close, 0, 0, n, up, down, 0)
    return up, down


@njit
def _rsi_sma_into(up_cs, up_nc, down_cs, down_nc, window, out):
    for i in range(out.shape[0]):
        out[i] = _rsi_value(
            _window_mean(up_cs, up_nc, window, i), _window_mean(down_cs, down_nc, window, i)
        )


@njit
def rsi_wilder_resume(close, coff, t0, t1, window, out, ooff, state):
    """Wilder's RSI at the bars [t0, t1) into ``out[i - ooff]`` (``close[i - coff]`` is bar i's
    close; bar t0 - 1 is needed when t0 > 0), continuing ``state`` = [average gain, average
    loss] (zeros at bar 0) and saving it. NaN before bar ``window``, which is seeded with the
    simple mean of the first ``window`` gains and losses."""
    gain = state[0]
    loss = state[1]
    for i in range(t0, t1):
        if i == 0:
            out[i - ooff] = np.nan
            continue
        d = close[i - coff] - close[i - 1 - coff]
        if i <= window:
            if d > 0.0:
                gain += d
            elif d < 0.0:
                loss -= d
            if i < window:
                out[i - ooff] = np.nan
                continue
            gain /= window
            loss /= window
        else:
            g = d if d > 0.0 else 0.0
            c = -d if d < 0.0 else 0.0
            # Wilder's smoothing, alpha = 1 / window
            gain = (gain * (window - 1) + g) / window
            loss = (loss * (window - 1) + c) / window
        out[i - ooff] = _rsi_value(gain, loss)
    state[0] = gain
    state[1] = loss


@njit
def _rsi_wilder_into(close, window, out):
    rsi_wilder_resume(close, 0, 0, close.shape[0], window, out, 0, np.zeros(2))


@njit
def rsi_1d_nb(close, window, wilder):
    """RSI, Wilder's or SMA-smoothed; oracle: naive.rsi_wilder/rsi_sma, vectorbt RSI (sma)."""
    out = np.empty(close.shape[0], dtype=np.float64)
    if wilder:
        _rsi_wilder_into(close, window, out)
    else:
        up, down = _up_down(close)
        up_cs, up_nc = _nan_cumsum(up)
        down_cs, down_nc = _nan_cumsum(down)
        _rsi_sma_into(up_cs, up_nc, down_cs, down_nc, window, out)
    return out


@njit_parallel
def rsi_table_nb(close, windows, wilder):
    """RSI of ``close`` for each window, shape (U, T); oracle: rsi_1d_nb row by row."""
    out = np.empty((windows.shape[0], close.shape[0]), dtype=np.float64)
    if wilder:
        for r in prange(windows.shape[0]):
            _rsi_wilder_into(close, windows[r], out[r])
    else:
        up, down = _up_down(close)
        up_cs, up_nc = _nan_cumsum(up)
        down_cs, down_nc = _nan_cumsum(down)
        for r in prange(windows.shape[0]):
            _rsi_sma_into(up_cs, up_nc, down_cs, down_nc, windows[r], out[r])
    return out


# -- MACD, Bollinger ------------------------------------------------------------------------------


@njit
def macd_1d_nb(close, fast, slow, signal):
    """MACD line, signal line, histogram from EMAs; oracle: naive.macd, vectorbt MACD(ewm)."""
    n = close.shape[0]
    fast_ema = ema_1d_nb(close, fast)
    slow_ema = ema_1d_nb(close, slow)
    macd = np.empty(n, dtype=np.float64)
    for i in range(n):
        macd[i] = fast_ema[i] - slow_ema[i]
    # The EMA skips the leading NaNs of the MACD line: it starts where the line is defined.
    signal_line = ema_1d_nb(macd, signal)
    hist = np.empty(n, dtype=np.float64)
    for i in range(n):
        hist[i] = macd[i] - signal_line[i]
    return macd, signal_line, hist


@njit
def bollinger_1d_nb(close, window, k):
    """SMA middle, bands at k population stds; oracle: naive.bollinger, vectorbt BBANDS."""
    n = close.shape[0]
    middle = sma_1d_nb(close, window)
    upper = np.empty(n, dtype=np.float64)
    lower = np.empty(n, dtype=np.float64)
    for i in range(n):
        if np.isnan(middle[i]):
            upper[i] = np.nan
            lower[i] = np.nan
            continue
        # var = (sum d^2 - (sum d)^2 / w) / w with d = x - x[i]: exact 0 on flat windows
        shift = close[i]
        s1 = 0.0
        s2 = 0.0
        for j in range(i - window + 1, i + 1):
            d = close[j] - shift
            s1 += d
            s2 += d * d
        var = (s2 - s1 * s1 / window) / window
        std = np.sqrt(var) if var > 0.0 else 0.0
        upper[i] = middle[i] + k * std
        lower[i] = middle[i] - k * std
    return middle, upper, lower


# -- ATR ------------------------------------------------------------------------------------------


@njit
def true_range_1d_nb(high, low, close):
    """True range, ``high - low`` at bar 0; oracle: naive.true_range, vectorbt ATR's ``tr``."""
    n = high.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        tr = high[i] - low[i]
        if i > 0:
            tr = max(tr, abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        out[i] = tr
    return out


@njit
def atr_1d_nb(high, low, close, window):
    """Wilder's ATR (TA-Lib), first value at index ``window``; oracle: naive.atr_wilder."""
    n = high.shape[0]
    out = np.empty(n, dtype=np.float64)
    for i in range(min(window, n)):
        out[i] = np.nan
    if n <= window:
        return out
    tr = true_range_1d_nb(high, low, close)
    atr = 0.0
    for i in range(1, window + 1):
        atr += tr[i]
    atr /= window
    out[window] = atr
    for i in range(window + 1, n):
        atr = (atr * (window - 1) + tr[i]) / window
        out[i] = atr
    return out


# -- rolling min / max (Donchian), stochastic -----------------------------------------------------


@njit
def rolling_extreme_into(a, window, is_max, out, buf):
    """Monotonic deque of indices in ``buf[head:tail]``: values strictly decreasing (max) or
    increasing (min), so the extreme of the window is ``a[buf[head]]``. O(T)."""
    head = 0
    tail = 0
    last_nan = -1
    for i in range(a.shape[0]):
        x = a[i]
        if np.isnan(x):
            last_nan = i
        else:
            if is_max:
                while tail > head and a[buf[tail - 1]] <= x:
                    tail -= 1
            else:
                while tail > head and a[buf[tail - 1]] >= x:
                    tail -= 1
            buf[tail] = i
            tail += 1
        while tail > head and buf[head] <= i - window:
            head += 1
        if i < window - 1 or last_nan > i - window:
            out[i] = np.nan
        else:
            out[i] = a[buf[head]]


@njit
def rolling_min_1d_nb(a, window):
    """Rolling min incl. the current bar; oracle: naive.rolling_min, pandas rolling min."""
    out = np.empty(a.shape[0], dtype=np.float64)
    rolling_extreme_into(a, window, False, out, np.empty(a.shape[0], dtype=np.int64))
    return out


@njit
def rolling_max_1d_nb(a, window):
    """Rolling max incl. the current bar; oracle: naive.rolling_max, pandas rolling max."""
    out = np.empty(a.shape[0], dtype=np.float64)
    rolling_extreme_into(a, window, True, out, np.empty(a.shape[0], dtype=np.int64))
    return out


@njit_parallel
def rolling_min_table_nb(a, windows):
    """Rolling min of ``a`` for each window, shape (U, T); oracle: rolling_min_1d_nb by row."""
    out = np.empty((windows.shape[0], a.shape[0]), dtype=np.float64)
    for r in prange(windows.shape[0]):
        buf = np.empty(a.shape[0], dtype=np.int64)
        rolling_extreme_into(a, windows[r], False, out[r], buf)
    return out


@njit_parallel
def rolling_max_table_nb(a, windows):
    """Rolling max of ``a`` for each window, shape (U, T); oracle: rolling_max_1d_nb by row."""
    out = np.empty((windows.shape[0], a.shape[0]), dtype=np.float64)
    for r in prange(windows.shape[0]):
        buf = np.empty(a.shape[0], dtype=np.int64)
        rolling_extreme_into(a, windows[r], True, out[r], buf)
    return out


@njit
def stoch_1d_nb(high, low, close, k_window, d_window):
    """Stochastic %K and %D (SMA of %K); oracle: naive.stochastic, vectorbt STOCH."""
    n = close.shape[0]
    lowest = rolling_min_1d_nb(low, k_window)
    highest = rolling_max_1d_nb(high, k_window)
    k = np.empty(n, dtype=np.float64)
    for i in range(n):
        rng = highest[i] - lowest[i]
        if np.isnan(rng) or rng == 0.0:
            k[i] = np.nan  # warm-up, or a flat range: no position in an empty range
        else:
            k[i] = 100.0 * (close[i] - lowest[i]) / rng
    d = sma_1d_nb(k, d_window)
    return k, d
