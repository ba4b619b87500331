"""The fused simulator: signals -> orders -> portfolio value -> metrics in one pass per strategy.

One kernel serves every strategy family and explicit signals: per strategy it streams over the
bars with O(1) state (cash, position, entry price and fees, running sums of returns, peak value,
drawdown, trade counts) and writes one row of metrics. Nothing of size T x N is ever built.

Order semantics are those of ``vectorbt.Portfolio.from_signals`` with its defaults (long only,
all cash in, fill at the close of the signal bar, entry and exit on the same bar both ignored),
including vectorbt's float tolerance in additions (``_add``); metric formulas are those of
vectorbt's returns accessor. Oracles: tests/naive.py ``simulate`` and vectorbt (oracle extra).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import njit, njit_parallel

# Strategy families (how the signals of a bar are computed).
EXPLICIT, RSI, MA_CROSS, BOLLINGER, MACD, BREAKOUT = 0, 1, 2, 3, 4, 5

METRICS = (
    "total_return",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
    "annualized_return",
    "annualized_volatility",
    "n_orders",
    "n_trades",
    "win_rate",
    "profit_factor",
    "exposure",
    "final_value",
)
N_METRICS = len(METRICS)

_REL_TOL = 1e-9  # vectorbt.utils.math_.rel_tol
_ABS_TOL = 1e-12  # vectorbt.utils.math_.abs_tol


@njit
def _is_close(a, b):
    if np.isnan(a) or np.isnan(b) or np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


@njit
def _add(a, b):
    """``a + b``, snapped to 0 when the two cancel within vectorbt's tolerance."""
    if (a > 0) != (b > 0) and _is_close(abs(a), abs(b)):
        return 0.0
    return a + b


@njit
def _crossed_below(prev, cur, level_prev, level_cur):
    """``cur`` moved from at/above ``level`` to strictly below it (all finite)."""
    if np.isnan(prev) or np.isnan(cur) or np.isnan(level_prev) or np.isnan(level_cur):
        return False
    return prev >= level_prev and cur < level_cur


@njit
def _crossed_above(prev, cur, level_prev, level_cur):
    """``cur`` moved from at/below ``level`` to strictly above it (all finite)."""
    if np.isnan(prev) or np.isnan(cur) or np.isnan(level_prev) or np.isnan(level_cur):
        return False
    return prev <= level_prev and cur > level_cur


@njit
def _signals(family, t, close, A, B, ia, ib, p1, p2, entries, exits, col):
    """(entry, exit) of bar ``t`` for one strategy."""
    if family == EXPLICIT:
        return entries[t, col], exits[t, col]
    if t == 0:
        return False, False
    if family == RSI:  # A: RSI rows; enter on crossing below p1 (lower), exit above p2 (upper)
        prev, cur = A[ia, t - 1], A[ia, t]
        return (_crossed_below(prev, cur, p1, p1), _crossed_above(prev, cur, p2, p2))
    if family == MA_CROSS:  # A: fast MA rows, B: slow MA rows
        f0, f1, s0, s1 = A[ia, t - 1], A[ia, t], B[ib, t - 1], B[ib, t]
        return _crossed_above(f0, f1, s0, s1), _crossed_below(f0, f1, s0, s1)
    if family == BOLLINGER:  # A: rolling mean, B: rolling std; enter below mid - k sd, exit at mid
        m0, m1, s0, s1 = A[ia, t - 1], A[ia, t], B[ib, t - 1], B[ib, t]
        c0, c1 = close[t - 1], close[t]
        return (_crossed_below(c0, c1, m0 - p1 * s0, m1 - p1 * s1), _crossed_above(c0, c1, m0, m1))
    # BREAKOUT: A: rolling max of highs, B: rolling min of lows (windows ending at the bar)
    hi, lo, c = A[ia, t - 1], B[ib, t - 1], close[t]
    if np.isnan(hi) or np.isnan(lo):
        return False, False
    return c > hi, c < lo


@njit
def simulate_one(
    family,
    close,
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
    """Simulate one strategy over all bars and write its metrics into ``out`` (N_METRICS,)."""
    n_bars = close.shape[0]
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
    value = init_cash
    # MACD: the signal line is an EMA of the MACD line (A[ia] - A[ib], EMA rows), streamed here
    # with exactly the arithmetic of pandas' ewm(adjust=False) as in nb._ema_into.
    alpha = 1.0 / (1.0 + (p1 - 1.0) / 2.0)
    old_wt_factor = 1.0 - alpha
    ema = np.nan
    old_wt = 1.0
    nobs = 0
    prev_diff = np.nan
    for t in range(n_bars):
        c = close[t]
        if family == MACD:
            line = A[ia, t] - A[ib, t]
            observed = not np.isnan(line)
            if t == 0:
                ema = line
                nobs = 1 if observed else 0
            else:
                if observed:
                    nobs += 1
                if not np.isnan(ema):
                    old_wt *= old_wt_factor
                    if observed:
                        if ema != line:
                            ema = (old_wt * ema + alpha * line) / (old_wt + alpha)
                        old_wt = 1.0
                elif observed:
                    ema = line
            diff = line - ema if nobs >= p1 else np.nan
            entry = t > 0 and _crossed_above(prev_diff, diff, 0.0, 0.0)
            exit_ = t > 0 and _crossed_below(prev_diff, diff, 0.0, 0.0)
            prev_diff = diff
        else:
            entry, exit_ = _signals(family, t, close, A, B, ia, ib, p1, p2, entries, exits, col)
        if pos > 0.0 and (
            (sl > 0.0 and c <= entry_price * (1.0 - sl))
            or (tp > 0.0 and c >= entry_price * (1.0 + tp))
        ):
            entry, exit_ = False, True  # a stop closes the trade whatever the signals say
        traded = False
        if entry and exit_:
            pass  # conflicting signals on one bar: both ignored (vectorbt's default)
        elif entry and pos == 0.0 and cash > 0.0:
            adj = c * (1.0 + slippage)
            max_req = cash / (1.0 + fees)
            pos = max_req / adj
            entry_fees = cash - max_req
            entry_price = adj
            cash = _add(cash, -cash)
            n_orders += 1
            traded = True
        elif exit_ and pos > 0.0:
            adj = c * (1.0 - slippage)
            acq = pos * adj
            exit_fees = acq * fees
            cash = cash + _add(acq, -exit_fees)
            pnl = _add(pos * adj, -(pos * entry_price)) - entry_fees - exit_fees
            n_trades += 1
            if pnl > 0.0:
                n_wins += 1
                win_pnl += pnl
                has_win = True
            elif pnl < 0.0:
                loss_pnl += pnl
                has_loss = True
            pos = 0.0
            n_orders += 1
            traded = True
        if pos > 0.0:
            value = cash + pos * c
            bars_in += 1
        else:
            value = cash
        if traded or pos > 0.0:
            if prev_value == 0.0:
                r = 0.0 if value == 0.0 else np.inf * np.sign(value)
            else:
                r = (value - prev_value) / prev_value
            s1 += r
            s2 += r * r
            if r < 0.0:
                sneg += r * r
        # else: flat and idle, the return is exactly 0 and the sums do not change
        if value > peak:
            peak = value
        elif value < peak * (1.0 + mdd):
            mdd = value / peak - 1.0
        prev_value = value
    if pos > 0.0:  # the open trade counts, marked at the last close without exit fees
        pnl = _add(pos * close[n_bars - 1], -(pos * entry_price)) - entry_fees
        n_trades += 1
        if pnl > 0.0:
            n_wins += 1
            win_pnl += pnl
            has_win = True
        elif pnl < 0.0:
            loss_pnl += pnl
            has_loss = True
    _finalize(
        n_bars,
        s1,
        s2,
        sneg,
        mdd,
        value,
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
    out[0] = (final_value - init_cash) / init_cash
    mean = s1 / n
    if n >= 2:
        var = (s2 - s1 * mean) / (n - 1)
        std = np.sqrt(var) if var > 0.0 else 0.0
        out[1] = np.inf if std == 0.0 else mean / std * np.sqrt(ann_factor)
        out[6] = std * np.sqrt(ann_factor)
        downside = np.sqrt(sneg / n) * np.sqrt(ann_factor)
        out[2] = np.inf if downside == 0.0 else mean * ann_factor / downside
    else:
        out[1] = np.nan
        out[2] = np.nan
        out[6] = np.nan
    out[3] = mdd
    growth = final_value / init_cash
    ann_ret = growth ** (ann_factor / n) - 1.0
    out[5] = ann_ret
    out[4] = np.nan if mdd == 0.0 else ann_ret / abs(mdd)
    out[7] = n_orders
    out[8] = n_trades
    out[9] = np.nan if n_trades == 0 else n_wins / n_trades
    if n_trades == 0:
        out[10] = np.nan
    else:
        w = win_pnl if has_win else 0.0
        lo = abs(loss_pnl) if has_loss else 0.0
        if lo == 0.0:
            out[10] = np.nan if w == 0.0 else np.inf
        else:
            out[10] = w / lo
    out[11] = bars_in / n
    out[12] = final_value


@njit_parallel
def simulate_signals_nb(close, entries, exits, fees, slippage, init_cash, ann_factor, out):
    """Metrics of each column of explicit signals; ``close`` is (T, 1) or (T, N)."""
    n = entries.shape[1]
    dummy = np.empty((1, 1))
    for col in prange(n):
        c = close[:, col] if close.shape[1] > 1 else close[:, 0]
        simulate_one(
            EXPLICIT,
            np.ascontiguousarray(c),
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
    for s in prange(n):
        simulate_one(
            family,
            close,
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
