"""``minimize`` / ``maximize``: the run loop around an optimizer.

``ask -> evaluate -> validate -> tell -> record -> callbacks -> terminators``. The loop draws no
random numbers: everything random comes from the optimizer's seeded stream, so a seed fixes
the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._progress import ProgressReporter, choose_mode
from .algorithms.base import Optimizer
from .errors import ConfigError, FitnessError, GenepoolError, check_float, check_int
from .problem import Problem, as_problem
from .space import Space

__all__ = ["Generation", "Result", "maximize", "minimize"]

DIVERSITY_SAMPLE = 4096
HISTORY_COLUMNS = (
    "generation",
    "best",
    "generation_best",
    "mean",
    "std",
    "diversity",
    "evaluations",
    "wall_time",
)


@dataclass
class Generation:
    """What a callback sees after each generation (fitness in the user's sign)."""

    generation: int
    n_evaluations: int
    X: np.ndarray
    fitness: np.ndarray
    best_x: np.ndarray
    best_fitness: float
    elapsed: float
    optimizer: Optimizer


@dataclass
class Result:
    """Outcome of :func:`minimize` / :func:`maximize`.

    Attributes
    ----------
    best_x : ndarray of shape (d,)
        Encoded genes of the best individual evaluated during the run.
    best_params : dict
        Its decoded parameters ``{gene name: value}``.
    best_fitness : float
        Its fitness (in the user's sign: the maximum for ``maximize``).
    n_evaluations, n_generations : int
        Fitness evaluations and generations performed.
    stop_reason : str
        Why the run stopped, e.g. ``"generations: reached 50"``.
    elapsed : float
        Wall-clock seconds.
    history : pandas.DataFrame
        One row per generation: ``generation``, ``best`` (best so far), ``generation_best``,
        ``mean``, ``std`` (of the generation's fitness), ``diversity`` (mean per-gene standard
        deviation relative to the gene's range, estimated on up to 4,096 evenly spaced rows),
        ``evaluations`` (cumulative), ``wall_time`` (seconds since start).
    """

    best_x: np.ndarray
    best_params: dict[str, Any]
    best_fitness: float
    n_evaluations: int
    n_generations: int
    stop_reason: str
    elapsed: float
    history: pd.DataFrame = field(repr=False)

    def __repr__(self) -> str:
        params = self.best_params
        if len(params) > 8:
            shown = ", ".join(f"{k!r}: {v!r}" for k, v in list(params.items())[:8])
            params_repr = f"{{{shown}, ... ({len(params)} genes)}}"
        else:
            params_repr = repr(params)
        return (
            f"Result(best_fitness={self.best_fitness:.6g}, best_params={params_repr}, "
            f"n_generations={self.n_generations}, n_evaluations={self.n_evaluations}, "
            f"stop_reason={self.stop_reason!r}, elapsed={self.elapsed:.3g}s)"
        )


def minimize(
    problem: Problem | Callable[[np.ndarray], Any],
    optimizer: Optimizer,
    *,
    generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    time_limit: float | None = None,
    stagnation: int | None = None,
    callbacks: Iterable[Callable[[Generation], Any]] = (),
    progress: bool | str | ProgressReporter = True,
) -> Result:
    """Minimize ``problem`` with ``optimizer``.

    Parameters
    ----------
    problem : Problem or callable
        An object with ``.evaluate(X) -> y``, a vectorized callable ``f(X) -> y`` (``X`` of shape
        ``(n, d)`` in the optimizer's space, ``y`` of shape ``(n,)``), or
        ``genepool.elementwise(f)``.
    optimizer : Optimizer
        E.g. ``genepool.GA(space, population_size=1000, seed=0)``; it is advanced in place.
    generations : int, optional
        Stop after this many generations. When none of ``generations``, ``max_evaluations`` and
        ``time_limit`` is given, 100 generations are run (a run must always end).
    max_evaluations : int, optional
        Stop once this many evaluations are done (checked after each generation, so the last
        generation may overshoot by less than a population).
    target : float, optional
        Stop once the best fitness is <= target (>= for ``maximize``).
    time_limit : float, optional
        Stop after the first generation that ends past this many seconds.
    stagnation : int, optional
        Stop after this many generations without improvement of the best fitness.
    callbacks : iterable of callables
        Called with a :class:`Generation` after each generation; returning ``True`` stops.
    progress : bool, {"bar", "lines"} or ProgressReporter
        ``True``: a rich progress bar on a terminal, plain lines (at most every 2 s) on stderr
        otherwise; ``False``: silent.

    Returns
    -------
    Result

    Raises
    ------
    FitnessError
        When the fitness raises or returns NaN/inf or a wrongly shaped array; the error names
        the generation, the individual's index and its decoded parameters.

    Examples
    --------
    >>> import genepool as gp
    >>> space = gp.Space.box(-5.12, 5.12, 5)
    >>> res = gp.minimize(gp.problems.rastrigin, gp.GA(space, 200, seed=0), generations=40,
    ...                   progress=False)
    >>> res.n_generations, res.n_evaluations
    (40, 7960)
    >>> bool(res.best_fitness < 3.0)
    True
    """
    return _run(
        problem,
        optimizer,
        sign=1.0,
        generations=generations,
        max_evaluations=max_evaluations,
        target=target,
        time_limit=time_limit,
        stagnation=stagnation,
        callbacks=callbacks,
        progress=progress,
    )


def maximize(
    problem: Problem | Callable[[np.ndarray], Any],
    optimizer: Optimizer,
    *,
    generations: int | None = None,
    max_evaluations: int | None = None,
    target: float | None = None,
    time_limit: float | None = None,
    stagnation: int | None = None,
    callbacks: Iterable[Callable[[Generation], Any]] = (),
    progress: bool | str | ProgressReporter = True,
) -> Result:
    """Maximize ``problem`` with ``optimizer``; same parameters as :func:`minimize`.

    The optimizer minimizes the negated fitness; results and history are in the user's sign.
    """
    return _run(
        problem,
        optimizer,
        sign=-1.0,
        generations=generations,
        max_evaluations=max_evaluations,
        target=target,
        time_limit=time_limit,
        stagnation=stagnation,
        callbacks=callbacks,
        progress=progress,
    )


@dataclass
class _Terminators:
    generations: int | None
    max_evaluations: int | None
    target: float | None
    time_limit: float | None
    stagnation: int | None

    @classmethod
    def build(
        cls, generations: Any, max_evaluations: Any, target: Any, time_limit: Any, stagnation: Any
    ) -> _Terminators:
        if generations is None and max_evaluations is None and time_limit is None:
            generations = 100
        return cls(
            generations=None
            if generations is None
            else check_int("generations", generations, minimum=1),
            max_evaluations=None
            if max_evaluations is None
            else check_int("max_evaluations", max_evaluations, minimum=1),
            target=None if target is None else check_float("target", target),
            time_limit=None
            if time_limit is None
            else check_float("time_limit", time_limit, low=0.0, low_inclusive=False),
            stagnation=None
            if stagnation is None
            else check_int("stagnation", stagnation, minimum=1),
        )

    def check(
        self,
        gen: int,
        n_eval: int,
        best: float,
        sign: float,
        elapsed: float,
        since_improvement: int,
    ) -> str | None:
        user_best = sign * best
        if self.target is not None and best <= sign * self.target:
            op = "<=" if sign > 0 else ">="
            return f"target: best {user_best:.6g} {op} {self.target:.6g}"
        if self.generations is not None and gen >= self.generations:
            return f"generations: reached {self.generations}"
        if self.max_evaluations is not None and n_eval >= self.max_evaluations:
            return f"max_evaluations: {n_eval} >= {self.max_evaluations}"
        if self.time_limit is not None and elapsed >= self.time_limit:
            return f"time_limit: {elapsed:.3g}s >= {self.time_limit:.3g}s"
        if self.stagnation is not None and since_improvement >= self.stagnation:
            return f"stagnation: no improvement in {since_improvement} generations"
        return None


class _HistoryRecorder:
    """Per-generation statistics in preallocated, geometrically grown column arrays."""

    def __init__(self, space: Space) -> None:
        self._span = space.upper - space.lower
        self._n = 0
        self._cols = {c: np.empty(64) for c in HISTORY_COLUMNS}

    def add(
        self, gen: int, best: float, fitness: np.ndarray, X: np.ndarray, n_eval: int, wall: float
    ) -> None:
        if self._n == len(self._cols["generation"]):
            for c, arr in self._cols.items():
                self._cols[c] = np.concatenate([arr, np.empty_like(arr)])
        step = max(1, -(-X.shape[0] // DIVERSITY_SAMPLE))
        sample = X[::step]
        row = (
            gen,
            best,
            fitness.min(),
            fitness.mean(),
            fitness.std(),
            float(np.mean(sample.std(axis=0) / self._span)),
            n_eval,
            wall,
        )
        for c, v in zip(HISTORY_COLUMNS, row):
            self._cols[c][self._n] = v
        self._n += 1

    def frame(self, sign: float) -> pd.DataFrame:
        df = pd.DataFrame({c: arr[: self._n].copy() for c, arr in self._cols.items()})
        for c in ("best", "generation_best", "mean"):  # back to the user's sign
            df[c] *= sign
        df["generation"] = df["generation"].astype(np.int64)
        df["evaluations"] = df["evaluations"].astype(np.int64)
        return df


def _run(
    problem: Any,
    optimizer: Optimizer,
    *,
    sign: float,
    generations: Any,
    max_evaluations: Any,
    target: Any,
    time_limit: Any,
    stagnation: Any,
    callbacks: Iterable[Callable[[Generation], Any]],
    progress: Any,
) -> Result:
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(
            f"optimizer must be a genepool optimizer (GA, ...), got {type(optimizer).__name__}"
        )
    space = optimizer.space
    prob = as_problem(problem, space)
    terms = _Terminators.build(generations, max_evaluations, target, time_limit, stagnation)
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not callable(cb):
            raise ConfigError(f"callbacks[{i}] must be callable, got {cb!r}")
    if isinstance(progress, ProgressReporter):
        reporter = progress
    else:
        try:
            reporter = ProgressReporter(choose_mode(progress))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    history = _HistoryRecorder(space)

    reporter.start(terms.generations)
    start = time.perf_counter()
    best_x: np.ndarray | None = None
    best = np.inf  # minimized scale
    gen = n_eval = since_improvement = 0
    reason = None
    try:
        while reason is None:
            X = optimizer.ask()
            y = evaluate_checked(prob, X, space, generation=gen)
            if y.ndim == 2 and not optimizer.multi_objective:
                raise ConfigError(
                    f"fitness has {y.shape[1]} objectives but "
                    f"{type(optimizer).__name__} is single-objective"
                )
            f = y if sign > 0 else -y
            optimizer.tell(X, f)
            gen += 1
            n_eval += X.shape[0]
            i = int(np.argmin(f))
            if f[i] < best:
                best, best_x = float(f[i]), np.array(X[i], dtype=np.float64)
                since_improvement = 0
            else:
                since_improvement += 1
            elapsed = time.perf_counter() - start
            history.add(gen, best, f, X, n_eval, elapsed)
            reporter.update(gen, sign * best, float(y.mean()), n_eval, n_eval / max(elapsed, 1e-9))
            info = None
            for cb in callbacks:
                info = info or Generation(
                    gen, n_eval, X, y, best_x, sign * best, elapsed, optimizer
                )
                if cb(info) is True:
                    reason = f"callback: {getattr(cb, '__name__', 'callback')} asked to stop"
            reason = reason or terms.check(gen, n_eval, best, sign, elapsed, since_improvement)
            if reason is None:
                wants = optimizer.stop()
                if wants:
                    reason = "; ".join(f"{k}: {v}" for k, v in wants.items())
    finally:
        reporter.close()
    assert best_x is not None
    return Result(
        best_x=best_x,
        best_params=space.decode_row(best_x),
        best_fitness=sign * best,
        n_evaluations=n_eval,
        n_generations=gen,
        stop_reason=reason,
        elapsed=time.perf_counter() - start,
        history=history.frame(sign),
    )


def evaluate_checked(
    problem: Problem, X: np.ndarray, space: Space, generation: int | None = None
) -> np.ndarray:
    """``problem.evaluate(X)`` as float64 of shape ``(n,)`` or ``(n, m)``, or a FitnessError.

    A raising vectorized fitness is bisected (O(log n) extra calls, on the error path only) to
    name the first individual that makes it raise.
    """
    n = X.shape[0]
    where = "" if generation is None else f" in generation {generation}"
    try:
        raw = problem.evaluate(X)
    except GenepoolError:
        raise
    except Exception as exc:
        idx = _locate_failure(problem, X)
        if idx is None:
            raise FitnessError(
                f"fitness raised {type(exc).__name__}: {exc}{where} (the batch "
                f"of {n} fails as a whole)",
                generation=generation,
            ) from exc
        params = space.decode_row(X[idx])
        raise FitnessError(
            f"fitness raised {type(exc).__name__}: {exc}{where} for individual "
            f"{idx} with params {params}",
            index=idx,
            params=params,
            generation=generation,
        ) from exc
    try:
        y = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FitnessError(
            f"fitness returned {type(raw).__name__} that is not numeric{where}: {exc}",
            generation=generation,
        ) from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != n or (y.ndim == 2 and y.shape[1] == 0):
        raise FitnessError(
            f"fitness returned shape {y.shape}{where}, expected ({n},) or ({n}, n_objectives)",
            generation=generation,
        )
    bad = ~np.isfinite(y) if y.ndim == 1 else ~np.isfinite(y).all(axis=1)
    if bad.any():
        idx = int(np.argmax(bad))
        params = space.decode_row(X[idx])
        raise FitnessError(
            f"fitness returned {y[idx]} for individual {idx}{where} with params {params}",
            index=idx,
            params=params,
            generation=generation,
        )
    return y


def _locate_failure(problem: Problem, X: np.ndarray) -> int | None:
    lo, hi = 0, X.shape[0]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _raises(problem, X[lo:mid]):
            hi = mid
        elif _raises(problem, X[mid:hi]):
            lo = mid
        else:
            return None
    return lo if hi - lo == 1 and _raises(problem, X[lo:hi]) else None


def _raises(problem: Problem, X: np.ndarray) -> bool:
    try:
        problem.evaluate(X)
    except Exception:
        return True
    return False
