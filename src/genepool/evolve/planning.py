"""``genepool profile`` and ``genepool evolve --dry-run``: the run a command would make, measured
and projected, without evolving or writing a run directory.

The problem and the optimizer are built as :func:`~genepool.evolve.runner.run_evolution` builds
them (the same data load, the first training window, the automatic ``--min-trades``, GA or
NSGA-II) and handed to :func:`genepool.profiling.profile` with the run's settings (generations,
memory limit, checkpoints every generation, executor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .. import problems
from ..algorithms import GA, Optimizer
from ..algorithms._storage import check_storage
from ..profiling import Profile, profile
from .config import EvolveConfig, auto_min_trades, objective_senses
from .multi import StrategyNSGA2
from .runner import _executor_kwargs, _load, _problem, _splits

__all__ = ["profile_benchmark", "profile_evolution"]


def profile_evolution(
    config: EvolveConfig,
    sizes: list[int] | None,
    *,
    population: int | None = None,
    probe_generations: int = 4,
    time_budget: float | None = None,
    dry_run: bool = False,
    cold_start: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Profile:
    """Measure and project the strategy run ``config`` describes (its first training window).

    ``sizes`` None: :func:`~genepool.profiling.plan`'s small sizes (``dry_run``); the run's
    population is ``population`` or the config's.
    """
    config = dataclasses.replace(config)
    config.validate()
    data = _load(config)
    split = _splits(len(data), config)[0]
    train = data.iloc[split.train]
    if config.min_trades is None:
        config.min_trades = auto_min_trades(train.index)
    problem = _problem(config, train, "the training data")
    n = population or config.population
    options: dict[str, Any] = {}
    optimizer: Optimizer
    if config.multi_objective:
        assert config.objectives is not None
        optimizer = StrategyNSGA2(problem.space, n, seed=0)
        options["objectives"] = dict(objective_senses(config.objectives))
    else:
        optimizer = GA(problem.space, n, seed=0, storage=config.storage)
    prof = profile(
        problem,
        optimizer,
        sizes,
        generations=config.generations,
        memory_limit=config.memory_limit,
        cache=config.cache,
        run_dir=config.out or True,  # every strategy run writes one: history, checkpoints
        checkpoint_every=config.checkpoint_every,
        probe_generations=probe_generations,
        time_budget=time_budget,
        cold_start=cold_start,
        progress=progress,
        sense="maximize",
        **options,
        **_executor_kwargs(config),
    )
    if config.walk_forward:
        prof.notes.append(
            f"--walk-forward {config.walk_forward}: the projection is one fold's run (the "
            f"first training window, {len(train):,} bars); the command runs "
            f"{config.walk_forward} folds in turn, each with its own run directory"
        )
    if dry_run:
        prof.kind = "plan"
    return prof


def profile_benchmark(
    name: str,
    dims: int,
    population: int,
    generations: int,
    memory_limit: str | None,
    storage: str,
    sizes: list[int] | None,
    *,
    probe_generations: int = 4,
    time_budget: float | None = None,
    dry_run: bool = False,
    writes: str | bool = False,
    cold_start: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Profile:
    """Measure and project ``genepool evolve --problem NAME`` (``writes``: its ``--out``)."""
    prob = problems.get(name, dims)
    ga = GA(prob.space, population, seed=0, storage=check_storage(storage, None))
    prof = profile(
        prob,
        ga,
        sizes,
        generations=generations,
        memory_limit=memory_limit,
        run_dir=writes,
        checkpoint_every=1 if writes else None,  # as evolve --problem --out does
        probe_generations=probe_generations,
        time_budget=time_budget,
        cold_start=cold_start,
        progress=progress,
    )
    if dry_run:
        prof.kind = "plan"
    return prof
