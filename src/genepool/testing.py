"""Contract checks that any executor or problem can run in its own test suite.

:func:`check_executor` checks what :class:`~genepool.Evaluator` relies on from an executor
(:class:`~genepool.evaluation.Executor`), :func:`check_problem` what it relies on from a
problem (:class:`~genepool.Problem`). Both raise :class:`AssertionError` naming the broken
promise, so that a third-party executor or problem can be tested like the built-in ones.

Examples
--------
>>> import genepool as gp
>>> from genepool.evaluation import SerialExecutor
>>> from genepool.testing import check_executor, check_problem
>>> check_executor(SerialExecutor)
>>> check_problem(gp.problems.get("rastrigin", 4))
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np

from .evaluation._task import Outcome, WorkerLost, run_chunk
from .evaluation.executors import Executor
from .problem import Problem, ProblemLike, as_problem
from .space import Space

__all__ = ["check_executor", "check_problem"]

#: Members of :class:`~genepool.evaluation.Executor`.
EXECUTOR_MEMBERS = (
    "name",
    "workers",
    "min_seconds",
    "task_overhead",
    "worker_room",
    "started",
    "start",
    "map",
    "stats",
    "close",
    "__enter__",
    "__exit__",
)
#: Optional hooks of :class:`~genepool.Problem` (methods), all given by ``as_problem``.
PROBLEM_HOOKS = (
    "bytes_per_candidate",
    "memory_hint",
    "warm_up",
    "shared_arrays",
    "shared_config",
    "from_shared",
)
CHUNK_SIZES = (1, 7, 3, 13, 16)


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise AssertionError(message)


class WeightedSphere(Problem):
    """``sum(w * x**2)``: a problem with a read-only array, sharing it with workers."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.space = Space.box(-2.0, 2.0, self.weights.shape[0])

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) ** 2 * self.weights).sum(axis=1)

    def shared_arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def shared_config(self) -> dict[str, Any] | None:
        return {}

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(arrays["weights"])


def exit_worker(problem: Problem, X: np.ndarray) -> NoReturn:
    """A task that kills the process running it (a worker that dies)."""
    os._exit(13)


def _values(outcomes: list[Any], sizes: tuple[int, ...]) -> np.ndarray:
    for k, (o, n) in enumerate(zip(outcomes, sizes)):
        _require(isinstance(o, Outcome), f"map result {k} is {type(o).__name__}, not an Outcome")
        _require(
            not o.failures and o.error is None and len(o.pieces) == 1,
            f"map result {k} failed: {o.failures or o.error}",
        )
        _require(
            o.pieces[0][:2] == (0, n),
            f"map result {k} covers rows {o.pieces[0][:2]}, expected (0, {n}): chunk order",
        )
    return np.concatenate([o.pieces[0][2] for o in outcomes])


def check_executor(
    executor_factory: Callable[[], Executor],
    *,
    worker_death: bool = False,
    restart: bool = True,
) -> None:
    """Check that the executors ``executor_factory()`` builds keep the executor contract.

    Checked: every member of :class:`~genepool.evaluation.Executor` is there; ``start`` is
    idempotent and makes ``started`` true with ``workers >= 1``; ``map`` yields one result
    per chunk, in chunk order, equal to evaluating each chunk in this process (a problem
    that shares a read-only array); it consumes any iterable, maps nothing to nothing, and
    an abandoned ``map`` leaves the executor usable; ``stats()`` is a dict naming the
    executor; the context manager closes it; ``close`` is idempotent; and (``restart``) it
    starts again after ``close``.

    Parameters
    ----------
    executor_factory : callable
        Builds a new executor (e.g. ``lambda: ProcessExecutor(workers=2)``).
    worker_death : bool, default False
        Also check that a chunk whose worker process dies yields a
        :class:`~genepool.evaluation._task.WorkerLost` (with ``retries=0``) and that the
        executor still works afterwards (only for executors whose workers are processes).
    restart : bool, default True
        Also check that the executor starts again after :meth:`close`.

    Raises
    ------
    AssertionError
        Naming the broken promise.
    """
    ex = executor_factory()
    missing = [m for m in EXECUTOR_MEMBERS if not hasattr(ex, m)]
    _require(not missing, f"{type(ex).__name__} lacks {missing} of the Executor protocol")
    _require(isinstance(ex, Executor), f"{type(ex).__name__} is not an Executor")
    problem = WeightedSphere(np.linspace(0.5, 2.0, 4))
    X = problem.space.sample(sum(CHUNK_SIZES), np.random.default_rng(9))
    chunks = np.split(X, np.cumsum(CHUNK_SIZES)[:-1])
    expected = problem.evaluate(X)
    fn = functools.partial(run_chunk, mode="raise")
    with ex as entered:
        _require(hasattr(entered, "map"), "__enter__ must return the executor")
        ex.start(problem)
        ex.start(problem)  # idempotent
        _require(ex.started, "started is false after start(problem)")
        _require(ex.workers >= 1, f"workers is {ex.workers} after start, expected >= 1")
        got = _values(list(ex.map(fn, iter(chunks))), CHUNK_SIZES)
        _require(
            np.array_equal(got, expected),
            "map's values differ from evaluating the chunks in this process",
        )
        _require(list(ex.map(fn, [])) == [], "map over no chunks must yield nothing")
        gen: Any = ex.map(fn, chunks)  # a generator in practice: close() abandons the map
        next(gen)
        gen.close()  # an abandoned map leaves the executor usable
        _require(len(list(ex.map(fn, chunks[:2]))) == 2, "map after an abandoned map failed")
        stats = ex.stats()
        _require(
            isinstance(stats, dict) and stats.get("executor") == ex.name,
            f"stats() must be a dict with 'executor': {ex.name!r}, got {stats!r}",
        )
        if worker_death:
            (lost,) = list(ex.map(exit_worker, chunks[:1], retries=0))
            _require(
                isinstance(lost, WorkerLost),
                f"a dead worker must yield WorkerLost, got {type(lost).__name__}",
            )
            again = _values(list(ex.map(fn, chunks[:2])), CHUNK_SIZES[:2])
            _require(
                np.array_equal(again, expected[: sum(CHUNK_SIZES[:2])]),
                "map after a worker died gave other values",
            )
    ex.close()  # closing twice is harmless
    if restart:
        ex.start(problem)
        try:
            got = _values(list(ex.map(fn, chunks)), CHUNK_SIZES)
            _require(np.array_equal(got, expected), "map after a restart gave other values")
        finally:
            ex.close()


def check_problem(
    problem: ProblemLike,
    space: Space | None = None,
    *,
    n: int = 16,
    seed: int = 0,
    deterministic: bool = True,
) -> None:
    """Check that ``problem`` keeps the problem contract (once through ``as_problem``).

    Checked: every hook of :class:`~genepool.Problem` is there (``as_problem`` gives the
    missing ones) with a value of the right type; ``evaluate`` returns a float64 array of
    shape ``(n,)`` or ``(n, m)`` for a batch of ``n``; with ``deterministic``, evaluating
    again gives the same values and they do not depend on how the batch is split (the
    evaluator chunks it); and a problem that implements the sharing protocol is rebuilt by
    ``from_shared(shared_arrays(), shared_config())`` (its config through JSON) into one
    that evaluates equal.

    Parameters
    ----------
    problem : Problem, object with ``evaluate`` or callable ``f(X)``
        What to check.
    space : Space, optional
        Needed when ``problem`` has no ``space``.
    n : int, default 16
        Rows of the batch (sampled from the space).
    seed : int, default 0
        Seed of the sample.
    deterministic : bool, default True
        Also check that the values repeat and do not depend on the split of the batch (turn
        off for a noisy fitness).

    Raises
    ------
    AssertionError
        Naming the broken promise.
    """
    space = space if space is not None else getattr(problem, "space", None)
    _require(isinstance(space, Space), "check_problem needs a space: pass space=")
    assert isinstance(space, Space)
    p = as_problem(problem, space)
    name = type(problem).__name__
    missing = [h for h in PROBLEM_HOOKS if not callable(getattr(p, h, None))]
    _require(not missing, f"{name} lacks the hooks {missing}")
    _require(hasattr(p, "invalid_fitness"), f"{name} lacks invalid_fitness")
    invalid = p.invalid_fitness
    _require(
        invalid is None or isinstance(invalid, (float, int, np.floating, np.integer)),
        f"invalid_fitness must be None or a number, got {invalid!r}",
    )
    bpc = p.bytes_per_candidate()
    _require(
        bpc is None or (isinstance(bpc, (int, np.integer)) and bpc > 0),
        f"bytes_per_candidate() must be None or a positive int, got {bpc!r}",
    )
    hint = p.memory_hint()
    _require(hint is None or isinstance(hint, str), f"memory_hint() gave {hint!r}")
    p.warm_up()
    X = space.sample(n, np.random.default_rng(seed))
    y = p.evaluate(X)
    _require(
        isinstance(y, np.ndarray) and y.dtype == np.float64,
        f"evaluate must return a float64 array, got {type(y).__name__} {getattr(y, 'dtype', '')}",
    )
    _require(
        y.ndim in (1, 2) and y.shape[0] == n,
        f"evaluate returned shape {y.shape} for {n} rows, expected ({n},) or ({n}, m)",
    )
    if deterministic:
        _require(
            np.array_equal(p.evaluate(X), y, equal_nan=True),
            "evaluating the same batch again gave other values",
        )
        k = n // 3
        parts = np.concatenate([np.asarray(p.evaluate(X[:k])), np.asarray(p.evaluate(X[k:]))])
        _require(
            np.array_equal(parts, y, equal_nan=True),
            "values depend on how the batch is split (rows must be evaluated independently)",
        )
    config = p.shared_config()
    if config is not None:
        text = json.dumps(config)  # the config travels as JSON
        rebuilt = type(p).from_shared(dict(p.shared_arrays()), json.loads(text))
        _require(
            np.array_equal(np.asarray(rebuilt.evaluate(X)), y, equal_nan=True),
            "from_shared(shared_arrays(), shared_config()) evaluates differently",
        )
