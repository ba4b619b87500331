"""The fused simulator in SIMD lanes: strategies that share their indicator rows advance together.

:func:`~genepool.backtest._sim_nb.simulate_block` streams one strategy over the bars at a time.
Its in-market bars branch on data (a new peak? a deeper drawdown?) and its flat bars re-read an
indicator row that every other strategy of the same window also reads; measured, both cost more
than the arithmetic. Here a *group* of up to :data:`MAX_LANES` strategies that read the same rows
(same window: ``ia``/``ib`` equal) advances bar by bar together:

- the hot state (in the market or not, cash, position, peak, drawdown, stop levels, the
  family's thresholds) is a structure of arrays, one slot per lane, in L1;
- every bar, one loop over the lanes computes the signals, the fill events and the running peak
  and drawdown with selects instead of branches (LLVM vectorizes it: AVX2 compares, blends,
  multiplies and divides on 4 lanes at a time; ``tests/test_backtest_lanes.py`` checks the
  generated code for them), and the bar's indicator values and close are read once per group;
- entries and exits are rare: a lane with one is flagged, and a second, scalar loop runs only on
  bars where some lane has one, with the scalar kernel's own order fill and bookkeeping lines.

Everything else of a strategy (trade counts, profits, return sums from the shared prefix sums,
holding start) stays in its ``enums.SimState`` row and is touched only at its events. Every
float is computed by the same operations in the same order as the scalar kernel, so the
metrics are bit-identical to it (tested with hypothesis over families, stops, blocks and lane
counts). The one rewrite: a flat bar updates the peak *and* the drawdown with the cash (the
scalar kernel updates the peak only), which changes nothing: the cash already went through the
same update on the bar it became the value (the exit, or the first bar), and that update is
idempotent.

Groups smaller than ``min_lanes``, MACD (each strategy streams its own signal line) and runs
that add up portfolio values run the scalar kernel, in the same parallel loop.
"""

from __future__ import annotations

import itertools

import numpy as np
from numba import prange

from .._numba import njit, njit_inline, njit_parallel
from ._order_nb import _ABS_TOL, _REL_TOL
from ._sim_nb import simulate_block
from .enums import N_STATE, FamilyCode, SimState

__all__ = ["MAX_LANES", "MIN_LANES", "lane_groups", "simulate_lanes_block_nb"]

#: Most strategies of a group: its hot arrays (about 90 bytes a lane) stay within 23 KiB of L1,
#: and the fixed cost of a bar (a few calls and checks) is shared by many lanes (measured: 256
#: lanes cost 0.64 ns per strategy-bar where 64 cost 1.2, on a window that rarely trades).
MAX_LANES = 256
#: Fewest strategies of a group for the lanes; smaller groups run the scalar kernel.
MIN_LANES = 4


def lane_groups(
    ia: np.ndarray, ib: np.ndarray, max_lanes: int = MAX_LANES
) -> tuple[np.ndarray, np.ndarray]:
    """Strategies ordered by their rows and cut into groups that share them.

    Returns ``(order, starts)``: the strategies ``order[starts[g]:starts[g + 1]]`` form group
    g, all with the same ``(ia, ib)``, at most ``max_lanes`` of them (a run of equal rows is cut
    into groups of near-equal size, so the parallel loop gets even work).
    """
    ia = np.asarray(ia, dtype=np.int64)
    ib = np.asarray(ib, dtype=np.int64)
    n = ia.shape[0]
    order = np.lexsort((ib, ia)).astype(np.int64)
    if n == 0:
        return order, np.zeros(1, dtype=np.int64)
    sa, sb = ia[order], ib[order]
    cut = np.flatnonzero((sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])) + 1
    bounds = np.concatenate(([0], cut, [n]))
    starts = [0]
    for lo, hi in itertools.pairwise(bounds):
        parts = -(-(hi - lo) // max_lanes)
        for p in range(1, parts + 1):
            starts.append(int(lo + (hi - lo) * p // parts))
    return order, np.asarray(starts, dtype=np.int64)


@njit
def _bar_signals(fam, t, c0, c1, a0, a1, b0, b1, p1, p2, e, x):
    """Entry and exit signal of every lane at a bar into ``e``, ``x`` (0/1): the rules of
    ``_sim_nb._family_signals``, one loop per family so that each vectorizes."""
    n = e.shape[0]
    if t == 0:  # the rules compare two bars
        for k in range(n):
            e[k] = False
            x[k] = False
    elif fam == FamilyCode.RSI:
        for k in range(n):
            e[k] = (a0 >= p1[k]) & (a1 < p1[k])
            x[k] = (a0 <= p2[k]) & (a1 > p2[k])
    elif fam == FamilyCode.BOLLINGER:
        xo = (c0 <= a0) & (c1 > a1)
        for k in range(n):
            e[k] = (c0 >= a0 - p1[k] * b0) & (c1 < a1 - p1[k] * b1)
            x[k] = xo
    else:
        if fam == FamilyCode.MA_CROSS:
            eo = (a0 <= b0) & (a1 > b1)
            xo = (a0 >= b0) & (a1 < b1)
        else:  # BREAKOUT
            eo = c1 > a0
            xo = c1 < b0
        for k in range(n):
            e[k] = eo
            x[k] = xo


@njit
def _bar_events(c, e, x, inm, cash, slo, shi, ev):
    """Flag in ``ev`` the lanes that enter or exit at this bar (signals ``e``, ``x``; stops);
    returns whether any does."""
    any_ev = False
    for k in range(ev.shape[0]):
        im = inm[k] != 0.0
        ek = e[k]
        xk = x[k]
        stop = (c <= slo[k]) | (c >= shi[k])
        evk = (im & ((xk & (not ek)) | stop)) | ((not im) & ek & (not xk) & (cash[k] > 0.0))
        ev[k] = evk
        any_ev |= evk
    return any_ev


@njit
def _bar_values(c, cash, pos, om, inm, peak_in, peak_out):
    """The value of every lane at this bar (``cash + pos * c``: the position at the close in
    the market, where the cash is exactly 0, the cash when flat, where the position is 0)
    raises its peak; returns whether some lane in the market fell below its drawdown gate
    ``peak * om`` (``om = 1 + mdd``; :func:`_deeper` books those). Flat lanes are left out:
    the scalar kernel does not deepen the drawdown on flat bars (the cash went through that
    update on the bar it became the value, and rounding can leave it a hair below the gate:
    it would be flagged, for nothing, on every flat bar). Reads one buffer of the peak and
    writes the other: in place, LLVM turns the select into a masked store, measured 1.7x
    slower on AMD Zen 3."""
    deep = False
    for k in range(cash.shape[0]):
        v = cash[k] + pos[k] * c
        pk = peak_in[k]
        peak_out[k] = v if v > pk else pk
        deep |= (v < pk * om[k]) & (inm[k] != 0.0)  # below the gate: not at a new peak
    return deep


@njit
def _deeper(c, cash, pos, mdd, om, inm, peak, ev, skip_events):
    """Deepen the drawdown of the lanes in the market whose value fell below their gate (the
    scalar kernel's ``elif value < peak * (1 + mdd): mdd = value / peak - 1``), but for the
    lanes with an event at this bar when ``skip_events``. Branch-free (a select keeps the
    old value): vectorized, 2x faster than a branch per lane on bursts of new lows."""
    for k in range(cash.shape[0]):
        v = cash[k] + pos[k] * c
        pk = peak[k]
        md = mdd[k]
        deeper = (inm[k] != 0.0) & (v < pk * om[k]) & (not (skip_events & ev[k]))
        new_md = v / pk - 1.0
        md = new_md if deeper else md
        mdd[k] = md
        om[k] = 1.0 + md


@njit_inline
def _add_v(a, b):
    """``_order_nb._add`` written with selects (the same result bit for bit)."""
    aa = abs(a)
    ab = abs(b)
    finite = not (np.isnan(aa) | np.isnan(ab) | np.isinf(aa) | np.isinf(ab))
    tol = max(_REL_TOL * max(aa, ab), _ABS_TOL)
    close = finite & ((aa == ab) | (abs(aa - ab) <= tol))
    cancel = ((a > 0) != (b > 0)) & close
    total = a + b
    return 0.0 if cancel else total


@njit_inline
def _book_value(R, k, value, r, mdd, peak_in, peak_out, om):
    """The return ``r`` into the sums and ``value`` into the peak and drawdown of lane k: the
    scalar kernel's lines with selects for its branches (adding 0.0 to a sum that is never
    -0.0 changes no bit), so that nothing waits on a mispredicted branch."""
    R[k, SimState.S1] += r
    R[k, SimState.S2] += r * r
    R[k, SimState.SNEG] += r * r if r < 0.0 else 0.0
    pk = peak_in[k]
    md = mdd[k]
    new_peak = value > pk
    deeper = value < pk * (1.0 + md)
    ratio = value / pk - 1.0
    md = ratio if deeper & (not new_peak) else md
    mdd[k] = md
    om[k] = 1.0 + md
    peak_out[k] = value if new_peak else pk
    R[k, SimState.PREV_VALUE] = value
    R[k, SimState.N_ORDERS] += 1.0


@njit
def _apply_events(t, c, c0, now, nxt, fees, slippage, ev, todo, R, cash, pos, inm, mdd, sl, tp,
                  peak_in, peak_out, om, slo, shi):  # fmt: skip
    """Fill the entries and exits flagged in ``ev`` at the close of bar t: the lines of
    ``simulate_block``'s entry and exit (``fill_order_nb``, ``trade_pnl_nb``, the return
    and the peak and drawdown of the new value, the holding bars booked from the prefix sums
    ``now`` (at t) and ``nxt`` (at t + 1)).

    Events come in bursts (a row crossing a band crosses many lanes' thresholds at once,
    all the same way): the lanes with one are gathered without a branch into ``todo``
    (unsigned), then each is filled without a branch on its data (selects), so that
    consecutive lanes' chains of divisions overlap instead of waiting on mispredicted
    branches; the one branch left, exit or entry, is nearly always the same within a bar."""
    m = np.uint64(0)
    one = np.uint64(1)
    for k in range(ev.shape[0]):  # the lanes with an event, without a branch
        todo[m] = k
        m += one if ev[k] else np.uint64(0)
    sell = c * (1.0 - slippage)
    buy = c * (1.0 + slippage)
    for i in range(m):
        k = todo[i]  # unsigned: no wraparound code on the ~30 indexings below
        if inm[k] != 0.0:  # a bar's events are nearly all of one kind: predictable
            R[k, SimState.S1] += now[0] - R[k, SimState.H0]  # the holding bars hold_start..t-1
            R[k, SimState.S2] += now[1] - R[k, SimState.H1]
            R[k, SimState.SNEG] += now[2] - R[k, SimState.H2]
            R[k, SimState.BARS_IN] += t - int(R[k, SimState.HOLD_START])
            size = pos[k]
            prev_value = size * c0
            price = sell  # fill_order_nb(SELL, ...)
            proceeds = size * price
            fees_paid = proceeds * fees
            money = cash[k] + _add_v(proceeds, -fees_paid)
            pnl = (
                _add_v(size * price, -(size * R[k, SimState.ENTRY_PRICE]))
                - R[k, SimState.ENTRY_FEES]
                - fees_paid
            )  # trade_pnl_nb
            R[k, SimState.N_TRADES] += 1.0
            win = pnl > 0.0
            loss = pnl < 0.0
            R[k, SimState.N_WINS] += 1.0 if win else 0.0
            R[k, SimState.WIN_PNL] += pnl if win else 0.0  # sums never -0.0: + 0.0 is exact
            R[k, SimState.LOSS_PNL] += pnl if loss else 0.0
            R[k, SimState.HAS_WIN] = 1.0 if win else R[k, SimState.HAS_WIN]
            R[k, SimState.HAS_LOSS] = 1.0 if loss else R[k, SimState.HAS_LOSS]
            cash[k] = money
            pos[k] = 0.0
            _book_value(R, k, money, (money - prev_value) / prev_value, mdd, peak_in, peak_out, om)
            inm[k] = 0.0
            slo[k] = -np.inf
            shi[k] = np.inf
        else:
            price = buy  # fill_order_nb(BUY, ...)
            money = cash[k]
            spend = money / (1.0 + fees)
            R[k, SimState.ENTRY_PRICE] = price
            R[k, SimState.ENTRY_FEES] = money - spend
            R[k, SimState.STOP_LOW] = price * (1.0 - sl[k])
            R[k, SimState.STOP_HIGH] = price * (1.0 + tp[k])
            slo[k] = R[k, SimState.STOP_LOW] if sl[k] > 0.0 else -np.inf
            shi[k] = R[k, SimState.STOP_HIGH] if tp[k] > 0.0 else np.inf
            size = spend / price
            cash[k] = money - money  # _add(money, -money): 0.0, NaN if money is not finite
            pos[k] = size
            value = size * c
            R[k, SimState.BARS_IN] += 1.0
            prev_value = R[k, SimState.PREV_VALUE]
            r_zero = 0.0 if value == 0.0 else np.inf * np.sign(value)
            r_ratio = (value - prev_value) / prev_value
            r = r_zero if prev_value == 0.0 else r_ratio
            _book_value(R, k, value, r, mdd, peak_in, peak_out, om)
            inm[k] = 1.0
            R[k, SimState.HOLD_START] = t + 1
            R[k, SimState.H0] = nxt[0]
            R[k, SimState.H1] = nxt[1]
            R[k, SimState.H2] = nxt[2]


@njit
def _maybe_signal(fam, c0, c1, a0, a1, b0, b1, p1min, p1max, p2min, p2max):
    """Whether some lane may have an entry or exit signal at this bar: a necessary condition
    from the group's smallest and largest thresholds (every rule is monotone in them), so
    that most bars skip the per-lane signals."""
    if fam == FamilyCode.RSI:  # a0 >= p1 > a1 for some p1; a0 <= p2 < a1 for some p2
        return ((a0 >= p1min) & (a1 < p1max) & (a1 < a0)) | (
            (a0 <= p2max) & (a1 > p2min) & (a1 > a0)
        )
    if fam == FamilyCode.BOLLINGER:  # a - k * b falls as k grows (b >= 0)
        return ((c0 >= a0 - p1max * b0) & (c1 < a1 - p1min * b1)) | ((c0 <= a0) & (c1 > a1))
    if fam == FamilyCode.MA_CROSS:
        return ((a0 <= b0) & (a1 > b1)) | ((a0 >= b0) & (a1 < b1))
    return (c1 > a0) | (c1 < b0)  # BREAKOUT


@njit
def _lanes_group(
    fam, close, coff, prefix, a, b, aoff, lanes, p1s, p2s, sls, tps, fees, slippage, t0, t1,
    n_bars, state,
):  # fmt: skip
    """Advance the strategies ``lanes`` (one group: rows ``a``, ``b``) over the bars [t0, t1)
    from their state rows and save them back (``simulate_block``'s contract).

    The fields every bar reads are arrays of the lanes (cash, position, in the market,
    drawdown, peak); the rest, touched at events only, stay rows ``R[k]`` (a copy of the
    group's state rows, contiguous: an event touches 4 cache lines, not 25)."""
    n = lanes.shape[0]
    R = np.empty((n, N_STATE))
    cash = np.empty(n)
    pos = np.empty(n)
    inm = np.empty(n)  # 1.0 in the market, 0.0 flat
    mdd = np.empty(n)
    om = np.empty(n)
    peaks = np.empty((2, n))  # two buffers, swapped every bar (see _bar_values)
    p1 = np.empty(n)
    p2 = np.empty(n)
    sl = np.empty(n)
    tp = np.empty(n)
    slo = np.empty(n)
    shi = np.empty(n)
    e = np.empty(n, dtype=np.bool_)
    x = np.empty(n, dtype=np.bool_)
    ev = np.zeros(n, dtype=np.bool_)
    todo = np.empty(n, dtype=np.uint64)
    for k in range(n):
        s = lanes[k]
        R[k] = state[s]
        cash[k] = R[k, SimState.CASH]
        pos[k] = R[k, SimState.POS]
        inm[k] = R[k, SimState.IN_MARKET]
        mdd[k] = R[k, SimState.MDD]
        om[k] = 1.0 + mdd[k]
        peaks[0, k] = R[k, SimState.PEAK]
        p1[k] = p1s[s]
        p2[k] = p2s[s]
        sl[k] = sls[s]
        tp[k] = tps[s]
        flat = inm[k] == 0.0
        slo[k] = -np.inf if flat or sl[k] <= 0.0 else R[k, SimState.STOP_LOW]
        shi[k] = np.inf if flat or tp[k] <= 0.0 else R[k, SimState.STOP_HIGH]
    has_stops = sl.max() > 0.0 or tp.max() > 0.0
    p1min = p1.min()
    p1max = p1.max()
    p2min = p2.min()
    p2max = p2.max()
    stop_low = slo.max()  # a stop can only fire at or below the highest stop-loss level...
    stop_high = shi.min()  # ... or at or above the lowest take-profit level
    cur = 0
    for t in range(t0, t1):
        c = close[t - coff]
        nxt = 1 - cur
        signals = False
        c0 = a0 = b0 = np.nan
        if t > 0:
            j = t - aoff
            c0 = close[t - 1 - coff]
            a0 = a[j - 1]
            b0 = b[j - 1]
            a1 = a[j]
            b1 = b[j]
            signals = _maybe_signal(fam, c0, c, a0, a1, b0, b1, p1min, p1max, p2min, p2max)
        events = False
        if signals or c <= stop_low or c >= stop_high:
            if signals:
                _bar_signals(fam, t, c0, c, a0, a1, b0, b1, p1, p2, e, x)
            else:
                e[:] = False
                x[:] = False
            events = _bar_events(c, e, x, inm, cash, slo, shi, ev)
        peak_in, peak_out = peaks[cur], peaks[nxt]
        if _bar_values(c, cash, pos, om, inm, peak_in, peak_out):
            _deeper(c, cash, pos, mdd, om, inm, peak_in, ev, events)
        if events:
            _apply_events(t, c, c0, prefix[:, t - t0], prefix[:, t + 1 - t0], fees, slippage,
                          ev, todo, R, cash, pos, inm, mdd, sl, tp, peak_in, peak_out, om, slo,
                          shi)  # fmt: skip
            if has_stops:
                stop_low = slo.max()
                stop_high = shi.min()
        cur = nxt
    for k in range(n):
        r = R[k]
        if inm[k] != 0.0 and t1 >= n_bars:
            # the last bar: book the open trade's holding bars (simulate_block's end)
            r[SimState.S1] += prefix[0, t1 - t0] - r[SimState.H0]
            r[SimState.S2] += prefix[1, t1 - t0] - r[SimState.H1]
            r[SimState.SNEG] += prefix[2, t1 - t0] - r[SimState.H2]
            r[SimState.BARS_IN] += t1 - int(r[SimState.HOLD_START])
            r[SimState.HOLD_START] = t1
            r[SimState.H0] = prefix[0, t1 - t0]
            r[SimState.H1] = prefix[1, t1 - t0]
            r[SimState.H2] = prefix[2, t1 - t0]
        r[SimState.CASH] = cash[k]
        r[SimState.POS] = pos[k]
        r[SimState.IN_MARKET] = inm[k]
        r[SimState.MDD] = mdd[k]
        r[SimState.PEAK] = peaks[cur, k]
        state[lanes[k]] = r


@njit_parallel
def simulate_lanes_block_nb(
    family, close, coff, prefix, A, B, aoff, ia, ib, p1, p2, sl, tp, fees, slippage, t0, t1,
    n_bars, state, order, starts, min_lanes,
):  # fmt: skip
    """``_sim_nb.simulate_family_block_nb`` (without portfolio values) by groups of lanes:
    group g is the strategies ``order[starts[g]:starts[g + 1]]`` (:func:`lane_groups`), run in
    lanes when it has at least ``min_lanes`` of them and the family allows it, else one by one
    with the scalar kernel. Bit-identical to the scalar kernel."""
    no_signals = np.zeros((1, 1), dtype=np.bool_)
    no_values = np.empty(0)
    scalar_family = family == FamilyCode.MACD or family == FamilyCode.EXPLICIT
    for g in prange(starts.shape[0] - 1):
        lo = starts[g]
        hi = starts[g + 1]
        if scalar_family or hi - lo < min_lanes:
            for i in range(lo, hi):
                s = order[i]
                simulate_block(
                    family, close, coff, prefix, A, B, aoff, ia[s], ib[s], p1[s], p2[s], sl[s],
                    tp[s], no_signals, no_signals, 0, fees, slippage, t0, t1, n_bars, state[s],
                    no_values,
                )  # fmt: skip
        else:
            first = order[lo]
            _lanes_group(
                family, close, coff, prefix, A[ia[first]], B[ib[first]], aoff, order[lo:hi],
                p1, p2, sl, tp, fees, slippage, t0, t1, n_bars, state,
            )  # fmt: skip
