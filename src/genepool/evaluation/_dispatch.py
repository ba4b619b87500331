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
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FitnessError
from ..memory._size import format_size
from ._task import Outcome, WorkerLost, run_chunk
from .executors import NoRoomForWorkers

if TYPE_CHECKING:
    from ._outcomes import Placed
    from .evaluator import Evaluator

__all__ = ["Dispatcher"]

log = logging.getLogger("genepool.evaluation")

PROBE_S = 0.005  # seconds of evaluation here that measure the cost of a candidate
TASKS_PER_WORKER = 2  # chunks per worker and generation (load balance vs per-task cost)
RECHECK = 20  # generations here (workers slower) or on workers before measuring the other again
OVERHEAD_SHARE = 10  # a generation is shipped only if it costs this many times its tasks' overhead
SLOWER = 0.9  # workers must take less than this share of the time here, per candidate
AIM = 0.8  # share of a worker's working memory a chunk aims at
PROBE_CHUNK = 32  # rows per chunk before the workers' memory per candidate is known


class Dispatcher:
    """The parallel half of an :class:`~genepool.Evaluator` (see the module doc)."""

    def __init__(self, executor: Any, owned: bool) -> None:
        self.executor = executor
        self.owned = owned
        self.serial_spr: float | None = None  # seconds per candidate here (latest chunk)
        self.parallel_spr: float | None = None  # wall seconds per candidate through workers
        self.shipping: bool | None = None
        self.streak = self.shipped_streak = 0
        self.recheck_after = 1
        self._kind = ""
        self.shipped_generations = self.local_generations = 0
        self.wbpc: float | None = None  # workers' measured bytes per candidate
        self.wcap: int | None = None
        self._calm = 0
        self.note: str | None = None
        self._started_for: Any = None

    def serial_seconds(self, seconds: float, size: int) -> None:
        if self.executor is not None and size > 0:
            self.serial_spr = seconds / size

    # -- one generation --------------------------------------------------------------------------
    def run(
        self, ev: Evaluator, X: np.ndarray, rows: np.ndarray, contiguous: bool, acc: Placed
    ) -> int:
        """Evaluate what should go to the workers; returns the first row left for here."""
        ex = self.executor
        start = 0
        if ex.min_seconds > 0 and self.serial_spr is None:
            start = self._probe(ev, X, rows, contiguous, acc)
        if start >= acc.n or not self._decide(acc.n - start):
            self.local_generations += 1
            return start
        if self._started_for is not ev.problem or not getattr(ex, "started", True):
            try:
                ex.start(ev.problem, budget=ev.worker_budget())
            except NoRoomForWorkers as exc:
                log.warning("%s: evaluating in this process instead", exc)
                ev.drop_executor()
                return start
            self._started_for = ev.problem
        self._ship(ev, X, rows, contiguous, acc, start)
        return acc.n

    def _probe(
        self, ev: Evaluator, X: np.ndarray, rows: np.ndarray, contiguous: bool, acc: Placed
    ) -> int:
        start, size, t0 = 0, 1, time.perf_counter()
        while start < acc.n and time.perf_counter() - t0 < PROBE_S:
            start += ev._serial_chunk(X, rows, contiguous, acc, start, size)
            size *= 2
        return start

    def _decide(self, m: int) -> bool:
        ex = self.executor
        why, kind = "", "ship"
        if ex.min_seconds <= 0:
            ship = True
        else:
            assert self.serial_spr is not None
            est = m * self.serial_spr
            overhead = getattr(ex, "task_overhead", None) or 0.0
            floor = max(
                ex.min_seconds, OVERHEAD_SHARE * max(1, ex.workers) * TASKS_PER_WORKER * overhead
            )
            if est < floor:
                ship, kind = False, "cheap"
                why = (
                    f"{m:,} candidates take ~{est * 1e3:.2f} ms here, less than the "
                    f"{floor * 1e3:.0f} ms worth shipping (min_seconds={ex.min_seconds:g} s; "
                    f"{overhead * 1e3:.2f} ms per task): too cheap to ship to workers"
                )
            elif (
                self.parallel_spr is not None
                and self.parallel_spr >= SLOWER * self.serial_spr
                and self.streak < RECHECK
            ):
                ship, kind = False, "slower"
                self.streak += 1
                why = (
                    f"workers took {self.parallel_spr * 1e6:.2f} us per candidate (wall) vs "
                    f"{self.serial_spr * 1e6:.2f} us here"
                )
            elif self.shipped_streak >= self.recheck_after:
                # The cost here is known only from the probe (small chunks) or old generations:
                # measure a whole generation here, after the first one shipped, then every
                # RECHECK generations.
                why = f"measuring a whole generation here after {self.shipped_streak} on workers"
                ship, kind = False, "recheck"
                self.shipped_streak, self.recheck_after = 0, RECHECK
            else:
                ship = True
        if ship:
            self.streak = 0
            self.shipped_streak += 1
        if kind != self._kind:  # each change of decision or reason is logged once
            self.note = (
                f"evaluating on {ex.name} workers"
                if ship
                else f"evaluating in this process: {why}"
            )
            log.info(self.note)
        self._kind = kind
        self.shipping = ship
        return ship

    def _ship(
        self,
        ev: Evaluator,
        X: np.ndarray,
        rows: np.ndarray,
        contiguous: bool,
        acc: Placed,
        start: int,
    ) -> None:
        ex = self.executor
        n = acc.n
        balance = max(1, -(-(n - start) // (max(1, ex.workers) * TASKS_PER_WORKER)))
        bounds: list[tuple[int, int]] = []

        def chunks() -> Any:
            a = start
            while a < n:
                b = a + self._chunk_size(ev, n - a, balance)
                bounds.append((a, b))
                yield X[a:b] if contiguous else X[rows[a:b]]
                a = b

        fn = functools.partial(run_chunk, mode=ev.on_error)
        lost = []
        t0 = time.perf_counter()
        for k, res in enumerate(ex.map(fn, chunks())):
            a, b = bounds[k]
            if isinstance(res, WorkerLost):
                lost.append((a, b, res))
                continue
            self._place(ev, X, rows, acc, a, b, res)
        for a, b, res in lost:
            self._recover(ev, X, rows, acc, a, b, res, fn)
        self.parallel_spr = (time.perf_counter() - t0) / (n - start)
        self.shipped_generations += 1

    def _place(
        self,
        ev: Evaluator,
        X: np.ndarray,
        rows: np.ndarray,
        acc: Placed,
        a: int,
        b: int,
        res: Any,
    ) -> None:
        if not isinstance(res, Outcome):
            raise FitnessError(f"a worker failed outside the fitness: {res}")
        y, bad = ev._absorb(res, X, rows[a:b])
        acc.put(a, b, y, bad)
        ev._count_chunk(b - a)
        self._learn(ev, b - a, res.peak)

    def _recover(
        self,
        ev: Evaluator,
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
            i = int(rows[a])
            params = ev.space.decode_row(X[i])
            msg = (
                f"a worker process died evaluating individual {i}{ev._where()} with params "
                f"{params} ({lost.attempts} attempt(s); {lost.detail})"
            )
            if ev.on_error == "raise":
                raise FitnessError(msg, index=i, params=params, generation=ev.generation)
            ev._record_error(1, msg)
            acc.put(a, b, None, np.ones(1, dtype=bool))
            ev._count_chunk(1)
            return
        log.warning(
            "a chunk of %d candidates lost its worker %d time(s) (%s); halving it",
            b - a,
            lost.attempts,
            lost.detail,
        )
        mid = (a + b) // 2
        parts = [(a, mid), (mid, b)]
        results = list(self.executor.map(fn, [X[rows[p:q]] for p, q in parts], retries=0))
        for (p, q), res in zip(parts, results):
            if isinstance(res, WorkerLost):
                self._recover(ev, X, rows, acc, p, q, res, fn)
            else:
                self._place(ev, X, rows, acc, p, q, res)

    # -- chunk sizes under a budget --------------------------------------------------------------
    def _chunk_size(self, ev: Evaluator, remaining: int, balance: int) -> int:
        if ev.chunk_size != "auto":
            return min(int(ev.chunk_size), remaining)
        size = balance
        room = getattr(self.executor, "worker_room", None)
        if room is not None:
            bpc = self.wbpc if self.wbpc is not None else ev._bpc
            size = min(size, PROBE_CHUNK if bpc is None else max(1, int(AIM * room / bpc)))
            if self.wcap is not None:
                size = min(size, self.wcap)
        return max(1, min(size, remaining))

    def _learn(self, ev: Evaluator, size: int, peak: int) -> None:
        room = getattr(self.executor, "worker_room", None)
        if room is None or peak <= 0:
            return
        observed = peak / size
        if self.wbpc is None:
            self.wbpc = observed
        elif observed > 0.25 * self.wbpc:
            self.wbpc = max(observed, 0.75 * self.wbpc)
        if peak > room and size > 1:
            self.wcap, self._calm = max(1, size // 2), 0
            if ev.monitor is not None:
                ev.monitor.note(
                    ev.generation,
                    "chunk_halved",
                    f"a worker's chunk of {size} peaked at {format_size(peak)} above its "
                    f"{format_size(room)} of working memory: chunk size {size} -> {self.wcap}",
                )
        elif self.wcap is not None:
            self._calm += 1
            if self._calm >= 3:
                self.wcap, self._calm = self.wcap * 2, 0

    def stats(self) -> dict[str, Any]:
        ex = self.executor
        out = dict(ex.stats()) if hasattr(ex, "stats") else {"executor": ex.name}
        out.update(
            shipped_generations=self.shipped_generations,
            local_generations=self.local_generations,
            note=self.note,
        )
        return out
