"""The optimizer contract: ask/tell state machines whose state is a dataclass of arrays."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from .._rng import rng_from_state, rng_state
from ..errors import ConfigError, MemoryBudgetExceeded, OptimizerError
from ..space import Space
from ._storage import PopulationFiles

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
    #: whether ``storage="disk"`` is available (genes in memory-mapped files)
    disk_capable: ClassVar[bool] = False
    #: what the files of a generation on disk are, for the disk preflight's message
    _disk_files: ClassVar[str] = "the population files"
    state: Any
    #: the arguments it was made with (``__new__`` keeps them: :meth:`resized`)
    _init_args: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__new__(cls)
        obj._init_args = (args, dict(kwargs))
        return obj

    def resized(self, size: int, path: str | Path | None = None) -> Optimizer:
        """A fresh optimizer made as this one was, with ``size`` individuals (a profile's
        probes, :func:`genepool.profile`).

        Sizes given for the old population scale with it (``offspring_size``, ``elitism``);
        a random generator passed as ``seed`` becomes seed 0 (this one's stream is left
        alone); ``path`` replaces the folder of a population on disk.
        """
        import inspect

        args, kwargs = self._init_args
        try:
            bound = inspect.signature(type(self).__init__).bind(None, *args, **kwargs)
        except TypeError as exc:  # pragma: no cover - made by a subclass that renamed things
            raise ConfigError(f"{type(self).__name__} cannot be remade: {exc}") from None
        a = bound.arguments
        name = getattr(self, "_size_name", "population_size")
        old = self.population_size
        a[name] = int(size)
        for scaled in ("offspring_size", "elitism"):
            if isinstance(a.get(scaled), int):
                a[scaled] = max(scaled == "offspring_size", round(a[scaled] * size / old))
        if not isinstance(a.get("seed", 0), (int, np.integer)) or a.get("seed") is None:
            a["seed"] = 0
        if path is not None and "path" in a:
            a["path"] = str(path)
        return type(self)(*bound.args[1:], **bound.kwargs)

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

    # -- populations on disk (storage="disk") -------------------------------------------------
    #: the population files of ``storage="disk"``; None: the arrays are in memory
    _files: PopulationFiles | None = None
    #: the batch of the last ``ask`` until its ``tell``
    _pending: np.ndarray | None = None

    @property
    def storage(self) -> str:
        """``"disk"`` when the population's genes live in memory-mapped files, else
        ``"memory"``."""
        return "memory" if self._files is None else "disk"

    def disk_footprint(self, checkpoints: bool = False) -> int:
        """Peak bytes of population files on disk during a generation (0 in memory);
        ``checkpoints``: plus the files the last two checkpoints keep."""
        return 0

    def disk_preflight(self, checkpoints: bool = False) -> None:
        """Refuse to start (``storage="disk"``) when the population folder's disk has less
        free space than :meth:`disk_footprint`; a no-op in memory.

        Raises
        ------
        WriteError
            Naming the folder, the bytes needed and the bytes free.
        """
        if self._files is not None:
            kept = ", and those of two checkpoints" if checkpoints else ""
            what = (
                f"{self.population_size:,} individuals of {self.space.dims} genes "
                f"({self._disk_files}{kept})"
            )
            self._files.check_space(self.disk_footprint(checkpoints), what)

    def fit_memory(self, memory_limit: int | None) -> None:  # noqa: B027 - optional hook
        """Size working chunks to the run's ``memory_limit`` (called by the run loop)."""

    def attach_run_dir(self, folder: Path) -> None:
        """Keep population files in ``folder`` (a run directory's ``population``) unless the
        optimizer was given its own ``path``; a no-op in memory."""
        if self._files is not None:
            self._files.attach(folder)

    def state_files(self) -> dict[str, np.ndarray]:
        """The state's arrays that are population files, by field."""
        if self._files is None:
            return {}
        return {
            f.name: v
            for f in dataclasses.fields(self.state)
            if isinstance(v := getattr(self.state, f.name), np.memmap)
        }

    def sync_storage(self) -> None:
        """Flush the state's files to disk before a checkpoint refers to them."""
        if self._files is not None:
            self._files.sync(*self.state_files().values())

    def checkpoint_written(self) -> None:
        """A checkpoint referring to the state's files was written: keep those files while it
        may be read, and remove the files nothing refers to any more."""
        if self._files is not None:
            names = [PopulationFiles.name_of(a) for a in self.state_files().values()]
            self._files.pin(names)
            self._release_files()

    def close_storage(self) -> None:
        """Remove the population files unless they belong to a run directory (arrays already
        handed out stay readable)."""
        if self._files is not None:
            self._files.close()

    def _files_in_use(self) -> list[str]:
        """File names the state and the pending batch refer to."""
        arrays = [*self.state_files().values(), self._pending]
        return [PopulationFiles.name_of(a) for a in arrays if isinstance(a, np.memmap)]

    def _release_files(self) -> None:
        assert self._files is not None
        self._files.forget(self._files_in_use())

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
        if self._files is not None:
            self.disk_preflight(checkpoints=self._files._kept)
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
            f"{name} {self.population_size:,}{why}lower the population size"
            + (" or keep the genes on disk (storage='disk')" if self.disk_capable else ""),
            rss=int(psutil.Process().memory_info().rss),
            limit=available,
            usage={"population": footprint},
        )
        exc.cli_message = f"--population {self.population_size:,}{why}lower --population" + (
            " or use --storage disk" if self.disk_capable else ""
        )
        raise exc

    # -- checkpointing -----------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The state as ``(arrays, meta)``: numpy arrays, and JSON-compatible values."""
        return split_state(self.state, files=self._files is not None)

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
        files = None if self._files is None else self._open_state_file
        if files is None and any(_is_file_ref(v) for v in meta.values()):
            raise ConfigError(
                f"{type(self).__name__} state refers to population files: make the optimizer "
                f"with storage='disk' to load it"
            )
        try:
            state = join_state(type(self.state), arrays, meta, files)
        except (TypeError, ValueError, KeyError) as exc:  # e.g. a malformed RNG state
            raise ConfigError(f"{type(self).__name__} state cannot be restored: {exc}") from None
        self._check_state(state)
        self.state = state
        self._on_state_loaded()
        if self._files is not None:
            self._pending = None
            self._files.loaded(self._files_in_use())

    def _open_state_file(self, field: str, name: object) -> np.memmap:
        """A state field's population file (read-only), checked against its shape."""
        assert self._files is not None
        shape = self._state_shapes().get(field)
        if shape is None:
            raise ConfigError(f"{type(self).__name__} state: {field} cannot be a file")
        return self._files.open(name, shape, self._file_dtype(field))

    def _file_dtype(self, field: str) -> np.dtype:
        return np.dtype(np.float64)

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
        self, X: Any, fitness: Any, expected: np.ndarray | None, copy: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``tell`` arguments; the fitness as a private float copy (``copy``) or as
        it came when the caller never writes into it."""
        if expected is None:
            raise OptimizerError("tell() called without a pending ask()")
        # No copy: every optimizer builds its next state from fresh gathers of X, never views.
        if not (isinstance(X, np.memmap) and X.dtype == expected.dtype):
            X = np.asarray(X, dtype=expected.dtype)
        if X.shape != expected.shape:
            raise OptimizerError(f"tell() got X of shape {X.shape}, ask() gave {expected.shape}")
        f = (
            np.array(fitness, dtype=np.float64, copy=True)
            if copy
            else np.asarray(fitness, dtype=np.float64)
        )
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


def _is_file_ref(value: object) -> bool:
    return isinstance(value, dict) and "__file__" in value


def split_state(
    state: DataclassInstance, files: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split a state dataclass into arrays and JSON-compatible metadata; with ``files`` (an
    optimizer with ``storage="disk"``), an array that is a population file goes into the
    metadata as ``{"__file__": name}``."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if files and isinstance(value, np.memmap) and value.filename is not None:
            meta[f.name] = {"__file__": PopulationFiles.name_of(value)}
        elif isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif isinstance(value, np.random.Generator):
            meta[f.name] = {"__rng__": rng_state(value)}
        elif isinstance(value, np.generic):
            meta[f.name] = value.item()
        else:
            meta[f.name] = value
    return arrays, meta


def join_state(
    cls: type[_State],
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, object],
    open_file: Callable[[str, object], np.ndarray] | None = None,
) -> _State:
    """Inverse of :func:`split_state`; ``open_file(field, name)`` maps a population file."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in arrays:
            values[f.name] = np.array(arrays[f.name])
        elif f.name in meta and _is_file_ref(meta[f.name]) and open_file is not None:
            values[f.name] = open_file(f.name, meta[f.name]["__file__"])  # type: ignore[index]
        elif f.name in meta:
            v = meta[f.name]
            is_rng = isinstance(v, dict) and "__rng__" in v
            values[f.name] = rng_from_state(v["__rng__"]) if is_rng else v  # type: ignore[index]
        else:
            raise OptimizerError(f"checkpoint state has no field {f.name!r}")
    return cls(**values)
