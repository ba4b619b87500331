"""The optimizer contract: ask/tell state machines whose state is a dataclass of arrays."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from .._rng import rng_from_state, rng_state
from ..errors import ConfigError, MemoryBudgetExceeded, OptimizerError
from ..space import Space

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    _State = TypeVar("_State", bound=DataclassInstance)

__all__ = ["Optimizer", "join_state", "name_and_options", "split_state"]


def name_and_options(
    kind: str,
    spec: object,
    names: Mapping[str, object],
    forms: str = "a name or (name, {options})",
) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``("name", {options})`` (a tuple or a list, as JSON and TOML give it) as
    ``(name, options)``; ConfigError naming ``kind``, the value and the known ``names``."""
    if isinstance(spec, str):
        return spec, {}
    if (
        isinstance(spec, (tuple, list))
        and len(spec) == 2
        and isinstance(spec[0], str)
        and isinstance(spec[1], Mapping)
    ):
        return spec[0], dict(spec[1])
    raise ConfigError(f"{kind} must be {forms}, got {spec!r}; names are {sorted(names)}")


class Optimizer(ABC):
    """Base class of optimizers: ``ask -> evaluate -> tell -> stop()``.

    Fitness is always *minimized* here (``genepool.maximize`` negates it). Subclasses keep all
    their mutable data in ``self.state``, a dataclass of numpy arrays, scalars and the RNG
    state, so a checkpoint is ``state_dict()`` and nothing else.

    Contract (checked by ``tests/test_conformance.py`` for every optimizer):

    - ``ask()`` returns a new float array of shape ``(n, space.dims)`` within the bounds;
    - ``tell(X, fitness)`` takes that array (or one of the same shape) and its fitness of shape
      ``(n,)``; it never modifies its arguments; NaN fitness is the worst value;
    - ``stop()`` returns ``{}`` to go on, or ``{reason: detail}`` to stop;
    - the same seed gives the same sequence of ``ask`` results;
    - ``load_state_dict(state_dict())`` on a fresh instance continues identically.
    """

    space: Space
    multi_objective: ClassVar[bool] = False
    state: Any

    @abstractmethod
    def ask(self) -> np.ndarray:
        """Candidates to evaluate next, shape ``(n, d)``."""

    @abstractmethod
    def tell(self, X: np.ndarray, fitness: np.ndarray) -> None:
        """Report the fitness (to minimize) of the candidates from the last :meth:`ask`."""

    def stop(self) -> dict[str, str]:
        """Why the optimizer wants to stop (empty dict: keep going)."""
        return {}

    @property
    def population_size(self) -> int:
        """Number of candidates per :meth:`ask`."""
        raise NotImplementedError

    @property
    def cache_by_default(self) -> bool:
        """Whether the automatic fitness cache (``cache=None``) starts on for this optimizer.

        ``False`` where the optimizer almost never proposes a candidate it proposed before, so
        that hashing every batch could not pay.
        """
        return True

    def memory_footprint(self) -> int | None:
        """Estimated peak bytes the optimizer holds through ask/tell (None: unknown).

        The run loop refuses a ``memory_limit`` that this alone (plus the process) exceeds.
        """
        return None

    def best(self) -> tuple[np.ndarray, float] | None:
        """The best individual held in the current state and its fitness, if any."""
        return None

    def check_fits_in_memory(self) -> None:
        """Refuse a population that cannot fit in the memory the machine has available.

        Called before anything proportional to the population is allocated (by ``minimize``
        and by the first :meth:`ask`), so that an impossible size fails at once with a clear
        message instead of an allocation error deep inside numpy, or swapping.

        Raises
        ------
        MemoryBudgetExceeded
            When :meth:`memory_footprint` exceeds the available memory (``psutil``'s
            ``virtual_memory().available``); the message names the population size.
        """
        footprint = self.memory_footprint()
        if footprint is None:
            return
        import psutil

        from ..memory._size import format_size

        available = int(psutil.virtual_memory().available)
        if footprint <= available:
            return
        name = getattr(self, "_size_name", "population_size")
        why = (
            f" cannot fit in memory: {type(self).__name__} needs about {footprint:,} bytes "
            f"({format_size(footprint)}) for its populations at {self.space.dims} genes, and "
            f"the machine has {available:,} bytes ({format_size(available)}) available; "
        )
        exc = MemoryBudgetExceeded(
            f"{name} {self.population_size:,}{why}lower the population size",
            rss=int(psutil.Process().memory_info().rss),
            limit=available,
            usage={"population": footprint},
        )
        exc.cli_message = f"--population {self.population_size:,}{why}lower --population"
        raise exc

    # -- checkpointing -----------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The state as ``(arrays, meta)``: numpy arrays, and JSON-compatible values."""
        return split_state(self.state)

    def load_state_dict(
        self,
        arrays: Mapping[str, object] | tuple[Mapping[str, np.ndarray], Mapping[str, object]],
        meta: Mapping[str, object] | None = None,
    ) -> None:
        """Restore a :meth:`state_dict` of an identically configured optimizer.

        ``load_state_dict(arrays, meta)``, ``load_state_dict(opt.state_dict())`` or one dict
        holding both. The keys, the arrays' shapes and the counters are checked before
        anything changes.

        Raises
        ------
        ConfigError
            Naming the missing or unexpected keys, or the field of the wrong shape or type.
        """
        arrays, meta = _state_parts(type(self).__name__, arrays, meta)
        fields = {f.name: f for f in dataclasses.fields(type(self.state))}
        given = set(arrays) | set(meta)
        missing, unexpected = sorted(set(fields) - given), sorted(given - set(fields))
        if missing or unexpected:
            raise ConfigError(
                f"{type(self).__name__} state: "
                + "; ".join(
                    f"{what} key(s) {keys}"
                    for what, keys in (("missing", missing), ("unexpected", unexpected))
                    if keys
                )
                + f" (expected {sorted(fields)}, as returned by state_dict())"
            )
        try:
            state = join_state(type(self.state), arrays, meta)
        except (TypeError, ValueError, KeyError) as exc:  # e.g. a malformed RNG state
            raise ConfigError(f"{type(self).__name__} state cannot be restored: {exc}") from None
        self._check_state(state)
        self.state = state
        self._on_state_loaded()

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the state's arrays (when not None), checked by :meth:`load_state_dict`."""
        return {}

    def _check_state(self, state: Any) -> None:
        name = type(self).__name__
        for field, shape in self._state_shapes().items():
            value = getattr(state, field)
            if value is not None and (value.ndim != len(shape) or value.shape != shape):
                raise ConfigError(
                    f"{name} state: {field} must have shape {shape}, got {value.shape}"
                )
        for f in dataclasses.fields(state):
            value = getattr(state, f.name)
            if f.type in ("int", "float") and (
                isinstance(value, bool)
                or not isinstance(value, (int, float) if f.type == "float" else int)
            ):
                raise ConfigError(f"{name} state: {f.name} must be {f.type}, got {value!r}")
            if f.type == "int" and value < 0:
                raise ConfigError(f"{name} state: {f.name} must be >= 0, got {value!r}")
            if "Generator" in str(f.type) and not isinstance(value, np.random.Generator):
                raise ConfigError(
                    f"{name} state: {f.name} must be a random generator's state "
                    f"({{'__rng__': ...}}), got {value!r}"
                )

    def _on_state_loaded(self) -> None:  # noqa: B027 - optional hook
        """Called after :meth:`load_state_dict`; drop derived or pending data here."""

    def _check_tell(
        self, X: Any, fitness: Any, expected: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``tell`` arguments and return private float copies."""
        if expected is None:
            raise OptimizerError("tell() called without a pending ask()")
        # No copy: every optimizer builds its next state from fresh gathers of X, never views.
        X = np.asarray(X, dtype=expected.dtype)
        if X.shape != expected.shape:
            raise OptimizerError(f"tell() got X of shape {X.shape}, ask() gave {expected.shape}")
        f = np.array(fitness, dtype=np.float64, copy=True)
        if f.ndim == 2 and f.shape[1] == 1:
            f = f[:, 0]
        n = X.shape[0]
        if f.ndim == 2 and f.shape[0] == n and self.multi_objective:
            return X, f  # (n, m): one column per objective
        if f.ndim != 1 or f.shape[0] != n:
            if f.ndim == 2:
                raise OptimizerError(
                    f"{type(self).__name__} is single-objective: fitness must have shape "
                    f"({n},), got {f.shape}"
                )
            raise OptimizerError(f"fitness must have shape ({n},), got {f.shape}")
        return X, f


def _state_parts(owner: str, arrays: Any, meta: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arrays, meta)`` from the accepted call forms of ``load_state_dict``."""
    if meta is None:
        if isinstance(arrays, tuple) and len(arrays) == 2:
            arrays, meta = arrays
        elif isinstance(arrays, Mapping):  # one dict: arrays are the ndarrays, meta the rest
            arrays, meta = (
                {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)},
                {k: v for k, v in arrays.items() if not isinstance(v, np.ndarray)},
            )
    if not isinstance(arrays, Mapping) or not isinstance(meta, Mapping):
        raise ConfigError(
            f"{owner}.load_state_dict takes (arrays, meta) dicts as returned by state_dict(), "
            f"got {type(arrays).__name__} and {type(meta).__name__}"
        )
    return dict(arrays), dict(meta)


def split_state(state: DataclassInstance) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split a state dataclass into arrays and JSON-compatible metadata."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif isinstance(value, np.random.Generator):
            meta[f.name] = {"__rng__": rng_state(value)}
        elif isinstance(value, np.generic):
            meta[f.name] = value.item()
        else:
            meta[f.name] = value
    return arrays, meta


def join_state(
    cls: type[_State], arrays: Mapping[str, np.ndarray], meta: Mapping[str, object]
) -> _State:
    """Inverse of :func:`split_state`."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in arrays:
            values[f.name] = np.array(arrays[f.name])
        elif f.name in meta:
            v = meta[f.name]
            is_rng = isinstance(v, dict) and "__rng__" in v
            values[f.name] = rng_from_state(v["__rng__"]) if is_rng else v  # type: ignore[index]
        else:
            raise OptimizerError(f"checkpoint state has no field {f.name!r}")
    return cls(**values)
