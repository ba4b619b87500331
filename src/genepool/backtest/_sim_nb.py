"""The fused simulator: signals -> orders -> portfolio value -> metrics in one pass per strategy.

One kernel serves every strategy family and explicit signals: per strategy it streams over the
bars with O(1) state (cash, position, entry price and fees, running sums of returns, peak value,
drawdown, trade counts) and writes one row of metrics. Nothing of size T x N is ever built.

Order semantics are those of ``vectorbt.Portfolio.from_signals`` with its defaults (long only,
all cash in, fill at the close of the signal bar, entry and exit on the same bar both ignored),
orders filled by ``_order_nb.fill_order_nb``; metric formulas are those of vectorbt's returns
accessor, written into the columns named by ``enums.Metric``. Oracles: tests/naive.py
``simulate`` and vectorbt (oracle extra).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import njit, njit_parallel
from ._order_nb import fill_order_nb, trade_pnl_nb
from .enums import METRICS, N_METRICS, FamilyCode, Metric, OrderSide
from .nb import ema_1d_nb

__all__ = [
    "METRICS",
    "N_METRICS",
    "return_prefix_sums",
    "simulate_family_nb",
    "simulate_one",
    "simulate_signals_nb",
]


@njit
def _crossed_below(prev, cur, level_prev, level_cur):
    """``cur`` moved from at/above ``level`` to strictly below it (False if any is NaN, since
    every comparison with NaN is False)."""
    return prev >= level_prev and cur < level_cur


@njit
def _crossed_above(prev, cur, level_prev, level_cur):
    """``cur`` moved from at/below ``level`` to strictly above it (False if any is NaN)."""
    return prev <= level_prev and cur > level_cur


@njit
def _family_signals(family, c0, c1, a0, a1, b0, b1, p1, p2):
    """(entry, exit) at a bar from scalars only (previous/current close, rows A and B), so
    LLVM inlines it into the bar loops; ``family`` is not ``FamilyCode.EXPLICIT``."""
    if family == FamilyCode.RSI:
        # A: RSI; enter on crossing below p1 (lower), exit above p2 (upper)
        return _crossed_below(a0, a1, p1, p1), _crossed_above(a0, a1, p2, p2)
    if family == FamilyCode.MA_CROSS:  # A: fast MA, B: slow MA
        return _crossed_above(a0, a1, b0, b1), _crossed_below(a0, a1, b0, b1)
    if family == FamilyCode.MACD:  # A: MACD minus signal line; crossing zero
        return _crossed_above(a0, a1, 0.0, 0.0), _crossed_below(a0, a1, 0.0, 0.0)
    if family == FamilyCode.BOLLINGER:
        # A: rolling mean, B: rolling std; enter below mid - k sd, exit at mid
        return (_crossed_below(c0, c1, a0 - p1 * b0, a1 - p1 * b1), _crossed_above(c0, c1, a0, a1))
    # BREAKOUT: A: rolling max of highs, B: rolling min of lows (windows ending at the previous
    # bar); comparisons with the NaN warm-up are False
    return c1 > a0, c1 < b0


@njit
def _macd_diff(fast_ema, slow_ema, signal):
    """MACD line minus its signal line (``nb.ema_1d_nb`` of the line, the same EMA as
    ``nb.macd_1d_nb``); one O(T) buffer per strategy."""
    line = fast_ema - slow_ema
    return line - ema_1d_nb(line, int(signal))


@njit
def _next_entry(fam, t, close, a, b, p1, p2, entries, exits, col):
    """First bar >= t with an entry and no exit signal (n_bars if none): the flat phase, where
    nothing but the signals needs looking at."""
    n = close.shape[0]
    if fam == FamilyCode.RSI:  # the common case, kept tight: one row, one threshold
        if t == 0:
            t = 1
        prev = a[t - 1]
        while t < n:
            cur = a[t]
            if prev >= p1 and cur < p1 and not (prev <= p2 and cur > p2):
                return t
            prev = cur
            t += 1
        return n
    while t < n:
        if fam == FamilyCode.EXPLICIT:
            e, x = entries[t, col], exits[t, col]
        elif t == 0:
            e, x = False, False
        else:
            e, x = _family_signals(
                fam, close[t - 1], close[t], a[t - 1], a[t], b[t - 1], b[t], p1, p2
            )
        if e and not x:
            return t
        t += 1
    return n


@njit
def simulate_one(
    family,
    close,
    prefix,
    A,
    B,
    ia,
    ib,
    p1,
    p2,
    sl,
    tp,
    entries,
    exits,
    col,
    fees,
    slippage,
    init_cash,
    ann_factor,
    out,
):
    """Simulate one strategy over all bars and write its metrics into ``out`` (N_METRICS,).

    The win/loss booking and the per-bar accounting are written out at the entry, the exit and
    the end rather than shared through helper functions: measured, the helpers (tuples of
    scalars) made the whole kernel 10-20 % slower.

    The bars alternate between a flat phase (scan for the next entry: the value, and so every
    running sum, is constant there) and an in-market phase (every bar updates the value,
    returns, drawdown and exposure until the exit).
    """
    n_bars = close.shape[0]
    a = A[ia]
    b = B[ib]
    fam = family
    if fam == FamilyCode.MACD:  # per-strategy O(T) buffer: MACD minus signal, crossing zero
        a = _macd_diff(A[ia], A[ib], p1)
        b = a  # unused by the zero-cross rule, but read: keep it T long
    cash = init_cash
    pos = 0.0
    entry_price = 0.0
    entry_fees = 0.0
    prev_value = init_cash
    s1 = 0.0  # sum of returns
    s2 = 0.0  # sum of squared returns
    sneg = 0.0  # sum of squared negative returns
    peak = -np.inf
    mdd = 0.0
    n_orders = 0
    n_trades = 0
    n_wins = 0
    win_pnl = 0.0
    loss_pnl = 0.0
    has_win = False
    has_loss = False
    bars_in = 0
    has_stops = sl > 0.0 or tp > 0.0
    stop_low = 0.0
    stop_high = 0.0
    t = 0
    while t < n_bars:
        # -- flat: the value is ``cash`` on every bar until the next entry -------------------
        start = t
        t = _next_entry(fam, t, close, a, b, p1, p2, entries, exits, col) if cash > 0.0 else n_bars
        if t > start and cash > peak:
            peak = cash
        if t >= n_bars:
            break
        # -- entry at the close of bar t -------------------------------------------------------
        c = close[t]
        cash, pos, entry_price, entry_fees = fill_order_nb(
            OrderSide.BUY, cash, pos, c, fees, slippage
        )
        stop_low = entry_price * (1.0 - sl)
        stop_high = entry_price * (1.0 + tp)
        n_orders += 1
        value = pos * c  # cash is exactly 0 after an all-in entry
        bars_in += 1
        if prev_value == 0.0:
            r = 0.0 if value == 0.0 else np.inf * np.sign(value)
        else:
            r = (value - prev_value) / prev_value
        s1 += r
        s2 += r * r
        if r < 0.0:
            sneg += r * r
        if value > peak:
            peak = value
        elif value < peak * (1.0 + mdd):
            mdd = value / peak - 1.0
        prev_value = value
        t += 1
        # -- in the market -------------------------------------------------------------------
        # A holding bar's return is the asset's, (pos c_t - pos c_t-1) / (pos c_t-1) = rets[t]:
        # its sums come from prefix sums shared by all strategies, added once per trade; only
        # the value (for the peak and the drawdown) and the exit signal are looked at per bar.
        hold_start = t
        while t < n_bars:
            c = close[t]
            if fam == FamilyCode.RSI:  # the common case, kept tight (same rule as _family_signals)
                a0 = a[t - 1]
                a1 = a[t]
                e = a0 >= p1 and a1 < p1
                x = a0 <= p2 and a1 > p2
            elif fam == FamilyCode.EXPLICIT:
                e, x = entries[t, col], exits[t, col]
            else:  # t >= 1 here
                e, x = _family_signals(
                    fam, close[t - 1], c, a[t - 1], a[t], b[t - 1], b[t], p1, p2
                )
            if has_stops and ((sl > 0.0 and c <= stop_low) or (tp > 0.0 and c >= stop_high)):
                e, x = False, True  # a stop closes the trade whatever the signals say
            if x and not e:
                break
            value = pos * c
            if value > peak:
                peak = value
            elif value < peak * (1.0 + mdd):
                mdd = value / peak - 1.0
            t += 1
        # holding bars hold_start .. t-1
        s1 += prefix[0, t] - prefix[0, hold_start]
        s2 += prefix[1, t] - prefix[1, hold_start]
        sneg += prefix[2, t] - prefix[2, hold_start]
        bars_in += t - hold_start
        if t >= n_bars:
            break
        # -- exit at the close of bar t, back to the flat phase ---------------------------------
        prev_value = pos * close[t - 1]
        size = pos
        cash, pos, exit_price, exit_fees = fill_order_nb(
            OrderSide.SELL, cash, pos, c, fees, slippage
        )
        pnl = trade_pnl_nb(size, entry_price, exit_price, entry_fees, exit_fees)
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
        s2 += r * r
        if r < 0.0:
            sneg += r * r
        if value > peak:
            peak = value
        elif value < peak * (1.0 + mdd):
            mdd = value / peak - 1.0
        prev_value = value
        t += 1
    if pos > 0.0:  # the open trade counts, marked at the last close without exit fees
        pnl = trade_pnl_nb(pos, entry_price, close[n_bars - 1], entry_fees, 0.0)
        n_trades += 1
        if pnl > 0.0:
            n_wins += 1
            win_pnl += pnl
            has_win = True
        elif pnl < 0.0:
            loss_pnl += pnl
            has_loss = True
    final_value = cash + pos * close[n_bars - 1]
    _finalize(
        n_bars,
        s1,
        s2,
        sneg,
        mdd,
        final_value,
        init_cash,
        ann_factor,
        n_orders,
        n_trades,
        n_wins,
        win_pnl,
        loss_pnl,
        has_win,
        has_loss,
        bars_in,
        out,
    )


@njit
def _finalize(
    n,
    s1,
    s2,
    sneg,
    mdd,
    final_value,
    init_cash,
    ann_factor,
    n_orders,
    n_trades,
    n_wins,
    win_pnl,
    loss_pnl,
    has_win,
    has_loss,
    bars_in,
    out,
):
    """Metric row from the running sums (formulas of vectorbt's returns accessor)."""
    out[Metric.TOTAL_RETURN] = (final_value - init_cash) / init_cash
    mean = s1 / n
    if n >= 2:
        var = (s2 - s1 * mean) / (n - 1)
        std = np.sqrt(var) if var > 0.0 else 0.0
        out[Metric.SHARPE_RATIO] = np.inf if std == 0.0 else mean / std * np.sqrt(ann_factor)
        out[Metric.ANNUALIZED_VOLATILITY] = std * np.sqrt(ann_factor)
        downside = np.sqrt(sneg / n) * np.sqrt(ann_factor)
        out[Metric.SORTINO_RATIO] = np.inf if downside == 0.0 else mean * ann_factor / downside
    else:
        out[Metric.SHARPE_RATIO] = np.nan
        out[Metric.SORTINO_RATIO] = np.nan
        out[Metric.ANNUALIZED_VOLATILITY] = np.nan
    out[Metric.MAX_DRAWDOWN] = mdd
    growth = final_value / init_cash
    ann_ret = growth ** (ann_factor / n) - 1.0
    out[Metric.ANNUALIZED_RETURN] = ann_ret
    out[Metric.CALMAR_RATIO] = np.nan if mdd == 0.0 else ann_ret / abs(mdd)
    out[Metric.N_ORDERS] = n_orders
    out[Metric.N_TRADES] = n_trades
    out[Metric.WIN_RATE] = np.nan if n_trades == 0 else n_wins / n_trades
    if n_trades == 0:
        out[Metric.PROFIT_FACTOR] = np.nan
    else:
        w = win_pnl if has_win else 0.0
        lo = abs(loss_pnl) if has_loss else 0.0
        if lo == 0.0:
            out[Metric.PROFIT_FACTOR] = np.nan if w == 0.0 else np.inf
        else:
            out[Metric.PROFIT_FACTOR] = w / lo
    out[Metric.EXPOSURE] = bars_in / n
    out[Metric.FINAL_VALUE] = final_value


@njit
def return_prefix_sums(close):
    """Prefix sums over bars of the asset return ``(c_t - c_t-1) / c_t-1`` (0 at t = 0), of
    its square and of its negative part squared: shape (3, T + 1), shared by all strategies."""
    n = close.shape[0]
    out = np.zeros((3, n + 1))
    for t in range(1, n):
        r = (close[t] - close[t - 1]) / close[t - 1]
        out[0, t + 1] = out[0, t] + r
        out[1, t + 1] = out[1, t] + r * r
        out[2, t + 1] = out[2, t] + (r * r if r < 0.0 else 0.0)
    return out


@njit_parallel
def simulate_signals_nb(close, entries, exits, fees, slippage, init_cash, ann_factor, out):
    """Metrics of each column of explicit signals; ``close`` is (T, 1) or (T, N)."""
    n = entries.shape[1]
    dummy = np.empty((1, 1))
    shared = return_prefix_sums(np.ascontiguousarray(close[:, 0]))
    for col in prange(n):
        if close.shape[1] > 1:
            c = np.ascontiguousarray(close[:, col])
            rets = return_prefix_sums(c)
        else:
            c = np.ascontiguousarray(close[:, 0])
            rets = shared
        simulate_one(
            FamilyCode.EXPLICIT,
            c,
            rets,
            dummy,
            dummy,
            0,
            0,
            0.0,
            0.0,
            0.0,
            0.0,
            entries,
            exits,
            col,
            fees,
            slippage,
            init_cash,
            ann_factor,
            out[col],
        )
    return out


@njit_parallel
def simulate_family_nb(
    family, close, A, B, ia, ib, p1, p2, sl, tp, fees, slippage, init_cash, ann_factor, out
):
    """Metrics of N strategies of one family: rows ``ia[s]``/``ib[s]`` of the indicator tables
    ``A``/``B`` and scalar parameters ``p1[s]``, ``p2[s]``, stops ``sl[s]``, ``tp[s]``."""
    n = ia.shape[0]
    no_signals = np.zeros((1, 1), dtype=np.bool_)
    rets = return_prefix_sums(close)
    for s in prange(n):
        simulate_one(
            family,
            close,
            rets,
            A,
            B,
            ia[s],
            ib[s],
            p1[s],
            p2[s],
            sl[s],
            tp[s],
            no_signals,
            no_signals,
            0,
            fees,
            slippage,
            init_cash,
            ann_factor,
            out[s],
        )
    return out
