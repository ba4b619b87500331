"""Kernels of :mod:`genepool.indicators` (numba); the Python API checks their inputs."""

from __future__ import annotations

import numpy as np
from numba import prange

from ._numba import njit_parallel

__all__ = ["nearest_sq_distances"]


@njit_parallel
def nearest_sq_distances(S: np.ndarray, P: np.ndarray, out: np.ndarray) -> None:
    """``out[j] = min_i sum_k (S[i, k] - P[j, k])^2``: squared distance to the nearest row.

    ``S`` (n, m) must be sorted by its first column (no NaN); ``P`` (k, m). For each ``P[j]``
    a binary search finds its place in ``S``; rows are then visited outwards, always on the
    side with the smaller gap ``g`` in the first column, until ``g^2 >= best``: every row not
    visited is at least that far (``fl(t0^2 + ...) >= fl(t0^2)``, rounding is monotone), so
    the minimum is exactly the brute-force one. Worst case O(n) per point (every row in the
    strip), typically O(log n + rows within the nearest distance in the first objective).
    Memory: O(1) per point; no distance matrix. Parallel over ``P``'s rows (each ``out[j]`` is
    written by one thread: deterministic).
    """
    n, m = S.shape
    for j in prange(P.shape[0]):
        p0 = P[j, 0]
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if S[mid, 0] < p0:
                lo = mid + 1
            else:
                hi = mid
        up = lo
        down = lo - 1
        best = np.inf
        while up < n or down >= 0:
            gap_up = S[up, 0] - p0 if up < n else np.inf
            gap_down = p0 - S[down, 0] if down >= 0 else np.inf
            if gap_up <= gap_down:
                i = up
                gap = gap_up
                up += 1
            else:
                i = down
                gap = gap_down
                down -= 1
            if gap * gap >= best:
                break
            d = 0.0
            for k in range(m):
                t = S[i, k] - P[j, k]
                d += t * t
            if d < best:
                best = d
        out[j] = best
