"""Stopping rules of the run loop: budgets (generations, evaluations, time) and convergence
(target, stagnation)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import check_float, check_int
from .direction import Direction

__all__ = ["Terminators"]


@dataclass(frozen=True)
class Terminators:
    """Budget and convergence rules; :meth:`check` returns why to stop, or None.

    ``target`` is in the user's sense (``direction``): reached when the best fitness is at
    least as good (``<=`` minimizing, ``>=`` maximizing).
    """

    generations: int | None
    max_evaluations: int | None
    target: float | None
    time_limit: float | None
    stagnation: int | None
    direction: Direction

    @classmethod
    def build(
        cls,
        generations: int | None,
        max_evaluations: int | None,
        target: float | None,
        time_limit: float | None,
        stagnation: int | None,
        direction: Direction,
    ) -> Terminators:
        """Validate the arguments; with no budget at all, run 100 generations."""
        if generations is None and max_evaluations is None and time_limit is None:
            generations = 100
        return cls(
            generations=None
            if generations is None
            else check_int("generations", generations, minimum=1),
            max_evaluations=None
            if max_evaluations is None
            else check_int("max_evaluations", max_evaluations, minimum=1),
            target=None if target is None else check_float("target", target),
            time_limit=None
            if time_limit is None
            else check_float("time_limit", time_limit, low=0.0, low_inclusive=False),
            stagnation=None
            if stagnation is None
            else check_int("stagnation", stagnation, minimum=1),
            direction=direction,
        )

    def check(
        self, gen: int, n_eval: int, best: float, elapsed: float, since_improvement: int
    ) -> str | None:
        """Why to stop after generation ``gen`` (``best`` in the user's sense), or None."""
        if self.target is not None and self.direction.reached(best, self.target):
            op = self.direction.comparison
            return f"target: best {best:.6g} {op} {self.target:.6g}"
        if self.generations is not None and gen >= self.generations:
            return f"generations: reached {self.generations}"
        if self.max_evaluations is not None and n_eval >= self.max_evaluations:
            return f"max_evaluations: {n_eval} >= {self.max_evaluations}"
        if self.time_limit is not None and elapsed >= self.time_limit:
            return f"time_limit: {elapsed:.3g}s >= {self.time_limit:.3g}s"
        if self.stagnation is not None and since_improvement >= self.stagnation:
            return f"stagnation: no improvement in {since_improvement} generations"
        return None
