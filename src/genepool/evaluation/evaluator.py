"""``Evaluator``: evaluates populations in chunks sized to a memory budget, through the cache.

One generation: key the rows by their decoded parameters, group duplicates, look the distinct
keys up in the fitness cache, evaluate the rest in chunks, cache the new values, and scatter
values back by index. Nothing here is random and values are placed by index, so the result
does not depend on chunk sizes or on the cache (for a deterministic fitness).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict, cast

import numpy as np

from .._stages import stage
from ..errors import ConfigError, check_int
from ..memory._size import format_size, parse_size
from ..memory.monitor import MemoryMonitor
from ..problem import Problem, ProblemLike, as_problem
from ..space import Space
from ._dispatch import Dispatcher
from ._local import LocalChunks
from ._outcomes import ErrorPolicy, Placed
from .cache import CacheSpec, CacheStats, FitnessCache
from .chunking import ChunkSizer, ChunkTally, ParentChunks, WorkerChunks, check_chunk_size
from .executors import Executor, SerialExecutor
from .registry import ExecutorSpec, parse_executor

__all__ = ["ChunkPlan", "EvaluationStats", "Evaluator", "RowRange"]

log = logging.getLogger("genepool.evaluation")

AUTO_CACHE_WARMUP = 3  # generations before an automatic cache may decide it does not pay
DEFAULT_CACHE_BYTES = 256 * 2**20


class RowRange:
    """``np.arange(n)`` as the chunk loops read it (``shape``, slices, single items), without
    its 8 bytes per row: 160 MB at 2 x 10^7 candidates (a population on disk)."""

    def __init__(self, n: int) -> None:
        self.shape = (int(n),)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: slice | int) -> np.ndarray | np.int64:
        if isinstance(key, slice):
            return np.arange(*key.indices(self.shape[0]), dtype=np.int64)
        n = self.shape[0]
        i = int(key) + n if int(key) < 0 else int(key)
        if not 0 <= i < n:
            raise IndexError(f"row {key} out of range for {n} rows")
        return np.int64(i)


class EvaluationStats(TypedDict):
    """What :attr:`Evaluator.stats` returns (see there)."""

    requested: int
    evaluated: int
    saved: float
    duplicates: int
    errors: int
    first_error: str | None
    cache: CacheStats | None
    chunk_sizes: dict[int, int]
    bytes_per_candidate: int | None
    executor: dict[str, object] | None


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
                f"budget {format_size(self.memory_limit)}, anonymous memory now "
                f"{format_size(self.rss)}"
            )
        if self.expected_peak is not None:
            lines.append(f"expected peak anonymous memory {format_size(self.expected_peak)}")
        lines += [f"- {r}" for r in self.reasons]
        return "\n".join(lines)


def _make_cache(cache: CacheSpec, memory_limit: int | None) -> FitnessCache | None:
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


def _shared_monitor(monitor: MemoryMonitor | None, limit: int | None) -> MemoryMonitor | None:
    """The run's monitor (given the budget when it has none), or a new one for a budget."""
    if monitor is None and limit is not None:
        return MemoryMonitor(limit)
    if monitor is not None and limit is not None and monitor.limit is None:
        monitor.limit = limit
    return monitor


class Evaluator:
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
    held_elsewhere : callable, optional
        ``held_elsewhere() -> {part: bytes}``: memory held by the caller (population,
        history), reported by a budget error (see :meth:`usage`).
    """

    def __init__(
        self,
        problem: ProblemLike,
        space: Space | None = None,
        *,
        memory_limit: int | str | None = None,
        chunk_size: int | str = "auto",
        cache: CacheSpec = None,
        on_error: str = "raise",
        penalty: float | None = None,
        monitor: MemoryMonitor | None = None,
        executor: ExecutorSpec = "serial",
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
        if self.memory_limit is not None:
            self.problem.fit_memory(self.memory_limit)
        self.chunk_size = check_chunk_size(chunk_size)
        self.cache = _make_cache(cache, self.memory_limit)
        self.auto_cache = cache is None
        self._cache_seconds = self._saved_seconds = 0.0
        self._auto_generations = 0
        self.cache_note: str | None = None
        self._disabled_cache_stats: CacheStats | None = None
        self.errors = ErrorPolicy(space, on_error, penalty)
        self.monitor = _shared_monitor(monitor, self.memory_limit)
        if self.monitor is not None and self.cache is not None:
            # the cache in use when the cleanup runs: one that turned itself off is gone, and
            # the cleanup must not keep its arrays alive (it did: up to 256 MB for the run)
            self.monitor.add_cleanup("fitness cache", self._shrink_cache)
        estimate = self.problem.bytes_per_candidate()
        sizer = ChunkSizer(None if estimate is None else float(max(1, estimate)))
        self.chunks = ParentChunks(
            chunk_size, self.memory_limit, self.monitor, sizer, self.problem.memory_hint
        )
        self.tally = ChunkTally()
        self.n_requested = self.n_duplicates = 0
        self._penalized_last = np.zeros(0, dtype=bool)
        self.current_batch_bytes = 0
        #: Extra memory held by the caller (population, history), reported on a budget error.
        self.held_elsewhere = held_elsewhere
        chosen, owned = parse_executor(
            executor, workers=workers, retries=retries, max_tasks_per_child=max_tasks_per_child
        )
        self._connect(chosen, owned)

    def _connect(self, chosen: Executor, owned: bool) -> None:
        """Evaluate here through ``chosen`` when it is serial, else ship to it what pays."""
        local = chosen if isinstance(chosen, SerialExecutor) else SerialExecutor()
        self.local = LocalChunks(
            local, local is not chosen or owned, self.chunks, self.errors, self.tally, self.usage
        )
        self._dispatch: Dispatcher | None = None
        if local is not chosen:
            self._dispatch = Dispatcher(
                chosen,
                owned,
                local=self.local,
                errors=self.errors,
                chunks=WorkerChunks(self.chunk_size, self.chunks.sizer),
                tally=self.tally,
                budget=self.chunks.worker_budget,
                monitor=self.monitor,
            )

    # -- executor ----------------------------------------------------------------------------
    @property
    def executor(self) -> Executor | None:
        """The executor chunks are shipped to (None: everything is evaluated here)."""
        return None if self._dispatch is None else self._dispatch.executor

    def worker_budget(self) -> int | None:
        """Bytes of the budget left for worker processes: all but the parent's share."""
        return self.chunks.worker_budget()

    def drop_executor(self) -> None:
        """Evaluate in this process from now on (closing an executor made here)."""
        if self._dispatch is not None:
            self._dispatch.drop()

    def close(self) -> None:
        """Stop worker processes or detach from the cluster (executors made here only)."""
        if self._dispatch is not None:
            self._dispatch.close()
        self.local.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the parts hold -----------------------------------------------------------------
    @property
    def on_error(self) -> str:
        """``"raise"`` or ``"penalize"`` (see :class:`ErrorPolicy`)."""
        return self.errors.on_error

    @property
    def penalty(self) -> float:
        """Fitness of a penalized individual."""
        return self.errors.penalty

    @property
    def generation(self) -> int:
        """The generation being evaluated (named in errors and memory notes)."""
        return self.errors.generation

    @generation.setter
    def generation(self, value: int) -> None:
        self.errors.generation = value

    @property
    def n_errors(self) -> int:
        """Individuals penalized so far."""
        return self.errors.n_errors

    @property
    def first_error(self) -> str | None:
        """What went wrong with the first penalized individual."""
        return self.errors.first_error

    @property
    def n_evaluated(self) -> int:
        """Candidates evaluated (not served by the cache or as duplicates)."""
        return self.tally.rows

    @property
    def chunk_sizes(self) -> Counter[int]:
        """Chunks evaluated, by size."""
        return self.tally.sizes

    @property
    def largest_chunk(self) -> int:
        """Largest chunk of the last :meth:`evaluate` call."""
        return self.tally.largest

    @property
    def small_chunk_note(self) -> str | None:
        """The warning that the budget leaves room for only a few candidates per chunk."""
        return self.chunks.small_chunk_note

    def _shrink_cache(self) -> int:
        """Give back half of the cache (a cleanup under memory pressure); bytes released."""
        return 0 if self.cache is None else self.cache.shrink(0.5)

    # -- statistics --------------------------------------------------------------------------
    @property
    def bytes_per_candidate(self) -> int | None:
        """Current estimate of working memory per candidate (measured once calibrated)."""
        bpc = self.chunks.sizer.bpc
        return None if bpc is None else int(bpc)

    @property
    def stats(self) -> EvaluationStats:
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
            "executor": None
            if self._dispatch is None or self._dispatch.executor is None
            else self._dispatch.stats(),
        }

    def cache_stats(self) -> CacheStats | None:
        """Statistics of the cache (also after an automatic cache turned itself off)."""
        if self.cache is not None:
            return self.cache.stats()
        stats = self._disabled_cache_stats
        return None if stats is None else {**stats, "disabled": self.cache_note}

    # -- chunk sizing ------------------------------------------------------------------------
    def plan(self, n: int) -> ChunkPlan:
        """How ``n`` candidates would be split now, with the reasons."""
        n = check_int("n", n, minimum=0)
        reasons: list[str] = []
        rss = self.monitor.anon() if self.monitor is not None else None
        size = self.chunks.next_size(max(n, 1), rss, reasons)
        size = max(1, min(size, max(n, 1)))
        bpc = self.chunks.sizer.bpc
        expected = None
        if rss is not None and bpc is not None:
            expected = int(rss + size * bpc)
        return ChunkPlan(
            n=n,
            chunk_size=size,
            n_chunks=-(-n // size) if n else 0,
            bytes_per_candidate=self.bytes_per_candidate,
            calibrated=self.chunks.sizer.calibrated,
            memory_limit=self.memory_limit,
            rss=rss,
            expected_peak=expected,
            reasons=reasons,
        )

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
        # a population file (storage="disk") is file-backed: not held in the budget's memory
        in_memory = not isinstance(X, np.memmap)
        X = np.asarray(X)
        n = X.shape[0]
        self.n_requested += n
        self.current_batch_bytes = X.nbytes if in_memory else 0
        self.tally.largest = 0
        if self.cache is None:
            # every row in order: slices of a range, not an index array of 8 bytes per row
            return self._evaluate_rows(X, cast(np.ndarray, RowRange(n)), contiguous=True)
        return self._through_cache(self.cache, X)

    def _through_cache(self, cache: FitnessCache, X: np.ndarray) -> np.ndarray:
        """Values of ``X``: distinct rows looked up, the missing ones evaluated and cached."""
        n = X.shape[0]
        t0 = time.perf_counter()
        with stage("cache"):
            batch = cache.batch(self.space, X)
            first, inverse = batch.group()
            self.n_duplicates += n - first.shape[0]
            idx = cache.lookup(batch, first)
            hit = idx >= 0
            missing = first[~hit]
        t1 = time.perf_counter()
        fresh = self._evaluate_rows(X, missing, contiguous=False)
        t2 = time.perf_counter()
        m = (
            fresh.shape[1:]
            if fresh.size or not hit.any()
            else cache.values_at(idx[hit][:1]).shape[1:]
        )
        unique_values = np.empty((first.shape[0], *m), dtype=np.float64)
        if hit.any():
            unique_values[hit] = cache.values_at(idx[hit])
        unique_values[~hit] = fresh
        ok = np.isfinite(fresh) if fresh.ndim == 1 else np.isfinite(fresh).all(axis=1)
        if self.on_error == "penalize":
            ok &= ~self._penalized_last
        with stage("cache"):
            cache.put(batch, missing[ok], fresh[ok])
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
        self.local.start(self.problem)
        start = 0
        if self._dispatch is not None and acc.n:
            start = self._dispatch.run(self.problem, X, rows, contiguous, acc)
        while start < acc.n:
            start += self.local.run(X, rows, contiguous, acc, start, acc.n - start)
        self._penalized_last = acc.bad
        return acc.values()
