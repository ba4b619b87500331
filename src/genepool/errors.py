"""Exceptions raised by genepool.

Every error a user can cause is a subclass of :class:`GenepoolError` and names the field and the
value that was wrong, so a message alone is enough to fix the call.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "FitnessError",
    "GenepoolError",
    "MemoryBudgetExceeded",
    "MemoryLeakWarning",
    "OptimizerError",
    "SpaceError",
    "WriteError",
]


class GenepoolError(Exception):
    """Base class of every genepool error.

    Attributes
    ----------
    cli_message : str or None
        The same message in the command line's terms (``--memory-limit`` rather than
        ``memory_limit=``), where they differ; ``genepool.cli`` prints it instead of ``str()``.
    """

    cli_message: str | None = None


class ConfigError(GenepoolError, ValueError):
    """A parameter of a genepool call has an invalid value."""


class SpaceError(ConfigError):
    """A gene or a search space is ill-defined, or an array does not fit the space."""


class DataError(GenepoolError, ValueError):
    """Market (or other input) data is unreadable or invalid; the message names the problem
    and, where there is one, the row."""


class OptimizerError(GenepoolError, RuntimeError):
    """An optimizer was driven out of order (``tell`` without ``ask``, wrong shapes, ...)."""


class FitnessError(GenepoolError):
    """A fitness function raised, or returned NaN/inf/a wrongly shaped result.

    Attributes
    ----------
    index : int or None
        Row of the offending individual in the evaluated population (None when the failure could
        not be pinned to one individual).
    params : dict or None
        Decoded parameters of that individual.
    generation : int or None
        Generation in which it happened.
    """

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        params: dict[str, Any] | None = None,
        generation: int | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.params = params
        self.generation = generation


class MemoryBudgetExceeded(GenepoolError, MemoryError):
    """The memory budget was exceeded with nothing left to shrink.

    Attributes
    ----------
    rss, limit : int
        Resident memory and the budget, in bytes.
    usage : dict
        What genepool itself held, by part (population, cache, history), in bytes.
    """

    def __init__(self, message: str, *, rss: int, limit: int, usage: dict[str, int]) -> None:
        super().__init__(message)
        self.rss, self.limit, self.usage = rss, limit, usage


class CheckpointError(GenepoolError):
    """A checkpoint cannot be read (missing, truncated, corrupted) or does not match the run."""


class WriteError(GenepoolError, OSError):
    """A file could not be written (disk full, quota, read-only or vanished directory).

    Writers make files through a temporary name and an atomic rename, so the file named here
    was left as it was before (or absent) and no half-written file remains; a run's previous
    checkpoint is intact.

    Attributes
    ----------
    path : str
        The file that could not be written.
    errno : int or None
        The operating system's error number (``errno.ENOSPC`` for a full disk).
    """

    def __init__(self, path: str | os.PathLike[str], cause: OSError) -> None:
        # pyarrow's errors carry the errno but a long text: the system's words are clearer
        reason = os.strerror(cause.errno) if cause.errno else str(cause)
        super().__init__(cause.errno, f"cannot write {path}: {reason}")
        self.path = str(path)
        self.cause = cause

    def __str__(self) -> str:
        return self.args[1]


class MemoryLeakWarning(ResourceWarning):
    """Memory not held by genepool grows steadily from generation to generation."""


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise :class:`ConfigError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    ivalue = int(value)
    if minimum is not None and ivalue < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")
    return ivalue


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite ``float`` in the given range or raise :class:`ConfigError`."""
    try:
        fvalue = float(value)  # type: ignore[arg-type]  # not a number: TypeError, below
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or fvalue != fvalue or fvalue in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (fvalue < low or (not low_inclusive and fvalue == low)):
        op = ">=" if low_inclusive else ">"
        raise ConfigError(f"{name} must be {op} {low}, got {value!r}")
    if high is not None and (fvalue > high or (not high_inclusive and fvalue == high)):
        op = "<=" if high_inclusive else "<"
        raise ConfigError(f"{name} must be {op} {high}, got {value!r}")
    return fvalue
