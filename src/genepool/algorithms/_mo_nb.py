"""Kernels of multi-objective survival: non-dominated ranks and crowding distances.

Fitness ``F`` of shape ``(n, m)`` is on the engine's internal scale: every objective minimized
(:class:`~genepool.run.Direction` converts). ``q`` dominates ``p`` when ``q <= p`` in every
objective and ``q < p`` in one; equal points do not dominate each other, so duplicates share a
rank. Rank 0 is the non-dominated front, and the rank of a row is one more than the largest rank
of the rows dominating it. A row holding NaN ranks after every other row (NaN is the worst, as
everywhere in genepool); ``+inf`` is an ordinary, worst value.

No ``n x n`` array is ever built; the memory of each method is below. Every method starts from
the lexicographic order of the rows (a numpy quicksort of the first objective, ``np.take`` of the
rows, then a numba merge sort of each run of ties by the other objectives): ~0.1 s at 1e6 x 3.
Timings below: CPU seconds at 1e6 points on the shared 2-core machine; the benchmark
(``benchmarks/bench_mo.py --part sort``) puts moocore 0.3.2 and pymoo 0.6.2 beside them.

- One objective: each distinct value is a front. O(n log n).
- Two objectives: a sweep in lexicographic order with a branch-free binary search over the
  fronts' least second objective, O(n log n) time, O(n) memory (Jensen 2003; the "ENS-BS" of
  Zhang et al. 2015). ~0.2 s for 1e6 uniform points (moocore ~2x that in the same runs).
- Three objectives, on the distinct points in lexicographic order (``rank(p) = 1 + max rank of
  p's dominators``; an earlier distinct point dominates p iff it is no worse in f2 and f3):

  * a staircase sweep (``_stairs_3d_nb``): each front keeps the 2-D staircase of its (f2, f3)
    minima in a sorted slice, "does front k dominate p" is one binary search in it, and p's
    front is a binary search over the fronts (they are nested). ~0.55 s for 1e6 uniform
    points, ~0.6 s for 1e6 points on the plane f1 + f2 + f3 = 1 (one front), 1.5 s for 2e6
    on the sphere; memory O(n). Its inserts shift O(staircase) entries: O(n sqrt n) on a plane
    or sphere, quadratic on a degenerate front such as ``(x, t, 1 - t)``, so past
    ``_STAIRS_BUDGET`` shifted entries a point it gives up, and runs again with the objectives
    rotated (sweeping t first, that ridge is cheap: 1e6 points ~0.7 s in all), then gives way
    to
  * divide and conquer (``_cdq_3d_nb``; the offline "CDQ" scheme, the three-objective case of
    Jensen 2003 / Buzdalov & Shalyto 2014): solve the first half, pass its ranks to the second
    half with a sweep in f2 and a Fenwick tree of prefix maxima over f3, solve the second half;
    blocks of <= 48 points pairwise. O(n log^2 n) time whatever the shape of the set, O(n)
    memory (seven arrays of n); ~2.8 s at 1e6, which is why it is the fallback and not the
    first choice. A set that defeats all three sweeps (three ridges, one per rotation, 9e5
    points) took 5.1 s: the three early give-ups, then this.

  moocore's ``pareto_rank`` took 7-12x longer on 1e6 uniform points in the same runs.
- Four or more objectives: ``moocore.pareto_rank`` (C), on a copy with infinities replaced by
  per-column dense ranks (see ``_finite_for_moocore``). Measured against the ENS-SS sequential
  search this module used before (O(m n^2) worst case, O(n) memory): 1e5 x 5 uniform points
  0.77 s against 9.0 s, 2e4 x 5 0.075 s against 0.32 s; pymoo's sort was no faster (the
  benchmark). Its memory is O(n m) (the benchmark's peak RSS).

Oracles: ``tests/naive_mo.py`` (peeling fronts by pairwise dominance, O(m n^2)),
``moocore.pareto_rank`` and pymoo's ``NonDominatedSorting``.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from .._numba import njit

__all__ = ["crowding_distance", "nondominated_rank"]

#: Blocks of the three-objective divide and conquer at most this long are solved pairwise.
_LEAF_3D = 48
#: The three-objective staircase sweep gives way (to itself on rotated objectives, then to
#: divide and conquer) past this many shifted entries a point (``_stairs_3d_nb``). Measured over
#: all n points: 128-256 a point on the plane and the sphere at 1e6 and 2e6 points (up to ~2000
#: over the first points of the sphere), < 16 on uniform points.
_STAIRS_BUDGET = 512
_STAIRS_SLACK = 2**20


# --------------------------------------------------------------------------------------------
# lexicographic order


@njit
def _lex_less_nb(F: np.ndarray, a: int, b: int, c0: int) -> bool:
    """Row ``a`` before row ``b``: by columns ``c0``.. of ``F``, then by row index."""
    for j in range(c0, F.shape[1]):
        if F[a, j] < F[b, j]:
            return True
        if F[a, j] > F[b, j]:
            return False
    return a < b


@njit
def _insertion_sort_nb(F: np.ndarray, order: np.ndarray, lo: int, hi: int, c0: int) -> None:
    for i in range(lo + 1, hi):
        x = order[i]
        j = i - 1
        while j >= lo and _lex_less_nb(F, x, order[j], c0):
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = x


@njit
def _sort_run_nb(
    F: np.ndarray, order: np.ndarray, lo: int, hi: int, c0: int, tmp: np.ndarray
) -> None:
    """Sort ``order[lo:hi]`` by columns ``c0``.. of ``F``, then row index: bottom-up merge sort
    over insertion-sorted blocks of 16. O(L log L) time, ``tmp`` as scratch."""
    width = 16
    for s in range(lo, hi, width):
        _insertion_sort_nb(F, order, s, min(s + width, hi), c0)
    while width < hi - lo:
        for s in range(lo, hi, 2 * width):
            mid = min(s + width, hi)
            e = min(s + 2 * width, hi)
            i, j, k = s, mid, s
            while i < mid and j < e:
                if _lex_less_nb(F, order[j], order[i], c0):
                    tmp[k] = order[j]
                    j += 1
                else:
                    tmp[k] = order[i]
                    i += 1
                k += 1
            while i < mid:
                tmp[k] = order[i]
                i += 1
                k += 1
            while j < e:
                tmp[k] = order[j]
                j += 1
                k += 1
        for i in range(lo, hi):
            order[i] = tmp[i]
        width *= 2


@njit
def _fix_ties_nb(S: np.ndarray, order: np.ndarray) -> None:
    """``S = F[order]`` sorted by its first column, ties in any order: sort each run of ties by
    the other columns (rows of ``S`` and entries of ``order`` move together), so that ``S`` is
    lexicographic. Exact duplicates keep their quicksort order, which no rank depends on."""
    n = order.shape[0]
    i = 0
    while i < n:
        v = S[i, 0]
        j = i + 1
        while j < n and S[j, 0] == v:
            j += 1
        if j - i > 1:
            idx = np.arange(i, j)
            if j - i > 16:
                _sort_run_nb(S, idx, 0, j - i, 1, np.empty(j - i, dtype=np.int64))
            else:
                _insertion_sort_nb(S, idx, 0, j - i, 1)
            S[i:j] = S[idx]
            order[i:j] = order[idx]
        i = j


def _lex_sorted(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, S)``: row indices of ``F`` (no NaN) in lexicographic order and ``S = F[order]``
    (numpy quicksort of the first column, then the runs of ties in numba)."""
    order = np.argsort(F[:, 0]).astype(np.int64, copy=False)
    S = np.take(F, order, axis=0)  # 3x faster than F[order] at 1e6 x 3
    _fix_ties_nb(S, order)
    return order, S


# --------------------------------------------------------------------------------------------
# one and two objectives


@njit
def _rank_1d_nb(S: np.ndarray) -> np.ndarray:
    """One objective: dense rank of the sorted values ``S[:, 0]``."""
    out = np.empty(S.shape[0], dtype=np.int64)
    k = 0
    for i in range(S.shape[0]):
        if i > 0 and S[i, 0] != S[i - 1, 0]:
            k += 1
        out[i] = k
    return out


@njit
def _rank_2d_nb(S: np.ndarray) -> np.ndarray:
    """Ranks of the rows of ``S`` (lexicographic); oracle: ``naive_mo.rank``. O(n log n) time,
    one float64 array of n besides the output."""
    n = S.shape[0]
    out = np.empty(n, dtype=np.int64)
    least = np.empty(n, dtype=np.float64)  # least f2 of each front so far: non-decreasing
    n_fronts = 0
    i = 0
    while i < n:
        a, b = S[i, 0], S[i, 1]
        # every earlier row is lexicographically smaller: it dominates p iff its f2 <= b, so
        # p's front is the first whose least f2 is above b (a binary search)
        base, length = 0, n_fronts
        while length > 0:
            half = length >> 1
            if least[base + half] <= b:
                base += half + 1
                length -= half + 1
            else:
                length = half
        if base == n_fronts:
            n_fronts += 1
        least[base] = b
        out[i] = base
        i += 1
        while i < n and S[i, 0] == a and S[i, 1] == b:  # duplicates: the same front
            out[i] = base
            i += 1
    return out


# --------------------------------------------------------------------------------------------
# three objectives


@njit
def _distinct_nb(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of the lexicographic ``S``: the first row of each run of equal rows, and
    for each row the index of its distinct row."""
    n, m = S.shape
    group = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    k = -1
    for i in range(n):
        new = i == 0
        if not new:
            for j in range(m):
                if S[i, j] != S[i - 1, j]:
                    new = True
                    break
        if new:
            k += 1
            first[k] = i
        group[i] = k
    return first[: k + 1], group


@njit
def _dense_rank_nb(values: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense rank (0, 1, ...; ties share) of ``values`` sorted by ``order``, and the count."""
    out = np.empty(values.shape[0], dtype=np.int64)
    k = 0
    for i in range(order.shape[0]):
        if i > 0 and values[order[i]] != values[order[i - 1]]:
            k += 1
        out[order[i]] = k
    return out, k + 1 if order.shape[0] else 0


@njit
def _grow_nb(pool: np.ndarray, used: int, need: int) -> np.ndarray:
    """``pool`` with room for ``need`` more values after ``used`` (doubled when short)."""
    if used + need <= pool.shape[0]:
        return pool
    bigger = np.empty(max(2 * pool.shape[0], used + need), dtype=np.float64)
    bigger[:used] = pool[:used]
    return bigger


@njit
def _count_at_most_nb(pool: np.ndarray, o: int, s: int, b: float) -> int:
    """How many of the sorted ``pool[o], pool[o + 2], ..., pool[o + 2 (s - 1)]`` are <= b: a
    branch-free binary search (the compare becomes a conditional move, no mispredictions)."""
    if s == 0:
        return 0
    base = 0
    while s > 1:
        half = s >> 1
        base += half * (pool[o + 2 * (base + half)] <= b)
        s -= half
    return base + (pool[o + 2 * base] <= b)


@njit
def _stairs_3d_nb(
    g2: np.ndarray, g3: np.ndarray, budget: int, slack: int
) -> tuple[np.ndarray, bool]:
    """Ranks of distinct points in lexicographic order (second and third objectives ``g2``,
    ``g3``), or ``ok = False`` as soon as the sweep has shifted more than ``budget`` entries a
    point of the ``k`` (all of them), or its first ``i`` points more than ``8 budget`` a point
    plus ``slack`` (a quadratic case gives up early; the sphere is quadratic for a while at the
    start, ~2000 a point at 2e6, then the staircase shrinks).

    A sweep: every earlier point, distinct from ``p``, dominates ``p`` iff it is no worse in
    ``(g2, g3)``. Each front keeps the staircase of its points' ``(g2, g3)`` minima (``g2``
    increasing, ``g3`` decreasing, interleaved in one slice of ``pool``), so "does front k
    dominate p" is one binary search; fronts are nested (whatever front k dominates, front k-1
    does), so p's front is a binary search over the fronts. Inserting p replaces the run of
    entries it dominates: the shorter of the head and the tail of the staircase shifts (each
    front's slice keeps room on both sides). O(n log^2 n) comparisons plus the shifts: few on
    random sets, O(n sqrt n) on a sphere or a plane (the staircase of a front of n points holds
    ~sqrt n of them; moving the shorter side took the plane's 1e6 points from 0.90 s to 0.60 s),
    quadratic on a degenerate front such as ``(x, t, 1 - t)``; hence the budget. Memory: the
    pool (<= 4n entries of two float64 after doubling) and five int64 arrays of n."""
    k = g2.shape[0]
    rank = np.zeros(k, dtype=np.int64)
    pool = np.empty(max(64, 2 * k), dtype=np.float64)
    used = 0
    off = np.empty(k, dtype=np.int64)  # front f: entries at pool[off[f] + 2 h], + 1 for g3
    size = np.zeros(k, dtype=np.int64)
    base = np.zeros(k, dtype=np.int64)  # front f's room: pool[base[f] : base[f] + 2 cap[f]]
    cap = np.zeros(k, dtype=np.int64)
    n_fronts = 0
    work = 0
    for i in range(k):
        b, c = g2[i], g3[i]
        lo, hi = 0, n_fronts
        while lo < hi:  # the first front that does not dominate p
            f = (lo + hi) // 2
            o = off[f]
            a = _count_at_most_nb(pool, o, size[f], b)  # entries [0, a) have g2 <= b
            if a > 0 and pool[o + 2 * a - 1] <= c:
                lo = f + 1
            else:
                hi = f
        f = lo
        rank[i] = f
        if f == n_fronts:  # a new front, room for 4 entries, the first in the middle
            n_fronts += 1
            pool = _grow_nb(pool, used, 8)
            base[f], cap[f], size[f] = used, 4, 1
            off[f] = used + 4
            used += 8
            pool[off[f]] = b
            pool[off[f] + 1] = c
            continue
        o, s = off[f], size[f]
        a = _count_at_most_nb(pool, o, s, b)
        start = a - 1 if a > 0 and pool[o + 2 * a - 2] == b else a  # same g2, greater g3
        e = a
        while e < s and pool[o + 2 * e + 1] >= c:  # entries p dominates
            e += 1
        removed = e - start
        if removed == 0 and s == cap[f]:  # full: move to the pool's end, doubled, centred
            pool = _grow_nb(pool, used, 4 * s)
            o_new = used + 2 * (s // 2)
            pool[o_new : o_new + 2 * s] = pool[o : o + 2 * s]
            base[f], cap[f], off[f] = used, 2 * s, o_new
            o = o_new
            used += 4 * s
            work += s
        # p replaces the entries [start, e): the head [0, start) or the tail [e, s) moves,
        # whichever is shorter and has room
        room_left = o > base[f]
        room_right = o + 2 * s < base[f] + 2 * cap[f]
        head, tail = start, s - e
        if removed == 0:
            if room_left and (head < tail or not room_right):  # head one entry left
                for t in range(o, o + 2 * start):
                    pool[t - 2] = pool[t]
                o -= 2
                off[f] = o
                work += head
            else:  # tail one entry right
                for t in range(o + 2 * s - 1, o + 2 * e - 1, -1):
                    pool[t + 2] = pool[t]
                work += tail
        elif removed > 1:
            d = 2 * (removed - 1)
            if head < tail:  # head right
                for t in range(o + 2 * start - 1, o - 1, -1):
                    pool[t + d] = pool[t]
                o += d
                off[f] = o
                work += head
            else:  # tail left
                for t in range(o + 2 * e, o + 2 * s):
                    pool[t - d] = pool[t]
                work += tail
        if work > budget * k or work > 8 * budget * i + slack:
            return rank, False
        pool[o + 2 * start] = b
        pool[o + 2 * start + 1] = c
        size[f] = s - removed + 1
    return rank, True


@njit
def _cdq_3d_nb(g2: np.ndarray, r3: np.ndarray, byf2: np.ndarray, n3: int) -> np.ndarray:
    """Ranks of distinct points in lexicographic order, given their second objective ``g2``, the
    dense rank ``r3`` of their third and ``byf2`` (positions sorted by ``(g2, position)``).

    A point ``q`` before ``p`` in lexicographic order, distinct from it, dominates ``p`` iff
    ``g2[q] <= g2[p]`` and ``r3[q] <= r3[p]``. Divide and conquer over positions: solve
    ``[lo, mid)``, add its ranks to ``[mid, hi)`` (sweep in ``g2``, Fenwick prefix maxima over
    ``r3``), solve ``[mid, hi)``. The segment ``[lo, hi)`` of ``buf`` holds positions lo..hi-1
    sorted by ``(g2, position)``: split stably on the way down, merged on the way up.
    O(n log^2 n) time; memory: five int64 arrays of n."""
    k = g2.shape[0]
    rank = np.zeros(k, dtype=np.int64)
    buf = byf2.copy()
    tmp = np.empty(k, dtype=np.int64)
    fen = np.full(n3 + 1, -1, dtype=np.int64)  # 1-based prefix maxima of rank over r3
    st_lo = np.empty(130, dtype=np.int64)
    st_hi = np.empty(130, dtype=np.int64)
    st_stage = np.empty(130, dtype=np.int64)
    sp = 0
    st_lo[0], st_hi[0], st_stage[0] = 0, k, 0
    sp = 1
    while sp > 0:
        lo, hi, stage = st_lo[sp - 1], st_hi[sp - 1], st_stage[sp - 1]
        if hi - lo <= _LEAF_3D:
            sp -= 1
            for i in range(lo + 1, hi):  # pairwise, in lexicographic order
                b, c, best = g2[i], r3[i], rank[i]
                for j in range(lo, i):
                    if g2[j] <= b and r3[j] <= c and rank[j] >= best:
                        best = rank[j] + 1
                rank[i] = best
            continue
        mid = (lo + hi) // 2
        if stage == 0:  # split buf[lo:hi] stably into positions < mid and >= mid
            a, b2 = lo, mid
            for i in range(lo, hi):
                x = buf[i]
                if x < mid:
                    tmp[a] = x
                    a += 1
                else:
                    tmp[b2] = x
                    b2 += 1
            for i in range(lo, hi):
                buf[i] = tmp[i]
            st_stage[sp - 1] = 1
            st_lo[sp], st_hi[sp], st_stage[sp] = lo, mid, 0
            sp += 1
        elif stage == 1:  # [lo, mid) solved: its ranks bound those of [mid, hi)
            i = lo
            for jj in range(mid, hi):
                p = buf[jj]
                b = g2[p]
                while i < mid and g2[buf[i]] <= b:
                    q = buf[i]
                    v = rank[q]
                    t = r3[q] + 1
                    while t <= n3 and fen[t] < v:  # ancestors cover more: stop at the first >= v
                        fen[t] = v
                        t += t & -t
                    i += 1
                if i > lo:
                    t = r3[p] + 1
                    best = -1
                    while t > 0:
                        if fen[t] > best:
                            best = fen[t]
                        t -= t & -t
                    if best + 1 > rank[p]:
                        rank[p] = best + 1
            for ii in range(lo, i):
                t = r3[buf[ii]] + 1
                while t <= n3 and fen[t] != -1:
                    fen[t] = -1
                    t += t & -t
            st_stage[sp - 1] = 2
            st_lo[sp], st_hi[sp], st_stage[sp] = mid, hi, 0
            sp += 1
        else:  # both halves solved: merge buf[lo:mid] and buf[mid:hi] by (g2, position)
            sp -= 1
            i, j, o = lo, mid, lo
            while i < mid and j < hi:
                x, y = buf[i], buf[j]
                if g2[y] < g2[x] or (g2[y] == g2[x] and y < x):
                    tmp[o] = y
                    j += 1
                else:
                    tmp[o] = x
                    i += 1
                o += 1
            while i < mid:
                tmp[o] = buf[i]
                i += 1
                o += 1
            while j < hi:
                tmp[o] = buf[j]
                j += 1
                o += 1
            for i in range(lo, hi):
                buf[i] = tmp[i]
    return rank


def _rank_3d(S: np.ndarray) -> np.ndarray:
    """Three objectives, ``S`` lexicographic: the staircase sweep; where it would shift more than
    ``_STAIRS_BUDGET`` entries a point, the sweep again with the objectives rotated (its cost
    depends on which one is swept: on ``(x, t, 1 - t)`` sweeping x is quadratic, sweeping t is
    not); then divide and conquer."""
    first, group = _distinct_nb(S)
    D = S[first]  # distinct points, lexicographic
    budget, slack = _STAIRS_BUDGET, _STAIRS_SLACK
    rank, ok = _stairs_3d_nb(D[:, 1].copy(), D[:, 2].copy(), budget, slack)
    for rotation in ([1, 2, 0], [2, 0, 1]):
        if ok:
            break
        order, R = _lex_sorted(np.ascontiguousarray(D[:, rotation]))
        rotated, ok = _stairs_3d_nb(R[:, 1].copy(), R[:, 2].copy(), budget, slack)
        rank = np.empty_like(rotated)
        rank[order] = rotated
    if not ok:
        g2, g3 = D[:, 1].copy(), D[:, 2].copy()
        byf2 = np.argsort(g2, kind="stable").astype(np.int64, copy=False)  # ties: by position
        r3, n3 = _dense_rank_nb(g3, np.argsort(g3).astype(np.int64, copy=False))
        rank = _cdq_3d_nb(g2, r3, byf2, n3)
    return rank[group]


# --------------------------------------------------------------------------------------------
# the public kernels


def nondominated_rank(F: np.ndarray) -> np.ndarray:
    """Non-dominated rank of each row of ``F`` (0: the first front), all objectives minimized.

    Parameters
    ----------
    F : ndarray of shape (n, m)
        Fitness on the internal scale (minimized), float64; NaN marks the worst.

    Returns
    -------
    ndarray of shape (n,), int64
        The front of each row; equal rows share a front; rows holding NaN share the front
        after the last. Memory O(n m) (the method of each ``m``: the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> nondominated_rank(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0]]))
    array([0, 0, 1, 0])
    """
    F = np.ascontiguousarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"F must be 2-D (n, m), got shape {F.shape}")
    n, m = F.shape
    out = np.zeros(n, dtype=np.int64)
    bad = np.isnan(F).any(axis=1) if m else np.zeros(n, dtype=bool)
    has_bad = bool(bad.any())
    rows = np.flatnonzero(~bad) if has_bad else None
    G = F[rows] if rows is not None else F
    if G.shape[0] and m:
        ranks = np.empty(G.shape[0], dtype=np.int64)
        if m >= 4:
            # a dependency, imported on first use (no type information: Any)
            moocore: Any = importlib.import_module("moocore")
            ranks[:] = moocore.pareto_rank(_finite_for_moocore(G))
        else:
            order, S = _lex_sorted(G)
            if m == 1:
                ranks[order] = _rank_1d_nb(S)
            elif m == 2:
                ranks[order] = _rank_2d_nb(S)
            else:
                ranks[order] = _rank_3d(S)
        if rows is None:
            out = ranks
        else:
            out[rows] = ranks
    if has_bad:
        good = ~bad
        out[bad] = (out[good].max() + 1) if good.any() else 0
    return out


def _finite_for_moocore(G: np.ndarray) -> np.ndarray:
    """``G`` with each column holding an infinity replaced by its dense ranks (0., 1., ...):
    dominance is unchanged (a strictly increasing map per column). moocore 0.3.2's
    ``pareto_rank`` ranks rows with ``+inf`` wrongly for 3 objectives and crashes the process
    (segmentation fault) on ``-inf`` for 3 and 4 objectives (checked against the naive twin)."""
    infinite = np.isinf(G).any(axis=0)
    if not infinite.any():
        return G
    G = G.copy()
    for j in np.flatnonzero(infinite):
        G[:, j] = np.unique(G[:, j], return_inverse=True)[1].ravel()
    return G


@njit
def _crowding_add_nb(
    order: np.ndarray,
    sorted_values: np.ndarray,
    front: np.ndarray,
    starts: np.ndarray,
    by_front: np.ndarray,
    value_by_front: np.ndarray,
    dist: np.ndarray,
) -> None:
    """Add one objective's crowding to ``dist``.

    ``order`` sorts the objective with ties in any order, ``sorted_values`` is the objective in
    that order. Runs of ties are first put in row order (the documented tie-break); a stable
    counting sort by ``front`` (0 .. len(starts) - 2, ``starts`` the cumulative front sizes) then
    lays each front's rows out in objective order in ``by_front`` (their values in
    ``value_by_front``), and each front is one pass. O(n) besides the sort."""
    n = order.shape[0]
    i = 0
    while i < n:  # ties by row index
        j = i + 1
        while j < n and sorted_values[j] == sorted_values[i]:
            j += 1
        if j - i > 1:
            order[i:j] = np.sort(order[i:j])
        i = j
    fill = starts[:-1].copy()
    for i in range(n):
        p = order[i]
        k = front[p]
        by_front[fill[k]] = p
        value_by_front[fill[k]] = sorted_values[i]
        fill[k] += 1
    for k in range(starts.shape[0] - 1):
        s, e = starts[k], starts[k + 1]
        if e == s:
            continue
        span = value_by_front[e - 1] - value_by_front[s]
        if e - s > 2 and span > 0 and span < np.inf:
            for i in range(s + 1, e - 1):
                dist[by_front[i]] += (value_by_front[i + 1] - value_by_front[i - 1]) / span
        dist[by_front[s]] = np.inf
        dist[by_front[e - 1]] = np.inf


@njit
def _crowding_2d_nb(
    order: np.ndarray,
    f1: np.ndarray,
    f2: np.ndarray,
    front: np.ndarray,
    starts: np.ndarray,
    dist: np.ndarray,
) -> bool:
    """Both objectives' crowding from one sort, or ``False`` (``dist`` untouched) when a front is
    not a staircase.

    On a front of two objectives (no row dominating another) ``f2`` decreases where ``f1``
    increases and equal ``f1`` means an equal row; so the ``f2`` order of a front is its ``f1``
    order reversed, each run of equal rows kept in row order. ``order`` sorts ``f1`` with ties
    in any order; checked on every front, O(n) besides the sort."""
    n = order.shape[0]
    by_front = np.empty(n, dtype=np.int64)
    fill = starts[:-1].copy()
    front_in_order = np.take(front, order)
    for i in range(n):
        k = front_in_order[i]
        by_front[fill[k]] = order[i]
        fill[k] += 1
    v1 = np.take(f1, by_front)
    for k in range(starts.shape[0] - 1):  # ties within a front by row index
        i, e = starts[k], starts[k + 1]
        while i < e:
            j = i + 1
            while j < e and v1[j] == v1[i]:
                j += 1
            if j - i > 1:
                by_front[i:j] = np.sort(by_front[i:j])
            i = j
    v2 = np.take(f2, by_front)
    for k in range(starts.shape[0] - 1):  # every front a staircase?
        for i in range(starts[k], starts[k + 1] - 1):
            if v2[i + 1] > v2[i] or ((v2[i + 1] == v2[i]) != (v1[i + 1] == v1[i])):
                return False  # f2 must fall where f1 rises, and only equal rows tie
    rev = np.empty(n, dtype=np.int64)  # f2 order: fronts reversed, runs of equal rows kept
    for k in range(starts.shape[0] - 1):
        s, e = starts[k], starts[k + 1]
        o = s
        j = e
        while j > s:
            a = j - 1
            while a > s and v1[a - 1] == v1[j - 1]:
                a -= 1
            for t in range(a, j):
                rev[o] = t
                o += 1
            j = a
    acc = np.zeros(n, dtype=np.float64)  # in by_front order: sequential, one scatter at the end
    for k in range(starts.shape[0] - 1):
        s, e = starts[k], starts[k + 1]
        if e == s:
            continue
        span1 = v1[e - 1] - v1[s]
        span2 = v2[rev[e - 1]] - v2[rev[s]]
        if e - s > 2:
            if span1 > 0 and span1 < np.inf:
                for i in range(s + 1, e - 1):
                    acc[i] += (v1[i + 1] - v1[i - 1]) / span1
            if span2 > 0 and span2 < np.inf:
                for i in range(s + 1, e - 1):
                    acc[rev[i]] += (v2[rev[i + 1]] - v2[rev[i - 1]]) / span2
        acc[s] = acc[e - 1] = acc[rev[s]] = acc[rev[e - 1]] = np.inf
    for i in range(n):
        dist[by_front[i]] = acc[i]
    return True


def crowding_distance(F: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row within its front (larger: less crowded).

    For each objective, the rows of a front are ordered by it, ties by row index (so the result
    is deterministic, bit for bit); the first and the last get ``inf``; every other row adds
    ``(f[next] - f[prev]) / (f[last] - f[first])``, or nothing when that range is zero or not
    finite (an objective constant on the front, or holding ``inf``). Hence:

    - a front of one or two rows: every row ``inf``;
    - duplicates are ordinary rows in that order: of equal rows at an end of an objective's
      order only the one of lowest (first end) or highest (last end) row index gets ``inf``
      there, the others are interior, and a row between two equal neighbours adds 0;
    - rows holding NaN get 0 and are no part of any front.

    O(m n log n) time: one numpy argsort per objective, then a stable counting sort by front
    and one pass per front (numba, O(n)); with two objectives one argsort serves both where
    every front is a staircase (checked, as ``nondominated_rank`` makes them). Memory O(n):
    at most six int64 or float64 arrays of n besides the output.

    Parameters
    ----------
    F : ndarray of shape (n, m)
        Fitness (minimized).
    rank : ndarray of shape (n,)
        Front of each row (:func:`nondominated_rank`), integers.

    Returns
    -------
    ndarray of shape (n,), float64

    Examples
    --------
    >>> import numpy as np
    >>> F = np.array([[0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0]])
    >>> crowding_distance(F, np.zeros(4, dtype=np.int64)).round(4).tolist()
    [inf, 1.3333, 1.3333, inf]
    """
    F = np.asarray(F, dtype=np.float64)
    rank = np.asarray(rank)
    if F.ndim != 2 or rank.shape != (F.shape[0],):
        raise ValueError(f"F must be (n, m) and rank (n,), got shapes {F.shape} and {rank.shape}")
    n, m = F.shape
    dist = np.zeros(n, dtype=np.float64)
    ok = ~np.isnan(F).any(axis=1)
    all_ok = bool(ok.all())
    rows = None if all_ok else np.flatnonzero(ok)
    if n == 0 or (rows is not None and rows.size == 0):
        return dist
    r = rank if rows is None else rank[rows]
    if np.issubdtype(r.dtype, np.integer) and r.min() >= 0 and r.max() < r.size:
        front = r.astype(np.int64, copy=False)
        n_fronts = int(front.max()) + 1
    else:  # ranks of any integers: renumber them 0, 1, ...
        _, inverse = np.unique(r, return_inverse=True)
        front = inverse.astype(np.int64).ravel()
        n_fronts = int(front.max()) + 1
    starts = np.zeros(n_fronts + 1, dtype=np.int64)
    np.cumsum(np.bincount(front, minlength=n_fronts), out=starts[1:])
    front = np.ascontiguousarray(front)
    local = np.zeros(front.shape[0], dtype=np.float64)
    by_front = np.empty(front.shape[0], dtype=np.int64)
    value_by_front = np.empty(front.shape[0], dtype=np.float64)
    done = False
    if m == 2:  # one sort for both objectives where every front is a staircase
        f1 = np.ascontiguousarray(F[:, 0] if rows is None else F[rows, 0])
        f2 = np.ascontiguousarray(F[:, 1] if rows is None else F[rows, 1])
        order = np.argsort(f1).astype(np.int64, copy=False)
        done = _crowding_2d_nb(order, f1, f2, front, starts, local)
    for j in range(0 if done else m):
        v = np.ascontiguousarray(F[:, j] if rows is None else F[rows, j])
        order = np.argsort(v).astype(np.int64, copy=False)
        _crowding_add_nb(order, v[order], front, starts, by_front, value_by_front, local)
    if rows is None:
        return local
    dist[rows] = local
    return dist
