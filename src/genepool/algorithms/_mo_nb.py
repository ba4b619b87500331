"""Kernels of multi-objective survival: non-dominated ranks and crowding distances.

Fitness ``F`` of shape ``(n, m)`` is on the engine's internal scale: every objective minimized
(:class:`~genepool.run.Direction` converts). ``q`` dominates ``p`` when ``q <= p`` in every
objective and ``q < p`` in one; equal points do not dominate each other, so duplicates share a
rank. Rank 0 is the non-dominated front. A row holding NaN ranks after every other row (NaN is
the worst, as everywhere in genepool); ``+inf`` is an ordinary, worst value.

Memory is O(n) whatever ``n``: no ``n x n`` array is ever built.

- Two objectives: a sweep in lexicographic order with a binary search over the fronts' least
  second objective, O(n log n) time (Jensen 2003; the "ENS-BS" of Zhang et al. 2015).
- More objectives: efficient non-dominated sort with sequential search over the fronts (ENS-SS,
  Zhang et al. 2015): O(m n^2) comparisons in the worst case, far fewer on typical sets, O(n)
  memory. A sub-quadratic divide-and-conquer for m >= 3 is left for when a benchmark asks.

Oracles: ``tests/naive_mo.py`` (peeling fronts by pairwise dominance, O(m n^2)) and, where
installed, ``moocore.pareto_rank``.
"""

from __future__ import annotations

import numpy as np

from .._numba import njit

__all__ = ["crowding_distance", "nondominated_rank"]


@njit
def _rank_2d_nb(f1: np.ndarray, f2: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
    """Ranks of the rows ``order`` (lexicographic by ``(f1, f2)``) into ``out``; oracle:
    ``naive_mo.rank``."""
    n = order.shape[0]
    least = np.empty(n, dtype=np.float64)  # least f2 of each front so far: non-decreasing
    n_fronts = 0
    i = 0
    while i < n:
        p = order[i]
        a, b = f1[p], f2[p]
        # every earlier row is lexicographically smaller: it dominates p iff its f2 <= b, so
        # p's front is the first whose least f2 is above b (a binary search)
        lo, hi = 0, n_fronts
        while lo < hi:
            mid = (lo + hi) // 2
            if least[mid] <= b:
                lo = mid + 1
            else:
                hi = mid
        if lo == n_fronts:
            n_fronts += 1
        least[lo] = b
        # duplicates of p do not dominate each other: same front
        while i < n and f1[order[i]] == a and f2[order[i]] == b:
            out[order[i]] = lo
            i += 1


@njit
def _dominates_nb(F: np.ndarray, q: int, p: int) -> bool:
    """Whether row ``q`` dominates row ``p`` (``q`` precedes ``p`` lexicographically)."""
    strict = False
    for j in range(F.shape[1]):
        if F[q, j] > F[p, j]:
            return False
        if F[q, j] < F[p, j]:
            strict = True
    return strict


@njit
def _rank_nd_nb(F: np.ndarray, order: np.ndarray, out: np.ndarray) -> None:
    """Ranks of the rows ``order`` (lexicographic) into ``out`` by sequential search over the
    fronts, each front a linked list of its rows (newest first); oracle: ``naive_mo.rank``."""
    n = order.shape[0]
    head = np.full(n, -1, dtype=np.int64)  # newest row of each front
    nxt = np.full(F.shape[0], -1, dtype=np.int64)  # next (older) row of the same front
    n_fronts = 0
    for i in range(n):
        p = order[i]
        k = 0
        while k < n_fronts:  # the first front none of whose rows dominates p
            q = head[k]
            dominated = False
            while q >= 0:
                if _dominates_nb(F, q, p):
                    dominated = True
                    break
                q = nxt[q]
            if not dominated:
                break
            k += 1
        if k == n_fronts:
            n_fronts += 1
        out[p] = k
        nxt[p] = head[k]
        head[k] = p


def nondominated_rank(F: np.ndarray) -> np.ndarray:
    """Non-dominated rank of each row of ``F`` (0: the first front), all objectives minimized.

    Parameters
    ----------
    F : ndarray of shape (n, m)
        Fitness on the internal scale (minimized), float64; NaN marks the worst.

    Returns
    -------
    ndarray of shape (n,), int64
        The front of each row; rows holding NaN share the front after the last.

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
    bad = np.isnan(F).any(axis=1)
    rows = np.flatnonzero(~bad)
    if rows.size:
        # lexicographic: first objective, then the second, ... (lexsort's last key is primary)
        order = rows[np.lexsort(F[rows].T[::-1])]
        if m == 1:
            out[order] = _dense_rank(F[order, 0])
        elif m == 2:
            _rank_2d_nb(F[:, 0].copy(), F[:, 1].copy(), order, out)
        else:
            _rank_nd_nb(F, order, out)
    if bad.any():
        out[bad] = (out[rows].max() + 1) if rows.size else 0
    return out


def _dense_rank(sorted_values: np.ndarray) -> np.ndarray:
    """One objective: each distinct value is a front (equal values share it)."""
    new = np.empty(sorted_values.shape[0], dtype=bool)
    new[:1] = False
    new[1:] = sorted_values[1:] != sorted_values[:-1]
    return np.cumsum(new)


def crowding_distance(F: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row within its front (larger: less crowded).

    For each objective the rows of a front are ordered by it; the two ends get ``inf`` and every
    other row adds the gap between its neighbours divided by the front's range of that objective
    (nothing when the range is zero or not finite). Ties are ordered by row index, so the result
    is deterministic. O(m n log n) time, O(n) memory.

    Parameters
    ----------
    F : ndarray of shape (n, m)
        Fitness (minimized); rows holding NaN get distance 0.
    rank : ndarray of shape (n,)
        Front of each row (:func:`nondominated_rank`).

    Returns
    -------
    ndarray of shape (n,), float64

    Examples
    --------
    >>> import numpy as np
    >>> F = np.array([[0.0, 3.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0]])
    >>> crowding_distance(F, np.zeros(4, dtype=np.int64))
    array([inf, 1.33333333, 1.33333333, inf])
    """
    F = np.asarray(F, dtype=np.float64)
    rank = np.asarray(rank)
    n, m = F.shape
    dist = np.zeros(n, dtype=np.float64)
    ok = ~np.isnan(F).any(axis=1)
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return dist
    r = rank[rows]
    for j in range(m):
        v = F[rows, j]
        order = np.lexsort((rows, v, r))  # by front, then value, then row index
        rs, vs, idx = r[order], v[order], rows[order]
        start = np.ones(rs.shape[0], dtype=bool)
        start[1:] = rs[1:] != rs[:-1]
        end = np.ones(rs.shape[0], dtype=bool)
        end[:-1] = start[1:]
        front = np.cumsum(start) - 1
        with np.errstate(invalid="ignore"):  # inf - inf: a span that is not finite
            span = vs[end][front] - vs[start][front]
        gap = np.zeros(rs.shape[0], dtype=np.float64)
        i = np.flatnonzero(~(start | end) & (span > 0) & np.isfinite(span))
        gap[i] = (vs[i + 1] - vs[i - 1]) / span[i]
        dist[idx] += gap
        dist[idx[start | end]] = np.inf
    return dist
