"""CUDA kernels of the fused backtest (numba's CUDA target): tables, then one thread per strategy.

Device twins of the CPU kernels, line for line, for one block of bars [0, T):

- :func:`table_rows_streamed` (one thread per row, streaming over the bars: EMA, Wilder's RSI,
  the sliding-Welford std) and :func:`table_rows_elementwise` (one thread per (row, bar): the
  SMA and vectorbt's SMA RSI from running sums shared by every row, the rolling max/min of the
  breakout family by a scan of the window) fill the indicator tables, one row per unique
  parameter, laid out (rows, bars) as the CPU's (:mod:`genepool.backtest.stream`). The shared
  running sums and the prefix sums of the asset's returns depend on the prices only: the host
  computes them once per problem with the CPU kernels (:mod:`genepool.backtest.gpu`).
- :func:`simulate_kernel` (one kernel per family) runs one strategy per thread over all bars
  with its whole state in local variables (``_sim_nb.simulate_block`` for the block [0, T), then
  ``finalize_state``): the MACD family streams its signal line's EMA per thread, as
  ``_sim_nb._macd_block`` does, so nothing of size T is held per strategy. It writes one
  metrics row per strategy except the annualized return and the Calmar ratio, which need
  ``pow``: :func:`annualize_rows_nb` fills them on the host.

Bit for bit: every float is computed by the same operations in the same order as the CPU
kernels. Two things would otherwise differ on a device. NVVM contracts a product followed by a
sum into one fused multiply-add (checked in the PTX: ``a * b + c`` compiles to ``fma.rn.f64``),
which rounds once instead of twice; every product here is therefore written ``_mul(a, b)``,
``libdevice.dmul_rn`` on a device, which is never fused (``mul.rn.f64``), and plain ``a * b``
under the simulator. And libdevice's ``pow`` is not correctly rounded (up to 2 ulp), where
``growth ** x - 1`` amplifies an ulp; the host computes it with the CPU's ``pow``. Division
and ``sqrt`` are IEEE-rounded on the device as on the CPU (no fastmath).

Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the same source runs as Python on
numpy float64 scalars: that is how CPU-only CI tests it (tests/test_backtest_cuda.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import config
from numba import cuda as _numba_cuda

from .._numba import njit
from .enums import FamilyCode, Metric

__all__ = [
    "ROW_EMA",
    "ROW_MAX",
    "ROW_MIN",
    "ROW_RSI_SMA",
    "ROW_RSI_WILDER",
    "ROW_SMA",
    "ROW_STD",
    "SIMULATOR",
    "STREAMED_ROWS",
    "annualize_rows_nb",
    "simulate_kernel",
    "table_rows_elementwise",
    "table_rows_streamed",
]

#: Whether numba's CUDA simulator runs these kernels (chosen before numba is imported).
SIMULATOR = bool(getattr(config, "ENABLE_CUDASIM", 0))
cuda: Any = _numba_cuda  # numba's stubs do not type the kernel API for mypy

# -- kinds of table rows: what a row of an indicator table holds -------------------------------
ROW_EMA = 0  # EMA of the close (pandas' ewma, adjust=False)
ROW_RSI_WILDER = 1  # Wilder's RSI of the close
ROW_STD = 2  # rolling population std of the close (sliding Welford)
ROW_SMA = 3  # SMA of the close from its running sums
ROW_RSI_SMA = 4  # vectorbt's SMA RSI from the running sums of gains and losses
ROW_MAX = 5  # rolling max of the highs
ROW_MIN = 6  # rolling min of the lows
#: Kinds computed by :func:`table_rows_streamed` (a recursion along the bars); the others are
#: elementwise (:func:`table_rows_elementwise`).
STREAMED_ROWS = (ROW_EMA, ROW_RSI_WILDER, ROW_STD)

# numba reads module-level ints as compile-time constants (the IntEnums, as plain ints, also
# under the simulator)
_RSI = int(FamilyCode.RSI)
_MA_CROSS = int(FamilyCode.MA_CROSS)
_MACD = int(FamilyCode.MACD)
_BOLLINGER = int(FamilyCode.BOLLINGER)

_M_TOTAL_RETURN = int(Metric.TOTAL_RETURN)
_M_SHARPE = int(Metric.SHARPE_RATIO)
_M_SORTINO = int(Metric.SORTINO_RATIO)
_M_MDD = int(Metric.MAX_DRAWDOWN)
_M_CALMAR = int(Metric.CALMAR_RATIO)
_M_ANN_RETURN = int(Metric.ANNUALIZED_RETURN)
_M_ANN_VOL = int(Metric.ANNUALIZED_VOLATILITY)
_M_N_ORDERS = int(Metric.N_ORDERS)
_M_N_TRADES = int(Metric.N_TRADES)
_M_WIN_RATE = int(Metric.WIN_RATE)
_M_PROFIT_FACTOR = int(Metric.PROFIT_FACTOR)
_M_EXPOSURE = int(Metric.EXPOSURE)
_M_FINAL_VALUE = int(Metric.FINAL_VALUE)

_REL_TOL = 1e-9  # vectorbt.utils.math_.rel_tol (as _order_nb)
_ABS_TOL = 1e-12  # vectorbt.utils.math_.abs_tol

device = cuda.jit(device=True)

if SIMULATOR:

    @device
    def _mul(a, b):
        """``a * b`` (Python on numpy float64 scalars: nothing to fuse)."""
        return a * b

else:  # pragma: no cover - needs a CUDA device
    from numba.cuda import libdevice

    _mul = libdevice.dmul_rn  # a product in round-to-nearest, never fused into an FMA


@device
def _max(a, b):
    """numba's (and Python's) ``max(a, b)`` of two floats: ``b`` if ``b > a``, else ``a``
    (the builtins ``max``/``abs`` did not compile for the device in numba 0.68)."""
    return b if b > a else a


# -- fills (_order_nb) ----------------------------------------------------------------------------
@device
def _is_close(a, b):
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    if a == b:
        return True
    return math.fabs(a - b) <= _max(_mul(_REL_TOL, _max(math.fabs(a), math.fabs(b))), _ABS_TOL)


@device
def _add(a, b):
    """``a + b``, snapped to 0 when the two cancel within vectorbt's tolerance."""
    if (a > 0) != (b > 0) and _is_close(math.fabs(a), math.fabs(b)):
        return 0.0
    return a + b


@device
def _buy(cash, close, fees, slippage):
    """``fill_order_nb(BUY, ...)``: (cash, size, price, fees_paid) after spending all cash."""
    price = _mul(close, 1.0 + slippage)
    spend = cash / (1.0 + fees)
    return _add(cash, -cash), spend / price, price, cash - spend


@device
def _sell(cash, size, close, fees, slippage):
    """``fill_order_nb(SELL, ...)``: (cash, size, price, fees_paid) after selling ``size``."""
    price = _mul(close, 1.0 - slippage)
    proceeds = _mul(size, price)
    fees_paid = _mul(proceeds, fees)
    return cash + _add(proceeds, -fees_paid), 0.0, price, fees_paid


@device
def _trade_pnl(size, entry_price, exit_price, entry_fees, exit_fees):
    return _add(_mul(size, exit_price), -_mul(size, entry_price)) - entry_fees - exit_fees


# -- signals (_sim_nb._family_signals) ------------------------------------------------------------
@device
def _crossed_below(prev, cur, level_prev, level_cur):
    return prev >= level_prev and cur < level_cur


@device
def _crossed_above(prev, cur, level_prev, level_cur):
    return prev <= level_prev and cur > level_cur


@device
def _family_signals(family, c0, c1, a0, a1, b0, b1, p1, p2):
    """(entry, exit) at a bar from the previous/current close and rows A and B."""
    if family == _RSI:
        return _crossed_below(a0, a1, p1, p1), _crossed_above(a0, a1, p2, p2)
    if family == _MA_CROSS:
        return _crossed_above(a0, a1, b0, b1), _crossed_below(a0, a1, b0, b1)
    if family == _MACD:  # a: MACD minus its signal line
        return _crossed_above(a0, a1, 0.0, 0.0), _crossed_below(a0, a1, 0.0, 0.0)
    if family == _BOLLINGER:
        return (
            _crossed_below(c0, c1, a0 - _mul(p1, b0), a1 - _mul(p1, b1)),
            _crossed_above(c0, c1, a0, a1),
        )
    return c1 > a0, c1 < b0  # BREAKOUT


# -- indicator tables -----------------------------------------------------------------------------
@device
def _ema_row(a, window, out, r):
    """``nb.ema_resume`` over all of ``a`` (fresh) into ``out[r]``."""
    n = a.shape[0]
    com = _mul(float(window - 1), 0.5)  # (window - 1) / 2.0 exactly, kept out of an FMA
    alpha = 1.0 / (1.0 + com)
    old_wt_factor = 1.0 - alpha
    new_wt = alpha
    avg = a[0]
    nobs = 0 if math.isnan(avg) else 1
    out[r, 0] = avg if nobs >= window else math.nan
    old_wt = 1.0
    for i in range(1, n):
        cur = a[i]
        is_obs = not math.isnan(cur)
        if is_obs:
            nobs += 1
        if not math.isnan(avg):
            old_wt = _mul(old_wt, old_wt_factor)
            if is_obs:
                if avg != cur:
                    avg = (_mul(old_wt, avg) + _mul(new_wt, cur)) / (old_wt + new_wt)
                old_wt = 1.0
        elif is_obs:
            avg = cur
        out[r, i] = avg if nobs >= window else math.nan


@device
def _rsi_value(up, down):
    """``nb._rsi_value``: ``100 - 100 / (1 + up / down)``, NaN where both are 0."""
    if math.isnan(up) or math.isnan(down):
        return math.nan
    if down == 0.0:
        return math.nan if up == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + up / down)


@device
def _rsi_wilder_row(close, window, out, r):
    """``nb.rsi_wilder_resume`` over all bars into ``out[r]``."""
    gain = 0.0
    loss = 0.0
    out[r, 0] = math.nan
    w1 = float(window - 1)
    for i in range(1, close.shape[0]):
        d = close[i] - close[i - 1]
        if i <= window:
            if d > 0.0:
                gain += d
            elif d < 0.0:
                loss -= d
            if i < window:
                out[r, i] = math.nan
                continue
            gain /= window
            loss /= window
        else:
            g = d if d > 0.0 else 0.0
            c = -d if d < 0.0 else 0.0
            gain = (_mul(gain, w1) + g) / window
            loss = (_mul(loss, w1) + c) / window
        out[r, i] = _rsi_value(gain, loss)


@device
def _std_row(a, window, out, r):
    """``_stream_nb.rolling_std_resume`` over all bars (fresh state) into ``out[r]``."""
    mean = 0.0
    m2 = 0.0
    for i in range(a.shape[0]):
        x = a[i]
        if i < window:
            k = i + 1
            d = x - mean
            mean += d / k
            m2 += _mul(d, x - mean)
        else:
            old = a[i - window]
            new_mean = mean + (x - old) / window
            m2 += _mul(x - old, x - new_mean + old - mean)
            mean = new_mean
        if i >= window - 1:
            out[r, i] = math.sqrt(_max(m2, 0.0) / window)
        else:
            out[r, i] = math.nan


@device
def _window_mean_at(cs, nc, window, i):
    """``nb.window_mean_at`` of sums that start at bar 0."""
    if i < window:
        count = i + 1 - nc[i]
        total = cs[i]
    else:
        count = window - (nc[i] - nc[i - window])
        total = cs[i] - cs[i - window]
    if count < window:
        return math.nan
    return total / count


@device
def _window_extreme(a, window, i, is_max):
    """Max (``is_max``) or min of ``a`` over the ``window`` bars ending at ``i``: NaN during
    the warm-up or with a NaN in the window, as ``nb.rolling_extreme_into`` (an extreme is
    one of the values: any exact algorithm gives the same bits)."""
    if i < window - 1:
        return math.nan
    best = a[i]
    if math.isnan(best):
        return math.nan
    for j in range(i - window + 1, i):
        x = a[j]
        if math.isnan(x):
            return math.nan
        if (x > best) if is_max else (x < best):
            best = x
    return best


@cuda.jit
def table_rows_streamed(kinds, windows, close, out):
    """Rows of ``out`` (rows, T) whose kind is in ``STREAMED_ROWS``, one thread per row
    (grid-stride); other rows are left alone."""
    r = cuda.grid(1)
    stride = cuda.gridsize(1)
    while r < kinds.shape[0]:
        kind = kinds[r]
        w = windows[r]
        if kind == ROW_EMA:
            _ema_row(close, w, out, r)
        elif kind == ROW_RSI_WILDER:
            _rsi_wilder_row(close, w, out, r)
        elif kind == ROW_STD:
            _std_row(close, w, out, r)
        r += stride


@cuda.jit
def table_rows_elementwise(kinds, windows, cs, nc, up_cs, up_nc, dn_cs, dn_nc, high, low, out):
    """Elementwise rows of ``out`` (rows, T), one thread per (bar, row) (2-D grid-stride):
    SMA of the close from its running sum ``cs`` and NaN count ``nc``, SMA RSI from those of
    the gains (``up_*``) and losses (``dn_*``), rolling max of ``high``, min of ``low``."""
    i0, r = cuda.grid(2)
    si, sr = cuda.gridsize(2)
    n_bars = out.shape[1]
    while r < kinds.shape[0]:
        kind = kinds[r]
        w = windows[r]
        if kind == ROW_SMA or kind == ROW_RSI_SMA or kind == ROW_MAX or kind == ROW_MIN:
            i = i0
            while i < n_bars:
                if kind == ROW_SMA:
                    v = _window_mean_at(cs, nc, w, i)
                elif kind == ROW_RSI_SMA:
                    v = _rsi_value(
                        _window_mean_at(up_cs, up_nc, w, i), _window_mean_at(dn_cs, dn_nc, w, i)
                    )
                elif kind == ROW_MAX:
                    v = _window_extreme(high, w, i, True)
                else:
                    v = _window_extreme(low, w, i, False)
                out[r, i] = v
                i += si
        r += sr


# -- the fused simulator --------------------------------------------------------------------------
@device
def _simulate_one(
    fam, close, prefix, A, B, ra, rb, p1, p2, sl, tp, fees, slippage, init_cash, ann_factor,
    out, s,
):  # fmt: skip
    """One strategy over all bars into ``out[s]``: ``_sim_nb.simulate_block`` for the block
    [0, T) bar by bar (the flat phase and the holding phase of the CPU kernel are the two
    branches of one loop; each bar does the same float operations as there), then
    ``finalize_state`` (without the annualized return and the Calmar ratio)."""
    n_bars = close.shape[0]
    cash = init_cash
    pos = 0.0
    entry_price = 0.0
    entry_fees = 0.0
    prev_value = init_cash
    s1 = 0.0
    s2 = 0.0
    sneg = 0.0
    peak = -math.inf
    mdd = 0.0
    n_orders = 0
    n_trades = 0
    n_wins = 0
    win_pnl = 0.0
    loss_pnl = 0.0
    has_win = False
    has_loss = False
    bars_in = 0
    stop_low = 0.0
    stop_high = 0.0
    in_market = False
    hold_start = 0
    has_stops = sl > 0.0 or tp > 0.0
    # the MACD signal line: nb.ema_resume of (fast EMA - slow EMA), streamed
    is_macd = fam == _MACD
    sig_window = int(p1) if is_macd else 1
    com = _mul(float(sig_window - 1), 0.5)  # (window - 1) / 2.0, exactly
    alpha = 1.0 / (1.0 + com)
    old_wt_factor = 1.0 - alpha
    ema_avg = 0.0
    ema_nobs = 0
    ema_old_wt = 1.0
    c0 = 0.0
    a0 = 0.0
    b0 = 0.0
    for t in range(n_bars):
        c = close[t]
        if is_macd:
            line = A[ra, t] - A[rb, t]
            if t == 0:
                ema_avg = line
                ema_nobs = 0 if math.isnan(line) else 1
            else:
                is_obs = not math.isnan(line)
                if is_obs:
                    ema_nobs += 1
                if not math.isnan(ema_avg):
                    ema_old_wt = _mul(ema_old_wt, old_wt_factor)
                    if is_obs:
                        if ema_avg != line:
                            ema_avg = (_mul(ema_old_wt, ema_avg) + _mul(alpha, line)) / (
                                ema_old_wt + alpha
                            )
                        ema_old_wt = 1.0
                elif is_obs:
                    ema_avg = line
            a1 = line - (ema_avg if ema_nobs >= sig_window else math.nan)
            b1 = a1
        else:
            a1 = A[ra, t]
            b1 = B[rb, t]
        e = False
        x = False
        if t > 0:
            e, x = _family_signals(fam, c0, c, a0, a1, b0, b1, p1, p2)
        if not in_market:
            if cash > 0.0 and e and not x:
                # -- entry at the close of bar t -----------------------------------------------
                cash, pos, entry_price, entry_fees = _buy(cash, c, fees, slippage)
                stop_low = _mul(entry_price, 1.0 - sl)
                stop_high = _mul(entry_price, 1.0 + tp)
                n_orders += 1
                value = _mul(pos, c)
                bars_in += 1
                if prev_value == 0.0:
                    if value > 0.0:
                        r = math.inf
                    elif value < 0.0:
                        r = -math.inf
                    elif value == 0.0:
                        r = 0.0
                    else:
                        r = math.nan
                else:
                    r = (value - prev_value) / prev_value
                s1 += r
                s2 += _mul(r, r)
                if r < 0.0:
                    sneg += _mul(r, r)
                if value > peak:
                    peak = value
                elif value < _mul(peak, 1.0 + mdd):
                    mdd = value / peak - 1.0
                prev_value = value
                in_market = True
                hold_start = t + 1  # the CPU's h0..h2 are prefix[:, hold_start], read back
            elif cash > peak:  # a flat bar: the value is the cash
                peak = cash
        else:
            if has_stops and ((sl > 0.0 and c <= stop_low) or (tp > 0.0 and c >= stop_high)):
                e = False
                x = True
            if x and not e:
                # -- exit at the close of bar t: book the holding bars hold_start .. t-1 -------
                s1 += prefix[0, t] - prefix[0, hold_start]
                s2 += prefix[1, t] - prefix[1, hold_start]
                sneg += prefix[2, t] - prefix[2, hold_start]
                bars_in += t - hold_start
                prev_value = _mul(pos, c0)
                size = pos
                cash, pos, exit_price, exit_fees = _sell(cash, pos, c, fees, slippage)
                pnl = _trade_pnl(size, entry_price, exit_price, entry_fees, exit_fees)
                n_trades += 1
                if pnl > 0.0:
                    n_wins += 1
                    win_pnl += pnl
                    has_win = True
                elif pnl < 0.0:
                    loss_pnl += pnl
                    has_loss = True
                n_orders += 1
                value = cash
                r = (value - prev_value) / prev_value
                s1 += r
                s2 += _mul(r, r)
                if r < 0.0:
                    sneg += _mul(r, r)
                if value > peak:
                    peak = value
                elif value < _mul(peak, 1.0 + mdd):
                    mdd = value / peak - 1.0
                prev_value = value
                in_market = False
            else:
                value = _mul(pos, c)
                if value > peak:
                    peak = value
                elif value < _mul(peak, 1.0 + mdd):
                    mdd = value / peak - 1.0
        c0 = c
        a0 = a1
        b0 = b1
    if in_market:  # the holding bars up to the end
        s1 += prefix[0, n_bars] - prefix[0, hold_start]
        s2 += prefix[1, n_bars] - prefix[1, hold_start]
        sneg += prefix[2, n_bars] - prefix[2, hold_start]
        bars_in += n_bars - hold_start
    # -- finalize_state: the open trade counts, marked at the last close without exit fees ----
    last_close = close[n_bars - 1]
    if pos > 0.0:
        pnl = _trade_pnl(pos, entry_price, last_close, entry_fees, 0.0)
        n_trades += 1
        if pnl > 0.0:
            n_wins += 1
            win_pnl += pnl
            has_win = True
        elif pnl < 0.0:
            loss_pnl += pnl
            has_loss = True
    final_value = cash + _mul(pos, last_close)
    n = n_bars
    out[s, _M_TOTAL_RETURN] = (final_value - init_cash) / init_cash
    mean = s1 / n
    if n >= 2:
        var = (s2 - _mul(s1, mean)) / (n - 1)
        std = math.sqrt(var) if var > 0.0 else 0.0
        out[s, _M_SHARPE] = math.inf if std == 0.0 else _mul(mean / std, math.sqrt(ann_factor))
        out[s, _M_ANN_VOL] = _mul(std, math.sqrt(ann_factor))
        downside = _mul(math.sqrt(sneg / n), math.sqrt(ann_factor))
        out[s, _M_SORTINO] = math.inf if downside == 0.0 else _mul(mean, ann_factor) / downside
    else:
        out[s, _M_SHARPE] = math.nan
        out[s, _M_SORTINO] = math.nan
        out[s, _M_ANN_VOL] = math.nan
    out[s, _M_MDD] = mdd
    out[s, _M_ANN_RETURN] = math.nan  # annualize_rows_nb, on the host
    out[s, _M_CALMAR] = math.nan
    out[s, _M_N_ORDERS] = n_orders
    out[s, _M_N_TRADES] = n_trades
    out[s, _M_WIN_RATE] = math.nan if n_trades == 0 else n_wins / n_trades
    if n_trades == 0:
        out[s, _M_PROFIT_FACTOR] = math.nan
    else:
        w = win_pnl if has_win else 0.0
        lo = math.fabs(loss_pnl) if has_loss else 0.0
        if lo == 0.0:
            out[s, _M_PROFIT_FACTOR] = math.nan if w == 0.0 else math.inf
        else:
            out[s, _M_PROFIT_FACTOR] = w / lo
    out[s, _M_EXPOSURE] = bars_in / n
    out[s, _M_FINAL_VALUE] = final_value


def _simulate_kernel(fam: int, max_registers: int | None) -> Any:
    """The kernel of one family: ``fam`` is a constant of its code, so the branches of the
    other families, and their registers, are compiled away."""

    options = {} if SIMULATOR else {"max_registers": max_registers}  # a compiler option

    @cuda.jit(**options)
    def simulate(
        close, prefix, A, B, ia, ib, p1, p2, sl, tp, fees, slippage, init_cash, ann_factor, out
    ):
        s = cuda.grid(1)
        stride = cuda.gridsize(1)
        while s < ia.shape[0]:
            _simulate_one(
                fam, close, prefix, A, B, ia[s], ib[s], p1[s], p2[s], sl[s], tp[s], fees,
                slippage, init_cash, ann_factor, out, s,
            )  # fmt: skip
            s += stride

    return simulate


_KERNELS: dict[tuple[int, int | None], Any] = {}


def simulate_kernel(family: int, max_registers: int | None = None) -> Any:
    """The simulator kernel of family code ``family`` (compiled on first launch, kept):
    ``kernel[blocks, threads](close, prefix, A, B, ia, ib, p1, p2, sl, tp, fees, slippage,
    init_cash, ann_factor, out)`` writes the metrics rows ``out`` (n, N_METRICS) of n
    strategies, one thread per strategy (grid-stride): rows ``ia[s]``/``ib[s]`` of the tables
    ``A``/``B`` (rows, T), parameters ``p1[s]``, ``p2[s]``, stops ``sl[s]``, ``tp[s]`` (0:
    none); ``prefix`` (3, T+1) the prefix sums of the asset's returns
    (``_sim_nb.prefix_block``). ``max_registers`` caps the registers per thread (more
    threads resident, at the price of spills); None lets the compiler choose."""
    key = (int(family), max_registers)
    if key not in _KERNELS:
        _KERNELS[key] = _simulate_kernel(*key)
    return _KERNELS[key]


@njit
def annualize_rows_nb(out, init_cash, ann_factor, n):
    """The annualized return and the Calmar ratio of each metrics row, from its final value
    and maximum drawdown, by the lines of ``_sim_nb._finalize`` (the CPU's ``pow``)."""
    for s in range(out.shape[0]):
        mdd = out[s, _M_MDD]
        growth = out[s, _M_FINAL_VALUE] / init_cash
        ann_ret = growth ** (ann_factor / n) - 1.0
        out[s, _M_ANN_RETURN] = ann_ret
        out[s, _M_CALMAR] = np.nan if mdd == 0.0 else ann_ret / abs(mdd)
