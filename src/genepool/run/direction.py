"""The direction of a run's objectives: a name and a sense (minimize or maximize) per objective.

The engine works on one internal scale, where every objective is minimized; everything a user
sees (``Result``, the history in memory and on disk, callbacks, progress, the report) is in the
user's sense. :class:`Direction` converts between the two and is the only place that knows
the sign: multiplying by -1.0 is exact (``to_user(to_internal(y)) == y`` bit for bit, NaN
included), so a maximizing run is the minimizing run of the negated fitness.

The direction is stored beside the history (Parquet schema metadata) and in checkpoints, so a
reader never has to guess; :func:`direction_metadata` and :meth:`Direction.from_metadata` are
the writer and the reader of the Parquet record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import numpy as np

from ..errors import ConfigError
from ..memory.history import SENSE_KEY

__all__ = ["DIRECTION_KEY", "SENSES", "Direction", "Objective", "Sense", "direction_metadata"]

Sense = Literal["minimize", "maximize"]
#: The senses, each with its factor to the internal (minimized) scale.
SENSES: dict[str, float] = {"minimize": 1.0, "maximize": -1.0}
#: Parquet schema metadata key holding the direction record (JSON of :meth:`Direction.to_dict`),
#: written beside ``genepool.sense`` (:data:`~genepool.memory.history.SENSE_KEY`).
DIRECTION_KEY = "genepool.direction"

Values = TypeVar("Values", float, np.ndarray)


@dataclass(frozen=True)
class Objective:
    """One objective: its name and whether it is minimized or maximized.

    Examples
    --------
    >>> Objective("sharpe", "maximize").sign
    -1.0
    """

    name: str
    sense: Sense

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"objective name must be a non-empty string, got {self.name!r}")
        if self.sense not in SENSES:
            raise ConfigError(
                f"objective {self.name!r}: sense must be 'minimize' or 'maximize', "
                f"got {self.sense!r}"
            )

    @property
    def sign(self) -> float:
        """Factor from the user's sense to the internal, minimized scale (1.0 or -1.0)."""
        return SENSES[self.sense]


@dataclass(frozen=True)
class Direction:
    """The objectives of a run (one or more), each with its sense.

    Parameters
    ----------
    objectives : sequence of Objective
        At least one; names are distinct.

    Examples
    --------
    >>> d = Direction.maximize()
    >>> d.sense, d.worst, d.comparison
    ('maximize', -inf, '>=')
    >>> float(d.to_internal(2.5)), float(d.to_user(d.to_internal(2.5)))
    (-2.5, 2.5)
    >>> d.reached(3.0, target=2.0)
    True
    >>> Direction.from_dict(d.to_dict()) == d
    True
    """

    objectives: tuple[Objective, ...]

    def __post_init__(self) -> None:
        objectives = tuple(self.objectives)
        if not objectives:
            raise ConfigError("a direction needs at least one objective, got none")
        for obj in objectives:
            if not isinstance(obj, Objective):
                raise ConfigError(f"objectives must be Objective instances, got {obj!r}")
        names = [o.name for o in objectives]
        if len(set(names)) != len(names):
            raise ConfigError(f"objective names must be distinct, got {names}")
        object.__setattr__(self, "objectives", objectives)

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def minimize(cls, name: str = "fitness") -> Direction:
        """One objective, minimized (:func:`genepool.minimize`)."""
        return cls((Objective(name, "minimize"),))

    @classmethod
    def maximize(cls, name: str = "fitness") -> Direction:
        """One objective, maximized (:func:`genepool.maximize`)."""
        return cls((Objective(name, "maximize"),))

    @classmethod
    def of(cls, sense: str, name: str = "fitness") -> Direction:
        """One objective of sense ``sense`` (``"minimize"`` or ``"maximize"``)."""
        return cls((Objective(name, cast(Sense, sense)),))

    @classmethod
    def named(cls, objectives: object, default: str = "minimize") -> Direction:
        """The direction of ``minimize(objectives=...)``: a sequence of names (each of sense
        ``default``) or a mapping ``{name: "minimize" | "maximize"}``.

        Raises :class:`~genepool.errors.ConfigError` naming the value otherwise (a string is
        refused: ``"a,b"`` is one name, not two).

        Examples
        --------
        >>> Direction.named({"sharpe": "maximize", "drawdown": "minimize"}).signs
        array([-1.,  1.])
        >>> Direction.named(["f1", "f2"], "maximize").sense
        'maximize'
        """
        if isinstance(objectives, str):
            raise ConfigError(
                f"objectives must be a list of names or a {{name: sense}} mapping, got the "
                f"string {objectives!r}; write {objectives.replace(' ', '').split(',')!r}"
            )
        if isinstance(objectives, Mapping):
            items = [(name, sense) for name, sense in objectives.items()]
        elif isinstance(objectives, Sequence):
            items = [(name, default) for name in objectives]
        else:
            raise ConfigError(
                f"objectives must be a list of names or a {{name: sense}} mapping, got "
                f"{objectives!r}"
            )
        if not items:
            raise ConfigError("objectives must name at least one objective, got none")
        return cls(tuple(Objective(name, sense) for name, sense in items))

    def internal(self) -> Direction:
        """The same objectives, all minimized: the engine's scale."""
        return Direction(tuple(Objective(o.name, "minimize") for o in self.objectives))

    # -- what it is ------------------------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of objectives."""
        return len(self.objectives)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.objectives)

    @property
    def signs(self) -> np.ndarray:
        """Factor per objective to the internal scale (1.0 minimize, -1.0 maximize)."""
        return np.array([o.sign for o in self.objectives], dtype=np.float64)

    @property
    def sense(self) -> Sense:
        """The sense shared by every objective (the history's ``genepool.sense`` record).

        Raises :class:`~genepool.errors.ConfigError` when the objectives' senses differ.
        """
        senses = {o.sense for o in self.objectives}
        if len(senses) != 1:
            raise ConfigError(
                f"the objectives {list(self.names)} do not share one sense; ask per objective"
            )
        return self.objectives[0].sense

    @property
    def sign(self) -> float:
        """The factor shared by every objective (1.0 minimize, -1.0 maximize); see
        :attr:`sense`."""
        return SENSES[self.sense]

    @property
    def shared_sign(self) -> float | None:
        """The factor shared by every objective, or None when their senses differ."""
        senses = {o.sense for o in self.objectives}
        return SENSES[senses.pop()] if len(senses) == 1 else None

    @property
    def label(self) -> str:
        """``"minimize"``, ``"maximize"`` or ``"mixed"`` (objectives of both senses)."""
        sign = self.shared_sign
        return "mixed" if sign is None else self.sense

    def column_names(self, m: int) -> tuple[str, ...]:
        """Names of ``m`` objective columns: the objectives' names when there are ``m`` of
        them, else ``f1`` ... ``fm``."""
        return self.names if self.m == m else tuple(f"f{j + 1}" for j in range(m))

    @property
    def maximizing(self) -> bool:
        """Whether every objective is maximized."""
        return self.sense == "maximize"

    @property
    def worst(self) -> float:
        """The worst value in the user's sense: +inf minimizing, -inf maximizing (the default
        penalty of a failing candidate)."""
        return self.sign * np.inf

    @property
    def comparison(self) -> str:
        """How "at least as good as" reads in the user's sense: ``"<="`` or ``">="``."""
        return "<=" if self.sign > 0 else ">="

    # -- conversions (exact: a multiplication by 1.0 or -1.0) -------------------------------
    def to_internal(self, values: Values) -> Values:
        """``values`` in the user's sense (a scalar, ``(n,)`` or ``(n, m)``) on the internal,
        minimized scale. Minimizing objectives are returned as they are (the same object)."""
        return self._scaled(values)

    def to_user(self, values: Values) -> Values:
        """Internal, minimized ``values`` back in the user's sense (the inverse of
        :meth:`to_internal`, which is its own inverse)."""
        return self._scaled(values)

    def _scaled(self, values: Values) -> Values:
        if all(o.sense == "minimize" for o in self.objectives):
            return values
        if self.m == 1 or len({o.sense for o in self.objectives}) == 1:
            return self.sign * values  # -1.0 * x: exact, and NaN keeps its sign bit
        return cast(Values, values * self.signs)

    def reached(self, best: float, target: float) -> bool:
        """Whether ``best`` is at least as good as ``target`` (both in the user's sense)."""
        return self.to_internal(best) <= self.to_internal(target)

    def best_of(self, values: np.ndarray) -> float:
        """The best of ``values`` (user's sense): the minimum, or the maximum when maximizing."""
        return float(values.max()) if self.maximizing else float(values.min())

    # -- records ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible record, read back by :meth:`from_dict`."""
        return {"objectives": [{"name": o.name, "sense": o.sense} for o in self.objectives]}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Direction:
        """The direction of a :meth:`to_dict` record; :class:`~genepool.errors.ConfigError`
        naming what is wrong otherwise."""
        try:
            items: Sequence[Any] = record["objectives"]
            objectives = tuple(Objective(o["name"], o["sense"]) for o in items)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"direction record {record!r} is malformed ({exc!r})") from None
        return cls(objectives)

    def metadata(self) -> dict[str, str]:
        """The Parquet schema metadata recording this direction (:func:`direction_metadata`)."""
        return direction_metadata(self)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Direction | None:
        """The direction recorded in a history's Parquet metadata (see
        :func:`~genepool.memory.history.read_metadata`): the direction record, else the
        ``genepool.sense`` key; None for a history written before either was recorded (its
        fitness columns are on the internal, minimized scale)."""
        if DIRECTION_KEY in metadata:
            return cls.from_dict(json.loads(metadata[DIRECTION_KEY]))
        if metadata.get(SENSE_KEY):
            return cls.of(metadata[SENSE_KEY])
        return None


def direction_metadata(direction: Direction) -> dict[str, str]:
    """The Parquet schema metadata recording ``direction``: ``genepool.sense`` (as before the
    direction record existed, so older readers keep working; only when the objectives share
    one sense) and ``genepool.direction``."""
    senses = {o.sense for o in direction.objectives}
    shared = {SENSE_KEY: direction.sense} if len(senses) == 1 else {}
    return {**shared, DIRECTION_KEY: json.dumps(direction.to_dict())}
