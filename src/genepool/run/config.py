"""``RunConfig``: everything :func:`~genepool.minimize` is told besides the problem and the
optimizer, validated once, frozen.

Each keyword of ``minimize``/``maximize`` is a field of the same name (a test holds them
equal), so a renamed keyword fails at import, not in the middle of a run. The fields keep the
types the user may pass (``memory_limit="2GB"``, ``run_dir="runs/a"``); after validation the
numbers are plain ``int``/``float``, ``generations`` holds the default budget (100) when no
budget was given, and ``callbacks`` is a tuple. Validation messages name the field and the
value, as the functions that used to check them did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np

from ..errors import ConfigError, check_int
from ..evaluation._outcomes import check_on_error, check_penalty
from ..evaluation.cache import CacheSpec
from ..evaluation.chunking import check_chunk_size
from ..evaluation.registry import ExecutorSpec
from ..memory._size import parse_size
from .direction import Direction
from .progress import ProgressReporter, choose_mode
from .result import Generation
from .terminators import Terminators

__all__ = ["CacheSpec", "Callback", "ExecutorSpec", "ProgressSpec", "RunConfig"]

#: Called after each generation; returning True stops the run.
Callback = Callable[[Generation], object]
#: True/False, ``"bar"``, ``"lines"`` or a ProgressReporter.
ProgressSpec = Union[bool, Literal["bar", "lines"], ProgressReporter]


@dataclass(frozen=True)
class RunConfig:
    """How a run goes: direction, stopping rules, evaluation, storage, reporting.

    The fields are the keywords of :func:`~genepool.minimize` (see there) plus ``direction``
    (:class:`Direction`: what ``minimize``/``maximize`` choose). Construction validates every
    field and raises :class:`~genepool.errors.ConfigError` naming it. ``executor`` and the
    kind of ``cache`` are checked by the evaluation layer's own parser when the run builds its
    evaluator, before anything is evaluated.

    Examples
    --------
    >>> cfg = RunConfig(max_evaluations=1000)
    >>> cfg.generations is None, cfg.terminators.max_evaluations
    (True, 1000)
    >>> RunConfig().generations  # no budget at all: 100 generations
    100
    """

    direction: Direction = field(default_factory=Direction.minimize)
    objectives: Sequence[str] | Mapping[str, str] | None = None
    generations: int | None = None
    max_evaluations: int | None = None
    target: float | None = None
    time_limit: float | None = None
    stagnation: int | None = None
    memory_limit: int | str | None = None
    chunk_size: int | Literal["auto"] = "auto"
    cache: CacheSpec = None
    on_error: Literal["raise", "penalize"] = "raise"
    penalty: float | None = None
    executor: ExecutorSpec = "serial"
    workers: int | None = None
    retries: int = 2
    run_dir: str | Path | None = None
    history_capacity: int = 10_000
    snapshot_every: int | None = None
    checkpoint_every: int | None = None
    resume: bool = False
    callbacks: Iterable[Callback] = ()
    progress: ProgressSpec = True

    def __post_init__(self) -> None:
        if not isinstance(self.direction, Direction):
            raise ConfigError(f"direction must be a Direction, got {self.direction!r}")
        if self.objectives is not None:
            named = Direction.named(self.objectives, self.direction.sense)
            self._set(direction=named, objectives=named.names)
            if self.target is not None and named.m > 1:
                raise ConfigError(
                    f"target applies to one objective, and objectives names {named.m}; stop a "
                    f"multi-objective run with generations, max_evaluations, time_limit or "
                    f"stagnation (generations without hypervolume gain)"
                )
        terms = Terminators.build(
            self.generations,
            self.max_evaluations,
            self.target,
            self.time_limit,
            self.stagnation,
            self.direction,
        )
        self._set(
            generations=terms.generations,
            max_evaluations=terms.max_evaluations,
            target=terms.target,
            time_limit=terms.time_limit,
            stagnation=terms.stagnation,
        )
        self._set(callbacks=_callbacks(self.callbacks))
        if self.snapshot_every is not None:
            self._set(snapshot_every=check_int("snapshot_every", self.snapshot_every, minimum=1))
            if self.run_dir is None:
                raise ConfigError("snapshot_every needs run_dir (where the snapshots go)")
        if self.checkpoint_every is not None:
            every = check_int("checkpoint_every", self.checkpoint_every, minimum=1)
            self._set(checkpoint_every=every)
            if self.run_dir is None:
                raise ConfigError("checkpoint_every needs run_dir (where the checkpoints go)")
        self._set(resume=bool(self.resume))
        if self.resume and self.run_dir is None:
            raise ConfigError("resume needs run_dir (the run to continue)")
        if self.memory_limit is not None:
            parse_size(self.memory_limit)
        self._set(chunk_size=check_chunk_size(self.chunk_size))
        check_on_error(self.on_error)
        self._set(penalty=check_penalty(self.penalty))
        if self.workers is not None:
            self._set(workers=check_int("workers", self.workers, minimum=1))
        self._set(retries=check_int("retries", self.retries, minimum=0))
        capacity = check_int("history_capacity", self.history_capacity, minimum=1)
        self._set(history_capacity=capacity)
        if not isinstance(self.progress, ProgressReporter):
            try:
                choose_mode(self.progress)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None

    def _set(self, **values: Any) -> None:
        """Store normalized values (construction only: the config is frozen afterwards)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    # -- what the run builds from it -----------------------------------------------------------
    @property
    def terminators(self) -> Terminators:
        """The stopping rules (budgets in the validated fields, target in the user's sense)."""
        return Terminators(
            self.generations,
            self.max_evaluations,
            self.target,
            self.time_limit,
            self.stagnation,
            self.direction,
        )

    @property
    def run_path(self) -> Path | None:
        """``run_dir`` as a Path (None without one)."""
        return None if self.run_dir is None else Path(self.run_dir)

    @property
    def penalty_value(self) -> float:
        """Fitness of failing individuals, in the user's sense: ``penalty``, by default the
        worst value (+inf minimizing, -inf maximizing)."""
        if self.penalty is not None:
            return self.penalty
        # objectives of both senses: +inf, which a multi-objective run reads as worst (NaN)
        return np.inf if self.direction.shared_sign is None else self.direction.worst

    def reporter(self) -> ProgressReporter:
        """The progress display: the one passed in, or a new one of the chosen mode."""
        if isinstance(self.progress, ProgressReporter):
            return self.progress
        return ProgressReporter(choose_mode(self.progress))

    @classmethod
    def keywords(cls) -> tuple[str, ...]:
        """The keywords of ``minimize``/``maximize``: every field but ``direction``."""
        return tuple(f.name for f in fields(cls) if f.name != "direction")


def _callbacks(callbacks: Iterable[Callback]) -> tuple[Callback, ...]:
    out = tuple(callbacks)
    for i, cb in enumerate(out):
        if not callable(cb):
            raise ConfigError(f"callbacks[{i}] must be callable, got {cb!r}")
    return out
