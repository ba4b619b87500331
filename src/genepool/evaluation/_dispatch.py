"""When and how the evaluator sends a generation to its executor's workers.

Per generation: when the cost of a candidate is unknown, the first rows are evaluated here in
growing chunks (1, 2, 4, ... rows, until ``PROBE_S`` seconds): real evaluations, not wasted.
The rest is shipped when its estimated cost here reaches the executor's ``min_seconds`` (and
``OVERHEAD_SHARE`` times the measured overhead of its tasks, once the pool runs) and
the workers were not slower per candidate last time; otherwise it stays here, and a log line
says why. The generation after the first one shipped is evaluated here, so that both costs are
known for whole generations, and then every ``RECHECK`` generations the other side is measured
again, so the choice follows the real costs (a numba fitness that already uses every core in
the parent is not worth shipping to processes on the same cores).
Shipped rows are cut into about ``TASKS_PER_WORKER`` chunks per worker, fewer rows per chunk
when a worker's share of the memory budget needs it (calibrated on the workers' measured
peaks). A chunk whose worker died more than ``retries`` times is halved, again and again,
until the individual that kills workers is named (or the halves pass: a chunk too large for a
worker's memory is just split).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import FitnessError
from ..memory.monitor import MemoryMonitor
from ._local import LocalChunks
from ._outcomes import ErrorPolicy, Placed
from ._task import Outcome, WorkerLost, run_chunk
from .chunking import ChunkTally, WorkerChunks
from .executors import Executor, NoRoomForWorkers

__all__ = ["Dispatcher"]

log = logging.getLogger("genepool.evaluation")

PROBE_S = 0.005  # seconds of evaluation here that measure the cost of a candidate
TASKS_PER_WORKER = 2  # chunks per worker and generation (load balance vs per-task cost)
RECHECK = 20  # generations here (workers slower) or on workers before measuring the other again
OVERHEAD_SHARE = 10  # a generation is shipped only if it costs this many times its tasks' overhead
SLOWER = 0.9  # workers must take less than this share of the time here, per candidate


class Dispatcher:
    """Sends what is worth shipping to an executor's workers (see the module doc).

    Parameters
    ----------
    executor : Executor
        Where shipped chunks run.
    owned : bool
        ``executor`` was made by the evaluator (closed by :meth:`close` and :meth:`drop`).
    local : LocalChunks
        Evaluates chunks in this process (the probe; what is not shipped).
    errors : ErrorPolicy
        Turns each chunk's outcome into values, penalties or errors.
    chunks : WorkerChunks
        Sizes the shipped chunks and learns from the workers' peaks.
    tally : ChunkTally
        Counts the chunks.
    budget : callable
        Bytes of the budget for the workers (None: no budget), read when the pool starts.
    monitor : MemoryMonitor, optional
        Records the halving of a worker's chunk.
    """

    def __init__(
        self,
        executor: Executor,
        owned: bool,
        *,
        local: LocalChunks,
        errors: ErrorPolicy,
        chunks: WorkerChunks,
        tally: ChunkTally,
        budget: Callable[[], int | None],
        monitor: MemoryMonitor | None,
    ) -> None:
        self.executor: Executor | None = executor
        self.owned = owned
        self.local = local
        self.errors = errors
        self.chunks = chunks
        self.tally = tally
        self.budget = budget
        self.monitor = monitor
        self.parallel_spr: float | None = None  # wall seconds per candidate through workers
        self.shipping: bool | None = None
        self.streak = self.shipped_streak = 0
        self.recheck_after = 1
        self._kind = ""
        self.shipped_generations = self.local_generations = 0
        self.note: str | None = None
        self._started_for: Any = None

    # -- the executor ----------------------------------------------------------------------------
    def drop(self) -> None:
        """Evaluate in this process from now on (closing an executor made by the evaluator)."""
        if self.executor is not None and self.owned:
            self.executor.close()
        self.executor = None

    def close(self) -> None:
        """Stop the workers or detach from the cluster (an executor made by the evaluator)."""
        if self.executor is not None and self.owned:
            self.executor.close()

    # -- one generation --------------------------------------------------------------------------
    def run(
        self, problem: Any, X: np.ndarray, rows: np.ndarray, contiguous: bool, acc: Placed
    ) -> int:
        """Evaluate what should go to the workers; returns the first row left for here."""
        ex = self.executor
        if ex is None:
            return 0
        start = 0
        if ex.min_seconds > 0 and self.local.seconds_per_row is None:
            start = self._probe(X, rows, contiguous, acc)
        if start >= acc.n or not self._decide(ex, acc.n - start):
            self.local_generations += 1
            return start
        if self._started_for is not problem or not ex.started:
            try:
                ex.start(problem, budget=self.budget())
            except NoRoomForWorkers as exc:
                log.warning("%s: evaluating in this process instead", exc)
                self.drop()
                return start
            self._started_for = problem
        self._ship(ex, X, rows, contiguous, acc, start)
        return acc.n

    def _probe(self, X: np.ndarray, rows: np.ndarray, contiguous: bool, acc: Placed) -> int:
        start, size, t0 = 0, 1, time.perf_counter()
        while start < acc.n and time.perf_counter() - t0 < PROBE_S:
            start += self.local.run(X, rows, contiguous, acc, start, size)
            size *= 2
        return start

    def _decide(self, ex: Executor, m: int) -> bool:
        """Ship the ``m`` rows left? Each change of decision or reason is logged once."""
        ship, kind, why = self._choose(ex, m)
        if ship:
            self.streak = 0
            self.shipped_streak += 1
        if kind != self._kind:
            self.note = (
                f"evaluating on {ex.name} workers"
                if ship
                else f"evaluating in this process: {why}"
            )
            log.info(self.note)
        self._kind = kind
        self.shipping = ship
        return ship

    def _choose(self, ex: Executor, m: int) -> tuple[bool, str, str]:
        """(ship, kind of decision, why not) for ``m`` rows, from the measured costs."""
        if ex.min_seconds <= 0:
            return True, "ship", ""
        serial_spr = self.local.seconds_per_row
        assert serial_spr is not None
        est = m * serial_spr
        overhead = ex.task_overhead or 0.0
        floor = max(
            ex.min_seconds, OVERHEAD_SHARE * max(1, ex.workers) * TASKS_PER_WORKER * overhead
        )
        if est < floor:
            return (
                False,
                "cheap",
                f"{m:,} candidates take ~{est * 1e3:.2f} ms here, less than the "
                f"{floor * 1e3:.0f} ms worth shipping (min_seconds={ex.min_seconds:g} s; "
                f"{overhead * 1e3:.2f} ms per task): too cheap to ship to workers",
            )
        if (
            self.parallel_spr is not None
            and self.parallel_spr >= SLOWER * serial_spr
            and self.streak < RECHECK
        ):
            self.streak += 1
            return (
                False,
                "slower",
                f"workers took {self.parallel_spr * 1e6:.2f} us per candidate (wall) vs "
                f"{serial_spr * 1e6:.2f} us here",
            )
        if self.shipped_streak >= self.recheck_after:
            # The cost here is known only from the probe (small chunks) or old generations:
            # measure a whole generation here, after the first one shipped, then every
            # RECHECK generations.
            why = f"measuring a whole generation here after {self.shipped_streak} on workers"
            self.shipped_streak, self.recheck_after = 0, RECHECK
            return False, "recheck", why
        return True, "ship", ""

    def _ship(
        self,
        ex: Executor,
        X: np.ndarray,
        rows: np.ndarray,
        contiguous: bool,
        acc: Placed,
        start: int,
    ) -> None:
        n = acc.n
        balance = max(1, -(-(n - start) // (max(1, ex.workers) * TASKS_PER_WORKER)))
        bounds: list[tuple[int, int]] = []

        def chunks() -> Iterator[np.ndarray]:
            a = start
            while a < n:
                b = a + self.chunks.next_size(n - a, balance, ex.worker_room)
                bounds.append((a, b))
                yield X[a:b] if contiguous else X[rows[a:b]]
                a = b

        fn = functools.partial(run_chunk, mode=self.errors.on_error)
        lost = []
        t0 = time.perf_counter()
        for k, res in enumerate(ex.map(fn, chunks())):
            a, b = bounds[k]
            if isinstance(res, WorkerLost):
                lost.append((a, b, res))
                continue
            self._place(ex, X, rows, acc, a, b, res)
        for a, b, res in lost:
            self._recover(ex, X, rows, acc, a, b, res, fn)
        self.parallel_spr = (time.perf_counter() - t0) / (n - start)
        self.shipped_generations += 1

    def _place(
        self,
        ex: Executor,
        X: np.ndarray,
        rows: np.ndarray,
        acc: Placed,
        a: int,
        b: int,
        res: Any,
    ) -> None:
        if not isinstance(res, Outcome):
            raise FitnessError(f"a worker failed outside the fitness: {res}")
        y, bad = self.errors.absorb(res, X, rows[a:b])
        acc.put(a, b, y, bad)
        self.tally.count(b - a)
        self.chunks.after_chunk(
            b - a, res.peak, ex.worker_room, self.monitor, self.errors.generation
        )

    def _recover(
        self,
        ex: Executor,
        X: np.ndarray,
        rows: np.ndarray,
        acc: Placed,
        a: int,
        b: int,
        lost: WorkerLost,
        fn: Any,
    ) -> None:
        """A chunk killed its worker every time: halve it until the culprit is named."""
        if b - a == 1:
            self.errors.worker_lost(X, int(rows[a]), lost.attempts, lost.detail)
            acc.put(a, b, None, np.ones(1, dtype=bool))
            self.tally.count(1)
            return
        log.warning(
            "a chunk of %d candidates lost its worker %d time(s) (%s); halving it",
            b - a,
            lost.attempts,
            lost.detail,
        )
        mid = (a + b) // 2
        parts = [(a, mid), (mid, b)]
        results = list(ex.map(fn, [X[rows[p:q]] for p, q in parts], retries=0))
        for (p, q), res in zip(parts, results):
            if isinstance(res, WorkerLost):
                self._recover(ex, X, rows, acc, p, q, res, fn)
            else:
                self._place(ex, X, rows, acc, p, q, res)

    def stats(self) -> dict[str, object]:
        """The executor's statistics, and how many generations went to it."""
        out: dict[str, object] = {} if self.executor is None else dict(self.executor.stats())
        out.update(
            shipped_generations=self.shipped_generations,
            local_generations=self.local_generations,
            note=self.note,
        )
        return out
