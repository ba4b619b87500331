"""Vectorized benchmark functions, as functions ``f(X) -> (n,)`` and as problems with spaces.

All are minimized with optimum 0: sphere and rastrigin at the origin, rosenbrock at ones,
ackley at the origin.

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

__all__ = [
    "BenchmarkProblem",
    "ackley",
    "control",
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
            raise ConfigError(f"unknown problem {self.name!r}; choose one of {names()}")
        fn, low, high = _REGISTRY[self.name]
        self.fn = fn
        self.space = Space.box(low, high, self.dims)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.fn(X)

    def bytes_per_candidate(self) -> int:
        return 3 * 8 * self.dims  # a few (d,) temporaries per row


def names() -> list[str]:
    """Names of the built-in benchmark problems."""
    return sorted(_REGISTRY)


def get(name: str, dims: int) -> BenchmarkProblem:
    """The benchmark problem ``name`` in ``dims`` dimensions on its usual bounds."""
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ConfigError(f"dims must be a positive integer, got {dims!r}")
    if name == "rosenbrock" and dims < 2:
        raise ConfigError("rosenbrock needs dims >= 2")
    return BenchmarkProblem(name, int(dims))
