"""Survivor selection: build the next population from parents and offspring.

Every function returns ``(X, fitness)`` of the new population sorted best first (stable, so ties
keep parents before offspring and lower indices first). Fitness is minimized; NaN is worst.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, check_int
from ._common import minimized
from ._nb import take_rows2

__all__ = ["generational", "mu_comma_lambda", "mu_plus_lambda"]


def _take(parents: np.ndarray, offspring: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``concatenate([parents, offspring])`` without building the concatenation."""
    out = np.empty((idx.shape[0], parents.shape[1]), dtype=parents.dtype)
    off = np.ascontiguousarray(offspring, dtype=parents.dtype)
    return take_rows2(np.ascontiguousarray(parents), off, idx.astype(np.int64), out)


def _best_first(f: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(f, kind="stable")[:k]`` in O(n + k log k): partition, then sort the k."""
    n = f.shape[0]
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k >= n:
        return np.argsort(f, kind="stable")
    v = np.partition(f, k - 1)[k - 1]
    less = np.flatnonzero(f < v)
    ties = np.flatnonzero(f == v)[: k - less.shape[0]]  # lowest indices among the ties
    idx = np.concatenate([less, ties])
    return idx[np.argsort(f[idx], kind="stable")]


def _check(
    parents: np.ndarray,
    parent_fitness: np.ndarray,
    offspring: np.ndarray,
    offspring_fitness: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    pf, of = minimized(parent_fitness), minimized(offspring_fitness)
    if parents.ndim != 2 or offspring.ndim != 2 or parents.shape[1] != offspring.shape[1]:
        raise ConfigError(
            f"parents and offspring must be (n, d) arrays with the same d, got "
            f"{parents.shape} and {offspring.shape}"
        )
    if pf.shape[0] != parents.shape[0] or of.shape[0] != offspring.shape[0]:
        raise ConfigError("fitness arrays must have one value per individual")
    return pf, of


def mu_plus_lambda(
    parents: np.ndarray,
    parent_fitness: np.ndarray,
    offspring: np.ndarray,
    offspring_fitness: np.ndarray,
    mu: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mu + lambda): the best ``mu`` (default: number of parents) of parents and offspring."""
    pf, of = _check(parents, parent_fitness, offspring, offspring_fitness)
    mu = parents.shape[0] if mu is None else check_int("mu", mu)
    if not 1 <= mu <= parents.shape[0] + offspring.shape[0]:
        raise ConfigError(
            f"mu must be within [1, {parents.shape[0] + offspring.shape[0]}], got {mu}"
        )
    f = np.concatenate(
        [np.asarray(parent_fitness, np.float64), np.asarray(offspring_fitness, np.float64)]
    )
    idx = _best_first(np.concatenate([pf, of]), mu)
    return _take(parents, offspring, idx), f[idx]


def mu_comma_lambda(
    offspring: np.ndarray, offspring_fitness: np.ndarray, mu: int
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, lambda): the best ``mu`` offspring; parents never survive (needs lambda >= mu)."""
    of = minimized(offspring_fitness)
    if offspring.ndim != 2 or of.shape[0] != offspring.shape[0]:
        raise ConfigError(
            f"offspring must be an (n, d) array with one fitness value per row, got "
            f"{offspring.shape} and {of.shape[0]} fitness values"
        )
    mu = check_int("mu", mu)
    if not 1 <= mu <= offspring.shape[0]:
        raise ConfigError(f"mu must be within [1, {offspring.shape[0]}] (lambda >= mu), got {mu}")
    idx = _best_first(of, mu)
    return np.take(offspring, idx, axis=0), np.asarray(offspring_fitness, np.float64)[idx]


def generational(
    parents: np.ndarray,
    parent_fitness: np.ndarray,
    offspring: np.ndarray,
    offspring_fitness: np.ndarray,
    elitism: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Generational replacement with elitism.

    The best ``elitism`` parents survive; the other ``n - elitism`` places go to the offspring
    (the best of them when there are more). Needs at least ``n - elitism`` offspring.
    """
    pf, of = _check(parents, parent_fitness, offspring, offspring_fitness)
    n = parents.shape[0]
    elitism = check_int("elitism", elitism)
    if not 0 <= elitism <= n:
        raise ConfigError(f"elitism must be within [0, {n}], got {elitism}")
    if offspring.shape[0] < n - elitism:
        raise ConfigError(
            f"generational replacement needs >= {n - elitism} offspring, got {offspring.shape[0]}"
        )
    elite = _best_first(pf, elitism)
    kept = _best_first(of, n - elitism)
    idx = np.concatenate([elite, kept + n])
    f = np.concatenate(
        [
            np.asarray(parent_fitness, np.float64)[elite],
            np.asarray(offspring_fitness, np.float64)[kept],
        ]
    )
    order = np.argsort(np.concatenate([pf[elite], of[kept]]), kind="stable")
    return _take(parents, offspring, idx[order]), f[order]
