"""``genepool evolve --problem NAME``: a benchmark function, with a seed and a run directory.

With ``--out DIR`` the run writes ``config.json`` (problem, dims, population, generations,
seed), ``history.parquet/`` and ``checkpoint/`` (by :func:`genepool.minimize`) and, at the end,
``result.json``; ``genepool resume DIR`` continues it from its last checkpoint, or extends it
with ``--generations``, to the same result as an uninterrupted run with that seed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .. import problems
from ..algorithms import GA
from ..algorithms._storage import check_storage
from ..run import minimize
from ..run.loop import POPULATION_DIR
from ..run.progress import ProgressReporter
from ..run.result import Result
from . import _files as F
from ._rundir import RunLock, check_new_run_dir, new_run_dir

__all__ = ["COMMAND", "is_benchmark_run", "run_benchmark", "start_benchmark"]

#: ``config["command"]`` of a benchmark run directory.
COMMAND = "evolve --problem"
RESULT = "result.json"


def is_benchmark_run(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a ``genepool evolve --problem`` run."""
    try:
        doc = F.read_json(Path(run_dir) / F.CONFIG)
        return doc["config"].get("command") == COMMAND
    except Exception:  # not a run directory, or not this kind: the caller says what it is
        return False


def start_benchmark(
    problem: str,
    dims: int,
    population: int,
    generations: int,
    seed: int | None,
    memory_limit: str | None,
    out: str | None,
    overwrite: bool = False,
    storage: str = "memory",
) -> tuple[dict[str, Any], Path | None]:
    """The settings of a new run (a seed drawn when None) and its run directory, if any.

    The directory follows the rules of every new run directory (``_rundir``): an existing
    non-empty ``out`` is refused at once, unless ``overwrite`` and it holds a genepool run;
    :func:`run_benchmark` makes it.
    """
    prob = problems.get(problem, dims)  # names a bad problem or dims before anything is written
    ga = GA(prob.space, population, storage=check_storage(storage, None))
    if out is not None:  # population files go to the run directory (nothing is made yet)
        ga.attach_run_dir(Path(out) / POPULATION_DIR)
    ga.check_fits_in_memory()  # an impossible population: in memory, or on its files' disk
    settings = {
        "command": COMMAND,
        "problem": problem,
        "dims": dims,
        "population": population,
        "generations": generations,
        "seed": secrets.randbelow(2**31) if seed is None else seed,
        "memory_limit": memory_limit,
        "checkpoint_every": 1,
        "storage": storage,
    }
    if out is None:
        return settings, None
    check_new_run_dir(out, overwrite=overwrite)
    return settings, Path(out)


def run_benchmark(
    settings: dict[str, Any],
    run_dir: Path | None,
    *,
    resume: bool = False,
    generations: int | None = None,
    progress: bool | ProgressReporter = False,
    overwrite: bool = False,
) -> Result:
    """Run (or, with ``resume``, continue) the benchmark run of ``settings``.

    A new run makes ``run_dir`` (:func:`~genepool.evolve._rundir.new_run_dir`: it is removed
    again if the run fails before its first checkpoint) and writes its ``config.json``.
    """
    if generations is not None and run_dir is not None:
        doc = F.read_json(run_dir / F.CONFIG)
        doc["config"]["generations"] = settings["generations"] = generations
        F.write_json(run_dir / F.CONFIG, doc)
    prob = problems.get(settings["problem"], int(settings["dims"]))
    ga = GA(
        prob.space,
        int(settings["population"]),
        seed=int(settings["seed"]),
        storage=settings.get("storage", "memory"),  # older run directories: in memory
    )
    # one writer at a time, as for strategy runs (a second is refused with who holds it)
    with _writing(run_dir, settings, resume=resume, overwrite=overwrite):
        result = minimize(
            prob,
            ga,
            generations=int(settings["generations"]),
            memory_limit=settings["memory_limit"],
            run_dir=run_dir,
            checkpoint_every=None if run_dir is None else int(settings.get("checkpoint_every", 1)),
            resume=resume,
            progress=progress,
        )
    if run_dir is not None:
        F.write_json(
            run_dir / RESULT,
            {
                "best_fitness": result.best_fitness,
                "best_x": result.best_x.tolist(),
                "n_generations": result.n_generations,
                "n_evaluations": result.n_evaluations,
                "stop_reason": result.stop_reason,
            },
        )
    return result


@contextmanager
def _writing(
    run_dir: Path | None, settings: dict[str, Any], *, resume: bool, overwrite: bool
) -> Iterator[None]:
    """Hold the lock of ``run_dir`` (none without one); a new run makes it first."""
    if run_dir is None:
        yield
    elif resume:
        with RunLock(run_dir, "resume"):
            yield
    else:
        with new_run_dir(run_dir, command=COMMAND, overwrite=overwrite):
            doc = {
                "config": settings,
                "versions": F.versions(),
                "created": pd.Timestamp.now(tz="UTC"),
            }
            F.write_json(run_dir / F.CONFIG, doc)
            yield


def resume_benchmark(
    run_dir: str | Path,
    generations: int | None = None,
    progress: bool | ProgressReporter = False,
) -> tuple[dict[str, Any], Result]:
    """Continue the benchmark run in ``run_dir``; returns its settings and result."""
    path = Path(run_dir)
    settings = dict(F.read_json(path / F.CONFIG)["config"])
    result = run_benchmark(settings, path, resume=True, generations=generations, progress=progress)
    return settings, result
