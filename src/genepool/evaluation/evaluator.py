"""``Evaluator``: evaluates populations in chunks sized to a memory budget, through the cache.

One generation: key the rows by their decoded parameters, group duplicates, look the distinct
keys up in the fitness cache, evaluate the rest in chunks, cache the new values, and scatter
values back by index. Nothing here is random and values are placed by index, so the result
does not depend on chunk sizes or on the cache (for a deterministic fitness).
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, check_int
from ..memory._size import format_size, parse_size
from ..memory.monitor import MemoryMonitor
from ..problem import Problem, as_problem, memory_hint_of
from ..space import Space
from ._dispatch import Dispatcher
from ._outcomes import OutcomeReader, Placed
from ._task import run_chunk
from .cache import FitnessCache
from .executors import make_executor

__all__ = ["ChunkPlan", "Evaluator"]

log = logging.getLogger("genepool.evaluation")

PROBE_CHUNK = 32  # rows evaluated first to calibrate memory when no estimate is known
SMALL_CHUNK = 16  # a budget that leaves room for fewer candidates per chunk is said once
AUTO_CACHE_WARMUP = 3  # generations before an automatic cache may decide it does not pay
DEFAULT_CACHE_BYTES = 256 * 2**20
PARENT_SHARE = 0.1  # with worker processes: share of the budget kept for the parent ...
PARENT_RESERVE = 64 * 2**20  # ... at least this, above its RSS when the pool starts


@dataclass
class ChunkPlan:
    """How :class:`Evaluator` will split ``n`` candidates, and why."""

    n: int
    chunk_size: int
    n_chunks: int
    bytes_per_candidate: int | None
    calibrated: bool
    memory_limit: int | None
    rss: int | None
    expected_peak: int | None
    reasons: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{self.n:,} candidates in {self.n_chunks:,} chunk(s) of up to {self.chunk_size:,}"
        ]
        if self.bytes_per_candidate is not None:
            how = "measured" if self.calibrated else "estimated by the problem"
            lines.append(
                f"working memory per candidate: {format_size(self.bytes_per_candidate)} ({how})"
            )
        if self.memory_limit is not None and self.rss is not None:
            lines.append(
                f"budget {format_size(self.memory_limit)}, RSS now {format_size(self.rss)}"
            )
        if self.expected_peak is not None:
            lines.append(f"expected peak RSS {format_size(self.expected_peak)}")
        lines += [f"- {r}" for r in self.reasons]
        return "\n".join(lines)


def _make_cache(cache: Any, memory_limit: int | None) -> FitnessCache | None:
    if cache is False:
        return None
    if isinstance(cache, FitnessCache):
        return cache
    if cache is None or cache is True:
        size = (
            DEFAULT_CACHE_BYTES
            if memory_limit is None
            else min(DEFAULT_CACHE_BYTES, memory_limit // 10)
        )
        return FitnessCache(max(size, 4096))
    if isinstance(cache, (int, str)) and not isinstance(cache, bool):
        return FitnessCache(cache)
    raise ConfigError(
        f"cache must be True, False, None, a size like '256MB' or a FitnessCache, got {cache!r}"
    )


class Evaluator(OutcomeReader):
    """Evaluates populations for a problem under a memory budget.

    Parameters
    ----------
    problem : Problem or callable
        What to evaluate (see :func:`genepool.minimize`).
    space : Space
        The search space (``problem.space`` when omitted).
    memory_limit : int or str, optional
        Budget for the whole process (``"2GB"``). Chunks are sized so that the measured peak RSS
        stays under ``act_at`` of it: from ``problem.bytes_per_candidate()`` when given, then
        from the peak measured on each chunk (exact on Linux).
    chunk_size : "auto" or int
        ``"auto"``: one chunk without a budget, budget-sized chunks with one. An int fixes it.
    cache : None, bool, size or FitnessCache
        ``None`` (auto): an exact cache of 256 MB (or a tenth of the budget) that turns itself
        off when it does not pay, i.e. when after ``AUTO_CACHE_WARMUP`` generations the time
        its hits saved (hits x measured seconds per evaluation) is less than the time spent
        keying, grouping and looking up (cheap vectorized fitness such as Rastrigin).
        ``True``, a size or a :class:`FitnessCache`: always on. ``False``: no cache and no
        deduplication (for noisy fitness).
    on_error : {"raise", "penalize"}
        ``"raise"``: a :class:`FitnessError` naming the individual. ``"penalize"``: failing
        individuals (exceptions, NaN/inf) get ``penalty``; the count and the first error are
        kept in :attr:`stats`. Penalized values are never cached.
    penalty : float, optional
        Fitness given to failing individuals (default ``+inf``: the worst when minimizing).
    monitor : MemoryMonitor, optional
        Shared with the run loop; one is created when ``memory_limit`` is given.
    executor : {"serial", "processes", "dask"}, address, distributed.Client or Executor
        Where chunks are evaluated (see :mod:`genepool.evaluation.executors` and
        ``docs/parallel.md``). ``"processes"``: a pool of local processes started on the first
        generation worth shipping, with the problem's read-only arrays in shared memory;
        ``"dask"``: a local Dask cluster; ``"tcp://host:port"`` or a ``Client``: that
        cluster. Values are identical whatever the executor; the cache, deduplication and
        error policy stay here. Executors made from a name are closed by :meth:`close`;
        executor objects passed in are the caller's to close.
    workers : int, optional
        Worker processes (default: one per core, fewer when ``memory_limit`` cannot hold
        them; with a budget the parent keeps its RSS plus 10 % and the workers share the rest).
    retries : int, default 2
        Times a chunk is re-sent after its worker died; after that the chunk is halved until
        the individual that kills workers is named in a :class:`FitnessError` (or penalized).
    max_tasks_per_child : int, optional
        Replace a worker process after this many chunks (for leaky fitness functions).
    """

    def __init__(
        self,
        problem: Any,
        space: Space | None = None,
        *,
        memory_limit: int | str | None = None,
        chunk_size: int | str = "auto",
        cache: Any = None,
        on_error: str = "raise",
        penalty: float | None = None,
        monitor: MemoryMonitor | None = None,
        executor: Any = "serial",
        workers: int | None = None,
        retries: int = 2,
        max_tasks_per_child: int | None = None,
        held_elsewhere: Callable[[], dict[str, int]] | None = None,
    ) -> None:
        space = space if space is not None else getattr(problem, "space", None)
        if not isinstance(space, Space):
            raise ConfigError("Evaluator needs a space: pass space= or a problem with .space")
        self.space = space
        self.problem: Problem = as_problem(problem, space)
        self.memory_limit = None if memory_limit is None else parse_size(memory_limit)
        if chunk_size != "auto":
            chunk_size = check_int("chunk_size", chunk_size, minimum=1)
        self.chunk_size = chunk_size
        self.cache = _make_cache(cache, self.memory_limit)
        self.auto_cache = cache is None
        self._cache_seconds = self._saved_seconds = 0.0
        self._auto_generations = 0
        self.cache_note: str | None = None
        if on_error not in ("raise", "penalize"):
            raise ConfigError(f"on_error must be 'raise' or 'penalize', got {on_error!r}")
        self.on_error = on_error
        self.penalty = np.inf if penalty is None else float(penalty)
        if np.isnan(self.penalty):
            raise ConfigError("penalty must not be NaN")
        if monitor is None and self.memory_limit is not None:
            monitor = MemoryMonitor(self.memory_limit)
        elif monitor is not None and self.memory_limit is not None and monitor.limit is None:
            monitor.limit = self.memory_limit
        self.monitor = monitor
        if self.monitor is not None and self.cache is not None:
            cache_ref = self.cache
            self.monitor.add_cleanup("fitness cache", lambda: cache_ref.shrink(0.5))
        estimate = (
            self.problem.bytes_per_candidate()
            if hasattr(self.problem, "bytes_per_candidate")
            else None
        )
        self._bpc: float | None = None if estimate is None else float(max(1, estimate))
        self._calibrated = False
        self._cap: int | None = None  # ceiling after pressure (halvings), relaxed when calm
        self._calm = 0
        self.small_chunk_note: str | None = None
        self.chunk_sizes: Counter[int] = Counter()
        self.n_requested = self.n_evaluated = self.n_duplicates = self.n_errors = 0
        self.first_error: str | None = None
        self.generation = 0
        self._penalized_last = np.zeros(0, dtype=bool)
        self.current_batch_bytes = 0
        #: Largest chunk of the last :meth:`evaluate` call.
        self.largest_chunk = 0
        #: Extra memory held by the caller (population, history), reported on a budget error.
        self.held_elsewhere = held_elsewhere
        self.executor, owned = make_executor(
            executor, workers=workers, retries=retries, max_tasks_per_child=max_tasks_per_child
        )
        self._dispatch = Dispatcher(self.executor, owned)

    # -- executor ----------------------------------------------------------------------------
    def worker_budget(self) -> int | None:
        """Bytes of the budget left for worker processes: all but the parent's share."""
        if self.memory_limit is None or self.monitor is None:
            return None
        reserve = max(PARENT_RESERVE, int(PARENT_SHARE * self.memory_limit))
        return int(self.monitor.act_at * self.memory_limit) - self.monitor.rss() - reserve

    def drop_executor(self) -> None:
        """Evaluate in this process from now on (closing an executor made here)."""
        if self.executor is not None and self._dispatch.owned:
            self.executor.close()
        self.executor = None
        self._dispatch.executor = None

    def close(self) -> None:
        """Stop worker processes or detach from the cluster (executors made here only)."""
        if self.executor is not None and self._dispatch.owned:
            self.executor.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statistics --------------------------------------------------------------------------
    @property
    def bytes_per_candidate(self) -> int | None:
        """Current estimate of working memory per candidate (measured once calibrated)."""
        return None if self._bpc is None else int(self._bpc)

    @property
    def stats(self) -> dict[str, Any]:
        """Requested and computed evaluations, duplicates, cache statistics, errors, chunks."""
        return {
            "requested": self.n_requested,
            "evaluated": self.n_evaluated,
            "saved": 1.0 - self.n_evaluated / self.n_requested if self.n_requested else 0.0,
            "duplicates": self.n_duplicates,
            "errors": self.n_errors,
            "first_error": self.first_error,
            "cache": self.cache_stats(),
            "chunk_sizes": dict(sorted(self.chunk_sizes.items())),
            "bytes_per_candidate": self.bytes_per_candidate,
            "executor": None if self.executor is None else self._dispatch.stats(),
        }

    def cache_stats(self) -> dict[str, Any] | None:
        """Statistics of the cache (also after an automatic cache turned itself off)."""
        if self.cache is not None:
            return self.cache.stats()
        stats = getattr(self, "_disabled_cache_stats", None)
        return None if stats is None else {**stats, "disabled": self.cache_note}

    # -- chunk sizing ------------------------------------------------------------------------
    def plan(self, n: int) -> ChunkPlan:
        """How ``n`` candidates would be split now, with the reasons."""
        n = check_int("n", n, minimum=0)
        reasons: list[str] = []
        rss = self.monitor.rss() if self.monitor is not None else None
        size = self._next_chunk(max(n, 1), rss, reasons)
        size = max(1, min(size, max(n, 1)))
        expected = None
        if rss is not None and self._bpc is not None:
            expected = int(rss + size * self._bpc)
        return ChunkPlan(
            n=n,
            chunk_size=size,
            n_chunks=-(-n // size) if n else 0,
            bytes_per_candidate=self.bytes_per_candidate,
            calibrated=self._calibrated,
            memory_limit=self.memory_limit,
            rss=rss,
            expected_peak=expected,
            reasons=reasons,
        )

    def _next_chunk(
        self, remaining: int, rss: int | None, reasons: list[str] | None = None
    ) -> int:
        why = reasons if reasons is not None else []
        if self.chunk_size != "auto":
            why.append(f"chunk_size={self.chunk_size} was given")
            return min(int(self.chunk_size), remaining)
        if self.memory_limit is None or rss is None or self.monitor is None:
            why.append("no memory_limit: the whole population is one chunk")
            return remaining
        if self._bpc is None:
            why.append(
                f"no estimate of memory per candidate yet: a probe chunk of "
                f"{PROBE_CHUNK} calibrates it"
            )
            return min(PROBE_CHUNK, remaining)
        # Aim between warn_at and act_at: a chunk that lands exactly on act_at would be
        # halved by the slightest overshoot and chunk sizes would oscillate.
        aim = (self.monitor.warn_at + self.monitor.act_at) / 2
        room = aim * self.memory_limit - rss
        size = int(room // self._bpc) if room > 0 else 1
        why.append(
            f"room under {aim:.0%} of the budget: "
            f"{format_size(max(room, 0))} / {format_size(self._bpc)} per candidate"
        )
        small = size < min(SMALL_CHUNK, remaining)
        if small and reasons is None and self.small_chunk_note is None:  # evaluating, not plan()
            self._note_small_chunks(size, rss, aim)
        if self._cap is not None and size > self._cap:
            size = self._cap
            why.append(f"capped at {self._cap} after memory pressure")
        return max(1, min(size, remaining))

    def _note_small_chunks(self, size: int, rss: int, aim: float) -> None:
        """Say once that the budget leaves room for only a few candidates at a time."""
        assert self.memory_limit is not None and self._bpc is not None
        hint = memory_hint_of(self.problem)
        self.small_chunk_note = (
            f"the memory budget leaves room for only {size} candidate(s) per chunk: the "
            f"process holds {format_size(rss)} of {format_size(self.memory_limit)} (aiming at "
            f"{aim:.0%}) and one candidate needs about {format_size(self._bpc)}, so evaluation "
            f"will be slow; raise memory_limit for larger chunks." + (f" {hint}" if hint else "")
        )
        log.warning(self.small_chunk_note)

    def _after_chunk(self, size: int, rss_before: int, peak: int) -> None:
        """Learn from the measured peak of a chunk; shrink under pressure, grow when calm."""
        assert self.monitor is not None and self.memory_limit is not None
        observed = max(0, peak - rss_before) / size
        if self._bpc is None or not self._calibrated:
            self._bpc = max(observed, self._bpc or 0.0, 1.0)
            self._calibrated = True
        elif observed > 0.25 * self._bpc:
            # Decay slowly when a chunk costs less; ignore chunks that grew little (they were
            # served from memory freed earlier and still resident, not a real change of cost).
            self._bpc = max(observed, 0.75 * self._bpc)
        level = self.monitor.level(peak)
        if level == "over" and size <= 1:  # one candidate at a time is already too much
            raise self.monitor.budget_exceeded(
                self.generation, self.usage(), rss=peak, hint=memory_hint_of(self.problem)
            )
        if level in ("act", "over"):
            self._calm = 0
            if size > 1:
                self._cap = max(1, size // 2)
                self.monitor.note(
                    self.generation,
                    "chunk_halved",
                    f"peak RSS {format_size(peak)} above {self.monitor.act_at:.0%} of "
                    f"the budget: chunk size {size} -> {self._cap}",
                )
        elif self._cap is not None:
            self._calm += 1
            if self._calm >= 3:
                self._cap *= 2
                self._calm = 0
        if level == "over":
            self.monitor.cleanup(self.generation, "budget exceeded during a chunk")

    def usage(self) -> dict[str, int]:
        """Bytes held by genepool, by part: what the caller declared, plus the cache."""
        usage = dict(self.held_elsewhere()) if callable(self.held_elsewhere) else {}
        if self.cache is not None:
            usage["fitness cache"] = self.cache.nbytes
        return usage

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, X: np.ndarray, generation: int | None = None) -> np.ndarray:
        """Fitness of each row of ``X``: shape ``(n,)`` or ``(n, m)``, float64.

        Raises :class:`FitnessError` (``on_error="raise"``) naming the row of ``X`` and its
        decoded parameters when the fitness raises or returns NaN/inf or a wrong shape.
        """
        if generation is not None:
            self.generation = generation
        X = np.asarray(X)
        n = X.shape[0]
        self.n_requested += n
        self.current_batch_bytes = X.nbytes
        self.largest_chunk = 0
        if self.cache is None:
            values = self._evaluate_rows(X, np.arange(n), contiguous=True)
            return values
        t0 = time.perf_counter()
        batch = self.cache.batch(self.space, X)
        first, inverse = batch.group()
        self.n_duplicates += n - first.shape[0]
        idx = self.cache.lookup(batch, first)
        hit = idx >= 0
        missing = first[~hit]
        t1 = time.perf_counter()
        fresh = self._evaluate_rows(X, missing, contiguous=False)
        t2 = time.perf_counter()
        m = (
            fresh.shape[1:]
            if fresh.size or not hit.any()
            else self.cache.values_at(idx[hit][:1]).shape[1:]
        )
        unique_values = np.empty((first.shape[0], *m), dtype=np.float64)
        if hit.any():
            unique_values[hit] = self.cache.values_at(idx[hit])
        unique_values[~hit] = fresh
        ok = np.isfinite(fresh) if fresh.ndim == 1 else np.isfinite(fresh).all(axis=1)
        if self.on_error == "penalize":
            ok &= ~self._penalized_last
        self.cache.put(batch, missing[ok], fresh[ok])
        values = unique_values[inverse]
        if self.auto_cache:
            per_eval = (t2 - t1) / max(1, missing.shape[0])
            self._account_cache(
                time.perf_counter() - t2 + (t1 - t0), (n - missing.shape[0]) * per_eval
            )
        return values

    def _account_cache(self, spent: float, saved: float) -> None:
        """Turn an automatic cache off once it costs more time than its hits save."""
        self._cache_seconds += spent
        self._saved_seconds += saved
        self._auto_generations += 1
        if (
            self._auto_generations >= AUTO_CACHE_WARMUP
            and self._saved_seconds < self._cache_seconds
        ):
            assert self.cache is not None
            self.cache_note = (
                f"fitness cache turned off in generation {self.generation}: it saved "
                f"{self._saved_seconds:.3g} s of evaluation but cost {self._cache_seconds:.3g} s "
                f"(pass cache=True to keep it)"
            )
            log.info(self.cache_note)
            self._disabled_cache_stats = self.cache.stats()
            self.cache = None

    def _evaluate_rows(self, X: np.ndarray, rows: np.ndarray, contiguous: bool) -> np.ndarray:
        """Evaluate rows ``rows`` of ``X`` in chunks; values in the order of ``rows``."""
        acc = Placed(rows.shape[0], self.penalty)
        start = 0
        if self.executor is not None and acc.n:
            start = self._dispatch.run(self, X, rows, contiguous, acc)
        while start < acc.n:
            start += self._serial_chunk(X, rows, contiguous, acc, start, acc.n - start)
        self._penalized_last = acc.bad
        return acc.values()

    def _serial_chunk(
        self,
        X: np.ndarray,
        rows: np.ndarray,
        contiguous: bool,
        acc: Placed,
        start: int,
        most: int,
    ) -> int:
        """Evaluate one chunk (of at most ``most`` rows) here, measured; returns its size."""
        measure = self.monitor is not None and self.memory_limit is not None
        rss = self.monitor.begin_interval() if measure else None  # type: ignore[union-attr]
        size = min(self._next_chunk(acc.n - start, rss), most)
        probing = self._bpc is None and self.memory_limit is not None
        stop = start + size
        if probing:
            tracemalloc.start()
        try:
            Xc = X[start:stop] if contiguous else X[rows[start:stop]]
            outcome = run_chunk(self.problem, Xc, self.on_error)
            yc, bad = self._absorb(outcome, X, rows[start:stop])
        finally:
            traced = tracemalloc.get_traced_memory()[1] if probing else 0
            if probing:
                tracemalloc.stop()
        acc.put(start, stop, yc, bad)
        self._dispatch.serial_seconds(outcome.seconds, size)
        self._count_chunk(size)
        if measure and rss is not None:
            peak = self.monitor.end_interval()  # type: ignore[union-attr]
            if probing:
                peak = max(peak, rss + traced)
            self._after_chunk(size, rss, peak)
        return size

    def _count_chunk(self, size: int) -> None:
        self.chunk_sizes[size] += 1
        self.largest_chunk = max(self.largest_chunk, size)
        self.n_evaluated += size
