"""Kernels of :mod:`genepool.indicators` (numba); the Python API checks their inputs."""

from __future__ import annotations

import numpy as np
from numba import prange

from ._numba import njit_parallel

__all__ = ["nearest_sq_distances"]


@njit_parallel
def nearest_sq_distances(C: np.ndarray, P: np.ndarray, out: np.ndarray) -> None:
    """``out[j] = min_i sum_k (C[k, i] - P[j, k])^2``: squared distance to the nearest point.

    ``C`` (m, n) holds the points column by column, sorted by their first objective ``C[0]``
    (no NaN); ``P`` (k, m). For each ``P[j]`` a binary search finds its place in ``C[0]``;
    then two tight scans, upwards and downwards from there, each stop at the first point
    whose gap ``t`` in the first objective alone has ``t^2 >= best``: every point further out
    is at least that far (the distance is ``fl(t^2 + ...) >= t^2``, rounding is monotone), so
    the minimum is exactly the brute-force one, whatever the order of equal first
    objectives. Worst case O(n) per point (every point in the strip), typically O(log n +
    points within the nearest distance in the first objective). Memory: O(1) per point, no
    distance matrix. Parallel over ``P``'s rows, each ``out[j]`` written by one thread:
    deterministic.
    """
    m, n = C.shape
    for j in prange(P.shape[0]):
        p0 = P[j, 0]
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if C[0, mid] < p0:
                lo = mid + 1
            else:
                hi = mid
        best = np.inf
        i = lo
        while i < n:
            t = C[0, i] - p0
            d = t * t
            if d >= best:
                break
            for k in range(1, m):
                t = C[k, i] - P[j, k]
                d += t * t
            if d < best:
                best = d
            i += 1
        i = lo - 1
        while i >= 0:
            t = C[0, i] - p0
            d = t * t
            if d >= best:
                break
            for k in range(1, m):
                t = C[k, i] - P[j, k]
                d += t * t
            if d < best:
                best = d
            i -= 1
        out[j] = best
