"""``Run``: one optimization run, its parts wired once, advanced one generation at a time.

``ask -> evaluate (chunks, cache, checks) -> tell -> record -> callbacks -> stop -> checkpoint``.
The loop draws no random numbers: everything random comes from the optimizer's seeded stream, so
a seed fixes the run, whatever the chunk size or the cache.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from .._numba import compile_notice
from .._stages import stage
from ..algorithms.archive import pareto_frame, write_pareto
from ..algorithms.base import Optimizer
from ..errors import ConfigError, WriteError
from ..evaluation.evaluator import Evaluator
from ..memory._size import format_size
from ..memory.monitor import MemoryMonitor
from ..problem import Problem, ProblemLike, as_problem
from .budget import check_budget_fits, memory_report, state_bytes
from .config import CacheSpec, RunConfig
from .interrupts import Interrupts
from .objectives import PARETO_FILE, Objectives
from .recorder import Recorder
from .result import Generation, Result
from .state import (
    LoopState,
    find_checkpoint,
    optimizer_stop,
    restore,
    save,
    stateful_callbacks,
)

__all__ = ["POPULATION_DIR", "Run"]

#: The folder of a run directory that holds ``storage="disk"`` population files.
POPULATION_DIR = "population"

log = logging.getLogger("genepool")


class Run:
    """One run of ``optimizer`` on ``problem`` under ``config``.

    :meth:`step` is one generation, read top to bottom; :meth:`run` loops it and returns the
    :class:`Result`. The parts are built once, in this order, each validated before anything
    on disk is touched (a resumed history is cut back to its checkpoint only once the
    checkpoint is known to fit this run):

    - ``checkpoint``: with ``resume``, the newest valid one in ``run_dir``;
    - ``monitor``: the memory budget (:class:`~genepool.memory.monitor.MemoryMonitor`). It
      keeps a registry of cleanups, called when the process nears the budget: the evaluator
      registers its fitness cache (``shrink``), the run the history (``flush``). Parts offer
      memory back through it; nothing else calls them;
    - ``state``: the loop's counters (:class:`LoopState`), restored with the optimizer and
      the stateful callbacks from the checkpoint;
    - ``evaluator``: told at construction what the run holds besides it
      (:meth:`held_elsewhere`: the population, the batch being evaluated, the history),
      which its budget accounting and errors include;
    - ``recorder`` (history, snapshots) and ``reporter`` (progress).

    Signal handlers (``Interrupts``: SIGINT/SIGTERM finish the generation, checkpoint and
    stop) are installed by :meth:`run` only while it loops, and only with checkpoints.
    """

    def __init__(self, problem: ProblemLike, optimizer: Optimizer, config: RunConfig) -> None:
        if not isinstance(optimizer, Optimizer):
            raise ConfigError(
                f"optimizer must be a genepool optimizer (GA, ...), got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        #: the problem with every hook of :class:`~genepool.Problem` (a callable is wrapped)
        self.problem: Problem = as_problem(problem, optimizer.space)
        self.config = config
        #: which fitness columns are objectives (names, senses) and which constraints
        self.objectives = Objectives.for_run(config, self.problem, optimizer)
        self.multi = self.objectives.multi
        self.direction = self.objectives.direction
        self.terms = config.terminators
        self.callbacks = list(config.callbacks)
        self.run_path = config.run_path
        if self.run_path is not None:
            try:
                self.run_path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"run_dir {str(config.run_dir)!r} cannot be created: {exc}"
                ) from None
            # storage="disk": population files live (and are kept for resume) in the run dir
            optimizer.attach_run_dir(self.run_path / POPULATION_DIR)
        checkpoint = find_checkpoint(self.run_path, config.resume)
        self.resumed = checkpoint is not None
        self.monitor = MemoryMonitor(config.memory_limit)
        optimizer.fit_memory(self.monitor.limit)
        check_budget_fits(self.monitor, optimizer, self.problem.memory_hint())
        self.stateful = stateful_callbacks(self.callbacks)
        self.state = LoopState()
        if checkpoint is not None:
            self.state = restore(checkpoint, optimizer, self.stateful, self.direction)
            log.info("resuming %s from generation %d", self.run_path, self.state.generation)
        # The evaluator works in the user's sense: the default penalty is the worst value there.
        self.evaluator = Evaluator(
            self.problem,
            optimizer.space,
            memory_limit=config.memory_limit,
            chunk_size=config.chunk_size,
            cache=self._cache(),
            on_error=config.on_error,
            penalty=config.penalty_value,
            monitor=self.monitor,
            executor=config.executor,
            workers=config.workers,
            retries=config.retries,
            held_elsewhere=self.held_elsewhere,
        )
        self.recorder = Recorder(
            optimizer.space,
            config.history_capacity,
            self.run_path,
            config.snapshot_every,
            self.direction,
            resume_from=checkpoint,
            multi_objective=self.multi,
        )
        self.monitor.add_cleanup("history flush", lambda: self.recorder.history.flush() and 0)
        self.archive = getattr(optimizer, "archive", None)
        if self.archive is not None:  # thinned (dominated first, then clustered) under pressure
            self.monitor.add_cleanup("pareto archive", self.archive.shrink)
        #: hypervolume of the population's first front this generation (multi-objective)
        self.hypervolume = float("nan")
        self.reporter = config.reporter()
        # e.g. StrategyProblem's INVALID_FITNESS: left out of the mean/std in history and progress
        self.invalid = self.problem.invalid_fitness
        self.interrupts: Interrupts | None = None
        #: perf_counter() when the run started, less a resumed run's elapsed time (run() sets it)
        self.start = 0.0

    def _cache(self) -> CacheSpec:
        if self.config.cache is None and not self.optimizer.cache_by_default:
            log.info(
                "fitness cache off: %s on this space almost never repeats a candidate "
                "(cache=True turns it on)",
                type(self.optimizer).__name__,
            )
            return False
        return self.config.cache

    def held_elsewhere(self) -> dict[str, int]:
        """Bytes the run holds outside the evaluator, by what holds them."""
        held = {
            "population": state_bytes(self.optimizer),
            "candidates being evaluated": self.evaluator.current_batch_bytes,
            "history": self.recorder.history.nbytes,
        }
        if self.archive is not None:
            held["pareto archive"] = int(self.archive.nbytes)
        return held

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> Result:
        """Run generations until a rule says stop; the Result. The evaluator's workers (or
        cluster) made for this run are closed, and the history is flushed, whatever happens."""
        # a resumed run that had finished stays finished unless its budget grew
        reason = self.stop_reason() if self.resumed else None
        self.reporter.start(self.terms.generations)
        self.start = time.perf_counter() - self.state.elapsed
        self.interrupts = Interrupts(enabled=self.config.checkpoint_every is not None)
        # on a cold numba cache the first generation waits for the JIT: say so, once, before it
        notice = compile_notice(self.reporter.notice)
        notice.__enter__()
        try:
            while reason is None:
                reason = self.step()
        finally:
            self._close(notice, failing=sys.exc_info()[1])
        return self.result(reason)

    def step(self) -> str | None:
        """One generation; why the run stops after it, or None."""
        with stage("ask"):  # stages: measured only while a profile runs (genepool.profiling)
            X = self.optimizer.ask()
        with stage("evaluate"):
            y = self.evaluate(X)
        f, g = self.objectives.split(y)  # internal objectives, constraints (or None)
        with stage("tell"):
            self.tell(X, f, g)
        with stage("bookkeeping"):
            self.advance(X, f)
            self.record(X, y, f)
            reason = self.call_back(X, y) or self.stop_reason() or self.interrupted()
            self.checkpoint(reason)
        return reason  # nothing of this generation survives into the next

    # -- the parts of a step, in order ---------------------------------------------------------
    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """The fitness of ``X`` in the user's sense."""
        y = self.evaluator.evaluate(X, generation=self.state.generation)
        if y.ndim == 2 and not self.optimizer.multi_objective:
            raise ConfigError(
                f"fitness has {y.shape[1]} objectives but "
                f"{type(self.optimizer).__name__} is single-objective"
            )
        return y

    def tell(self, X: np.ndarray, f: np.ndarray, g: np.ndarray | None) -> None:
        """Tell the optimizer ``f`` (internal scale) and the constraints ``g``, if any."""
        if g is None:
            self.optimizer.tell(X, f)
        else:
            self.optimizer.tell(X, f, constraints=g)  # type: ignore[call-arg]

    def advance(self, X: np.ndarray, f: np.ndarray) -> None:
        """Count the generation told with internal fitness ``f``: best so far (for a
        multi-objective run: the hypervolume, as ``-hv``), elapsed time."""
        s = self.state
        s.generation += 1
        s.n_evaluations += X.shape[0]
        if self.multi:
            self.hypervolume = self.optimizer.hypervolume()  # type: ignore[attr-defined]
            i, value = -1, -self.hypervolume
        else:
            i = int(np.argmin(f))
            value = float(f[i])
        if value < s.best:
            s.best = value
            if i >= 0:
                s.best_x = np.array(X[i], dtype=np.float64)
            s.since_improvement = 0
        else:
            s.since_improvement += 1
        s.elapsed = time.perf_counter() - self.start

    def record(self, X: np.ndarray, y: np.ndarray, f: np.ndarray) -> None:
        """Memory sample, history row, population snapshot, progress line."""
        s, evaluator = self.state, self.evaluator
        accounted = sum(evaluator.usage().values())
        rss = self.monitor.end_generation(s.generation, accounted, evaluator.largest_chunk)
        if self.multi:
            front = self.optimizer.front_summary()  # type: ignore[attr-defined]
            archived = -1 if self.archive is None else int(self.archive.size)
            self.recorder.add_front(s.generation, self.hypervolume, front, archived, X,
                                    s.n_evaluations, s.elapsed, rss)  # fmt: skip
        else:
            valid = _valid(y, self.invalid)
            self.recorder.add(s.generation, s.best, f, X, s.n_evaluations, s.elapsed, rss, valid)
        self.recorder.snapshot(s.generation, X, y)
        extra = _progress_extra(evaluator, rss) if self.reporter.mode is not None else ""
        if self.multi:
            self.reporter.update(s.generation, self.hypervolume, front["size"], s.n_evaluations,
                                 s.n_evaluations / max(s.elapsed, 1e-9), extra,
                                 labels=("hypervolume", "front"))  # fmt: skip
            return
        self.reporter.update(
            s.generation,
            self.direction.to_user(s.best),
            _finite_mean(y, valid),
            s.n_evaluations,
            s.n_evaluations / max(s.elapsed, 1e-9),
            extra,
        )

    def call_back(self, X: np.ndarray, y: np.ndarray) -> str | None:
        """Call every callback with this generation; why to stop if one returned True."""
        if not self.callbacks:
            return None
        s = self.state
        info = Generation(
            s.generation,
            s.n_evaluations,
            X,
            y,
            s.best_x,
            self._best_user(),
            s.elapsed,
            self.optimizer,
            self.direction,
            hypervolume=self.hypervolume if self.multi else None,
        )
        reason = None
        for cb in self.callbacks:
            if cb(info) is True:
                reason = f"callback: {getattr(cb, '__name__', 'callback')} asked to stop"
        return reason

    def stop_reason(self) -> str | None:
        """Why the stopping rules or the optimizer end the run now, or None."""
        s = self.state
        best = -s.best if self.multi else self.direction.to_user(s.best)
        reason = self.terms.check(
            s.generation, s.n_evaluations, best, s.elapsed, s.since_improvement
        )
        return reason or optimizer_stop(self.optimizer)

    def interrupted(self) -> str | None:
        """Why a signal ends the run after this generation, or None."""
        received = None if self.interrupts is None else self.interrupts.received
        return None if received is None else f"interrupted by {received}"

    def checkpoint(self, reason: str | None) -> None:
        """Write a checkpoint when one is due: every ``checkpoint_every`` generations and at
        the end."""
        every = self.config.checkpoint_every
        if every and (reason is not None or self.state.generation % every == 0):
            assert self.run_path is not None  # RunConfig: checkpoint_every needs run_dir
            s = self.state
            self.optimizer.sync_storage()  # population files on disk before the JSON names them
            save(self.run_path, self.optimizer, self.stateful, self.recorder, s, reason,
                 self.direction)  # fmt: skip
            self.optimizer.checkpoint_written()
            self.write_pareto()

    def write_pareto(self) -> None:
        """Write the Pareto set so far to ``run_dir/pareto.parquet`` (multi-objective runs
        with a run directory, once a generation was told)."""
        if self.multi and self.run_path is not None and self.state.generation:
            X, F = self.optimizer.pareto_set()  # type: ignore[attr-defined]
            counts = (
                {}
                if self.archive is None
                else {"genepool.archive": json.dumps(self.archive.stats())}
            )
            write_pareto(self.run_path / PARETO_FILE, self.optimizer.space, self.direction, X, F,
                         counts)  # fmt: skip

    # -- the end -------------------------------------------------------------------------------
    def _close(self, notice: AbstractContextManager[Any], failing: BaseException | None) -> None:
        notice.__exit__(None, None, None)
        if self.interrupts is not None:
            self.interrupts.restore()
        self.reporter.close()
        try:
            self.recorder.history.flush()
            self.write_pareto()  # at the end, and what a failing run found so far
        except WriteError as exc:
            if failing is None:
                raise
            # e.g. a full disk: the error already on its way names the first file
            log.info("history not flushed: %s", exc)
        finally:
            self.evaluator.close()  # worker processes or cluster made for this run
            self.optimizer.close_storage()  # temporary population files (never a run dir's)

    def _best_user(self) -> float:
        """The best fitness so far in the user's sense (NaN for a multi-objective run)."""
        return float("nan") if self.multi else self.direction.to_user(self.state.best)

    def result(self, reason: str) -> Result:
        """The run's outcome (fitness in the user's sense)."""
        s, evaluator = self.state, self.evaluator
        pareto = None
        best_fitness: float | np.ndarray = self._best_user()
        if self.multi:
            pareto, s.best_x, best_fitness = self._pareto_result()
        assert s.best_x is not None
        if evaluator.n_errors:
            log.warning(
                "%d individual(s) were penalized; first error: %s",
                evaluator.n_errors,
                evaluator.first_error,
            )
        return Result(
            best_x=s.best_x,
            best_params=self.optimizer.space.decode_row(s.best_x),
            best_fitness=best_fitness,
            n_evaluations=s.n_evaluations,
            n_generations=s.generation,
            stop_reason=reason,
            elapsed=time.perf_counter() - self.start,
            n_errors=evaluator.n_errors,
            first_error=evaluator.first_error,
            memory=memory_report(self.monitor, evaluator, self.archive),
            direction=self.direction,
            pareto=pareto,
            hypervolume=-s.best if self.multi else None,
            _history=self.recorder.history,
            _history_direction=self.recorder.stored,
        )

    def _pareto_result(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """The Pareto set as a DataFrame, and the recommended pick's genes and objectives
        (user's sense): the knee point (:func:`genepool.indicators.knee_point`)."""
        from ..indicators import knee_point

        X, F = self.optimizer.pareto_set()  # type: ignore[attr-defined]
        frame = pareto_frame(self.optimizer.space, self.direction, X, F)
        if not X.shape[0]:  # nothing feasible was found: the pick is the least infeasible
            X, F = self.optimizer.least_violating()  # type: ignore[attr-defined]
        i = knee_point(F)
        return frame, np.array(X[i], dtype=np.float64), self.direction.to_user(F[i])


def _valid(y: np.ndarray, invalid: float | None) -> np.ndarray:
    """Finite values that are not the problem's marker of an invalid candidate."""
    ok = np.isfinite(y)
    if invalid is not None:
        ok &= y != invalid
    return ok


def _finite_mean(y: np.ndarray, valid: np.ndarray) -> float:
    return float(y[valid].mean()) if valid.any() else float("nan")


def _progress_extra(evaluator: Evaluator, rss: int) -> str:
    extra = f"  RSS {format_size(rss)}"
    stats = evaluator.cache_stats()
    if stats is not None:
        extra += f"  cache {stats['hit_rate']:.0%}" + (" (off)" if evaluator.cache is None else "")
    return extra
