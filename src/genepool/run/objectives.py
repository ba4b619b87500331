"""The objectives of a run: which columns of the fitness are objectives and which constraints,
their names and senses. (The Pareto set's table and file: :func:`~genepool.algorithms.archive.
pareto_frame` and :func:`~genepool.algorithms.archive.write_pareto`.)

A problem returns ``(n,)`` (one objective) or ``(n, m + k)``: ``m`` objective columns in the
user's sense, then ``k = problem.n_constraints`` constraint columns ``g`` (``g <= 0`` is
satisfied). :meth:`Objectives.split` turns that into what the optimizer is told: the
objectives on the internal, minimized scale and the constraints as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..algorithms.base import Optimizer
from ..errors import ConfigError, check_int
from ..problem import Problem
from .config import RunConfig
from .direction import Direction

__all__ = ["PARETO_FILE", "Objectives"]

#: The Pareto set of a multi-objective run, in its run directory.
PARETO_FILE = "pareto.parquet"


@dataclass(frozen=True)
class Objectives:
    """How a run reads its fitness: ``direction`` (names and senses), ``n_constraints``
    columns after the objectives, and whether the optimizer is multi-objective."""

    direction: Direction
    n_constraints: int
    multi: bool
    #: whether the objectives were named (``objectives=`` or the problem's names): the fitness
    #: must then have exactly that many objective columns
    named: bool = False

    @classmethod
    def for_run(cls, config: RunConfig, problem: Problem, optimizer: Optimizer) -> Objectives:
        """The objectives of ``config`` (``objectives=``), else, for a multi-objective
        optimizer, those the problem names (its ``objective_names`` attribute, in the sense of
        ``minimize``/``maximize``; a single-objective run keeps the one objective
        ``fitness``, as its checkpoints record)."""
        direction = config.direction
        multi = bool(optimizer.multi_objective)
        names = getattr(problem, "objective_names", None)
        if multi and config.objectives is None and names is not None:
            direction = Direction.named(tuple(names), direction.sense)
        named = config.objectives is not None or (multi and names is not None)
        k = check_int("n_constraints", getattr(problem, "n_constraints", 0), minimum=0)
        name = type(optimizer).__name__
        if not multi and (k or (config.objectives is not None and direction.m > 1)):
            what = f"{k} constraint(s)" if k else f"{direction.m} objectives"
            raise ConfigError(
                f"the problem has {what} but {name} is single-objective; use genepool.NSGA2"
            )
        if multi and config.target is not None:
            raise ConfigError(
                f"target applies to one objective; stop a {name} run with generations, "
                f"max_evaluations, time_limit or stagnation (generations without hypervolume "
                f"gain)"
            )
        return cls(direction, k, multi, named)

    def split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(f, g)``: the objectives on the internal scale and the constraints (None without).

        For a multi-objective optimizer ``f`` has shape ``(n, m)`` and a row that is not
        finite (a penalized candidate: ``on_error="penalize"``) becomes NaN, the worst rank
        whatever the senses.
        """
        if not self.multi:
            return self.direction.to_internal(y), None
        Y = y[:, None] if y.ndim == 1 else y
        k = self.n_constraints
        m = Y.shape[1] - k
        if m < 1 or ((self.named or self.direction.m > 1) and m != self.direction.m):
            names = list(self.direction.names) if self.named or self.direction.m > 1 else None
            expected = f"{self.direction.m} objective(s) {names}" if names else "1+ objective(s)"
            raise ConfigError(
                f"fitness has {Y.shape[1]} column(s); expected {expected} then "
                f"{k} constraint column(s) (the problem's n_constraints)"
            )
        f = np.array(self.direction.to_internal(Y[:, :m]), dtype=np.float64)
        f[~np.isfinite(f).all(axis=1)] = np.nan
        return f, (Y[:, m:] if k else None)
