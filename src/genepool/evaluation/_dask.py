"""``DaskExecutor``: chunks as tasks on a ``distributed`` cluster, the problem placed once.

The problem travels in a worker plugin, registered once: every worker (and every worker that
joins or restarts later) rebuilds it from its payload (arrays inline, no shared memory across
machines), caps its numba threads and warms up (numba kernels load from the on-disk cache).
Tasks carry only the chunk; results are gathered in chunk order. A task whose worker died is
resubmitted up to ``retries`` times (a cluster made here sets the scheduler's own
``allowed-failures`` to 0, so ``retries`` is the whole story; an external cluster retries by
its own setting first).
"""

from __future__ import annotations

import collections
import logging
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from ..errors import ConfigError, check_int
from ..memory._size import format_size
from ..problem import Problem, problem_name
from ._pool import set_threads
from ._shared import ProblemPayload
from ._task import WorkerLost, ping
from .executors import MIN_SECONDS, available_cores, plan_workers

try:
    import distributed
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover - exercised only without the dask extra
    distributed = None  # type: ignore[assignment]  # checked before any use
    WorkerPlugin = object  # type: ignore[misc,assignment]  # a base class that does nothing

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DaskExecutor"]

T = TypeVar("T")

log = logging.getLogger("genepool.evaluation")


class ProblemPlugin(WorkerPlugin):
    """Holds the problem on each worker."""

    def __init__(self, name: str, payload: ProblemPayload, threads: int | None) -> None:
        self.name = name
        self.payload = payload
        self.threads = threads
        self.problem: Problem | None = None

    def setup(self, worker: Any) -> None:
        self.problem = self.payload.build()
        set_threads(self.threads)
        self.problem.warm_up()

    def teardown(self, worker: Any) -> None:
        self.problem = None


def _dask_task(
    name: str, threads: int | None, fn: Callable[[Any, np.ndarray], Any], X: Any
) -> Any:
    worker = distributed.get_worker()
    plugin = cast(ProblemPlugin, worker.plugins[name])
    set_threads(threads)  # numba's thread count is per thread, and tasks run in a thread pool
    return fn(plugin.problem, X)


# filled on first use: exception types that mean the worker, not the task, failed
_LOST: tuple[type[BaseException], ...] = ()


def _lost_types() -> tuple[type[BaseException], ...]:
    global _LOST
    if not _LOST:
        from distributed.comm.core import CommClosedError

        kinds: list[type[BaseException]] = [distributed.KilledWorker, CommClosedError]
        try:
            from distributed.scheduler import KilledWorker as _KW

            kinds.append(_KW)
        except ImportError:  # pragma: no cover
            pass
        _LOST = tuple(kinds)
    return _LOST


class DaskExecutor:
    """Evaluate chunks on a Dask ``distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client, optional
        An existing client (left open on :meth:`close`). Without it, one is made for
        ``address``, or for a new ``LocalCluster`` of ``workers`` processes (one thread each)
        with per-worker ``memory_limit`` from the evaluator's budget.
    address : str, optional
        Scheduler address, ``"tcp://host:port"``.
    workers : int, optional
        Local cluster size (default: one per core, fewer when the budget cannot hold them).
    retries : int, default 2
        Resubmissions of a chunk whose worker died.
    min_seconds : float, default 0.05
        As for :class:`~genepool.evaluation.ProcessExecutor`.
    """

    name = "dask"

    def __init__(
        self,
        client: Client | None = None,
        *,
        address: str | None = None,
        workers: int | None = None,
        retries: int = 2,
        min_seconds: float = MIN_SECONDS,
        threads: int | None = None,
    ) -> None:
        if distributed is None:
            raise ConfigError(
                "executor='dask' needs dask.distributed: pip install 'genepool[dask]'"
            )
        self.client: Any = client
        self.address = address
        self.requested = None if workers is None else check_int("workers", workers, minimum=1)
        self.retries = check_int("retries", retries, minimum=0)
        self.min_seconds = float(min_seconds)
        self.threads = threads
        self.workers = 0
        self.cluster: Any = None
        self._own_client = False
        self._plugin: str | None = None
        self._problem: Any = None
        self.task_overhead: float | None = None
        self.worker_room: int | None = None
        self.n_tasks = self.n_retried = self.n_lost = 0
        self.task_bytes: collections.deque[int] = collections.deque(maxlen=1000)
        self.plan_note = ""
        self.start_seconds = 0.0

    @property
    def started(self) -> bool:
        return self._plugin is not None

    def _connect(self, budget: int | None) -> None:
        if self.client is not None:
            return
        self._own_client = True
        if self.address is not None:
            self.client = distributed.Client(self.address)
            return
        n, threads, why = plan_workers(self.requested, budget)
        per_worker = None if budget is None else max(1, budget // n)
        import dask

        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            self.cluster = distributed.LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                memory_limit=per_worker if per_worker is not None else 0,
                dashboard_address="127.0.0.1:0",  # None still binds 8787; any free port
                silence_logs=logging.ERROR,
            )
        self.client = distributed.Client(self.cluster)
        self.threads = self.threads or threads
        self.plan_note = f"dask LocalCluster: {why}" + (
            f", {format_size(per_worker)} per worker" if per_worker is not None else ""
        )

    def start(self, problem: Problem, budget: int | None = None) -> None:
        if self.started and self._problem is problem:
            return
        self._unregister()
        t0 = time.perf_counter()
        self._connect(budget)
        info = self.client.scheduler_info()
        self.workers = max(1, len(info.get("workers", {})))
        if self.threads is None:
            self.threads = max(1, available_cores() // self.workers) if self.cluster else None
        name = f"genepool-problem-{uuid.uuid4().hex[:12]}"
        payload = ProblemPayload.of(problem)
        self.client.register_plugin(ProblemPlugin(name, payload, self.threads), name=name)
        self._plugin = name
        self._problem = problem
        self.worker_room = None
        if budget is not None and self.cluster is not None:
            self.worker_room = max(1, budget // self.workers - 200 * 2**20)
        self.task_overhead = self._measure_overhead()
        if not self.start_seconds:  # the first start (cluster, plugin, warm-up) is the cost
            self.start_seconds = time.perf_counter() - t0
        self.plan_note = (
            f"{self.plan_note or 'dask: ' + str(self.client.scheduler.address)}; "
            f"{self.workers} worker(s), problem {problem_name(problem)} placed once per "
            f"worker ({payload.kind}); started in {self.start_seconds:.1f} s; "
            f"{self.task_overhead * 1e3:.2f} ms per task"
        )
        log.info(self.plan_note)

    def _measure_overhead(self, repeats: int = 5) -> float:
        X = np.zeros((8, 1))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(self.map(ping, [X]))
            times.append(time.perf_counter() - t0)
        self.n_tasks -= repeats  # count chunks only
        for _ in range(repeats):
            self.task_bytes.pop()
        return statistics.median(times)

    def _submit(self, fn: Any, X: np.ndarray) -> Any:
        self.n_tasks += 1
        self.task_bytes.append(int(X.nbytes))
        return self.client.submit(_dask_task, self._plugin, self.threads, fn, X, pure=False)

    def map(
        self,
        fn: Callable[[Problem, np.ndarray], T],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[T | WorkerLost]:
        if not self.started:
            raise ConfigError("DaskExecutor.map before start(problem)")
        limit = self.retries if retries is None else retries
        lost_types = _lost_types()
        inflight: collections.deque[list[Any]] = collections.deque()  # [future, X, attempts]
        source = iter(chunks)
        ahead = 2 * max(1, self.workers)
        try:
            for X in source:
                inflight.append([self._submit(fn, X), X, 0])
                if len(inflight) >= ahead:
                    yield self._result(fn, inflight.popleft(), limit, lost_types)
            while inflight:
                yield self._result(fn, inflight.popleft(), limit, lost_types)
        finally:
            for item in inflight:
                item[0].cancel()

    def _result(self, fn: Any, item: list[Any], limit: int, lost_types: tuple) -> Any:
        while True:
            try:
                return item[0].result()
            except lost_types as exc:
                item[2] += 1
                log.warning("a dask worker died evaluating a chunk (%s); attempt %d", exc, item[2])
                if item[2] > limit:
                    self.n_lost += 1
                    return WorkerLost(item[2], f"{type(exc).__name__}: {exc}")
                self.n_retried += 1
                item[0] = self._submit(fn, item[1])

    def stats(self) -> dict[str, object]:
        return {
            "executor": self.name,
            "workers": self.workers,
            "tasks": self.n_tasks,
            "retried": self.n_retried,
            "lost": self.n_lost,
            "task_overhead_s": self.task_overhead,
            "start_s": self.start_seconds,
            "plan": self.plan_note,
            "median_task_bytes": int(statistics.median(self.task_bytes))
            if self.task_bytes
            else None,
        }

    def _unregister(self) -> None:
        if self._plugin is not None and self.client is not None:
            try:
                self.client.unregister_worker_plugin(self._plugin)
            except Exception:  # pragma: no cover - cluster already gone
                pass
        self._plugin = None
        self._problem = None

    def close(self) -> None:
        """Remove the problem from the workers; close the client and cluster made here."""
        self._unregister()
        if self._own_client:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None
            self._own_client = False

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
