"""``minimize`` / ``maximize``: a run of an optimizer on a problem, in one call.

Both build one :class:`~genepool.run.config.RunConfig` from their keywords (named one by one:
a test holds the keywords equal to its fields) and hand it to :class:`~genepool.run.loop.Run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from ..algorithms.base import Optimizer
from ..problem import ProblemLike
from .config import CacheSpec, Callback, ExecutorSpec, ProgressSpec, RunConfig
from .direction import Direction
from .loop import Run
from .result import Result

__all__ = ["ProblemLike", "maximize", "minimize"]


def minimize(
    problem: ProblemLike,
    optimizer: Optimizer,
    *,
    objectives: Sequence[str] | Mapping[str, str] | None = None,
    generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    time_limit: float | None = None,
    stagnation: int | None = None,
    memory_limit: int | str | None = None,
    chunk_size: int | Literal["auto"] = "auto",
    cache: CacheSpec = None,
    on_error: Literal["raise", "penalize"] = "raise",
    penalty: float | None = None,
    executor: ExecutorSpec = "serial",
    workers: int | None = None,
    retries: int = 2,
    run_dir: str | Path | None = None,
    history_capacity: int = 10_000,
    snapshot_every: int | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    callbacks: Iterable[Callback] = (),
    progress: ProgressSpec = True,
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
    objectives : list of str or dict, optional
        Multi-objective runs (``genepool.NSGA2``): the names of the fitness columns, each
        minimized here (maximized by ``maximize``), or ``{name: "minimize" | "maximize"}`` to
        give each its own sense, e.g. ``{"sharpe": "maximize", "drawdown": "minimize"}``.
        Default: the problem's ``objective_names`` attribute, else ``f1``, ``f2``, ... A problem
        with ``n_constraints = k`` returns its ``k`` constraint columns (``g <= 0`` satisfied)
        after the objectives. See ``docs/multiobjective.md``.
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
    config = RunConfig(
        direction=Direction.minimize(),
        objectives=objectives,
        generations=generations,
        max_evaluations=max_evaluations,
        target=target,
        time_limit=time_limit,
        stagnation=stagnation,
        memory_limit=memory_limit,
        chunk_size=chunk_size,
        cache=cache,
        on_error=on_error,
        penalty=penalty,
        executor=executor,
        workers=workers,
        retries=retries,
        run_dir=run_dir,
        history_capacity=history_capacity,
        snapshot_every=snapshot_every,
        checkpoint_every=checkpoint_every,
        resume=resume,
        callbacks=callbacks,
        progress=progress,
    )
    return Run(problem, optimizer, config).run()


def maximize(
    problem: ProblemLike,
    optimizer: Optimizer,
    *,
    objectives: Sequence[str] | Mapping[str, str] | None = None,
    generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    time_limit: float | None = None,
    stagnation: int | None = None,
    memory_limit: int | str | None = None,
    chunk_size: int | Literal["auto"] = "auto",
    cache: CacheSpec = None,
    on_error: Literal["raise", "penalize"] = "raise",
    penalty: float | None = None,
    executor: ExecutorSpec = "serial",
    workers: int | None = None,
    retries: int = 2,
    run_dir: str | Path | None = None,
    history_capacity: int = 10_000,
    snapshot_every: int | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    callbacks: Iterable[Callback] = (),
    progress: ProgressSpec = True,
) -> Result:
    """Maximize ``problem`` with ``optimizer``; same parameters as :func:`minimize`.

    The optimizer minimizes the negated fitness; results and history are in the user's sign,
    and the default ``penalty`` is -inf.
    """
    config = RunConfig(
        direction=Direction.maximize(),
        objectives=objectives,
        generations=generations,
        max_evaluations=max_evaluations,
        target=target,
        time_limit=time_limit,
        stagnation=stagnation,
        memory_limit=memory_limit,
        chunk_size=chunk_size,
        cache=cache,
        on_error=on_error,
        penalty=penalty,
        executor=executor,
        workers=workers,
        retries=retries,
        run_dir=run_dir,
        history_capacity=history_capacity,
        snapshot_every=snapshot_every,
        checkpoint_every=checkpoint_every,
        resume=resume,
        callbacks=callbacks,
        progress=progress,
    )
    return Run(problem, optimizer, config).run()
