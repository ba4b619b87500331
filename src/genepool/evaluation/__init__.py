"""Evaluation: memory-aware chunking, the exact fitness cache, error policy, executors.

The parts: :mod:`.evaluator` (one generation: cache, then chunks), :mod:`.chunking` (chunk
sizes from the budget), :mod:`._outcomes` (the error policy), :mod:`._local` (chunks in this
process), :mod:`._dispatch` (what goes to an executor), :mod:`.executors` (the contract and
the local executors), :mod:`.registry` (executor names and the parser of executor specs).
"""

from .cache import FitnessCache
from .evaluator import ChunkPlan, Evaluator
from .executors import Executor, ExecutorBase, ProcessExecutor, SerialExecutor
from .registry import parse_executor, register_executor

__all__ = [
    "ChunkPlan",
    "DaskExecutor",
    "Evaluator",
    "Executor",
    "ExecutorBase",
    "FitnessCache",
    "ProcessExecutor",
    "SerialExecutor",
    "parse_executor",
    "register_executor",
]


def __getattr__(name: str):  # DaskExecutor without importing dask with genepool
    if name == "DaskExecutor":
        from ._dask import DaskExecutor

        return DaskExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
