"""Executor names and the one parser of executor specs.

``executor=`` (of :func:`genepool.minimize`, :class:`~genepool.Evaluator`, ``genepool evolve``)
is parsed here and only here: a registered name (``"serial"``, ``"processes"``, ``"dask"``,
and any name given to :func:`register_executor`), a scheduler address ``"tcp://host:port"``,
a ``distributed.Client``, or an executor object.

Examples
--------
>>> from genepool.evaluation.registry import parse_executor
>>> executor, owned = parse_executor("serial")
>>> executor.name, owned
('serial', True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Union, cast

import numpy as np

from ..errors import ConfigError, check_int
from ..problem import Problem
from ._task import WorkerLost
from .executors import Executor, ProcessExecutor, SerialExecutor, T

if TYPE_CHECKING:
    from distributed import Client as DaskClient
else:  # distributed is optional and heavy: a stand-in keeps typing.get_type_hints working
    DaskClient = object

__all__ = [
    "ExecutorFactory",
    "ExecutorSpec",
    "executor_kind",
    "executor_names",
    "is_executor_name",
    "names_text",
    "parse_executor",
    "register_executor",
]

#: ``factory(workers=..., retries=..., max_tasks_per_child=...)`` -> a new executor.
ExecutorFactory = Callable[..., Executor]

_FACTORIES: dict[str, ExecutorFactory] = {}

#: A registered name (``"serial"``, ``"processes"``, ``"dask"``), a scheduler address
#: ``"tcp://host:port"``, an Executor or a ``distributed.Client`` (None: ``"serial"``).
ExecutorSpec = Union[str, Executor, DaskClient, None]


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Make ``executor=name`` build ``factory(workers=, retries=, max_tasks_per_child=)``.

    Executors built from a name are owned by the evaluator, which closes them.

    Parameters
    ----------
    name : str
        The name (no ``"://"``: that marks a scheduler address).
    factory : callable
        Builds the executor from the keyword arguments ``workers`` (int or None),
        ``retries`` (int) and ``max_tasks_per_child`` (int or None).
    """
    if not isinstance(name, str) or not name or "://" in name:
        raise ConfigError(f"executor name must be a non-empty string without '://', got {name!r}")
    if not callable(factory):
        raise ConfigError(f"executor factory for {name!r} must be callable, got {factory!r}")
    _FACTORIES[name] = factory


def executor_names() -> list[str]:
    """Registered executor names, in the order they were registered."""
    return list(_FACTORIES)


def is_executor_name(spec: object) -> bool:
    """``spec`` is a registered executor name."""
    return isinstance(spec, str) and spec in _FACTORIES


def names_text(last: str = "or") -> str:
    """The registered names for a message: ``'serial', 'processes' or 'dask'``."""
    quoted = [repr(n) for n in _FACTORIES]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {last} {quoted[-1]}"


def _is_dask_client(obj: object) -> bool:
    t = type(obj)
    return t.__name__ == "Client" and t.__module__.split(".")[0] == "distributed"


def executor_kind(spec: object) -> str:
    """What ``spec`` names, without building anything.

    Returns
    -------
    str
        A registered name (``"serial"`` also for None and a :class:`SerialExecutor`),
        ``"address"`` for ``"tcp://host:port"``, ``"client"`` for a ``distributed.Client``,
        ``"object"`` for any other object, or ``"unknown"`` for an unknown string.
    """
    if spec is None or isinstance(spec, SerialExecutor):
        return "serial"
    if isinstance(spec, str):
        if spec in _FACTORIES:
            return spec
        return "address" if "://" in spec else "unknown"
    return "client" if _is_dask_client(spec) else "object"


def parse_executor(
    spec: ExecutorSpec,
    *,
    workers: int | None = None,
    retries: int = 2,
    max_tasks_per_child: int | None = None,
) -> tuple[Executor, bool]:
    """(executor, owned): the executor that ``spec`` names.

    Parameters
    ----------
    spec : str, distributed.Client, Executor or None
        A registered name (None: ``"serial"``), a scheduler address ``"tcp://host:port"``,
        a ``distributed.Client``, or an executor object (used as it is; one with only
        ``start``/``map``/``close`` gets the defaults of the other members).
    workers, retries, max_tasks_per_child
        Passed to the executor built from a name, an address or a client.

    Returns
    -------
    (Executor, bool)
        ``owned`` is True for executors built here (the evaluator closes them); objects
        passed in are the caller's.
    """
    if workers is not None:
        workers = check_int("workers", workers, minimum=1)
    retries = check_int("retries", retries, minimum=0)
    options = {"workers": workers, "retries": retries, "max_tasks_per_child": max_tasks_per_child}
    kind = executor_kind(spec)
    if kind in _FACTORIES:
        if not isinstance(spec, str):  # None or a SerialExecutor object
            return (SerialExecutor() if spec is None else cast(SerialExecutor, spec)), spec is None
        return _FACTORIES[kind](**options), True
    if kind in ("address", "client"):
        from ._dask import DaskExecutor

        if kind == "address":
            return DaskExecutor(address=cast(str, spec), workers=workers, retries=retries), True
        return DaskExecutor(cast("DaskClient", spec), workers=workers, retries=retries), True
    if kind == "unknown":
        raise ConfigError(
            f"executor must be {_listed()}, a scheduler "
            f"address 'tcp://host:port', a distributed.Client or an executor object, "
            f"got {spec!r}"
        )
    if isinstance(spec, Executor):
        return spec, False
    if all(hasattr(spec, a) for a in ("start", "map", "close")):
        return cast(Executor, _Completed(spec)), False
    raise ConfigError(
        f"executor {type(spec).__name__} lacks start/map/close (see genepool.evaluation.Executor)"
    )


def _listed() -> str:
    return ", ".join(repr(n) for n in _FACTORIES)


class _Completed:
    """An executor object with only ``start``/``map``/``close`` (and ``name``, ``workers``,
    ``min_seconds``), given the defaults of the other members of :class:`Executor`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def workers(self) -> int:
        return int(self.inner.workers)

    @property
    def min_seconds(self) -> float:
        return float(self.inner.min_seconds)

    @property
    def task_overhead(self) -> float | None:
        return getattr(self.inner, "task_overhead", None)

    @property
    def worker_room(self) -> int | None:
        return getattr(self.inner, "worker_room", None)

    @property
    def started(self) -> bool:
        return bool(getattr(self.inner, "started", True))

    def start(self, problem: Problem, budget: int | None = None) -> None:
        self.inner.start(problem, budget=budget)

    def map(
        self,
        fn: Callable[[Problem, np.ndarray], T],
        chunks: Iterable[np.ndarray],
        retries: int | None = None,
    ) -> Iterator[T | WorkerLost]:
        if retries is None:  # as the evaluator called it before: retries only when set
            return iter(self.inner.map(fn, chunks))
        return iter(self.inner.map(fn, chunks, retries=retries))

    def stats(self) -> dict[str, object]:
        stats = getattr(self.inner, "stats", None)
        return dict(stats()) if callable(stats) else {"executor": self.inner.name}

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> _Completed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _processes(*, workers: int | None, retries: int, max_tasks_per_child: int | None) -> Executor:
    return ProcessExecutor(workers, retries=retries, max_tasks_per_child=max_tasks_per_child)


def _dask(*, workers: int | None, retries: int, max_tasks_per_child: int | None) -> Executor:
    from ._dask import DaskExecutor

    return DaskExecutor(address=None, workers=workers, retries=retries)


register_executor("serial", lambda **options: SerialExecutor())
register_executor("processes", _processes)
register_executor("dask", _dask)
