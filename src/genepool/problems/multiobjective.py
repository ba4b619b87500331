"""Vectorized multi-objective benchmark problems (ZDT1-3, DTLZ2, BNH) with their true fronts.

Every problem is minimized. ``evaluate(X)`` returns shape ``(n, n_obj + n_constraints)``: the
objective columns, then the constraint columns ``g`` with ``g <= 0`` feasible (pymoo's
convention; only :class:`BNH` has constraints). The formulas and the column order are pymoo's
(``pymoo.problems.get_problem``), which the tests check to 1e-12.

Examples
--------
>>> import numpy as np
>>> from genepool.problems import ZDT1
>>> prob = ZDT1(n_var=5)
>>> prob.evaluate(np.zeros((1, 5)))
array([[0., 1.]])
>>> prob.pareto_front(3)
array([[0.        , 1.        ],
       [0.5       , 0.29289322],
       [1.        , 0.        ]])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..problem import Problem
from ..space import Space

__all__ = ["BNH", "DTLZ2", "ZDT1", "ZDT2", "ZDT3", "MultiObjectiveProblem", "das_dennis"]


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class MultiObjectiveProblem(Problem):
    """Base of the multi-objective benchmarks: a box space, ``n_obj`` objectives, constraints.

    Subclasses set :attr:`space`, :attr:`n_obj`, :attr:`n_constraints` and implement
    ``_evaluate(X)`` (``X`` already checked: float64, ``(n, n_var)``) and :meth:`pareto_front`.
    """

    #: Number of objectives (the first columns of :meth:`evaluate`).
    n_obj: int
    #: Number of constraint columns after the objectives (``g <= 0`` is feasible).
    n_constraints: int = 0

    @property
    def n_var(self) -> int:
        """Number of decision variables (genes)."""
        return self.space.dims

    @property
    def objective_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """Names of the objective columns: ``("f1", ..., "f{n_obj}")`` (the
        :class:`~genepool.Problem` hook that names a multi-objective run's columns)."""
        return tuple(f"f{i + 1}" for i in range(self.n_obj))

    @property
    def constraints(self) -> tuple[str, ...]:
        """Names of the constraint columns: ``("g1", ..., "g{n_constraints}")``."""
        return tuple(f"g{i + 1}" for i in range(self.n_constraints))

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Objectives then constraints of each row of ``X``: shape ``(n, n_obj + n_constraints)``.

        Memory: a few float64 arrays of the shape of ``X`` (see :meth:`bytes_per_candidate`).

        Raises
        ------
        ConfigError
            When ``X`` is not 2-D with ``n_var`` columns.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_var:
            raise ConfigError(
                f"X must have shape (n, {self.n_var}) for {type(self).__name__}, got {X.shape}"
            )
        return self._evaluate(X)

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def pareto_front(self, n_points: int = 1000) -> np.ndarray | None:
        """The true Pareto front, shape ``(k, n_obj)`` (None where it is not known)."""
        raise NotImplementedError

    def bytes_per_candidate(self) -> int:
        return 3 * 8 * self.n_var + 8 * (self.n_obj + self.n_constraints)

    def shared_config(self) -> dict[str, Any] | None:
        return self._config()

    def _config(self) -> dict[str, Any]:
        return {"n_var": self.n_var}

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"


class _ZDT(MultiObjectiveProblem):
    """ZDT base: ``n_var >= 2`` genes in [0, 1], ``f1 = x0``, ``g = 1 + 9 mean(x[1:])``."""

    n_obj = 2

    def __init__(self, n_var: int = 30) -> None:
        self.space = Space.box(0.0, 1.0, _check_count("n_var", n_var, 2))

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        f1 = X[:, 0]
        g = 1.0 + 9.0 / (X.shape[1] - 1) * X[:, 1:].sum(axis=1)
        out = np.empty((X.shape[0], 2))
        out[:, 0] = f1
        out[:, 1] = g * self._h(f1, f1 / g)
        return out

    @staticmethod
    def _h(f1: np.ndarray, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def pareto_front(self, n_points: int = 1000) -> np.ndarray:
        """``n_points`` points of the true front (``g = 1``), ``f1`` evenly spaced in [0, 1]."""
        f1 = np.linspace(0.0, 1.0, _check_count("n_points", n_points, 1))
        return np.column_stack([f1, self._h(f1, f1)])


class ZDT1(_ZDT):
    """ZDT1: convex front ``f2 = 1 - sqrt(f1)``, ``f1`` in [0, 1].

    ``f1 = x0``, ``g = 1 + 9 sum(x[1:]) / (n_var - 1)``, ``f2 = g (1 - sqrt(f1 / g))``; the
    front is where ``x[1:] = 0``.
    """

    @staticmethod
    def _h(f1: np.ndarray, r: np.ndarray) -> np.ndarray:
        return 1.0 - np.sqrt(r)


class ZDT2(_ZDT):
    """ZDT2: concave front ``f2 = 1 - f1^2``; ``f2 = g (1 - (f1 / g)^2)``."""

    @staticmethod
    def _h(f1: np.ndarray, r: np.ndarray) -> np.ndarray:
        return 1.0 - r * r


def _zdt3_curve(x: np.ndarray) -> np.ndarray:
    return 1.0 - np.sqrt(x) - x * np.sin(10.0 * np.pi * x)


def _zdt3_slope(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (
            -0.5 / np.sqrt(x)
            - np.sin(10.0 * np.pi * x)
            - 10.0 * np.pi * x * np.cos(10.0 * np.pi * x)
        )


def _bisect(fn: Any, lo: np.ndarray, hi: np.ndarray, iterations: int = 80) -> np.ndarray:
    """Roots of ``fn`` in ``[lo, hi]`` (elementwise; ``fn(lo) < 0 <= fn(hi)`` or the reverse)."""
    lo, hi = lo.copy(), hi.copy()
    neg_lo = fn(lo) < 0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        same = (fn(mid) < 0) == neg_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def zdt3_regions(grid: int = 1 << 16) -> np.ndarray:
    """The ``f1`` intervals of ZDT3's disconnected front, shape ``(5, 2)``.

    The front is the non-dominated part of ``h(x) = 1 - sqrt(x) - x sin(10 pi x)`` on [0, 1]:
    each piece ends at a local minimum of ``h`` (a root of ``h'``, by bisection) lower than
    every earlier one, and starts where ``h`` falls to the previous piece's minimum (again by
    bisection); the first starts at 0. Deterministic: a fixed grid of ``grid`` intervals
    brackets the roots.
    """
    x = np.linspace(0.0, 1.0, grid + 1)[1:]
    s = _zdt3_slope(x)
    up = np.flatnonzero((s[:-1] < 0) & (s[1:] >= 0))  # h' crosses 0 upwards: local minima
    minima = _bisect(_zdt3_slope, x[up], x[up + 1])
    down = np.flatnonzero((s[:-1] >= 0) & (s[1:] < 0))  # local maxima
    maxima = _bisect(_zdt3_slope, x[down], x[down + 1])
    values = _zdt3_curve(minima)
    regions: list[tuple[float, float]] = []
    best = np.inf
    for x_min, v in zip(minima, values):
        if v >= best:
            continue
        if not regions:
            regions.append((0.0, float(x_min)))
        else:
            peak = maxima[(maxima > regions[-1][1]) & (maxima < x_min)].max()
            level = best
            start = _bisect(
                lambda t, level=level: _zdt3_curve(t) - level,
                np.array([peak]),
                np.array([x_min]),
            )[0]
            regions.append((float(start), float(x_min)))
        best = v
    # the curve at f1 = 1 (h = 0) is above the last minimum: nothing more is non-dominated
    return np.array(regions)


_ZDT3_REGIONS: np.ndarray | None = None


class ZDT3(_ZDT):
    """ZDT3: front of five disconnected pieces of ``f2 = 1 - sqrt(f1) - f1 sin(10 pi f1)``.

    ``f2 = g (1 - sqrt(f1 / g) - (f1 / g) sin(10 pi f1))``.
    """

    @staticmethod
    def _h(f1: np.ndarray, r: np.ndarray) -> np.ndarray:
        return 1.0 - np.sqrt(r) - r * np.sin(10.0 * np.pi * f1)

    def pareto_front(self, n_points: int = 1000) -> np.ndarray:
        """``n_points`` points on the five pieces (:func:`zdt3_regions`), spread by length.

        Each piece gets a share of the points proportional to its ``f1`` length (largest
        remainders first, at least 2 per piece when ``n_points >= 10``), evenly spaced and
        including both of its ends.
        """
        global _ZDT3_REGIONS
        n_points = _check_count("n_points", n_points, 1)
        if _ZDT3_REGIONS is None:
            _ZDT3_REGIONS = zdt3_regions()
        regions = _ZDT3_REGIONS
        counts = _apportion(regions[:, 1] - regions[:, 0], n_points)
        f1 = np.concatenate([np.linspace(a, b, c) for (a, b), c in zip(regions, counts) if c > 0])
        return np.column_stack([f1, _zdt3_curve(f1)])


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """``total`` split in integers proportional to ``weights`` (largest remainder, stable)."""
    share = weights / weights.sum() * total
    counts = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def das_dennis(n_partitions: int, n_obj: int) -> np.ndarray:
    """Das-Dennis points: every ``w >= 0`` with ``sum(w) = 1`` on a grid of step ``1/p``.

    Shape ``(comb(p + m - 1, m - 1), m)``, rows in lexicographic order of the grid indices
    (decreasing first coordinate). The same set as pymoo's ``get_reference_directions(
    "das-dennis", m, n_partitions=p)`` (possibly in another row order).

    Examples
    --------
    >>> das_dennis(2, 2)
    array([[1. , 0. ],
           [0.5, 0.5],
           [0. , 1. ]])
    """
    p = _check_count("n_partitions", n_partitions, 1)
    m = _check_count("n_obj", n_obj, 1)
    rows: list[list[int]] = [[]]
    for _ in range(m - 1):
        rows = [[*r, k] for r in rows for k in range(p - sum(r), -1, -1)]
    grid = np.array([[*r, p - sum(r)] for r in rows], dtype=np.float64).reshape(-1, m)
    return grid / p


class DTLZ2(MultiObjectiveProblem):
    """DTLZ2: the front is the unit sphere's positive orthant, ``sum(f^2) = 1``.

    ``k = n_var - n_obj + 1`` distance genes ``x_M`` (the last ones), ``g = sum((x_M -
    0.5)^2)``, ``f_i = (1 + g) cos(x_0 pi/2) ... cos(x_{m-2-i} pi/2) sin(x_{m-1-i} pi/2)``
    (no sine for ``f_1``).
    """

    def __init__(self, n_var: int = 12, n_obj: int = 3) -> None:
        self.n_obj = _check_count("n_obj", n_obj, 2)
        if isinstance(n_var, (int, np.integer)) and not isinstance(n_var, bool):
            if n_var < self.n_obj:
                raise ConfigError(f"n_var must be >= n_obj ({self.n_obj}), got {n_var!r}")
        self.space = Space.box(0.0, 1.0, _check_count("n_var", n_var, 2))

    def _config(self) -> dict[str, Any]:
        return {"n_var": self.n_var, "n_obj": self.n_obj}

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        m = self.n_obj
        angles = X[:, : m - 1] * (np.pi / 2.0)
        g = np.square(X[:, m - 1 :] - 0.5).sum(axis=1)
        # cos products: prefix[:, j] = cos(a_0) ... cos(a_{j-1}); prefix[:, 0] = 1
        prefix = np.ones((X.shape[0], m))
        np.cumprod(np.cos(angles), axis=1, out=prefix[:, 1:])
        sines = np.sin(angles)
        out = np.empty((X.shape[0], m))
        one_g = 1.0 + g
        for i in range(m):  # a loop over objectives, not rows
            j = m - 1 - i
            out[:, i] = one_g * prefix[:, j]
            if i > 0:
                out[:, i] *= sines[:, j]
        return out

    def pareto_front(self, n_points: int = 1000) -> np.ndarray:
        """Das-Dennis directions projected on the unit sphere: at most ``n_points`` rows.

        The number of partitions is the largest ``p`` with ``comb(p + m - 1, m - 1) <=
        n_points`` (at least 1); each direction ``w`` gives the point ``w / |w|``.
        """
        n_points = _check_count("n_points", n_points, 1)
        m = self.n_obj
        p = 1
        while math.comb(p + m, m - 1) <= n_points:
            p += 1
        W = das_dennis(p, m)
        return W / np.linalg.norm(W, axis=1, keepdims=True)


class BNH(MultiObjectiveProblem):
    """Binh and Korn: 2 genes (``x0`` in [0, 5], ``x1`` in [0, 3]), 2 objectives, 2 constraints.

    ``f1 = 4 x0^2 + 4 x1^2``, ``f2 = (x0 - 5)^2 + (x1 - 5)^2``,
    ``g1 = ((x0 - 5)^2 + x1^2 - 25) / 25 <= 0``,
    ``g2 = -((x0 - 8)^2 + (x1 + 3)^2 - 7.7) / 7.7 <= 0``.
    """

    n_obj = 2
    n_constraints = 2

    def __init__(self) -> None:
        self.space = Space.box([0.0, 0.0], [5.0, 3.0], 2)

    def _config(self) -> dict[str, Any]:
        return {}

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        x0, x1 = X[:, 0], X[:, 1]
        out = np.empty((X.shape[0], 4))
        out[:, 0] = 4 * x0**2 + 4 * x1**2
        out[:, 1] = (x0 - 5) ** 2 + (x1 - 5) ** 2
        out[:, 2] = (1 / 25) * ((x0 - 5) ** 2 + x1**2 - 25)
        out[:, 3] = -1 / 7.7 * ((x0 - 8) ** 2 + (x1 + 3) ** 2 - 7.7)
        return out

    def pareto_front(self, n_points: int = 1000) -> np.ndarray:
        """The analytic front: the Pareto set is ``x0 = x1`` in [0, 3], then ``x1 = 3``,
        ``x0`` in [3, 5] (both constraints hold there); ``x0`` evenly spaced in [0, 5].

        Both objectives are isotropic quadratics (centres (0, 0) and (5, 5)), so without the
        bound ``x1 <= 3`` the set would be the segment between the centres; the bound
        projects its upper part onto ``x1 = 3``.
        """
        x0 = np.linspace(0.0, 5.0, _check_count("n_points", n_points, 1))
        x1 = np.minimum(x0, 3.0)
        return self._evaluate(np.column_stack([x0, x1]))[:, :2]
