"""Parent selection: ``f(fitness, n_select, rng, **params) -> indices of shape (n_select,)``.

Fitness is *minimized* and NaN counts as the worst value. All functions are vectorized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConfigError
from ._common import check_n, minimized

__all__ = ["Sampler", "rank", "roulette", "sampler", "sus", "tournament", "truncation"]


def tournament(
    fitness: np.ndarray, n_select: int, rng: np.random.Generator, k: int = 2
) -> np.ndarray:
    """Tournament selection: each pick is the best of ``k`` individuals drawn with replacement.

    The probability that the individual of rank ``r`` (0 = best, of ``n``) wins is
    ``((n - r)^k - (n - r - 1)^k) / n^k``; oracle: ``naive.tournament``.
    """
    f = minimized(fitness)
    n_select = check_n(n_select)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"tournament size k must be a positive integer, got {k!r}")
    contestants = rng.integers(0, f.shape[0], size=(n_select, int(k)))
    winner = np.argmin(f[contestants], axis=1)
    return contestants[np.arange(n_select), winner]


def _linear_rank_probabilities(f: np.ndarray, pressure: float) -> np.ndarray:
    n = f.shape[0]
    if n == 1:
        return np.ones(1)
    order = np.argsort(f, kind="stable")  # best first; among ties the lower index is better
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.arange(n - 1, -1, -1)  # rank n - 1 = best, 0 = worst
    return ((2.0 - pressure) + 2.0 * (pressure - 1.0) * ranks / (n - 1)) / n


def rank(
    fitness: np.ndarray, n_select: int, rng: np.random.Generator, pressure: float = 1.5
) -> np.ndarray:
    """Linear ranking selection (Baker): the best is picked ``pressure`` times as often as average.

    ``p(rank) = (2 - s + 2 (s - 1) rank / (n - 1)) / n`` with rank 0 the worst, ``s`` in [1, 2].
    Among ties the lower index ranks higher (as in truncation and replacement).
    Oracle: ``naive.rank_probabilities``.
    """
    f = minimized(fitness)
    n_select = check_n(n_select)
    if not 1.0 <= pressure <= 2.0:
        raise ConfigError(f"rank pressure must be within [1, 2], got {pressure!r}")
    p = _linear_rank_probabilities(f, pressure)
    return rng.choice(f.shape[0], size=n_select, p=p)


def _window_weights(f: np.ndarray) -> np.ndarray:
    """Roulette weights for minimization: distance to the worst finite value (safe for negatives).

    Infinite (and NaN) fitness gets weight 0; if every weight is 0, all are equal.
    """
    finite = np.isfinite(f)
    if not finite.any():
        return np.ones_like(f)
    worst = f[finite].max()
    w = np.where(finite, worst - f, 0.0)
    total = w.sum()
    if total <= 0 or not np.isfinite(total):
        return np.where(finite, 1.0, 0.0)
    return w


def roulette(fitness: np.ndarray, n_select: int, rng: np.random.Generator) -> np.ndarray:
    """Fitness-proportionate selection on windowed weights ``worst - f`` (negatives are fine).

    The worst individual has weight 0. Oracle: ``naive.roulette_probabilities``.
    """
    f = minimized(fitness)
    n_select = check_n(n_select)
    w = _window_weights(f)
    return rng.choice(f.shape[0], size=n_select, p=w / w.sum())


def sus(fitness: np.ndarray, n_select: int, rng: np.random.Generator) -> np.ndarray:
    """Stochastic universal sampling (Baker 1987) on the same weights as :func:`roulette`.

    ``n_select`` equally spaced pointers with one random offset: each individual is picked
    ``floor`` or ``ceil`` of its expected count. The result is shuffled so pairs are random.
    """
    f = minimized(fitness)
    n_select = check_n(n_select)
    if n_select == 0:
        return np.empty(0, dtype=np.int64)
    w = _window_weights(f)
    cum = np.cumsum(w / w.sum())
    pointers = (rng.random() + np.arange(n_select)) / n_select
    idx = np.searchsorted(cum, pointers, side="right")
    # Pointers past cum[-1] (rounding: cum[-1] can be 1 - 2**-53) go to the last individual with
    # a positive weight, never to a trailing zero-weight (worst or NaN) one.
    np.minimum(idx, np.flatnonzero(w)[-1], out=idx)
    return rng.permutation(idx)


def truncation(
    fitness: np.ndarray, n_select: int, rng: np.random.Generator, fraction: float = 0.5
) -> np.ndarray:
    """Pick uniformly among the best ``ceil(fraction * n)`` individuals (ties by index)."""
    f = minimized(fitness)
    n_select = check_n(n_select)
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"truncation fraction must be within (0, 1], got {fraction!r}")
    # round() first so that e.g. 0.07 * 100 = 7.000000000000001 keeps 7, not 8
    n_top = max(1, math.ceil(round(fraction * f.shape[0], 9)))
    top = np.argsort(f, kind="stable")[:n_top]
    return top[rng.integers(0, n_top, size=n_select)]


# -- samplers: one selection's preparation, many draws ------------------------------------------
#: ``sampler(count, rng) -> indices``: draws exactly what the selection function would draw
#: with the same ``rng``, from a preparation made once per population.
Sampler = Callable[[int, np.random.Generator], np.ndarray]


def sampler(name: str, fitness: np.ndarray, **params: Any) -> Sampler:
    """Prepare selection ``name`` on ``fitness`` once, for many draws of a few parents each.

    ``sampler(name, f, **params)(count, rng)`` returns what ``name(f, count, rng, **params)``
    returns, bit for bit, with the same numbers drawn from ``rng``; the O(n) work (ranks,
    weights, cumulative sums, the best fraction) is done once instead of per call. A GA that
    breeds a large population block by block (``GA.block_rows``) draws each block's parents so.
    Memory: one float64 or int64 array of n (or fewer) entries, built in place.
    """
    f = np.asarray(fitness, dtype=np.float64)
    if name == "tournament":
        k = int(params.get("k", 2))
        n = f.shape[0]

        def tournament_draw(count: int, rng: np.random.Generator) -> np.ndarray:
            contestants = rng.integers(0, n, size=(count, k))
            fc = f[contestants]
            fc[np.isnan(fc)] = np.inf  # as minimized(), for the contestants only
            return contestants[np.arange(count), np.argmin(fc, axis=1)]

        return tournament_draw
    if name == "truncation":
        fraction = float(params.get("fraction", 0.5))
        n_top = max(1, math.ceil(round(fraction * f.shape[0], 9)))
        top = np.argsort(minimized(f), kind="stable")[:n_top].copy()
        return lambda count, rng: top[rng.integers(0, n_top, size=count)]
    if name == "rank":
        cdf = _linear_rank_probabilities(minimized(f), float(params.get("pressure", 1.5)))
        return _choice_draw(cdf)
    if name in ("roulette", "sus"):
        w = _window_weights(minimized(f))
        if name == "roulette":
            w /= w.sum()  # p, as roulette() passes it to rng.choice
            return _choice_draw(w)
        last = w.shape[0] - 1 - int(np.argmax(w[::-1] > 0))  # flatnonzero(w)[-1]
        w /= w.sum()
        cum = np.cumsum(w, out=w)

        def sus_draw(count: int, rng: np.random.Generator) -> np.ndarray:
            if count == 0:
                return np.empty(0, dtype=np.int64)
            pointers = (rng.random() + np.arange(count)) / count
            idx = np.searchsorted(cum, pointers, side="right")
            np.minimum(idx, last, out=idx)
            return rng.permutation(idx)

        return sus_draw
    raise ConfigError(f"no sampler for selection {name!r}")


def _choice_draw(p: np.ndarray) -> Sampler:
    """``rng.choice(len(p), size=count, p=p)`` from a cumulative sum made once (in place over
    ``p``): numpy's choice draws ``rng.random(count)`` and searches its normalized cdf."""
    cdf = np.cumsum(p, out=p)
    cdf /= cdf[-1]
    return lambda count, rng: cdf.searchsorted(rng.random(count), side="right").astype(np.int64)
