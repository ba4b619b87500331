"""Executors: where the evaluator's chunks run (this process, local processes, a Dask cluster).

An executor is a context manager with :meth:`~Executor.start` (ship the problem and its
read-only data once) and :meth:`~Executor.map` (``fn(problem, chunk)`` for each chunk, results
in chunk order). The evaluator keeps the cache, deduplication, chunking and error policy in
the parent and places results by index, so values never depend on the executor.

Examples
--------
>>> import genepool as gp
>>> from genepool.evaluation import ProcessExecutor
>>> space = gp.Space.box(-5.12, 5.12, 4)
>>> with ProcessExecutor(workers=2) as ex:                      # doctest: +SKIP
...     res = gp.minimize(gp.problems.rastrigin, gp.GA(space, 100, seed=0),
...                       generations=10, executor=ex, progress=False)
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from ..errors import ConfigError, check_float, check_int
from ..memory._size import format_size
from ..problem import Problem, problem_name
from ._pool import Pool
from ._shared import ProblemPayload
from ._task import WorkerLost, ping

if TYPE_CHECKING:
    from .registry import ExecutorSpec

__all__ = [
    "Executor",
    "ExecutorBase",
    "NoRoomForWorkers",
    "ProcessExecutor",
    "SerialExecutor",
    "available_cores",
    "make_executor",
    "plan_workers",
]

log = logging.getLogger("genepool.evaluation")

#: RSS of a warmed-up worker before its first chunk (interpreter, numpy, pandas, numba, genepool
#: and the loaded kernels), used to size the pool before a worker has been measured.
WORKER_BASE_BYTES = 200 * 2**20
#: Least working memory per worker for the budget to be worth splitting.
WORKER_MIN_ROOM = 32 * 2**20
#: Default ``min_seconds``: a generation whose uncached part is estimated to take less in this
#: process is evaluated here (shipping it would cost more than it saves).
MIN_SECONDS = 0.05

#: What a chunk task returns (the evaluator's tasks return an ``Outcome``).
T = TypeVar("T")


@runtime_checkable
class Executor(Protocol):
    """What :class:`~genepool.Evaluator` needs from an executor (all of it, nothing probed).

    ``start(problem, budget)`` ships the problem once (read-only arrays shared, the rest
    pickled once per worker), sizing the pool so that its workers together stay under
    ``budget`` bytes (None: no budget); ``started`` says whether it is running (a pool that
    was closed is started again). ``map(fn, chunks, retries=None)`` runs the picklable,
    module-level ``fn(problem, chunk)`` on each chunk in a worker and yields the results in
    chunk order; a chunk whose worker died more than ``retries`` times yields a
    :class:`~genepool.evaluation._task.WorkerLost` instead of raising. ``workers`` is the pool
    size once started; ``min_seconds`` the estimated serial seconds below which the evaluator
    keeps a generation in its own process (0: always ship); ``task_overhead`` the measured
    seconds of an empty task (None: unknown); ``worker_room`` the bytes each worker may use
    for a chunk (None: no budget); ``stats()`` a dict with at least ``"executor"`` (the name).
    :class:`ExecutorBase` gives the optional members their defaults;
    :func:`genepool.testing.check_executor` checks an implementation.
    """

    name: str
    workers: int
    min_seconds: float
    task_overhead: float | None
    worker_room: int | None

    @property
    def started(self) -> bool: ...

    def start(self, problem: Problem, budget: int | None = None) -> None: ...

    def map(
        self,
        fn: Callable[[Problem, np.ndarray], T],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[T | WorkerLost]: ...

    def stats(self) -> dict[str, object]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


class ExecutorBase:
    """Defaults of the optional members of :class:`Executor`, for executors to subclass.

    A subclass sets ``name``, ``workers`` and ``min_seconds`` and implements :meth:`start`,
    :meth:`map` and :meth:`close`.
    """

    name = "executor"
    workers = 1
    min_seconds = MIN_SECONDS
    #: Seconds of an empty task (None: not measured).
    task_overhead: float | None = None
    #: Bytes each worker may use for a chunk (None: no budget).
    worker_room: int | None = None

    @property
    def started(self) -> bool:
        """Running (the default: always; ``start`` is then called once per problem)."""
        return True

    def start(self, problem: Problem, budget: int | None = None) -> None:
        raise NotImplementedError

    def map(
        self,
        fn: Callable[[Problem, np.ndarray], T],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[T | WorkerLost]:
        raise NotImplementedError

    def stats(self) -> dict[str, object]:
        """Statistics (the default: the name)."""
        return {"executor": self.name}

    def close(self) -> None:
        """Release what :meth:`start` took (the default: nothing)."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoRoomForWorkers(ConfigError):
    """The memory budget leaves no room for a single worker process."""


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def plan_workers(
    requested: int | None,
    budget: int | None,
    cores: int | None = None,
    worker_bytes: int = WORKER_BASE_BYTES,
) -> tuple[int, int, str]:
    """(workers, numba threads per worker, why): from the cores and from the memory budget.

    Without ``requested``, one worker per core. With a budget, each worker needs its
    baseline ``worker_bytes`` plus ``WORKER_MIN_ROOM`` to work in. Threads per worker are
    ``cores // workers`` (at least 1), so processes x threads <= cores.
    """
    cores = cores or available_cores()
    n = cores if requested is None else requested
    why = f"{n} worker(s) ({'requested' if requested is not None else f'{cores} cores'})"
    if budget is not None:
        fit = int(budget // (worker_bytes + WORKER_MIN_ROOM))
        if fit < 1:
            raise NoRoomForWorkers(
                f"the memory budget leaves {format_size(max(budget, 0))} for worker processes, "
                f"less than one worker needs ({format_size(worker_bytes + WORKER_MIN_ROOM)})"
            )
        if fit < n:
            why = f"{fit} worker(s): the budget's {format_size(budget)} for workers fits {fit}"
            n = fit
    return n, max(1, cores // n), why


class SerialExecutor(ExecutorBase):
    """Evaluates every chunk in this process (the default, ``executor="serial"``).

    The evaluator evaluates its own chunks through one (its own, or this one when passed as
    ``executor=``), measuring each against the memory budget.
    """

    name = "serial"
    workers = 1
    min_seconds = float("inf")

    def __init__(self) -> None:
        self._problem: Any = None

    @property
    def started(self) -> bool:
        """A problem was given to :meth:`start` (and not closed since)."""
        return self._problem is not None

    def start(self, problem: Problem, budget: int | None = None) -> None:
        self._problem = problem

    def map(
        self,
        fn: Callable[[Problem, np.ndarray], T],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[T]:
        for X in chunks:
            yield fn(self._problem, X)

    def close(self) -> None:
        self._problem = None

    def __enter__(self) -> SerialExecutor:
        return self


class ProcessExecutor:
    """A persistent pool of local worker processes with the problem's data in shared memory.

    Parameters
    ----------
    workers : int, optional
        Pool size; default one per core, fewer when the memory budget cannot hold them.
    retries : int, default 2
        Times a chunk is sent again after its worker died (killed, segfault, out of memory).
    max_tasks_per_child : int, optional
        Replace a worker after this many chunks (for fitness functions that leak).
    min_seconds : float, default 0.05
        Generations estimated to take less than this in the parent are evaluated there (a
        log line says so); 0 ships every generation.
    threads : int, optional
        numba threads per worker (default ``cores // workers``).
    """

    name = "processes"

    def __init__(
        self,
        workers: int | None = None,
        *,
        retries: int = 2,
        max_tasks_per_child: int | None = None,
        min_seconds: float = MIN_SECONDS,
        threads: int | None = None,
    ) -> None:
        self.requested = None if workers is None else check_int("workers", workers, minimum=1)
        self.retries = check_int("retries", retries, minimum=0)
        self.max_tasks_per_child = (
            None
            if max_tasks_per_child is None
            else check_int("max_tasks_per_child", max_tasks_per_child, minimum=1)
        )
        self.min_seconds = check_float("min_seconds", min_seconds, low=0.0)
        self.threads = None if threads is None else check_int("threads", threads, minimum=1)
        self.workers = 0
        self.pool: Pool | None = None
        self._problem: Any = None
        self._described: Any = None
        #: Seconds of one round trip of an empty task (measured when the pool starts).
        self.task_overhead: float | None = None
        #: Bytes each worker may use for a chunk (None: no budget).
        self.worker_room: int | None = None
        self.start_seconds = 0.0
        self.plan_note = ""

    @property
    def started(self) -> bool:
        return self.pool is not None and not self.pool.closed

    def start(self, problem: Problem, budget: int | None = None) -> None:
        """Start the pool for ``problem`` (a running pool for an equal problem is reused)."""
        if self.started and self._problem is problem:
            return
        t0 = time.perf_counter()
        described = ProblemPayload.of(problem)
        if self.started and described.signature() == self._described.signature():
            self._problem = problem
            return
        self.close()
        n, threads, why = plan_workers(self.requested, budget)
        threads = self.threads or threads
        payload = described.share()
        self._described = described
        try:
            self.pool = Pool(
                payload,
                n,
                threads=threads,
                retries=self.retries,
                max_tasks_per_child=self.max_tasks_per_child,
            )
            self.pool.wait_ready()
        except BaseException:
            if self.pool is not None:
                self.pool.close()
            payload.release()
            self.pool = None
            raise
        self._problem = problem
        self.workers = n
        self.start_seconds = time.perf_counter() - t0
        if budget is not None:
            self.worker_room = max(1, budget // n - self.pool.worker_rss)
        self.task_overhead = self._measure_overhead()
        how = "shared memory" if payload.shared is not None else "pickled once per worker"
        self.plan_note = (
            f"processes: {why}, {threads} numba thread(s) each; problem "
            f"{problem_name(problem)} ({how}"
            + (f", {format_size(payload.shared_bytes)}" if payload.shared is not None else "")
            + f"); started in {self.start_seconds:.1f} s; {self.task_overhead * 1e3:.2f} ms "
            f"per task"
            + (
                f"; {format_size(self.worker_room)} of working memory per worker"
                if self.worker_room is not None
                else ""
            )
        )
        log.info(self.plan_note)

    def _measure_overhead(self, repeats: int = 5) -> float:
        assert self.pool is not None
        X = np.zeros((8, 1))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(self.pool.map(ping, [X]))
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def map(
        self,
        fn: Callable[[Problem, np.ndarray], T],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[T | WorkerLost]:
        if not self.started:
            raise ConfigError("ProcessExecutor.map before start(problem)")
        assert self.pool is not None
        return self.pool.map(fn, chunks, retries)

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [] if self.pool is None else self.pool.pids

    def stats(self) -> dict[str, object]:
        p = self.pool
        sent = list(p.bytes_sent) if p is not None else []
        return {
            "executor": self.name,
            "workers": self.workers,
            "tasks": p.n_tasks if p else 0,
            "retried": p.n_retried if p else 0,
            "lost": p.n_lost if p else 0,
            "worker_deaths": p.n_deaths if p else 0,
            "workers_started": p.n_spawned if p else 0,
            "task_overhead_s": self.task_overhead,
            "start_s": self.start_seconds,
            "median_task_bytes": int(statistics.median(sent)) if sent else None,
            "plan": self.plan_note,
        }

    def close(self) -> None:
        """Stop the workers and free the shared memory (statistics stay readable)."""
        if self.pool is not None:
            self.pool.close()
        self._problem = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    spec: ExecutorSpec,
    *,
    workers: int | None = None,
    retries: int = 2,
    max_tasks_per_child: int | None = None,
) -> tuple[Any, bool]:
    """(executor or None for serial, owned): the executor that ``spec`` names.

    Kept for callers of earlier versions; :func:`genepool.evaluation.registry.parse_executor`
    is the parser (it returns the :class:`SerialExecutor` too).
    """
    from .registry import parse_executor

    executor, owned = parse_executor(
        spec, workers=workers, retries=retries, max_tasks_per_child=max_tasks_per_child
    )
    return (None, False) if isinstance(executor, SerialExecutor) else (executor, owned)
