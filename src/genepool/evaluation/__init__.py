"""Evaluation: memory-aware chunking, the exact fitness cache, error policy, executors."""

from .cache import FitnessCache
from .evaluator import ChunkPlan, Evaluator
from .executors import Executor, ProcessExecutor, SerialExecutor

__all__ = [
    "ChunkPlan",
    "DaskExecutor",
    "Evaluator",
    "Executor",
    "FitnessCache",
    "ProcessExecutor",
    "SerialExecutor",
]


def __getattr__(name: str):  # DaskExecutor without importing dask with genepool
    if name == "DaskExecutor":
        from ._dask import DaskExecutor

        return DaskExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
