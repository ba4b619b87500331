"""What an optimizer optimizes: vectorized problems, plain callables, elementwise functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import ConfigError
from .space import Space

__all__ = ["ElementwiseProblem", "FunctionProblem", "Problem", "as_problem", "elementwise"]


class Problem:
    """Base class of vectorized problems (like pymoo's).

    Subclasses set ``space`` and implement :meth:`evaluate` on a whole batch. Fitness is what
    ``minimize`` minimizes (``maximize`` maximizes it); shape ``(n,)``, or ``(n, m)`` for ``m``
    objectives.
    """

    space: Space

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Fitness of each row of ``X`` (``(n, d)``, encoded): shape ``(n,)`` or ``(n, m)``."""
        raise NotImplementedError

    def bytes_per_candidate(self) -> int | None:
        """Estimated working memory per candidate during :meth:`evaluate` (None: unknown)."""
        return None


class FunctionProblem(Problem):
    """A vectorized callable ``f(X) -> y`` on a space."""

    def __init__(self, fn: Callable[[np.ndarray], Any], space: Space) -> None:
        self.fn = fn
        self.space = space

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.fn(X)

    def __repr__(self) -> str:
        return f"FunctionProblem({getattr(self.fn, '__name__', self.fn)!r})"


class ElementwiseProblem(Problem):
    """A scalar function of one decoded parameter dict, applied row by row.

    Convenient for slow fitness (a model fit, a simulation); for cheap fitness write a
    vectorized ``f(X)`` instead, since this loops in Python.
    """

    def __init__(self, fn: Callable[[dict[str, Any]], Any], space: Space | None = None) -> None:
        self.fn = fn
        self.space = space  # type: ignore[assignment]
        self.__name__ = getattr(fn, "__name__", "elementwise")

    def bind(self, space: Space) -> ElementwiseProblem:
        """This problem on ``space`` (the optimizer's) when it was created without one."""
        return self if self.space is not None else ElementwiseProblem(self.fn, space)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        if self.space is None:
            raise ConfigError(
                "elementwise problem has no space: pass space= or use it with "
                "an optimizer built on a space"
            )
        cols = self.space.decode(X)
        names = self.space.names
        out = []
        for i in range(X.shape[0]):
            params = {k: _py(cols[k][i]) for k in names}
            out.append(self.fn(params))
        return np.asarray(out, dtype=np.float64)

    def __call__(self, params: dict[str, Any]) -> Any:
        return self.fn(params)


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def elementwise(
    fn: Callable[[dict[str, Any]], Any] | None = None, *, space: Space | None = None
) -> Any:
    """Adapt a scalar fitness ``fn(params: dict) -> float`` into a problem.

    Usable as ``elementwise(fn)``, ``elementwise(fn, space=space)`` or as a decorator.

    Examples
    --------
    >>> import genepool as gp
    >>> space = gp.Space([gp.Integer("n", 0, 10), gp.Categorical("op", ["add", "mul"])])
    >>> @gp.elementwise(space=space)
    ... def score(p):
    ...     return p["n"] + 1 if p["op"] == "add" else p["n"] * 2
    >>> score.evaluate(space.encode({"n": [3, 3], "op": ["add", "mul"]}))
    array([4., 6.])
    """
    if fn is None:
        return lambda f: ElementwiseProblem(f, space)
    return ElementwiseProblem(fn, space)


def as_problem(problem: Any, space: Space) -> Problem:
    """Normalise ``problem`` (a Problem, an elementwise problem or ``f(X)``) onto ``space``."""
    if isinstance(problem, ElementwiseProblem):
        problem = problem.bind(space)
    elif not isinstance(problem, Problem) and not hasattr(problem, "evaluate"):
        if not callable(problem):
            raise ConfigError(
                f"problem must have .evaluate(X) or be a callable f(X), "
                f"got {type(problem).__name__}"
            )
        problem = FunctionProblem(problem, space)
    pspace = getattr(problem, "space", None)
    if pspace is not None and isinstance(pspace, Space) and pspace.dims != space.dims:
        raise ConfigError(
            f"problem.space has {pspace.dims} genes but the optimizer's space has {space.dims}"
        )
    return problem
