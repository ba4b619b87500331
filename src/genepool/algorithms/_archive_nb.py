"""Kernels of the bounded Pareto archive (:mod:`genepool.algorithms.archive`): thinning a
non-dominated set to ``k`` rows while keeping its spread.

Every kernel works on ``Z``, the members' objectives normalized to ``[0, 1]`` by the archive's
ideal and nadir points, and is deterministic: ties go to the lowest row index, no randomness.
None builds an ``n x n`` array.

- :func:`farthest_point_select`: greedy farthest-point (k-center) selection from seed rows,
  O(n k m) time at worst (far less on a front: see the function), O(n) memory. Oracle: the
  plain loop in ``tests/test_archive.py``.
- :func:`grid_representatives`: one row per occupied box of an epsilon-grid, O(n m + n log n)
  time, O(n) memory.
- :func:`front_2d`: the non-dominated rows of a 2-objective set in lexicographic order, one
  sort and a sweep (the archive's merge for 2 objectives).
- :func:`dominated_by_any`: which rows of one set a row of another dominates (the archive's
  merge for 3 or more objectives).
- :func:`crowding_truncate`: remove the most crowded row (NSGA-II crowding distance), update its
  neighbours, repeat, with a binary heap: O(m n log n) time, O(m n) memory.
"""

from __future__ import annotations

import numpy as np

from .._numba import njit

__all__ = [
    "crowding_truncate",
    "dominated_by_any",
    "farthest_point_select",
    "front_2d",
    "grid_representatives",
    "lex_order",
]


@njit
def _tree_set(val: np.ndarray, idx: np.ndarray, size: int, pos: int, v: float) -> None:
    """Set leaf ``pos`` of a max tournament tree (ties: the lower ``idx``) and update upwards."""
    i = size + pos
    val[i] = v
    i //= 2
    while i >= 1:
        a, b = 2 * i, 2 * i + 1
        if val[b] > val[a] or (val[b] == val[a] and idx[b] < idx[a]):
            val[i], idx[i] = val[b], idx[b]
        else:
            val[i], idx[i] = val[a], idx[a]
        i //= 2


@njit
def _fps_nb(
    Zs: np.ndarray, orig: np.ndarray, seeds: np.ndarray, k: int, monotone: bool
) -> np.ndarray:
    """Farthest-point selection on ``Zs`` (rows sorted by the first column; ``orig`` their
    original indices, which break ties); ``seeds`` are positions in ``Zs``. ``monotone``: the
    second column never increases along the rows (a 2-objective front), so the scan also stops
    where it leaves the second column's slab."""
    n, m = Zs.shape
    size = 1
    while size < n:
        size *= 2
    val = np.full(2 * size, -2.0)  # -2: padding, -1: taken, >= 0: squared distance to the taken
    idx = np.full(2 * size, n + 1, dtype=np.int64)
    dist = np.full(n, np.inf)
    for t in range(n):
        val[size + t] = np.inf
        idx[size + t] = orig[t]
    for i in range(size - 1, 0, -1):
        a, b = 2 * i, 2 * i + 1
        if val[b] > val[a] or (val[b] == val[a] and idx[b] < idx[a]):
            val[i], idx[i] = val[b], idx[b]
        else:
            val[i], idx[i] = val[a], idx[a]
    pos_of = np.empty(n + 2, dtype=np.int64)  # original index -> position (orig is a permutation)
    for t in range(n):
        pos_of[orig[t]] = t
    out = np.empty(k, dtype=np.int64)
    count = 0
    s_i = 0
    while count < k:
        if s_i < seeds.shape[0]:
            p = seeds[s_i]
            s_i += 1
            if dist[p] < 0.0:  # a seed given twice
                continue
            radius2 = np.inf  # a seed is not the farthest row: update every row
        else:
            if val[1] < 0.0:
                break
            p = pos_of[idx[1]]
            # p is the farthest row, so every row is within sqrt(radius2) of the taken set:
            # a row farther than that from p cannot get closer
            radius2 = dist[p]
        out[count] = orig[p]
        count += 1
        dist[p] = -1.0
        _tree_set(val, idx, size, p, -1.0)
        if radius2 == np.inf:
            lo, hi = 0, n
        else:  # the slab |z_0 - p_0| < r (and |z_1 - p_1| < r on a 2-objective front)
            radius = np.sqrt(radius2)
            lo = p
            while lo > 0 and Zs[lo - 1, 0] > Zs[p, 0] - radius:
                if monotone and Zs[lo - 1, 1] >= Zs[p, 1] + radius:
                    break
                lo -= 1
            hi = p + 1
            while hi < n and Zs[hi, 0] < Zs[p, 0] + radius:
                if monotone and Zs[hi, 1] <= Zs[p, 1] - radius:
                    break
                hi += 1
        for q in range(lo, hi):
            if dist[q] > 0.0:
                acc = 0.0
                for j in range(m):
                    t = Zs[q, j] - Zs[p, j]
                    acc += t * t
                if acc < dist[q]:
                    dist[q] = acc
                    _tree_set(val, idx, size, q, acc)
    return out[:count]


def farthest_point_select(Z: np.ndarray, seeds: np.ndarray, k: int) -> np.ndarray:
    """Greedy farthest-point selection of ``k`` rows of ``Z``, starting from ``seeds``.

    The seeds (in their order, repeats skipped) are taken first; then, repeatedly, the row
    farthest (Euclidean) from everything taken so far, ties to the lowest index; rows equal to a
    taken row are taken last, lowest index first. This is the 2-approximation of the k-center
    problem (Gonzalez 1985): the largest distance from a row to its nearest taken row is at most
    twice the best possible with ``k`` rows.

    Exactly the plain O(n k m) loop, made fast: the rows are sorted by the first column and a
    new pick ``p`` only updates the rows in the slab ``|z_0 - p_0| < r`` (``r``: p's distance to
    the taken set, which bounds every row's; on a 2-objective front, whose second column falls
    as the first rises, also ``|z_1 - p_1| < r``), and a tournament tree finds the farthest row in
    O(log n). On a front this is about O(n log k) updates for 2 objectives and O(n sqrt(k)) for
    3, O(n k m) at worst; O(n) memory.

    Returns
    -------
    ndarray of shape (min(k, n),), int64
        The rows taken, in the order taken.
    """
    Z = np.asarray(Z, dtype=np.float64)
    order = np.argsort(Z[:, 0], kind="stable")
    pos = np.empty(Z.shape[0], dtype=np.int64)
    pos[order] = np.arange(Z.shape[0])
    seeds = pos[np.asarray(seeds, dtype=np.int64)]
    Zs = np.ascontiguousarray(Z[order])
    monotone = Z.shape[1] == 2 and bool((Zs[1:, 1] <= Zs[:-1, 1]).all())
    return _fps_nb(Zs, order.astype(np.int64), seeds, int(min(k, Z.shape[0])), monotone)


def _box_keys(Z: np.ndarray, cells: int) -> np.ndarray:
    """Linear index of each row's box in a grid of ``cells`` boxes per axis over ``[0, 1]^m``."""
    idx = np.minimum((Z * cells).astype(np.int64), cells - 1)
    np.maximum(idx, 0, out=idx)
    key = idx[:, 0].copy()
    for j in range(1, Z.shape[1]):
        key *= cells
        key += idx[:, j]
    return key


def _box_count(Z: np.ndarray, cells: int) -> int:
    keys = np.sort(_box_keys(Z, cells))
    return int(1 + np.count_nonzero(keys[1:] != keys[:-1])) if keys.size else 0


def _box_representatives(Z: np.ndarray, cells: int) -> np.ndarray:
    """The lowest index in each occupied box, sorted: one sort of ``box * n + index`` (which
    :func:`grid_representatives` keeps within int64 by its bound on ``cells``). (The row nearest
    the box's centre instead kept 0.3-0.8% less hypervolume for the same coverage.)"""
    n = Z.shape[0]
    combined = np.sort(_box_keys(Z, cells) * n + np.arange(n, dtype=np.int64))
    box = combined // n
    first = np.ones(n, dtype=bool)
    first[1:] = box[1:] != box[:-1]
    return np.sort(combined[first] % n)


def grid_representatives(Z: np.ndarray, low: int, high: int) -> np.ndarray:
    """One row per occupied box of a regular grid over ``[0, 1]^m``: the lowest index in the
    box.

    The number of boxes per axis is searched (a few secant steps on the count of occupied boxes,
    which grows like ``cells^(m-1)`` on a front) for a count in ``[low, high]``; the finest grid
    whose count is at most ``high`` is used when none lands in the range. Each step is one sort
    of ``n`` int64 keys: O(n m + n log n) time, O(n) memory.

    Returns
    -------
    ndarray of int64, sorted
        The representatives (at most ``high`` of them; fewer than ``low`` when the rows occupy
        too few distinct boxes even at the finest grid).
    """
    n, m = Z.shape
    if n <= high:
        return np.arange(n, dtype=np.int64)
    cap = max(1, int((2.0**62 / n) ** (1.0 / m)))  # cells ** m * n stays within int64
    dim = max(m - 1, 1)
    goal = 0.5 * (low + high)
    cells = max(1, min(cap, int(np.ceil(goal ** (1.0 / dim)))))
    best, best_count = 1, 1
    tried: dict[int, int] = {}
    for _ in range(12):
        count = _box_count(Z, cells)
        tried[cells] = count
        if count <= high and count > best_count:
            best, best_count = cells, count
        if low <= count <= high:
            break
        nxt = round(cells * (goal / max(count, 1)) ** (1.0 / dim))
        if nxt == cells:
            nxt = cells + 1 if count < low else cells - 1
        nxt = max(1, min(cap, nxt))
        if nxt in tried:  # oscillating between two grids: settle between them
            below = [c for c, v in tried.items() if v <= high]
            above = [c for c, v in tried.items() if v > high]
            if below and above and max(below) + 1 < min(above):
                nxt = (max(below) + min(above)) // 2
            if nxt in tried:
                break
        cells = nxt
    return _box_representatives(Z, best)


@njit
def _heap_push(keys: np.ndarray, ids: np.ndarray, size: int, key: float, idx: int) -> int:
    i = size
    keys[i] = key
    ids[i] = idx
    while i > 0:
        p = (i - 1) // 2
        if keys[p] < keys[i] or (keys[p] == keys[i] and ids[p] <= ids[i]):
            break
        keys[p], keys[i] = keys[i], keys[p]
        ids[p], ids[i] = ids[i], ids[p]
        i = p
    return size + 1


@njit
def _heap_pop(keys: np.ndarray, ids: np.ndarray, size: int) -> int:
    size -= 1
    keys[0] = keys[size]
    ids[0] = ids[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        c = left
        right = left + 1
        if right < size and (
            keys[right] < keys[left] or (keys[right] == keys[left] and ids[right] < ids[left])
        ):
            c = right
        if keys[i] < keys[c] or (keys[i] == keys[c] and ids[i] <= ids[c]):
            break
        keys[c], keys[i] = keys[i], keys[c]
        ids[c], ids[i] = ids[i], ids[c]
        i = c
    return size


@njit
def _crowd_of(Z: np.ndarray, prev: np.ndarray, nxt: np.ndarray, span: np.ndarray, i: int) -> float:
    acc = 0.0
    for j in range(Z.shape[1]):
        p, q = prev[j, i], nxt[j, i]
        if p < 0 or q < 0:
            return np.inf
        if span[j] > 0.0:
            acc += (Z[q, j] - Z[p, j]) / span[j]
    return acc


@njit
def _crowding_truncate_nb(Z: np.ndarray, orders: np.ndarray, k: int) -> np.ndarray:
    n, m = Z.shape
    prev = np.full((m, n), -1, dtype=np.int64)
    nxt = np.full((m, n), -1, dtype=np.int64)
    span = np.empty(m)
    for j in range(m):
        for t in range(n):
            i = orders[j, t]
            if t > 0:
                prev[j, i] = orders[j, t - 1]
            if t < n - 1:
                nxt[j, i] = orders[j, t + 1]
        span[j] = Z[orders[j, n - 1], j] - Z[orders[j, 0], j]
    crowd = np.empty(n)
    cap = n + 2 * m * n + 1  # every removal pushes at most 2 m updated neighbours
    keys = np.empty(cap)
    ids = np.empty(cap, dtype=np.int64)
    size = 0
    for i in range(n):
        crowd[i] = _crowd_of(Z, prev, nxt, span, i)
        size = _heap_push(keys, ids, size, crowd[i], i)
    alive = np.ones(n, dtype=np.bool_)
    left = n
    while left > k and size > 0:
        c, i = keys[0], ids[0]
        size = _heap_pop(keys, ids, size)
        if not alive[i] or c != crowd[i]:
            continue  # a stale entry
        alive[i] = False
        left -= 1
        for j in range(m):
            p, q = prev[j, i], nxt[j, i]
            if p >= 0:
                nxt[j, p] = q
            if q >= 0:
                prev[j, q] = p
        for j in range(m):
            for r in (prev[j, i], nxt[j, i]):
                if r >= 0 and alive[r]:
                    v = _crowd_of(Z, prev, nxt, span, r)
                    if v != crowd[r]:
                        crowd[r] = v
                        size = _heap_push(keys, ids, size, v, r)
    return np.flatnonzero(alive)


def crowding_truncate(Z: np.ndarray, k: int) -> np.ndarray:
    """Keep ``k`` rows of ``Z`` by removing, one at a time, the row of least crowding distance.

    The crowding distance is NSGA-II's (the ends of each objective's order are infinite, the
    others add the gap between their neighbours over the objective's span); after each removal
    only the removed row's neighbours are updated (a binary heap with stale entries skipped),
    so this is the iterated truncation that avoids the one-shot version's holes. Ties go to the
    lowest index. O(m n log n) time, O(m n) memory.

    Returns
    -------
    ndarray of int64, sorted
        The rows kept.
    """
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    n, m = Z.shape
    if k >= n:
        return np.arange(n, dtype=np.int64)
    rows = np.arange(n)
    orders = np.empty((m, n), dtype=np.int64)
    for j in range(m):
        orders[j] = np.lexsort((rows, Z[:, j]))
    return _crowding_truncate_nb(Z, orders, int(max(k, 0)))


@njit
def _dominated_by_any_nb(P: np.ndarray, Qs: np.ndarray) -> np.ndarray:
    n, m = P.shape
    out = np.zeros(n, dtype=np.bool_)
    for p in range(n):
        for q in range(Qs.shape[0]):
            if Qs[q, 0] > P[p, 0]:
                break  # sorted by the first column: no later row can dominate p
            strict = False
            worse = False
            for j in range(m):
                if Qs[q, j] > P[p, j]:
                    worse = True
                    break
                if Qs[q, j] < P[p, j]:
                    strict = True
            if strict and not worse:
                out[p] = True
                break
    return out


def dominated_by_any(P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Whether each row of ``P`` is dominated (minimizing) by some row of ``Q``.

    ``Q`` is sorted by its first column and each row of ``P`` scans only the rows of ``Q`` that
    are no worse there: O(|P| |Q| m) time at worst, O(|P| + |Q| m) memory. Oracle:
    ``naive_mo.dominates`` over every pair.
    """
    P = np.ascontiguousarray(P, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    if P.shape[0] == 0 or Q.shape[0] == 0:
        return np.zeros(P.shape[0], dtype=bool)
    Qs = np.ascontiguousarray(Q[np.argsort(Q[:, 0], kind="stable")])
    return _dominated_by_any_nb(P, Qs)


@njit
def _front_2d_nb(f1: np.ndarray, f2: np.ndarray, order: np.ndarray) -> np.ndarray:
    n = order.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    best = np.inf  # least f2 of the rows before the current group of equal rows
    t = 0
    while t < n:
        p = order[t]
        a, b = f1[p], f2[p]
        end = t + 1
        while end < n and f1[order[end]] == a and f2[order[end]] == b:
            end += 1
        if b < best:
            for u in range(t, end):
                keep[u] = True
            best = b
        t = end
    return keep


def front_2d(F: np.ndarray) -> np.ndarray:
    """The non-dominated rows of a finite 2-objective ``F``, in lexicographic order of
    ``(f1, f2)`` (equal rows by position): a sort and one sweep, O(n log n) time, O(n) memory.
    Equal rows do not dominate each other. Oracle: ``naive_mo.rank(F) == 0``."""
    F = np.asarray(F, dtype=np.float64)
    f1, f2 = F[:, 0].copy(), F[:, 1].copy()
    order = lex_order(f1, f2)
    keep = _front_2d_nb(f1, f2, order)
    return order[keep]


def lex_order(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.lexsort((b, a))`` (by ``a``, then ``b``, then position), about 5x faster when ``a``
    has few ties: one unstable sort of ``a``, then the runs of equal ``a`` sorted by
    ``(b, position)``; the plain ``lexsort`` when more than 5% of ``a`` are ties."""
    order = np.argsort(a)
    sa = a[order]
    same = sa[1:] == sa[:-1]
    n_same = int(same.sum())
    if n_same > order.size // 20:  # many ties: the plain two-key sort is faster
        return np.lexsort((b, a))
    if n_same:
        tie = np.zeros(order.size, dtype=bool)
        tie[1:] |= same
        tie[:-1] |= same
        rows = order[tie]
        order[tie] = rows[np.lexsort((rows, b[rows], a[rows]))]
    return order
