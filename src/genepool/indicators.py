"""Quality indicators of multi-objective results: hypervolume, IGD, and a knee point.

Every objective is minimized (convert maximized ones first, e.g. by negating them). ``F`` is
an array of shape ``(n, m)``: one row per point, one column per objective.

- :func:`hypervolume`: the volume dominated by ``F`` and bounded by a reference point
  (``moocore.hypervolume``: exact, O(n log n) for 2 and 3 objectives).
- :func:`igd`: inverted generational distance to a known front (exact nearest neighbours,
  no distance matrix).
- :func:`knee_point`: the index of a recommended compromise on a non-dominated set.

Examples
--------
>>> import numpy as np
>>> from genepool import indicators
>>> F = np.array([[0.0, 1.0], [0.2, 0.2], [1.0, 0.0]])
>>> round(indicators.hypervolume(F, [1.0, 1.0]), 6)
0.64
>>> indicators.igd(F, F)
0.0
>>> indicators.knee_point(F)
1
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from ._indicators_nb import nearest_sq_distances
from .algorithms.archive import normalized
from .errors import ConfigError

__all__ = ["hypervolume", "igd", "knee_point"]

#: An array-like of shape ``(n, m)``.
PointsLike = Union[np.ndarray, Sequence[Sequence[float]]]

#: knee_point falls back when no point lies further than this below the hyperplane of the
#: extremes (in the normalized space, where the extremes span [0, 1]): a flat front.
FLAT_TOLERANCE = 1e-9


def _points(F: PointsLike, name: str, *, finite: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(F, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a numeric array of shape (n, m): {exc}") from None
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ConfigError(f"{name} must have shape (n, m) with m >= 1, got shape {arr.shape}")
    if finite and not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise ConfigError(f"{name} must be finite, got {arr[row].tolist()} in row {row}")
    return arr


def hypervolume(F: PointsLike, reference: Sequence[float] | np.ndarray) -> float:
    """Hypervolume of ``F`` (minimized) with respect to ``reference``.

    The Lebesgue measure of the region dominated by some row of ``F`` and bounded above by
    ``reference``. Rows with NaN are ignored, and so are rows that are not strictly better
    than ``reference`` in every objective (they bound no volume; moocore gives them none
    either, this makes it explicit). ``-inf`` gives ``inf``.

    Exact: ``m = 1`` is ``max(0, reference - min(F))``; ``m >= 2`` calls
    ``moocore.hypervolume`` (O(n log n) for m = 2 and 3, O(n^2) for m = 4; exponential in m
    beyond). Memory: a mask of ``n`` bytes, a copy of the kept rows (``8 n m`` bytes) when a
    row is dropped, and moocore's O(n m).

    Parameters
    ----------
    F : array-like, shape (n, m)
        Objective vectors, one per row.
    reference : array-like, shape (m,)
        The reference point: finite, one value per objective.

    Returns
    -------
    float
        The hypervolume (0.0 when no row is strictly better than ``reference``).

    Raises
    ------
    ConfigError
        When ``F`` is not 2-D, or ``reference`` does not have ``m`` finite values.

    Examples
    --------
    >>> hypervolume([[1.0, 2.0], [2.0, 1.0]], [3.0, 3.0])
    3.0
    >>> hypervolume([[1.0, 2.0], [2.0, 1.0], [0.5, 3.0], [np.nan, 0.0]], [3.0, 3.0])
    3.0
    >>> hypervolume([[1.0], [2.0]], [3.0])
    2.0
    """
    arr = _points(F, "F")
    m = arr.shape[1]
    try:
        ref = np.asarray(reference, dtype=np.float64)
    except (TypeError, ValueError):
        ref = np.array([np.nan])
    if ref.shape != (m,) or not np.isfinite(ref).all():
        shown = reference.tolist() if isinstance(reference, np.ndarray) else reference
        raise ConfigError(
            f"reference must be {m} finite values (one per objective of F), got {shown!r}"
        )
    keep = arr[:, 0] < ref[0]  # NaN compares False: NaN rows go too
    for k in range(1, m):
        keep &= arr[:, k] < ref[k]
    kept = arr if keep.all() else arr[keep]
    if kept.shape[0] == 0:
        return 0.0
    if m == 1:
        return float(ref[0] - kept[:, 0].min())
    return float(_moocore().hypervolume(kept, ref=ref))


def _moocore() -> Any:
    """moocore, imported on first use (it ships no type information: typed as Any here)."""
    return importlib.import_module("moocore")


def _nearest_distances(F: PointsLike, front: PointsLike) -> np.ndarray:
    """Distance from each row of ``front`` to its nearest row of ``F`` (NaN rows ignored)."""
    arr = _points(F, "F")
    P = _points(front, "front", finite=True)
    if P.shape[1] != arr.shape[1]:
        raise ConfigError(
            f"front has {P.shape[1]} objectives but F has {arr.shape[1]}: "
            f"shapes {P.shape} and {arr.shape}"
        )
    bad = np.isnan(arr).any(axis=1)
    rows = np.flatnonzero(~bad) if bad.any() else None
    n = arr.shape[0] if rows is None else rows.shape[0]
    if n == 0:
        return np.full(P.shape[0], np.inf)
    first = arr[:, 0] if rows is None else arr[rows, 0]
    order = np.argsort(first)  # the order of equal values does not change the minimum
    if rows is not None:
        order = rows[order]
    C = np.empty((arr.shape[1], n))  # sorted, one objective per row: contiguous scans
    for k in range(arr.shape[1]):
        np.take(arr[:, k], order, out=C[k])
    del order
    out = np.empty(P.shape[0])
    nearest_sq_distances(C, np.ascontiguousarray(P), out)
    return np.sqrt(out)


def igd(F: PointsLike, front: PointsLike) -> float:
    """Inverted generational distance of ``F`` to the known ``front``.

    ``IGD = mean over the points z of front of min over the rows a of F of |a - z|``
    (Euclidean; Coello and Reyes Sierra 2004). 0 when every front point is a row of ``F``;
    lower is better. Rows of ``F`` with NaN are ignored; an ``F`` with no other row gives
    ``inf``.

    Exact and memory-bounded without chunks: ``F`` is sorted by its first objective (a
    column-wise copy, ``8 n m`` bytes, and an ``8 n``-byte argsort, freed before the search),
    then a numba kernel, parallel over the front's points, finds each point's nearest row by
    scanning outwards from the point's place in that order, each way until the gap in the
    first objective alone is at least the best distance so far. No ``len(F) x len(front)``
    matrix, no chunk of one: the extra memory is one float per front point. The result is
    the brute-force minimum exactly (bit for bit, whatever the order of ``F``'s rows). Time:
    O(n log n) for the sort plus, per front point, the rows within its nearest distance in
    the first objective: about 1 s for 10^6 rows near a 10^4-point front on 2 cores, but all
    ``n`` rows per point in the worst case (``F`` far from the front: O(n k m)).

    Parameters
    ----------
    F : array-like, shape (n, m)
        The approximation (e.g. a population's objectives).
    front : array-like, shape (k, m)
        Points of the true front (finite), e.g. ``problem.pareto_front()``.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        When ``F`` or ``front`` is not 2-D, ``front`` is empty or not finite, or their
        numbers of objectives differ.

    Examples
    --------
    >>> igd([[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]])
    0.5
    """
    dist = _nearest_distances(F, front)
    if dist.shape[0] == 0:
        raise ConfigError("front must have at least one point, got shape (0, m)")
    return float(dist.mean())


def knee_point(F: PointsLike) -> int:
    """Index of the knee of a non-dominated set ``F`` (minimized): a recommended compromise.

    The rule, exactly:

    1. Normalize each objective to [0, 1] by the set's ideal (column minimum) and nadir
       (column maximum) points.
    2. The extreme point of objective ``j`` is the row with the least normalized ``f_j``
       (ties: the least sum of its normalized objectives, then the lowest index).
    3. The hyperplane through the ``m`` extreme points is ``w . x = 1`` (``E w = 1``, ``E``
       the extremes' rows; for m = 2 the line through the two extremes). Each point's
       distance below it (on the side of the ideal point) is ``(1 - w . x) / |w|``.
    4. The knee is the row furthest below the hyperplane; ties go to the lowest index.

    Fallback, the row nearest the ideal point in the normalized space (Euclidean; ties to the
    lowest index), when the rule cannot tell: fewer than ``m + 1`` distinct rows, an
    objective whose range is 0, extremes that do not span a hyperplane (``E`` singular), or
    a flat set, where no row lies more than ``FLAT_TOLERANCE`` (1e-9) below the hyperplane
    (a straight line for m = 2, or a concave front such as ZDT2's or DTLZ2's: all above it). With
    ``m = 1`` it is the first row of least value.

    ``F`` is expected to be non-dominated (a front): dominated rows are not removed. Memory:
    a normalized copy of ``F`` and one distance per row.

    Parameters
    ----------
    F : array-like, shape (n, m)
        Finite objective vectors, ``n >= 1``.

    Returns
    -------
    int
        A row index of ``F``.

    Raises
    ------
    ConfigError
        When ``F`` is not 2-D, is empty or holds NaN or infinite values.

    Examples
    --------
    >>> knee_point([[0.0, 1.0], [0.1, 0.3], [0.4, 0.1], [1.0, 0.0]])
    1
    >>> knee_point([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])  # a line: nearest the ideal point
    1
    """
    arr = _points(F, "F", finite=True)
    n, m = arr.shape
    if n == 0:
        raise ConfigError("F must have at least one row, got shape (0, m)")
    span = arr.max(axis=0) - arr.min(axis=0)
    N = normalized(arr)
    nearest_ideal = int(np.argmin(np.sqrt(np.einsum("ij,ij->i", N, N))))
    if (span <= 0).any() or np.unique(arr, axis=0).shape[0] < m + 1:
        return nearest_ideal
    total = N.sum(axis=1)
    extremes = [int(np.lexsort((np.arange(n), total, N[:, j]))[0]) for j in range(m)]
    E = N[extremes]
    try:
        w = np.linalg.solve(E, np.ones(m))
    except np.linalg.LinAlgError:
        return nearest_ideal
    norm = float(np.linalg.norm(w))
    if not np.isfinite(w).all() or norm == 0.0 or np.linalg.cond(E) > 1e12:
        return nearest_ideal
    below = (1.0 - N @ w) / norm
    knee = int(np.argmax(below))
    if below[knee] <= FLAT_TOLERANCE:
        return nearest_ideal
    return knee
