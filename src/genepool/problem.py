"""What an optimizer optimizes: vectorized problems, plain callables, elementwise functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, Union, overload

import numpy as np

from .errors import ConfigError
from .space import Space

__all__ = [
    "ElementwiseFunction",
    "ElementwiseProblem",
    "FunctionProblem",
    "Problem",
    "ProblemAdapter",
    "ProblemLike",
    "SupportsEvaluate",
    "as_problem",
    "elementwise",
    "problem_name",
]


class Problem:
    """Base class of vectorized problems (like pymoo's), and the problem contract.

    Subclasses set ``space`` and implement :meth:`evaluate` on a whole batch. Fitness is what
    ``minimize`` minimizes (``maximize`` maximizes it); shape ``(n,)``, or ``(n, m)`` for ``m``
    objectives. Every other member is an optional hook with a default here:
    :meth:`bytes_per_candidate`, :meth:`memory_hint`, :attr:`invalid_fitness`, the sharing
    protocol (:meth:`shared_arrays`, :meth:`shared_config`, :meth:`from_shared`) and
    :meth:`warm_up`. :func:`as_problem` gives any problem these hooks;
    :func:`genepool.testing.check_problem` checks an implementation.
    """

    space: Space
    #: A fitness that marks an invalid individual (left out of the history's mean and std),
    #: or None (the default: none does).
    invalid_fitness: float | None = None
    #: Names of the objectives of a multi-objective problem (the columns of the fitness), or
    #: None (the default: ``minimize(objectives=...)`` names them, else ``f1``, ``f2``, ...).
    objective_names: Sequence[str] | None = None
    #: Constraint columns ``g`` returned after the objectives (``g <= 0`` is satisfied); only
    #: multi-objective optimizers (NSGA2) take constraints.
    n_constraints: int = 0

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Fitness of each row of ``X`` (``(n, d)``, encoded): shape ``(n,)`` or ``(n, m)``."""
        raise NotImplementedError

    def bytes_per_candidate(self) -> int | None:
        """Estimated working memory per candidate during :meth:`evaluate` (None: unknown)."""
        return None

    # -- sharing with worker processes (executor="processes" or "dask") -----------------------
    def shared_arrays(self) -> dict[str, np.ndarray]:
        """Read-only arrays (prices, datasets) that workers map from shared memory.

        Used with :meth:`shared_config` and :meth:`from_shared`: the arrays are placed once
        per pool (one shared-memory segment for local processes, once per Dask worker), never
        pickled per task. Arrays that are the same object are shared once.
        """
        return {}

    def shared_config(self) -> dict[str, Any] | None:
        """JSON-compatible settings that rebuild this problem from :meth:`shared_arrays`.

        ``None`` (the default): the problem does not implement the sharing protocol and is
        pickled once per worker (with cloudpickle when installed) when the pool starts.
        """
        return None

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        """Rebuild the problem in a worker from ``shared_arrays()`` and ``shared_config()``.

        ``arrays`` may be views of shared memory: the problem must not write to them.
        """
        raise NotImplementedError(f"{cls.__name__} does not implement from_shared")

    def warm_up(self) -> None:
        """Called once in each worker before its first chunk (e.g. to load numba kernels)."""

    def fit_memory(self, memory_limit: int) -> None:
        """Called by the :class:`~genepool.evaluation.Evaluator` with the run's
        ``memory_limit`` (bytes) before anything is evaluated: a problem whose working memory
        has a knob of its own (``StrategyProblem``'s block length) sets it from the budget.
        The default does nothing."""

    def memory_hint(self) -> str | None:
        """A problem-specific way out of a tight memory budget, or ``None`` (the default).

        It ends :class:`~genepool.errors.MemoryBudgetExceeded`, the "memory_limit is too
        small" :class:`~genepool.errors.ConfigError` and the evaluator's tight-budget warning.
        """
        return None


class SupportsEvaluate(Protocol):
    """Any object with ``evaluate(X) -> y`` (adapted by :class:`ProblemAdapter`)."""

    def evaluate(self, X: np.ndarray) -> np.ndarray: ...


#: A Problem (``genepool.elementwise(f)`` included), an object with ``evaluate(X)``, or a
#: vectorized ``f(X) -> y``: what :func:`~genepool.minimize` and :func:`as_problem` accept.
ProblemLike = Union[Problem, SupportsEvaluate, Callable[[np.ndarray], np.ndarray]]
#: A scalar fitness of one individual's decoded parameters, ``fn(params) -> float``.
ElementwiseFunction = Callable[[dict[str, Any]], float]


class ProblemAdapter(Problem):
    """An object with ``evaluate(X)`` that is not a :class:`Problem`, given the hooks.

    Each hook is the object's own where it has one, else the default of :class:`Problem`.
    The sharing protocol rebuilds the object by its own ``from_shared`` (and adapts it again).

    Parameters
    ----------
    inner : object
        Has ``evaluate(X)``; may have ``space`` and any of the hooks.
    space : Space, optional
        Used when ``inner`` has no ``space``.
    """

    def __init__(self, inner: SupportsEvaluate, space: Space | None = None) -> None:
        self.inner = inner
        own = getattr(inner, "space", None)
        self.space = own if own is not None else space  # type: ignore[assignment]
        self.invalid_fitness = getattr(inner, "invalid_fitness", None)
        self.objective_names = getattr(inner, "objective_names", None)
        self.n_constraints = getattr(inner, "n_constraints", 0)
        self._hooks = {
            name: getattr(inner, name)
            for name in (
                "bytes_per_candidate",
                "memory_hint",
                "warm_up",
                "shared_arrays",
                "shared_config",
            )
            if callable(getattr(inner, name, None))
        }

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.inner.evaluate(X)

    def bytes_per_candidate(self) -> int | None:
        hook = self._hooks.get("bytes_per_candidate")
        return None if hook is None else hook()

    def fit_memory(self, memory_limit: int) -> None:
        """Called by the :class:`~genepool.evaluation.Evaluator` with the run's
        ``memory_limit`` (bytes) before anything is evaluated: a problem whose working memory
        has a knob of its own (``StrategyProblem``'s block length) sets it from the budget.
        The default does nothing."""

    def memory_hint(self) -> str | None:
        hook = self._hooks.get("memory_hint")
        return None if hook is None else hook()

    def warm_up(self) -> None:
        hook = self._hooks.get("warm_up")
        if hook is not None:
            hook()

    def shared_arrays(self) -> dict[str, np.ndarray]:
        hook = self._hooks.get("shared_arrays")
        return {} if hook is None else hook()

    def shared_config(self) -> dict[str, Any] | None:
        hook = self._hooks.get("shared_config")
        config = None if hook is None else hook()
        if config is None:
            return None
        cls = type(self.inner)
        return {"class": f"{cls.__module__}:{cls.__qualname__}", "config": config}

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(_import_name(config["class"]).from_shared(arrays, config["config"]))

    @property
    def name(self) -> str:
        """The adapted object's type name."""
        return type(self.inner).__name__

    def __repr__(self) -> str:
        return f"ProblemAdapter({self.inner!r})"


def problem_name(problem: object) -> str:
    """The type name of ``problem`` (of the adapted object for a :class:`ProblemAdapter`)."""
    return problem.name if isinstance(problem, ProblemAdapter) else type(problem).__name__


class FunctionProblem(Problem):
    """A vectorized callable ``f(X) -> y`` on a space."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], space: Space) -> None:
        self.fn = fn
        self.space = space

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.fn(X)

    def __repr__(self) -> str:
        return f"FunctionProblem({getattr(self.fn, '__name__', self.fn)!r})"

    def shared_config(self) -> dict[str, Any] | None:
        name = importable_name(self.fn)
        return None if name is None else {"function": name, "space": self.space.to_dict()}

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(_import_name(config["function"]), Space.from_dict(config["space"]))


class ElementwiseProblem(Problem):
    """A scalar function of one decoded parameter dict, applied row by row.

    Convenient for slow fitness (a model fit, a simulation); for cheap fitness write a
    vectorized ``f(X)`` instead, since this loops in Python.
    """

    def __init__(self, fn: ElementwiseFunction, space: Space | None = None) -> None:
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

    def __call__(self, params: dict[str, Any]) -> float:
        return self.fn(params)

    def shared_config(self) -> dict[str, Any] | None:
        name = importable_name(self.fn)
        if name is None or self.space is None:
            return None
        return {"function": name, "space": self.space.to_dict()}

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(_import_name(config["function"]), Space.from_dict(config["space"]))


def importable_name(fn: object) -> str | None:
    """``"module:qualname"`` when ``fn`` can be imported back by that name, else None."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        return None
    try:
        found = _import_name(f"{module}:{qualname}")
    except Exception:
        return None
    return f"{module}:{qualname}" if found is fn else None


def _import_name(name: str) -> Any:
    import importlib

    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


@overload
def elementwise(fn: ElementwiseFunction, *, space: Space | None = None) -> ElementwiseProblem: ...


@overload
def elementwise(
    fn: None = None, *, space: Space | None = None
) -> Callable[[ElementwiseFunction], ElementwiseProblem]: ...


def elementwise(
    fn: ElementwiseFunction | None = None, *, space: Space | None = None
) -> ElementwiseProblem | Callable[[ElementwiseFunction], ElementwiseProblem]:
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


def as_problem(problem: ProblemLike, space: Space) -> Problem:
    """Normalise ``problem`` (a Problem, an elementwise problem or ``f(X)``) onto ``space``.

    The result has every hook of :class:`Problem`: an object with ``evaluate`` that is not
    a :class:`Problem` is wrapped in a :class:`ProblemAdapter`.
    """
    if isinstance(problem, ElementwiseProblem):
        problem = problem.bind(space)
    elif not isinstance(problem, Problem):
        if hasattr(problem, "evaluate"):
            problem = ProblemAdapter(problem, space)
        elif not callable(problem):
            raise ConfigError(
                f"problem must have .evaluate(X) or be a callable f(X), "
                f"got {type(problem).__name__}"
            )
        else:
            problem = FunctionProblem(problem, space)
    pspace = getattr(problem, "space", None)
    if pspace is not None and isinstance(pspace, Space) and pspace.dims != space.dims:
        raise ConfigError(
            f"problem.space has {pspace.dims} genes but the optimizer's space has {space.dims}"
        )
    return problem
