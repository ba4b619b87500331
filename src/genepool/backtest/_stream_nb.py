"""Indicator tables of one block of bars: numba kernels of the time-blocked backtest.

The fused kernel reads, for bar t, the indicator values at t and t - 1. A block [t0, t1) of the
bars therefore gets tables whose column 0 is bar ``t0 - 1`` (when t0 > 0; the value saved from
the previous block in ``last``) and whose other columns are the bars t0 .. t1 - 1, one row per
unique indicator parameter. Recursive indicators (EMA, Wilder's RSI, the sliding Welford
standard deviation) carry their state from block to block; running sums (the SMA and the SMA
RSI, vectorbt's cumsum formulation) carry the running total and keep the sums of the last
``max(window)`` bars; rolling extremes are exact and are recomputed from a data margin of
``max(window)`` bars. Every value is computed by the same operations in the same order as the
one-pass kernels of :mod:`genepool.backtest.nb`, so the tables, and the backtests, are
bit-identical whatever the block length (tests/test_blocked.py).

Memory of a block: the tables (U, t1 - t0 + 1) plus O(U) state, and O(t1 - t0) scratch per
thread for the rolling extremes.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import njit, njit_parallel
from .nb import (
    _rsi_value,
    ema_resume,
    rolling_extreme_into,
    rsi_wilder_resume,
    window_mean_at,
)

__all__ = [
    "ema_rows_nb",
    "rolling_extreme_rows_nb",
    "rolling_std_resume",
    "rolling_std_rows_nb",
    "rsi_sma_rows_nb",
    "rsi_wilder_rows_nb",
    "sma_rows_nb",
]


@njit
def _first_col(t0):
    """Column of bar t0 in a block's table: 1 after the margin column, 0 in the first block."""
    return 1 if t0 > 0 else 0


@njit_parallel
def ema_rows_nb(a, aoff, windows, t0, t1, state, last, out):
    """EMA of ``a`` (bar i at ``a[i - aoff]``) per window into ``out`` (U, block); ``state``
    (U, 3) and ``last`` (U,) carry the recursion and the margin value."""
    j0 = _first_col(t0)
    for r in prange(windows.shape[0]):
        if j0:
            out[r, 0] = last[r]
        ema_resume(a[t0 - aoff : t1 - aoff], out[r, j0:], t0 == 0, windows[r], state[r])
        last[r] = out[r, out.shape[1] - 1]


@njit_parallel
def rsi_wilder_rows_nb(close, coff, windows, t0, t1, state, last, out):
    """Wilder's RSI per window (:func:`nb.rsi_wilder_resume`); ``state`` (U, 2)."""
    j0 = _first_col(t0)
    ooff = t0 - j0
    for r in prange(windows.shape[0]):
        if j0:
            out[r, 0] = last[r]
        rsi_wilder_resume(close, coff, t0, t1, windows[r], out[r], ooff, state[r])
        last[r] = out[r, out.shape[1] - 1]


@njit_parallel
def sma_rows_nb(cs, nc, csoff, windows, t0, t1, last, out):
    """SMA per window from running sums (bar i at ``cs[i - csoff]``; bars t0 - max(window)
    .. t1 - 1 present)."""
    j0 = _first_col(t0)
    ooff = t0 - j0
    for r in prange(windows.shape[0]):
        if j0:
            out[r, 0] = last[r]
        w = windows[r]
        for i in range(t0, t1):
            out[r, i - ooff] = window_mean_at(cs, nc, csoff, w, i)
        last[r] = out[r, out.shape[1] - 1]


@njit_parallel
def rsi_sma_rows_nb(ucs, unc, dcs, dnc, csoff, windows, t0, t1, last, out):
    """vectorbt's SMA RSI per window from the running sums of gains and losses.

    Past the warm-up (bar >= window) the window means and the RSI are written branch-free
    (:func:`_rsi_sma_full`), so that LLVM vectorizes their four divisions a bar: the same
    operations as ``nb.window_mean_at`` and ``nb._rsi_value``, bit for bit (tested), 3x
    faster on the seed's workload."""
    j0 = _first_col(t0)
    ooff = t0 - j0
    for r in prange(windows.shape[0]):
        if j0:
            out[r, 0] = last[r]
        w = windows[r]
        warm = min(max(t0, w), t1)
        for i in range(t0, warm):
            out[r, i - ooff] = _rsi_value(
                window_mean_at(ucs, unc, csoff, w, i), window_mean_at(dcs, dnc, csoff, w, i)
            )
        _rsi_sma_full(ucs, unc, dcs, dnc, csoff, w, warm, t1, out[r], ooff)
        last[r] = out[r, out.shape[1] - 1]


@njit
def _rsi_sma_full(ucs, unc, dcs, dnc, csoff, w, t0, t1, out, ooff):
    """The SMA RSI at the bars [t0, t1), all >= the window ``w``: ``nb.window_mean_at`` (its
    ``i >= window`` branch) and ``nb._rsi_value`` with selects for their branches."""
    for i in range(t0, t1):
        j = i - csoff
        up_count = w - (unc[j] - unc[j - w])
        down_count = w - (dnc[j] - dnc[j - w])
        up_mean = (ucs[j] - ucs[j - w]) / up_count
        down_mean = (dcs[j] - dcs[j - w]) / down_count
        up = np.nan if up_count < w else up_mean
        down = np.nan if down_count < w else down_mean
        rsi = 100.0 - 100.0 / (1.0 + up / down)
        flat = np.nan if up == 0.0 else 100.0  # down == 0: 0/0 -> NaN, x/0 -> 100
        rsi = flat if down == 0.0 else rsi
        out[i - ooff] = np.nan if np.isnan(up) | np.isnan(down) else rsi


@njit
def rolling_std_resume(a, aoff, t0, t1, window, out, ooff, state):
    """Rolling population std (ddof=0) over ``window`` bars, sliding Welford, at the bars
    [t0, t1) into ``out[i - ooff]`` (``a[i - aoff]``; bars from t0 - window needed),
    continuing ``state`` = [mean, m2] (zeros at bar 0). NaN before bar ``window - 1``."""
    mean = state[0]
    m2 = state[1]
    for i in range(t0, t1):
        x = a[i - aoff]
        if i < window:
            k = i + 1
            d = x - mean
            mean += d / k
            m2 += d * (x - mean)
        else:
            old = a[i - window - aoff]
            new_mean = mean + (x - old) / window
            m2 += (x - old) * (x - new_mean + old - mean)
            mean = new_mean
        if i >= window - 1:
            out[i - ooff] = np.sqrt(max(m2, 0.0) / window)
        else:
            out[i - ooff] = np.nan
    state[0] = mean
    state[1] = m2


@njit_parallel
def rolling_std_rows_nb(a, aoff, windows, t0, t1, state, last, out):
    """Sliding-Welford rolling std per window (:func:`rolling_std_resume`); ``state`` (U, 2)."""
    j0 = _first_col(t0)
    ooff = t0 - j0
    for r in prange(windows.shape[0]):
        if j0:
            out[r, 0] = last[r]
        rolling_std_resume(a, aoff, t0, t1, windows[r], out[r], ooff, state[r])
        last[r] = out[r, out.shape[1] - 1]


@njit_parallel
def rolling_extreme_rows_nb(a, aoff, windows, is_max, t0, t1, out):
    """Rolling max (``is_max``) or min per window at the bars [t0 - 1, t1) (from t0 = 0 in the
    first block), recomputed from ``a`` (bar i at ``a[i - aoff]``; bars from
    t0 - 1 - max(window) present): extremes are exact, so no state is carried."""
    j0 = _first_col(t0)
    b0 = t0 - j0  # first bar of the table
    n = t1 - aoff
    for r in prange(windows.shape[0]):
        tmp = np.empty(n, dtype=np.float64)
        buf = np.empty(n, dtype=np.int64)
        w = windows[r]
        # from bar aoff, the deque gives the exact extreme of every window that lies inside
        # the data; the NaN warm-up is by bar number (when aoff = 0 the two agree)
        rolling_extreme_into(a[:n], w, is_max, tmp, buf)
        for i in range(b0, t1):
            out[r, i - b0] = np.nan if i < w - 1 else tmp[i - aoff]
