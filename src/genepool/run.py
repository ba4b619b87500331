"""``minimize`` / ``maximize``: the run loop around an optimizer.

``ask -> evaluate (chunks, cache, checks) -> tell -> record -> callbacks -> terminators``. The
loop draws no random numbers: everything random comes from the optimizer's seeded stream, so a
seed fixes the run, whatever the chunk size or the cache.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import _run_state
from ._numba import compile_notice
from ._progress import ProgressReporter, choose_mode
from ._result import Generation, MemoryReport, Result
from ._terminators import Terminators
from .algorithms.base import Optimizer
from .checkpoint import Checkpoint
from .errors import ConfigError, WriteError, check_int
from .evaluation.evaluator import Evaluator
from .memory.history import SENSE_KEY, RingHistory, write_parquet_atomic
from .memory.monitor import MemoryMonitor
from .problem import memory_hint_of
from .space import Space

__all__ = ["Generation", "MemoryReport", "Result", "maximize", "minimize"]

log = logging.getLogger("genepool")

DIVERSITY_SAMPLE = 4096
HISTORY_DTYPE = np.dtype(
    [
        ("generation", np.int64),
        ("best", np.float64),
        ("generation_best", np.float64),
        ("mean", np.float64),
        ("std", np.float64),
        ("diversity", np.float64),
        ("evaluations", np.int64),
        ("wall_time", np.float64),
        ("rss", np.int64),
    ]
)


def minimize(
    problem: Any,
    optimizer: Optimizer,
    *,
    generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    time_limit: float | None = None,
    stagnation: int | None = None,
    memory_limit: int | str | None = None,
    chunk_size: int | str = "auto",
    cache: Any = None,
    on_error: str = "raise",
    penalty: float | None = None,
    executor: Any = "serial",
    workers: int | None = None,
    retries: int = 2,
    run_dir: str | Path | None = None,
    history_capacity: int = 10_000,
    snapshot_every: int | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    callbacks: Iterable[Callable[[Generation], Any]] = (),
    progress: bool | str | ProgressReporter = True,
) -> Result:
    """Minimize ``problem`` with ``optimizer``.

    Parameters
    ----------
    problem : Problem or callable
        An object with ``.evaluate(X) -> y``, a vectorized callable ``f(X) -> y`` (``X`` of shape
        ``(n, d)`` in the optimizer's space, ``y`` of shape ``(n,)``), or
        ``genepool.elementwise(f)``.
    optimizer : Optimizer
        E.g. ``genepool.GA(space, population_size=1000, seed=0)``; it is advanced in place.
    generations : int, optional
        Stop after this many generations. When none of ``generations``, ``max_evaluations`` and
        ``time_limit`` is given, 100 generations are run (a run must always end).
    max_evaluations : int, optional
        Stop once this many candidates were evaluated (checked after each generation, so the
        last generation may overshoot by less than a population).
    target : float, optional
        Stop once the best fitness is <= target (>= for ``maximize``).
    time_limit : float, optional
        Stop after the first generation that ends past this many seconds.
    stagnation : int, optional
        Stop after this many generations without improvement of the best fitness.
    memory_limit : int or str, optional
        Memory budget of the process (``"2GB"``, ``"512MiB"``): evaluation is chunked so that
        the measured peak RSS stays under it, and the monitor cleans up above 70 % of it.
    chunk_size : "auto" or int
        Candidates per evaluation call (``"auto"``: sized from the budget, or everything).
    cache : None, bool, size or FitnessCache
        Exact fitness cache on decoded parameters. ``None`` (default): on (256 MB or a tenth of
        the budget) unless the optimizer almost never repeats a candidate
        (``optimizer.cache_by_default``: ``PSO`` on continuous genes), and off again when it
        does not pay; ``True`` forces it on; ``False`` for noisy
        fitness (no cache, no deduplication).
    on_error : {"raise", "penalize"}
        What a failing fitness does: raise a :class:`~genepool.errors.FitnessError`, or give
        the individual ``penalty`` (default: the worst value, +inf) and count it in the result.
    penalty : float, optional
        Fitness of failing individuals with ``on_error="penalize"``, in the user's sign.
    executor : {"serial", "processes", "dask"}, "tcp://host:port", distributed.Client or Executor
        Where chunks are evaluated: here (default), in a pool of local processes with the
        problem's read-only arrays in shared memory (started once per run, when a generation
        is worth shipping), on a local Dask cluster, or on an existing one. Results are
        identical whatever the executor; see ``docs/parallel.md``.
    workers : int, optional
        Worker processes (default: one per core, fewer if ``memory_limit`` cannot hold them).
    retries : int, default 2
        Times a chunk is re-sent after its worker died (killed, segfault, out of memory).
    run_dir : path, optional
        Directory where the history (``history.parquet/``, every generation) and population
        snapshots (``populations/``) are written; memory stays flat however long the run.
    history_capacity : int, default 10_000
        Generations of history kept in memory (the newest); older ones need ``run_dir``.
    snapshot_every : int, optional
        Write the population (decoded parameters and fitness) to ``run_dir/populations/``
        every this many generations.
    checkpoint_every : int, optional
        Write a checkpoint to ``run_dir/checkpoint/`` every this many generations, at the end,
        and when SIGINT/SIGTERM arrives (the run then stops after the current generation; a
        second signal stops at once). Files are ``.npz`` + JSON written atomically, no pickle;
        the newest two are kept. See :mod:`genepool.checkpoint`.
    resume : bool, default False
        Continue the run in ``run_dir`` from its newest valid checkpoint; ``optimizer`` must be
        configured as the one that wrote it (a fresh instance). The result equals that of an
        uninterrupted run with the same seed. Terminators apply to the whole run: pass a larger
        ``generations`` to extend a finished run.
    callbacks : iterable of callables
        Called with a :class:`Generation` after each generation; returning ``True`` stops.
        A callback with ``state_dict() -> (arrays, meta)`` and ``load_state_dict(arrays,
        meta)`` methods has its state saved in checkpoints and restored on resume.
    progress : bool, {"bar", "lines"} or ProgressReporter
        ``True``: a rich progress bar on a terminal, plain lines (at most every 2 s) on stderr
        otherwise; ``False``: silent.

    Returns
    -------
    Result

    Raises
    ------
    FitnessError
        When the fitness raises or returns NaN/inf or a wrongly shaped array (unless
        ``on_error="penalize"``); the error names the generation, the individual's index and
        its decoded parameters.
    MemoryBudgetExceeded
        When the budget is exceeded with nothing left to shrink.

    Examples
    --------
    >>> import genepool as gp
    >>> space = gp.Space.box(-5.12, 5.12, 5)
    >>> res = gp.minimize(gp.problems.rastrigin, gp.GA(space, 200, seed=0), generations=40,
    ...                   progress=False)
    >>> res.n_generations, res.n_evaluations
    (40, 8000)
    >>> bool(res.best_fitness < 3.0)
    True
    """
    return _run(sign=1.0, **locals())


def maximize(
    problem: Any,
    optimizer: Optimizer,
    *,
    generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    time_limit: float | None = None,
    stagnation: int | None = None,
    memory_limit: int | str | None = None,
    chunk_size: int | str = "auto",
    cache: Any = None,
    on_error: str = "raise",
    penalty: float | None = None,
    executor: Any = "serial",
    workers: int | None = None,
    retries: int = 2,
    run_dir: str | Path | None = None,
    history_capacity: int = 10_000,
    snapshot_every: int | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    callbacks: Iterable[Callable[[Generation], Any]] = (),
    progress: bool | str | ProgressReporter = True,
) -> Result:
    """Maximize ``problem`` with ``optimizer``; same parameters as :func:`minimize`.

    The optimizer minimizes the negated fitness; results and history are in the user's sign,
    and the default ``penalty`` is -inf.
    """
    return _run(sign=-1.0, **locals())


#: The fitness columns of the history (``best``, ``generation_best``, ``mean``) are stored in
#: the user's sign, with the direction in the Parquet schema metadata (``SENSE_KEY``) and in
#: the checkpoint, so that a reader never has to guess.
SENSES = {1.0: "minimize", -1.0: "maximize"}


class _Recorder:
    """Per-generation statistics into a RingHistory (user's sign), snapshots to Parquet.

    ``sign`` is the run's (1: minimize, -1: maximize); the optimizer works on ``sign * y``.
    A run directory written before the direction was recorded (its checkpoint has no
    ``history.sense``) holds the minimized scale: resuming it keeps that scale, so that one
    directory never mixes signs (``to_user`` converts it back when the history is read).
    """

    def __init__(
        self,
        space: Space,
        capacity: int,
        run_dir: Path | None,
        snapshot_every: int | None,
        resume_from: Checkpoint | None = None,
        sign: float = 1.0,
    ) -> None:
        self.space = space
        self._span = space.upper - space.lower
        self.run_dir = run_dir
        self.snapshot_every = snapshot_every
        legacy = resume_from is not None and not resume_from.meta["history"].get("sense")
        #: multiplies the minimized-scale statistics before they are stored
        self.store_sign = 1.0 if legacy else sign
        #: multiplies the stored statistics to give the user's sign
        self.to_user = sign * self.store_sign
        self.sense = None if legacy else SENSES[sign]
        meta = None if self.sense is None else {SENSE_KEY: self.sense}
        folder = None if run_dir is None else run_dir / "history.parquet"
        if resume_from is None:
            self.history = RingHistory(HISTORY_DTYPE, capacity, folder, metadata=meta)
        else:  # the rows on disk at the checkpoint, then those it carried in memory
            flushed = int(resume_from.meta["history"]["flushed"])
            self.history = RingHistory(
                HISTORY_DTYPE, capacity, folder, resume_rows=flushed, metadata=meta
            )
            pending = _run_state.pending_history(resume_from, HISTORY_DTYPE)
            for row in pending:
                self.history.append(tuple(row))

    def add(
        self,
        gen: int,
        best: float,
        f: np.ndarray,
        X: np.ndarray,
        n_eval: int,
        wall: float,
        rss: int,
        valid: np.ndarray | None = None,
    ) -> None:
        ok = np.isfinite(f) if valid is None else valid
        finite = f[ok] if not ok.all() else f
        mean, std = (
            (float(finite.mean()), float(finite.std())) if finite.size else (np.nan, np.nan)
        )
        step = max(1, -(-X.shape[0] // DIVERSITY_SAMPLE))
        diversity = float(np.mean(X[::step].std(axis=0) / self._span))
        k = self.store_sign  # exact: negation commutes with min, sum and rounding
        row = (gen, k * best, k * float(f.min()), k * mean, std, diversity, n_eval, wall, rss)
        self.history.append(row)

    def snapshot(self, gen: int, X: np.ndarray, y: np.ndarray) -> None:
        if self.run_dir is None or not self.snapshot_every or gen % self.snapshot_every:
            return
        folder = self.run_dir / "populations"
        folder.mkdir(parents=True, exist_ok=True)
        cols: dict[str, Any] = dict(self.space.decode(X))
        if y.ndim == 1:
            cols["fitness"] = y
        else:
            cols.update({f"fitness_{j}": y[:, j] for j in range(y.shape[1])})
        import pyarrow as pa  # imported when first needed: a run without run_dir never loads it

        write_parquet_atomic(pa.table(cols), folder / f"gen-{gen:06d}.parquet")


def _state_bytes(optimizer: Optimizer) -> int:
    arrays, _ = optimizer.state_dict()
    return int(sum(a.nbytes for a in arrays.values() if isinstance(a, np.ndarray)))


def _run(
    problem: Any,
    optimizer: Optimizer,
    sign: float,
    *,
    generations: Any,
    max_evaluations: Any,
    target: Any,
    time_limit: Any,
    stagnation: Any,
    memory_limit: Any,
    chunk_size: Any,
    cache: Any,
    on_error: str,
    penalty: Any,
    executor: Any,
    workers: Any,
    retries: Any,
    run_dir: Any,
    history_capacity: Any,
    snapshot_every: Any,
    checkpoint_every: Any,
    resume: Any,
    callbacks: Iterable[Callable[[Generation], Any]],
    progress: Any,
) -> Result:
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(
            f"optimizer must be a genepool optimizer (GA, ...), got {type(optimizer).__name__}"
        )
    space = optimizer.space
    terms = Terminators.build(generations, max_evaluations, target, time_limit, stagnation)
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise ConfigError(f"callbacks[{i}] must be callable, got {cb!r}")
    if snapshot_every is not None:
        snapshot_every = check_int("snapshot_every", snapshot_every, minimum=1)
        if run_dir is None:
            raise ConfigError("snapshot_every needs run_dir (where the snapshots go)")
    run_path = None if run_dir is None else Path(run_dir)
    if run_path is not None:
        try:
            run_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"run_dir {str(run_dir)!r} cannot be created: {exc}") from None
    checkpoint_every, checkpoint = _run_state.checkpoint_plan(run_path, checkpoint_every, resume)
    monitor = MemoryMonitor(memory_limit)
    _check_budget_fits(monitor, optimizer, memory_hint_of(problem))
    # Restored (and so validated) before anything on disk is touched: the history is cut
    # back to the checkpoint only once the checkpoint is known to fit this run.
    stateful = _run_state.stateful_callbacks(callbacks)
    loop = _run_state.LoopState()
    if checkpoint is not None:
        loop = _run_state.restore(checkpoint, optimizer, stateful, sign)
        log.info("resuming %s from generation %d", run_path, loop.generation)
    if cache is None and not optimizer.cache_by_default:
        cache = False
        log.info(
            "fitness cache off: %s on this space almost never repeats a candidate "
            "(cache=True turns it on)",
            type(optimizer).__name__,
        )
    # The evaluator works in the user's sign: the default penalty is the worst value there.
    evaluator = Evaluator(
        problem,
        space,
        memory_limit=memory_limit,
        chunk_size=chunk_size,
        cache=cache,
        on_error=on_error,
        penalty=sign * np.inf if penalty is None else penalty,
        monitor=monitor,
        executor=executor,
        workers=workers,
        retries=retries,
    )
    recorder = _Recorder(
        space,
        check_int("history_capacity", history_capacity, minimum=1),
        run_path,
        snapshot_every,
        resume_from=checkpoint,
        sign=sign,
    )
    monitor.add_cleanup("history flush", lambda: recorder.history.flush() and 0)
    evaluator.held_elsewhere = lambda: {
        "population": _state_bytes(optimizer),
        "candidates being evaluated": evaluator.current_batch_bytes,
        "history": recorder.history.nbytes,
    }
    if isinstance(progress, ProgressReporter):
        reporter = progress
    else:
        try:
            reporter = ProgressReporter(choose_mode(progress))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    # e.g. StrategyProblem's INVALID_FITNESS: left out of the mean/std in history and progress
    invalid = getattr(problem, "invalid_fitness", None)
    gen, n_eval, best, best_x = loop.generation, loop.n_evaluations, loop.best, loop.best_x
    since_improvement = loop.since_improvement
    reason = None
    if checkpoint is not None:  # a finished run stays finished unless its budget grew
        reason = terms.check(gen, n_eval, best, sign, loop.elapsed, since_improvement)
        reason = reason or _run_state.optimizer_stop(optimizer)

    def save_checkpoint(elapsed: float, stop_reason: str | None) -> None:
        state = _run_state.LoopState(gen, n_eval, best, best_x, since_improvement, elapsed)
        path: Path = run_path  # type: ignore[assignment]  # checkpoints need run_dir
        _run_state.save(path, optimizer, stateful, recorder, state, stop_reason, sign)

    reporter.start(terms.generations)
    start = time.perf_counter() - loop.elapsed
    interrupts = _run_state.Interrupts(enabled=checkpoint_every is not None)
    # on a cold numba cache the first generation waits for the JIT: say so, once, before it
    notice = compile_notice(reporter.notice)
    notice.__enter__()
    try:
        while reason is None:
            X = optimizer.ask()
            y = evaluator.evaluate(X, generation=gen)
            if y.ndim == 2 and not optimizer.multi_objective:
                raise ConfigError(
                    f"fitness has {y.shape[1]} objectives but "
                    f"{type(optimizer).__name__} is single-objective"
                )
            f = y if sign > 0 else -y
            optimizer.tell(X, f)
            gen += 1
            n_eval += X.shape[0]
            i = int(np.argmin(f))
            if f[i] < best:
                best, best_x = float(f[i]), np.array(X[i], dtype=np.float64)
                since_improvement = 0
            else:
                since_improvement += 1
            elapsed = time.perf_counter() - start
            accounted = sum(evaluator.usage().values())
            rss = monitor.end_generation(gen, accounted, evaluator.largest_chunk)
            valid = _valid(y, invalid)
            recorder.add(gen, best, f, X, n_eval, elapsed, rss, valid)
            recorder.snapshot(gen, X, y)
            extra = _progress_extra(evaluator, rss) if reporter.mode is not None else ""
            reporter.update(
                gen,
                sign * best,
                _finite_mean(y, valid),
                n_eval,
                n_eval / max(elapsed, 1e-9),
                extra,
            )
            info = None
            for cb in callbacks:
                info = info or Generation(
                    gen, n_eval, X, y, best_x, sign * best, elapsed, optimizer
                )
                if cb(info) is True:
                    reason = f"callback: {getattr(cb, '__name__', 'callback')} asked to stop"
            reason = reason or terms.check(gen, n_eval, best, sign, elapsed, since_improvement)
            reason = reason or _run_state.optimizer_stop(optimizer)
            if reason is None and interrupts.received:
                reason = f"interrupted by {interrupts.received}"
            if checkpoint_every and (reason is not None or gen % checkpoint_every == 0):
                save_checkpoint(elapsed, reason)
            del X, y, f, info, valid  # nothing of this generation may survive into the next
    finally:
        failing = sys.exc_info()[1]
        notice.__exit__(None, None, None)
        interrupts.restore()
        reporter.close()
        try:
            recorder.history.flush()
        except WriteError as exc:
            if failing is None:
                raise
            # e.g. a full disk: the error already on its way names the first file
            log.info("history not flushed: %s", exc)
        finally:
            evaluator.close()  # worker processes or cluster made for this run
    assert best_x is not None
    if evaluator.n_errors:
        log.warning(
            "%d individual(s) were penalized; first error: %s",
            evaluator.n_errors,
            evaluator.first_error,
        )
    return Result(
        best_x=best_x,
        best_params=space.decode_row(best_x),
        best_fitness=sign * best,
        n_evaluations=n_eval,
        n_generations=gen,
        stop_reason=reason,
        elapsed=time.perf_counter() - start,
        n_errors=evaluator.n_errors,
        first_error=evaluator.first_error,
        memory=_memory_report(monitor, evaluator),
        _history=recorder.history,
        _history_sign=recorder.to_user,
    )


def _check_budget_fits(
    monitor: MemoryMonitor, optimizer: Optimizer, hint: str | None = None
) -> None:
    """Refuse a budget that the process plus the optimizer alone already exceed.

    ``hint`` (the problem's :meth:`~genepool.Problem.memory_hint`) ends the message.
    """
    from .memory._size import format_size

    optimizer.check_fits_in_memory()  # before anything of the population's size exists
    footprint = optimizer.memory_footprint()
    if monitor.limit is None or footprint is None:
        return
    need = monitor.start_rss + footprint
    if need > monitor.act_at * monitor.limit:
        what = (
            f"memory_limit {monitor.limit:,} bytes ({format_size(monitor.limit)}) is too small: "
            f"the process already uses "
            f"{format_size(monitor.start_rss)} and {type(optimizer).__name__} needs about "
            f"{format_size(footprint)} for its populations, leaving no room under "
            f"{monitor.act_at:.0%} of the budget to evaluate."
        )
        tail = f" {hint}" if hint else ""
        exc = ConfigError(
            f"{what} Raise memory_limit, lower the population size, or use dtype=np.float32."
            + tail
        )
        exc.cli_message = (
            "--" + what.replace("_", "-", 1) + " Raise --memory-limit or lower --population."
        )
        raise exc


def _valid(y: np.ndarray, invalid: float | None) -> np.ndarray:
    """Finite values that are not the problem's marker of an invalid candidate."""
    ok = np.isfinite(y)
    if invalid is not None:
        ok &= y != invalid
    return ok


def _finite_mean(y: np.ndarray, valid: np.ndarray) -> float:
    return float(y[valid].mean()) if valid.any() else float("nan")


def _progress_extra(evaluator: Evaluator, rss: int) -> str:
    from .memory._size import format_size

    extra = f"  RSS {format_size(rss)}"
    stats = evaluator.cache_stats()
    if stats is not None:
        extra += f"  cache {stats['hit_rate']:.0%}" + (" (off)" if evaluator.cache is None else "")
    return extra


def _memory_report(monitor: MemoryMonitor, evaluator: Evaluator) -> MemoryReport:
    return MemoryReport(
        peak_rss=monitor.current_peak(),
        peak_uss=max(monitor.peak_uss, 0),
        start_rss=monitor.start_rss,
        limit=monitor.limit,
        sample_array=monitor.samples(),
        chunk_sizes=dict(sorted(evaluator.chunk_sizes.items())),
        bytes_per_candidate=evaluator.bytes_per_candidate,
        cache=evaluator.cache_stats(),
        alerts=[a.to_dict() for a in monitor.alerts],
        leak_detected=monitor.leak_detected,
        evaluations={
            k: evaluator.stats[k]
            for k in ("requested", "evaluated", "saved", "duplicates", "errors")
        },
    )
