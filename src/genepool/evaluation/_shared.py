"""Ship a problem to workers once: read-only arrays in shared memory, the rest as JSON or pickle.

A problem that implements the sharing protocol (``shared_arrays``, ``shared_config``,
``from_shared`` on :class:`~genepool.problem.Problem`) travels as its class name, a JSON
config and its arrays; the arrays are copied once into one ``multiprocessing.shared_memory``
segment that every worker maps (``ProblemPayload.share``), or, for Dask, travel inline once per
worker. Any other problem (a closure, a lambda, an object) is pickled once per worker, with
cloudpickle when it is installed (closures and ``__main__`` functions), else with pickle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..problem import Problem, ProblemAdapter, problem_name
from ..problem import _import_name as _import

__all__ = ["ProblemPayload", "SharedArrays"]

log = logging.getLogger("genepool.evaluation")

_ALIGN = 64
#: Shared segments attached in this (worker) process: kept alive as long as the arrays are.
_ATTACHED: list[shared_memory.SharedMemory] = []


@dataclass
class SharedArrays:
    """Arrays laid out in one shared-memory segment (created by the parent)."""

    name: str
    layout: dict[str, tuple[int, tuple[int, ...], str]]  # key -> (offset, shape, dtype)
    nbytes: int
    _shm: shared_memory.SharedMemory | None = field(default=None, repr=False, compare=False)

    @classmethod
    def create(cls, arrays: dict[str, np.ndarray]) -> SharedArrays:
        """Copy ``arrays`` into a new segment; one copy for arrays that are the same object."""
        layout: dict[str, tuple[int, tuple[int, ...], str]] = {}
        seen: dict[int, tuple[int, tuple[int, ...], str]] = {}
        offset = 0
        for key, a in arrays.items():
            if id(a) in seen:
                layout[key] = seen[id(a)]
                continue
            a = np.asarray(a)
            if a.dtype.hasobject:
                raise ConfigError(
                    f"shared array {key!r} holds Python objects; it cannot be shared"
                )
            layout[key] = seen[id(arrays[key])] = (offset, tuple(a.shape), a.dtype.str)
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
        shm = shared_memory.SharedMemory(create=True, size=max(offset, 1))
        out = cls(shm.name, layout, offset, shm)
        views = out._views(shm)
        for key, a in arrays.items():
            views[key][...] = a
        del views
        return out

    def _views(self, shm: shared_memory.SharedMemory) -> dict[str, np.ndarray]:
        return {
            key: np.ndarray(shape, dtype=np.dtype(dt), buffer=shm.buf, offset=off)
            for key, (off, shape, dt) in self.layout.items()
        }

    def attach(self) -> dict[str, np.ndarray]:
        """The arrays, mapped from the segment (in a worker); no copy."""
        shm = shared_memory.SharedMemory(name=self.name)
        _ATTACHED.append(shm)
        return self._views(shm)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_shm": None}

    def release(self) -> None:
        """Close and remove the segment (in the parent, once the workers are gone)."""
        if self._shm is not None:
            try:
                self._shm.close()
                self._shm.unlink()
            except (FileNotFoundError, BufferError):  # pragma: no cover - already gone
                pass
            self._shm = None


def _dumps(obj: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        cloudpickle = None
    try:
        if cloudpickle is not None:
            return cloudpickle.dumps(obj)
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        hint = "" if cloudpickle is not None else " (installing cloudpickle may help)"
        raise ConfigError(
            f"the problem cannot be sent to worker processes: pickling "
            f"{type(obj).__name__} failed: {exc}. Define the fitness at module level{hint}, "
            f"or implement Problem.shared_config/from_shared."
        ) from None


@dataclass
class ProblemPayload:
    """Everything a worker needs to rebuild the problem; small except ``arrays``/``pickled``."""

    kind: str  # "rebuild" or "pickle"
    cls: str = ""
    config: str = ""
    arrays: dict[str, np.ndarray] | None = None  # inline arrays (Dask) ...
    shared: SharedArrays | None = None  # ... or a shared-memory segment (processes)
    pickled: bytes = b""

    @classmethod
    def of(cls, problem: Any) -> ProblemPayload:
        """Describe ``problem``: by the sharing protocol when it implements it, else pickled.

        An object that is not a :class:`~genepool.problem.Problem` travels adapted
        (:class:`~genepool.problem.ProblemAdapter`), so that workers find every hook.
        """
        problem = problem if isinstance(problem, Problem) else ProblemAdapter(problem)
        config = problem.shared_config()
        if config is not None:
            try:
                text = json.dumps(config)
                arrays = dict(problem.shared_arrays())
                path = f"{type(problem).__module__}:{type(problem).__qualname__}"
                rebuilt = _import(path).from_shared(arrays, json.loads(text))
                if not hasattr(rebuilt, "evaluate"):
                    raise TypeError("from_shared did not return a problem")
            except Exception as exc:
                log.info(
                    "%s: sharing protocol unusable (%s); pickling it once per worker",
                    problem_name(problem),
                    exc,
                )
            else:
                return cls("rebuild", cls=path, config=text, arrays=arrays)
        return cls("pickle", pickled=_dumps(problem))

    def share(self) -> ProblemPayload:
        """This payload with its arrays moved to shared memory (for local worker processes)."""
        if self.kind != "rebuild" or not self.arrays:
            return self
        return ProblemPayload(
            "rebuild", cls=self.cls, config=self.config, shared=SharedArrays.create(self.arrays)
        )

    def signature(self) -> tuple[Any, ...]:
        """Equal for payloads that build the same problem (a started pool can be reused)."""
        arrays = tuple(
            (k, a.shape, a.dtype.str, hashlib.blake2b(np.ascontiguousarray(a).data).hexdigest())
            for k, a in (self.arrays or {}).items()
        )
        return (self.kind, self.cls, self.config, arrays, hash(self.pickled))

    @property
    def shared_bytes(self) -> int:
        if self.shared is not None:
            return self.shared.nbytes
        return sum(a.nbytes for a in (self.arrays or {}).values())

    def build(self) -> Problem:
        """The problem (in a worker), with every hook of :class:`~genepool.problem.Problem`."""
        if self.kind == "pickle":
            problem = pickle.loads(self.pickled)
        else:
            arrays = self.shared.attach() if self.shared is not None else dict(self.arrays or {})
            problem = _import(self.cls).from_shared(arrays, json.loads(self.config))
        return problem if isinstance(problem, Problem) else ProblemAdapter(problem)

    def release(self) -> None:
        if self.shared is not None:
            self.shared.release()
