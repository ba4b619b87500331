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
from .enums import METRICS, N_METRICS, N_STATE, FamilyCode, Metric, OrderSide, SimState
from .nb import ema_resume

__all__ = [
    "METRICS",
    "N_METRICS",
    "finalize_family_nb",
    "finalize_portfolio_nb",
    "finalize_state",
    "init_portfolio_nb",
    "init_state_nb",
    "portfolio_block_nb",
    "prefix_block",
    "return_prefix_sums",
    "simulate_block",
    "simulate_family_block_nb",
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
def _next_entry(fam, t, t_end, close, coff, a, b, aoff, p1, p2, entries, exits, col):
    """First bar in [t, t_end) with an entry and no exit signal (t_end if none): the flat
    phase, where nothing but the signals needs looking at. ``close[t - coff]`` is bar t's
    close, ``a[t - aoff]``/``b[t - aoff]`` its indicator rows, ``entries[t - aoff, col]`` its
    explicit signals; the rows hold bar t - 1 for every t > 0 of the block."""
    if fam == FamilyCode.RSI:  # the common case, kept tight: one row, one threshold
        if t == 0:
            t = 1
        if t >= t_end:
            return t_end
        prev = a[t - 1 - aoff]
        while t < t_end:
            cur = a[t - aoff]
            if prev >= p1 and cur < p1 and not (prev <= p2 and cur > p2):
                return t
            prev = cur
            t += 1
        return t_end
    while t < t_end:
        if fam == FamilyCode.EXPLICIT:
            e, x = entries[t - aoff, col], exits[t - aoff, col]
        elif t == 0:
            e, x = False, False
        else:
            j = t - aoff
            e, x = _family_signals(
                fam, close[t - 1 - coff], close[t - coff], a[j - 1], a[j], b[j - 1], b[j], p1, p2
            )
        if e and not x:
            return t
        t += 1
    return t_end


@njit
def init_state_nb(state, init_cash):
    """Fresh per-strategy state rows (see ``enums.SimState``): all cash, flat, no history."""
    for s in range(state.shape[0]):
        st = state[s]
        st[:] = 0.0
        st[SimState.CASH] = init_cash
        st[SimState.PREV_VALUE] = init_cash
        st[SimState.PEAK] = -np.inf
        st[SimState.EMA_OLD_WT] = 1.0


@njit
def _macd_block(fast_ema, slow_ema, signal, fresh, st):
    """MACD line minus its signal line over a block's rows (``nb.ema_resume`` of the line, the
    same EMA as ``nb.macd_1d_nb``), the signal EMA carried in ``st`` from block to block. A
    block after the first starts with the carried value of its margin bar (t0 - 1)."""
    n = fast_ema.shape[0]
    out = np.empty(n, dtype=np.float64)
    j0 = 0 if fresh else 1
    if not fresh:
        out[0] = st[SimState.LAST_DIFF]
    line = np.empty(n - j0, dtype=np.float64)
    for j in range(j0, n):
        line[j - j0] = fast_ema[j] - slow_ema[j]
    sig = np.empty(n - j0, dtype=np.float64)
    ema_resume(line, sig, fresh, int(signal), st[SimState.EMA_AVG : SimState.EMA_OLD_WT + 1])
    for j in range(j0, n):
        out[j] = line[j - j0] - sig[j - j0]
    if n > 0:
        st[SimState.LAST_DIFF] = out[n - 1]
    return out


@njit
def simulate_block(
    family,
    close,
    coff,
    prefix,
    A,
    B,
    aoff,
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
    t0,
    t1,
    n_bars,
    st,
    vals,
):
    """Run one strategy over the bars [t0, t1) of ``n_bars``, resuming from and saving into
    its state row ``st`` (``enums.SimState``); :func:`finalize_state` writes its metrics after
    the last block. One block [0, n_bars) is the whole backtest. When ``vals`` is not empty
    (length t1 - t0), the value at each bar's close is added into ``vals[t - t0]`` (the
    equal-weight portfolio of a universe sums the symbols' runs this way).

    ``close[t - coff]`` is bar t's close, ``A[ia, t - aoff]``/``B[ib, t - aoff]`` its indicator
    values (the rows start at bar t0 - 1 when t0 > 0: the signals compare two bars), and
    ``prefix[:, t - t0]`` the prefix sums of the asset's returns (:func:`return_prefix_sums`)
    for t in [t0, t1]. Everything a trade or the metrics carry across a block boundary is in
    ``st``, and every float is computed by the same operations in the same order whatever the
    blocks: results are bit-identical for every block length (tested).

    The win/loss booking and the per-bar accounting are written out at the entry, the exit and
    the end rather than shared through helper functions: measured, the helpers (tuples of
    scalars) made the whole kernel 10-20 % slower.

    The bars alternate between a flat phase (scan for the next entry: the value, and so every
    running sum, is constant there) and an in-market phase (every bar updates the value,
    returns, drawdown and exposure until the exit).
    """
    fam = family
    if fam == FamilyCode.MACD:  # per-strategy buffer: MACD minus signal, crossing zero
        a = _macd_block(A[ia], A[ib], p1, t0 == 0, st)
        b = a  # unused by the zero-cross rule, but read: keep it as long
    else:
        a = A[ia]
        b = B[ib]
    cash = st[SimState.CASH]
    pos = st[SimState.POS]
    entry_price = st[SimState.ENTRY_PRICE]
    entry_fees = st[SimState.ENTRY_FEES]
    prev_value = st[SimState.PREV_VALUE]
    s1 = st[SimState.S1]  # sum of returns
    s2 = st[SimState.S2]  # sum of squared returns
    sneg = st[SimState.SNEG]  # sum of squared negative returns
    peak = st[SimState.PEAK]
    mdd = st[SimState.MDD]
    n_orders = int(st[SimState.N_ORDERS])
    n_trades = int(st[SimState.N_TRADES])
    n_wins = int(st[SimState.N_WINS])
    win_pnl = st[SimState.WIN_PNL]
    loss_pnl = st[SimState.LOSS_PNL]
    has_win = st[SimState.HAS_WIN] != 0.0
    has_loss = st[SimState.HAS_LOSS] != 0.0
    bars_in = int(st[SimState.BARS_IN])
    stop_low = st[SimState.STOP_LOW]
    stop_high = st[SimState.STOP_HIGH]
    in_market = st[SimState.IN_MARKET] != 0.0
    hold_start = int(st[SimState.HOLD_START])
    h0 = st[SimState.H0]  # prefix sums at hold_start (maybe in an earlier block)
    h1 = st[SimState.H1]
    h2 = st[SimState.H2]
    has_stops = sl > 0.0 or tp > 0.0
    track = vals.shape[0] > 0
    t = t0
    while t < t1:
        if not in_market:
            # -- flat: the value is ``cash`` on every bar until the next entry ---------------
            start = t
            if cash > 0.0:
                t = _next_entry(fam, t, t1, close, coff, a, b, aoff, p1, p2, entries, exits, col)
            else:
                t = t1
            if t > start and cash > peak:
                peak = cash
            if track:
                for k in range(start - t0, t - t0):
                    vals[k] += cash
            if t >= t1:
                break
            # -- entry at the close of bar t ---------------------------------------------------
            c = close[t - coff]
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
            if track:
                vals[t - t0] += value
            t += 1
            in_market = True
            # A holding bar's return is the asset's, (pos c_t - pos c_t-1) / (pos c_t-1) =
            # rets[t]: its sums come from prefix sums shared by all strategies, added once per
            # trade; only the value (for the peak and the drawdown) and the exit signal are
            # looked at per bar.
            hold_start = t
            h0 = prefix[0, t - t0]
            h1 = prefix[1, t - t0]
            h2 = prefix[2, t - t0]
        # -- in the market -----------------------------------------------------------------
        while t < t1:
            c = close[t - coff]
            j = t - aoff
            if fam == FamilyCode.RSI:  # the common case, kept tight (same rule as _family_signals)
                a0 = a[j - 1]
                a1 = a[j]
                e = a0 >= p1 and a1 < p1
                x = a0 <= p2 and a1 > p2
            elif fam == FamilyCode.EXPLICIT:
                e, x = entries[j, col], exits[j, col]
            else:  # t >= 1 here
                e, x = _family_signals(
                    fam, close[t - 1 - coff], c, a[j - 1], a[j], b[j - 1], b[j], p1, p2
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
            if track:
                vals[t - t0] += value
            t += 1
        if t >= t1 and t < n_bars:
            break  # the trade goes on in the next block
        # holding bars hold_start .. t-1
        s1 += prefix[0, t - t0] - h0
        s2 += prefix[1, t - t0] - h1
        sneg += prefix[2, t - t0] - h2
        bars_in += t - hold_start
        if t >= n_bars:
            hold_start = t  # the holding bars are booked: the end closes nothing more
            h0 = prefix[0, t - t0]
            h1 = prefix[1, t - t0]
            h2 = prefix[2, t - t0]
            break
        # -- exit at the close of bar t, back to the flat phase -------------------------------
        prev_value = pos * close[t - 1 - coff]
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
        if track:
            vals[t - t0] += value
        in_market = False
        t += 1
    st[SimState.CASH] = cash
    st[SimState.POS] = pos
    st[SimState.ENTRY_PRICE] = entry_price
    st[SimState.ENTRY_FEES] = entry_fees
    st[SimState.PREV_VALUE] = prev_value
    st[SimState.S1] = s1
    st[SimState.S2] = s2
    st[SimState.SNEG] = sneg
    st[SimState.PEAK] = peak
    st[SimState.MDD] = mdd
    st[SimState.N_ORDERS] = n_orders
    st[SimState.N_TRADES] = n_trades
    st[SimState.N_WINS] = n_wins
    st[SimState.WIN_PNL] = win_pnl
    st[SimState.LOSS_PNL] = loss_pnl
    st[SimState.HAS_WIN] = 1.0 if has_win else 0.0
    st[SimState.HAS_LOSS] = 1.0 if has_loss else 0.0
    st[SimState.BARS_IN] = bars_in
    st[SimState.STOP_LOW] = stop_low
    st[SimState.STOP_HIGH] = stop_high
    st[SimState.IN_MARKET] = 1.0 if in_market else 0.0
    st[SimState.HOLD_START] = hold_start
    st[SimState.H0] = h0
    st[SimState.H1] = h1
    st[SimState.H2] = h2


@njit
def closed_trades(st, last_close):
    """(n_trades, n_wins, win_pnl, loss_pnl, has_win, has_loss) of a strategy whose state
    ``st`` has seen every bar, its open trade counted, marked at the last close without exit
    fees."""
    pos = st[SimState.POS]
    n_trades = int(st[SimState.N_TRADES])
    n_wins = int(st[SimState.N_WINS])
    win_pnl = st[SimState.WIN_PNL]
    loss_pnl = st[SimState.LOSS_PNL]
    has_win = st[SimState.HAS_WIN] != 0.0
    has_loss = st[SimState.HAS_LOSS] != 0.0
    if pos > 0.0:
        pnl = trade_pnl_nb(pos, st[SimState.ENTRY_PRICE], last_close, st[SimState.ENTRY_FEES], 0.0)
        n_trades += 1
        if pnl > 0.0:
            n_wins += 1
            win_pnl += pnl
            has_win = True
        elif pnl < 0.0:
            loss_pnl += pnl
            has_loss = True
    return n_trades, n_wins, win_pnl, loss_pnl, has_win, has_loss


@njit
def finalize_state(st, last_close, n_bars, init_cash, ann_factor, out):
    """Metrics row ``out`` (N_METRICS,) of a strategy whose state ``st`` has seen every bar."""
    n_trades, n_wins, win_pnl, loss_pnl, has_win, has_loss = closed_trades(st, last_close)
    final_value = st[SimState.CASH] + st[SimState.POS] * last_close
    _finalize(
        n_bars,
        st[SimState.S1],
        st[SimState.S2],
        st[SimState.SNEG],
        st[SimState.MDD],
        final_value,
        init_cash,
        ann_factor,
        int(st[SimState.N_ORDERS]),
        n_trades,
        n_wins,
        win_pnl,
        loss_pnl,
        has_win,
        has_loss,
        int(st[SimState.BARS_IN]),
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
def prefix_block(close, coff, t0, t1, carry):
    """Prefix sums over bars of the asset return ``(c_t - c_t-1) / c_t-1`` (0 at t = 0), of
    its square and of its negative part squared, for the indices t0 .. t1: shape
    (3, t1 - t0 + 1), shared by all strategies. ``carry`` (3,) holds the sums at t0 (zeros
    when t0 = 0) and receives those at t1, so consecutive blocks add in the same order as one
    pass over all bars. ``close[t - coff]`` is bar t's close (bar t0 - 1 included if t0 > 0)."""
    out = np.empty((3, t1 - t0 + 1))
    for k in range(3):
        out[k, 0] = carry[k]
    for t in range(t0, t1):
        j = t - t0
        if t == 0:
            for k in range(3):
                out[k, j + 1] = out[k, j]
            continue
        r = (close[t - coff] - close[t - 1 - coff]) / close[t - 1 - coff]
        out[0, j + 1] = out[0, j] + r
        out[1, j + 1] = out[1, j] + r * r
        out[2, j + 1] = out[2, j] + (r * r if r < 0.0 else 0.0)
    for k in range(3):
        carry[k] = out[k, t1 - t0]
    return out


@njit
def return_prefix_sums(close):
    """:func:`prefix_block` over all bars: shape (3, T + 1)."""
    return prefix_block(close, 0, 0, close.shape[0], np.zeros(3))


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
    """Simulate one strategy over all bars (one block) and write its metrics into ``out``."""
    n = close.shape[0]
    st = np.empty((1, N_STATE))
    init_state_nb(st, init_cash)
    simulate_block(
        family, close, 0, prefix, A, B, 0, ia, ib, p1, p2, sl, tp, entries, exits, col,
        fees, slippage, 0, n, n, st[0], np.empty(0),
    )  # fmt: skip
    finalize_state(st[0], close[n - 1], n, init_cash, ann_factor, out)


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
def simulate_family_block_nb(
    family, close, coff, prefix, A, B, aoff, ia, ib, p1, p2, sl, tp, fees, slippage, t0, t1,
    n_bars, state, vals,
):  # fmt: skip
    """Advance N strategies of one family over the bars [t0, t1) (:func:`simulate_block`):
    rows ``ia[s]``/``ib[s]`` of the block's indicator tables ``A``/``B``, scalar parameters
    ``p1[s]``, ``p2[s]``, stops ``sl[s]``, ``tp[s]``, state rows ``state[s]``; values added
    into ``vals[s]`` (N, t1 - t0), or not tracked when ``vals`` is (N, 0)."""
    no_signals = np.zeros((1, 1), dtype=np.bool_)
    for s in prange(ia.shape[0]):
        simulate_block(
            family, close, coff, prefix, A, B, aoff, ia[s], ib[s], p1[s], p2[s], sl[s], tp[s],
            no_signals, no_signals, 0, fees, slippage, t0, t1, n_bars, state[s], vals[s],
        )  # fmt: skip


@njit_parallel
def finalize_family_nb(state, last_close, n_bars, init_cash, ann_factor, out):
    """Metrics rows ``out`` (N, N_METRICS) of N strategies whose states have seen every bar."""
    for s in prange(state.shape[0]):
        finalize_state(state[s], last_close, n_bars, init_cash, ann_factor, out[s])
    return out


#: Slots of a portfolio's state row (:func:`portfolio_block_nb`).
P_PREV, P_S1, P_S2, P_SNEG, P_PEAK, P_MDD = 0, 1, 2, 3, 4, 5
N_PORTFOLIO_STATE = 6


@njit
def init_portfolio_nb(pstate, init_cash):
    """Fresh portfolio state rows: the value before the first bar is ``init_cash``."""
    for s in range(pstate.shape[0]):
        pstate[s, :] = 0.0
        pstate[s, P_PREV] = init_cash
        pstate[s, P_PEAK] = -np.inf


@njit_parallel
def portfolio_block_nb(vsum, n_symbols, pstate):
    """Advance the equal-weight portfolios over a block: ``vsum[s, j]`` is the sum over the
    symbols of strategy s's values at the block's bar j, so the portfolio's value is
    ``vsum / n_symbols`` (each symbol's run starts with the same cash). Returns, their squares
    and negative squares are summed and the peak and drawdown followed as in
    :func:`simulate_block`, bar by bar (the same lines, written out as there: a shared
    helper returning tuples of scalars measured 10-20 % slower in that kernel)."""
    for s in prange(vsum.shape[0]):
        prev = pstate[s, P_PREV]
        s1 = pstate[s, P_S1]
        s2 = pstate[s, P_S2]
        sneg = pstate[s, P_SNEG]
        peak = pstate[s, P_PEAK]
        mdd = pstate[s, P_MDD]
        for j in range(vsum.shape[1]):
            value = vsum[s, j] / n_symbols
            if prev == 0.0:
                r = 0.0 if value == 0.0 else np.inf * np.sign(value)
            else:
                r = (value - prev) / prev
            s1 += r
            s2 += r * r
            if r < 0.0:
                sneg += r * r
            if value > peak:
                peak = value
            elif value < peak * (1.0 + mdd):
                mdd = value / peak - 1.0
            prev = value
        pstate[s, P_PREV] = prev
        pstate[s, P_S1] = s1
        pstate[s, P_S2] = s2
        pstate[s, P_SNEG] = sneg
        pstate[s, P_PEAK] = peak
        pstate[s, P_MDD] = mdd


@njit_parallel
def finalize_portfolio_nb(states, last_closes, pstate, n_bars, init_cash, ann_factor, out):
    """Metrics rows ``out`` (N, N_METRICS) of N equal-weight portfolios: returns, drawdown and
    final value from the portfolio's own path (``pstate``); orders, trades, wins and profits
    summed over the symbols' runs (``states`` (S, N, N_STATE), ``last_closes`` (S,));
    exposure the mean of the symbols' exposures."""
    n_symbols = states.shape[0]
    for s in prange(states.shape[1]):
        n_orders = 0
        n_trades = 0
        n_wins = 0
        win_pnl = 0.0
        loss_pnl = 0.0
        has_win = False
        has_loss = False
        bars_in = 0.0
        for k in range(n_symbols):
            st = states[k, s]
            nt, nw, wp, lp, hw, hl = closed_trades(st, last_closes[k])
            n_orders += int(st[SimState.N_ORDERS])
            n_trades += nt
            n_wins += nw
            win_pnl += wp
            loss_pnl += lp
            has_win = has_win or hw
            has_loss = has_loss or hl
            bars_in += st[SimState.BARS_IN]
        _finalize(
            n_bars,
            pstate[s, P_S1],
            pstate[s, P_S2],
            pstate[s, P_SNEG],
            pstate[s, P_MDD],
            pstate[s, P_PREV],
            init_cash,
            ann_factor,
            n_orders,
            n_trades,
            n_wins,
            win_pnl,
            loss_pnl,
            has_win,
            has_loss,
            bars_in / n_symbols,
            out[s],
        )
    return out
