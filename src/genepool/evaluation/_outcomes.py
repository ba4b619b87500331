"""The error policy: a chunk's :class:`~genepool.evaluation._task.Outcome` into values,
penalties or errors.

The same for every executor: values are checked (shape, NaN/inf) and placed by position, a
fitness that raised becomes a :class:`~genepool.errors.FitnessError` naming the individual (with
the worker's traceback text when it raised in a worker) or a penalty (``on_error="penalize"``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, FitnessError
from ..space import Space
from ._task import Failure, NotNumeric, Outcome

__all__ = ["ErrorPolicy", "OnError", "Placed", "check_on_error", "check_penalty"]

#: What a failing individual does: raise a FitnessError, or get the penalty.
OnError = Literal["raise", "penalize"]


def check_on_error(on_error: object) -> OnError:
    """``on_error`` validated: ``"raise"`` or ``"penalize"`` (a ConfigError naming it else)."""
    if on_error not in ("raise", "penalize"):
        raise ConfigError(f"on_error must be 'raise' or 'penalize', got {on_error!r}")
    return on_error


def check_penalty(penalty: float | None) -> float | None:
    """``penalty`` as a float (None stays None: the default, the worst value); NaN raises."""
    if penalty is None:
        return None
    value = float(penalty)
    if np.isnan(value):
        raise ConfigError("penalty must not be NaN")
    return value


class Placed:
    """Values of the rows being evaluated, placed by position as chunks come back."""

    def __init__(self, n: int, penalty: float) -> None:
        self.n, self.penalty = n, penalty
        self.out: np.ndarray | None = None
        self.bad = np.zeros(n, dtype=bool)

    def put(self, start: int, stop: int, y: np.ndarray | None, bad: np.ndarray) -> None:
        """Place a chunk's values (None: all penalized, in whatever shape the others have)."""
        self.bad[start:stop] = bad
        if y is None:
            if self.out is not None:
                self.out[start:stop] = self.penalty
            return
        if self.out is None:
            self.out = np.full((self.n, *y.shape[1:]), self.penalty)
        elif y.shape[1:] != self.out.shape[1:]:
            raise FitnessError(
                f"fitness returned {y.shape[1:] or 1} objective(s) in one "
                f"chunk and {self.out.shape[1:] or 1} in another"
            )
        self.out[start:stop] = y

    def values(self) -> np.ndarray:
        if self.out is None:
            return np.full(self.n, self.penalty) if self.n else np.empty(0, dtype=np.float64)
        return self.out


class ErrorPolicy:
    """The evaluator's error policy, and the errors it has counted.

    Parameters
    ----------
    space : Space
        Decodes the individual named in an error.
    on_error : {"raise", "penalize"}
        Raise a :class:`~genepool.errors.FitnessError`, or give failing individuals
        ``penalty`` and count them.
    penalty : float, optional
        Fitness of a penalized individual (default ``+inf``).
    """

    def __init__(self, space: Space, on_error: str, penalty: float | None = None) -> None:
        self.on_error = check_on_error(on_error)
        checked = check_penalty(penalty)
        self.penalty = np.inf if checked is None else checked
        self.space = space
        #: The generation being evaluated (named in messages).
        self.generation = 0
        #: Individuals penalized so far, and the message about the first.
        self.n_errors = 0
        self.first_error: str | None = None

    def worker_lost(self, X: np.ndarray, i: int, attempts: int, detail: str) -> None:
        """Individual ``i`` (row of ``X``) killed its worker every time: raise or count it."""
        params = self.space.decode_row(X[i])
        msg = (
            f"a worker process died evaluating individual {i}{self._where()} with params "
            f"{params} ({attempts} attempt(s); {detail})"
        )
        if self.on_error == "raise":
            raise FitnessError(msg, index=i, params=params, generation=self.generation)
        self._record_error(1, msg)

    def absorb(
        self, outcome: Outcome, X: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Values and penalized mask of a chunk (rows ``rows`` of ``X``) from its outcome."""
        error = outcome.raised()
        if error is not None:
            raise error
        failures = outcome.failures
        if failures and self.on_error == "raise":
            raise self._raised_error(failures[0], X, rows) from failures[0].exc
        n = rows.shape[0]
        pieces = [(lo, hi, self._as_fitness(raw, hi - lo)) for lo, hi, raw in outcome.pieces]
        shape = pieces[0][2].shape[1:] if pieces else ()
        for _, _, yp in pieces:
            if yp.shape[1:] != shape:
                raise FitnessError(
                    f"fitness returned {shape or 1} objective(s) for some rows and "
                    f"{yp.shape[1:] or 1} for others{self._where()}",
                    generation=self.generation,
                )
        y = np.full((n, *shape), self.penalty)
        bad = np.zeros(n, dtype=bool)
        events: list[tuple[int, Any]] = [(lo, (lo, hi, yp)) for lo, hi, yp in pieces]
        events += [(int(f.local or 0), f) for f in failures]
        for _, item in sorted(events, key=lambda e: e[0]):  # errors recorded in row order
            if isinstance(item, Failure):
                i = int(item.local or 0)
                self._record_error(
                    1,
                    f"fitness raised {item.kind}: {item.message}{self._where()} for "
                    f"individual {int(rows[i])}",
                )
                bad[i] = True
                continue
            lo, hi, yp = item
            y[lo:hi], bad[lo:hi] = self._check_finite(yp, X, rows[lo:hi])
        return y, bad

    def _raised_error(self, f: Failure, X: np.ndarray, rows: np.ndarray) -> FitnessError:
        """The error for a fitness that raised, naming the individual when it was located.

        Raised in this process, the original exception is chained (``raise ... from``); raised
        in a worker, its traceback text is part of the message.
        """
        tb = (
            ""
            if f.exc is not None
            else f"\n\nTraceback in worker process {f.pid}:\n{f.traceback.rstrip()}"
        )
        if f.local is not None:
            params = self.space.decode_row(X[rows[f.local]])
            return FitnessError(
                f"fitness raised {f.kind}: {f.message}{self._where()} for individual "
                f"{int(rows[f.local])} with params {params}{tb}",
                index=int(rows[f.local]),
                params=params,
                generation=self.generation,
            )
        return FitnessError(
            f"fitness raised {f.kind}: {f.message}{self._where()} (the batch of "
            f"{rows.shape[0]} fails as a whole){tb}",
            generation=self.generation,
        )

    def _check_finite(
        self, y: np.ndarray, X: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raise on NaN/inf (naming the individual), or penalize those rows; returns the mask.

        ``rows`` are the rows of ``X`` (population indices) that ``y`` belongs to.
        """
        bad = ~np.isfinite(y) if y.ndim == 1 else ~np.isfinite(y).all(axis=1)
        if not bad.any():
            return y, bad
        i = int(np.argmax(bad))
        what = f"fitness returned {y[i]} for individual {int(rows[i])}{self._where()}"
        if self.on_error == "raise":
            params = self.space.decode_row(X[rows[i]])
            raise FitnessError(
                f"{what} with params {params}",
                index=int(rows[i]),
                params=params,
                generation=self.generation,
            )
        self._record_error(int(bad.sum()), what)
        y = y.copy()
        y[bad] = self.penalty
        return y, bad

    def _as_fitness(self, raw: Any, n: int) -> np.ndarray:
        """A float64 array of shape (n,) or (n, m) from what the fitness returned."""
        if isinstance(raw, NotNumeric):
            raise FitnessError(
                f"fitness returned {raw.type_name} that is not numeric{self._where()}: "
                f"{raw.message}",
                generation=self.generation,
            )
        y = np.asarray(raw, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim not in (1, 2) or y.shape[0] != n or (y.ndim == 2 and y.shape[1] == 0):
            raise FitnessError(
                f"fitness returned shape {y.shape}{self._where()}, expected "
                f"({n},) or ({n}, n_objectives)",
                generation=self.generation,
            )
        return y

    def _where(self) -> str:
        return f" in generation {self.generation}"

    def _record_error(self, count: int, message: str) -> None:
        self.n_errors += count
        if self.first_error is None:
            self.first_error = message
