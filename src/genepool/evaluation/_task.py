"""What runs on one chunk, in this process or in a worker: evaluate, and on failure find the rows.

:func:`run_chunk` is the only code that calls ``problem.evaluate`` for the evaluator, whatever
the executor, so serial and parallel runs make the same calls on the same chunks. It never
raises for a failing fitness: it returns an :class:`Outcome` (plain data, picklable) that the
evaluator in the parent turns into values, penalties or a :class:`~genepool.errors.FitnessError`.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GenepoolError

__all__ = ["Failure", "NotNumeric", "Outcome", "WorkerLost", "locate", "run_chunk"]


@dataclass
class NotNumeric:
    """A fitness result that ``np.asarray(..., dtype=float64)`` refused."""

    type_name: str
    message: str


@dataclass
class Failure:
    """The fitness raised on a chunk (``local is None``) or on its row ``local``."""

    local: int | None
    kind: str
    message: str
    traceback: str
    pid: int
    exc: BaseException | None = None  # the exception itself, only in the process that raised

    def __getstate__(self) -> dict[str, Any]:
        # User exceptions need not pickle: a worker sends their type, text and traceback.
        return {**self.__dict__, "exc": None}


@dataclass
class _ErrorRecord:
    """A :class:`GenepoolError` raised by the fitness, carried across processes."""

    module: str
    qualname: str
    message: str
    state: dict[str, Any]
    traceback: str

    def rebuild(self) -> BaseException:
        import importlib

        try:
            cls: Any = importlib.import_module(self.module)
            for part in self.qualname.split("."):
                cls = getattr(cls, part)
            exc = cls.__new__(cls)
            exc.args = (self.message,)
            exc.__dict__.update(self.state)
        except Exception:  # pragma: no cover - a class the parent cannot import
            exc = GenepoolError(self.message)
        return exc


@dataclass
class Outcome:
    """Result of :func:`run_chunk` on a chunk of ``n`` rows.

    ``pieces`` are ``(lo, hi, values)`` for the row ranges whose evaluation returned (values
    are float64 arrays, or :class:`NotNumeric`), in row order; ``failures`` the rows (or the
    whole chunk) whose evaluation raised; ``error`` a genepool error raised by the fitness,
    which is re-raised as is.
    """

    pieces: list[tuple[int, int, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    error: Any = None
    seconds: float = 0.0
    peak: int = 0  # worker's peak anonymous memory above the chunk's start (0: not measured)
    pid: int = 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if isinstance(self.error, BaseException):
            e = self.error
            state["error"] = _ErrorRecord(
                type(e).__module__,
                type(e).__qualname__,
                str(e),
                {k: v for k, v in e.__dict__.items() if not k.startswith("__")},
                "".join(traceback.format_exception(type(e), e, e.__traceback__)),
            )
        return state

    def raised(self) -> BaseException | None:
        """The genepool error to re-raise, if the fitness raised one."""
        if isinstance(self.error, _ErrorRecord):
            return self.error.rebuild()
        return self.error


@dataclass
class WorkerLost:
    """What an executor yields for a chunk whose worker died more than ``retries`` times."""

    attempts: int
    detail: str


def _numeric(raw: Any) -> Any:
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return NotNumeric(type(raw).__name__, str(exc))


def _failure(local: int | None, exc: BaseException) -> Failure:
    return Failure(
        local,
        type(exc).__name__,
        str(exc),
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        os.getpid(),
        exc,
    )


def _raises(evaluate: Callable[[np.ndarray], Any], X: np.ndarray) -> bool:
    try:
        evaluate(X)
    except Exception:
        return True
    return False


def locate(evaluate: Callable[[np.ndarray], Any], X: np.ndarray) -> int | None:
    """Row of ``X`` that makes ``evaluate`` raise, by bisection (O(log n) calls); None when
    no single row does (the batch fails only as a whole, or the fitness is flaky)."""
    lo, hi = 0, X.shape[0]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _raises(evaluate, X[lo:mid]):
            hi = mid
        elif _raises(evaluate, X[mid:hi]):
            lo = mid
        else:
            break
    if hi - lo == 1 and _raises(evaluate, X[lo:hi]):
        return lo
    return None


def _split(
    evaluate: Callable[[np.ndarray], Any],
    X: np.ndarray,
    lo: int,
    hi: int,
    out: Outcome,
    failure: Failure,
) -> None:
    """Rows ``[lo, hi)`` raised as a whole: evaluate halves, down to the single failing rows."""
    if hi - lo == 1:
        failure.local = lo
        out.failures.append(failure)
        return
    mid = (lo + hi) // 2
    for a, b in ((lo, mid), (mid, hi)):
        try:
            out.pieces.append((a, b, _numeric(evaluate(X[a:b]))))
        except GenepoolError:
            raise
        except Exception as exc:
            _split(evaluate, X, a, b, out, _failure(a, exc))


def run_chunk(problem: Any, X: np.ndarray, mode: str = "raise") -> Outcome:
    """Evaluate ``X`` (one chunk) with ``problem``.

    When the fitness raises: with ``mode="raise"`` the failing row is located by bisection
    (the message and traceback are those of the call on the whole chunk); with
    ``mode="penalize"`` the chunk is halved recursively so that exactly the failing rows are
    reported and every other row gets its value.
    """
    t0 = time.perf_counter()
    out = Outcome(pid=os.getpid())
    evaluate = problem.evaluate
    n = X.shape[0]
    try:
        try:
            out.pieces.append((0, n, _numeric(evaluate(X))))
        except GenepoolError:
            raise
        except Exception as exc:
            first = _failure(None, exc)
            if mode == "raise":
                first.local = locate(evaluate, X)
                out.failures.append(first)
            else:
                _split(evaluate, X, 0, n, out, first)
    except GenepoolError as exc:
        out.error = exc
    out.seconds = time.perf_counter() - t0
    return out


def ping(problem: Any, X: np.ndarray) -> np.ndarray:
    """A task that does no work (measures the per-task overhead of an executor)."""
    return np.zeros(X.shape[0])
