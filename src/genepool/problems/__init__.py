"""Vectorized benchmark functions, as functions ``f(X) -> (n,)`` and as problems with spaces.

All are minimized with optimum 0: sphere and rastrigin at the origin, rosenbrock at ones,
ackley at the origin. The multi-objective benchmarks (ZDT1-3, DTLZ2, BNH, with their true
fronts) are in :mod:`genepool.problems.multiobjective`; :func:`get` builds them by name too.

Examples
--------
>>> import numpy as np
>>> from genepool import problems
>>> float(problems.rastrigin(np.zeros((1, 30)))[0])
0.0
>>> problems.get("rastrigin", 30).space.dims
30
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..problem import Problem
from ..space import Space
from . import control
from .multiobjective import BNH, DTLZ2, ZDT1, ZDT2, ZDT3, MultiObjectiveProblem, das_dennis

__all__ = [
    "BNH",
    "DTLZ2",
    "ZDT1",
    "ZDT2",
    "ZDT3",
    "BenchmarkProblem",
    "MultiObjectiveProblem",
    "ackley",
    "control",
    "das_dennis",
    "get",
    "names",
    "rastrigin",
    "rosenbrock",
    "sphere",
]


def sphere(X: np.ndarray) -> np.ndarray:
    """``sum(x^2)``."""
    X = np.asarray(X, dtype=np.float64)
    return np.einsum("ij,ij->i", X, X)


def rastrigin(X: np.ndarray) -> np.ndarray:
    """``10 d + sum(x^2 - 10 cos(2 pi x))``; usual bounds [-5.12, 5.12]."""
    X = np.asarray(X, dtype=np.float64)
    return 10.0 * X.shape[1] + np.einsum("ij,ij->i", X, X) - 10.0 * np.cos(2 * np.pi * X).sum(1)


def rosenbrock(X: np.ndarray) -> np.ndarray:
    """``sum(100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2)``; usual bounds [-5, 10]."""
    X = np.asarray(X, dtype=np.float64)
    a, b = X[:, :-1], X[:, 1:]
    return (100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2).sum(axis=1)


def ackley(X: np.ndarray) -> np.ndarray:
    """Ackley's function (a=20, b=0.2, c=2 pi); usual bounds [-32.768, 32.768]."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    r = np.sqrt(np.einsum("ij,ij->i", X, X) / d)
    c = np.cos(2 * np.pi * X).sum(axis=1) / d
    return -20.0 * np.exp(-0.2 * r) - np.exp(c) + 20.0 + np.e


_REGISTRY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, float]] = {
    "sphere": (sphere, -5.12, 5.12),
    "rastrigin": (rastrigin, -5.12, 5.12),
    "rosenbrock": (rosenbrock, -5.0, 10.0),
    "ackley": (ackley, -32.768, 32.768),
}


@dataclass
class BenchmarkProblem(Problem):
    """A named benchmark function on its usual box."""

    name: str
    dims: int

    def __post_init__(self) -> None:
        if self.name not in _REGISTRY:
            raise ConfigError(f"unknown problem {self.name!r}; choose one of {names('all')}")
        fn, low, high = _REGISTRY[self.name]
        self.fn = fn
        self.space = Space.box(low, high, self.dims)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.fn(X)

    def bytes_per_candidate(self) -> int:
        return 3 * 8 * self.dims  # a few (d,) temporaries per row


#: The multi-objective benchmarks by name: ``dims`` is ``n_var`` (DTLZ2 with 3 objectives;
#: BNH has exactly 2 genes).
_MULTI: dict[str, Callable[[int], MultiObjectiveProblem]] = {
    "zdt1": ZDT1,
    "zdt2": ZDT2,
    "zdt3": ZDT3,
    "dtlz2": lambda dims: DTLZ2(n_var=dims, n_obj=3),
    "bnh": lambda dims: BNH(),
}


def names(kind: str = "single") -> list[str]:
    """Names of the built-in benchmark problems.

    ``kind`` is ``"single"`` (the default: the single-objective functions, which the
    ``genepool benchmark`` command runs), ``"multi"`` (ZDT1-3, DTLZ2, BNH) or ``"all"``.
    """
    if kind == "single":
        return sorted(_REGISTRY)
    if kind == "multi":
        return sorted(_MULTI)
    if kind == "all":
        return sorted([*_REGISTRY, *_MULTI])
    raise ConfigError(f"kind must be 'single', 'multi' or 'all', got {kind!r}")


def get(name: str, dims: int) -> BenchmarkProblem | MultiObjectiveProblem:
    """The benchmark problem ``name`` in ``dims`` dimensions on its usual bounds.

    The multi-objective names (``names("multi")``) give a :class:`MultiObjectiveProblem` on
    ``[0, 1]^dims`` (BNH: ``dims`` must be 2; DTLZ2: 3 objectives, ``dims >= 3``).
    """
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ConfigError(f"dims must be a positive integer, got {dims!r}")
    if name == "rosenbrock" and dims < 2:
        raise ConfigError("rosenbrock needs dims >= 2")
    if name in _MULTI:
        if name == "bnh" and dims != 2:
            raise ConfigError(f"bnh has exactly 2 genes: dims must be 2, got {dims!r}")
        return _MULTI[name](int(dims))
    return BenchmarkProblem(name, int(dims))
