"""Crossover: ``f(p1, p2, rng, **params) -> (c1, c2)``, parents and children of shape (m, d).

Each row pair ``(p1[i], p2[i])`` is recombined into ``(c1[i], c2[i])``. Children of the
real-coded operators (blend, SBX, arithmetic) may need bound repair, except SBX which is bounded.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ._common import check_pair, swap_mask

__all__ = ["arithmetic", "blend", "one_point", "sbx", "two_point", "uniform"]


def _swap(p1: np.ndarray, p2: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.where(mask, p2, p1), np.where(mask, p1, p2)


def swap_inplace(p1: np.ndarray, p2: np.ndarray, mask: np.ndarray) -> None:
    """Exchange ``p1[mask]`` and ``p2[mask]`` in place (what uniform crossover does, without
    allocating children; the GA uses it on parents it owns)."""
    tmp = p1[mask]
    p1[mask] = p2[mask]
    p2[mask] = tmp


def uniform(
    p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator, swap: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform crossover: each gene is swapped between the parents with probability ``swap``."""
    check_pair(p1, p2)
    if not 0.0 <= swap <= 1.0:
        raise ConfigError(f"uniform crossover swap must be within [0, 1], got {swap!r}")
    mask = swap_mask(p1.shape, swap, rng)
    return _swap(p1, p2, mask)


def one_point(
    p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One-point crossover: genes from a cut point ``c`` in ``[1, d)`` on are swapped."""
    check_pair(p1, p2)
    m, d = p1.shape
    if d < 2:
        return p1.copy(), p2.copy()
    cut = rng.integers(1, d, size=int(m))
    return _swap(p1, p2, np.arange(d)[None, :] >= cut[:, None])


def two_point(
    p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two-point crossover: genes in ``[a, b)`` are swapped, ``0 <= a < b <= d`` drawn uniformly
    among distinct cut points."""
    check_pair(p1, p2)
    m, d = p1.shape
    if d < 2:
        return p1.copy(), p2.copy()
    # Two distinct cut points among 0..d (d + 1 positions), sorted.
    a = rng.integers(0, d + 1, size=m)
    b = (a + rng.integers(1, d + 1, size=m)) % (d + 1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    j = np.arange(d)[None, :]
    return _swap(p1, p2, (j >= lo[:, None]) & (j < hi[:, None]))


def blend(
    p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator, alpha: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """BLX-alpha: each child gene uniform in ``[min - alpha I, max + alpha I]``, I = |p1 - p2|."""
    check_pair(p1, p2)
    if not alpha >= 0:  # also rejects NaN
        raise ConfigError(f"blend alpha must be >= 0, got {alpha!r}")
    lo = np.minimum(p1, p2)
    span = np.abs(p1 - p2)
    lo -= alpha * span
    span *= 1.0 + 2.0 * alpha
    c1 = lo + rng.random(p1.shape) * span
    c2 = lo + rng.random(p1.shape) * span
    return c1.astype(p1.dtype, copy=False), c2.astype(p1.dtype, copy=False)


def arithmetic(
    p1: np.ndarray, p2: np.ndarray, rng: np.random.Generator, alpha: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Whole arithmetic crossover: ``c1 = a p1 + (1 - a) p2``, ``c2 = (1 - a) p1 + a p2``.

    ``a`` is ``alpha`` when given, else drawn uniformly in [0, 1] per pair.
    """
    check_pair(p1, p2)
    if alpha is None:
        a = rng.random((p1.shape[0], 1))
    elif 0.0 <= alpha <= 1.0:
        a = np.float64(alpha)
    else:
        raise ConfigError(f"arithmetic alpha must be within [0, 1], got {alpha!r}")
    diff = p1 - p2
    c1 = p2 + a * diff
    c2 = p1 - a * diff
    return c1.astype(p1.dtype, copy=False), c2.astype(p1.dtype, copy=False)


def sbx(
    p1: np.ndarray,
    p2: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    eta: float = 15.0,
    gene_prob: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated binary crossover, bounded variant (Deb & Agrawal 1995; Deb's NSGA-II code).

    Each gene is recombined with probability ``gene_prob`` (when the parents differ); the spread
    factor follows a polynomial distribution of index ``eta`` truncated to ``[lower, upper]``,
    and the two children are swapped with probability 1/2. Oracle: ``naive.sbx``.
    """
    check_pair(p1, p2)
    if not eta >= 0:  # also rejects NaN
        raise ConfigError(f"sbx eta must be >= 0, got {eta!r}")
    shape = p1.shape
    u_do = rng.random(shape)
    u_beta = rng.random(shape)
    u_swap = rng.random(shape)
    y1 = np.minimum(p1, p2).astype(np.float64)
    y2 = np.maximum(p1, p2).astype(np.float64)
    delta = y2 - y1
    active = (u_do < gene_prob) & (delta > 1e-14)
    safe = np.where(active, delta, 1.0)
    lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), shape)
    upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), shape)
    e1 = 1.0 / (eta + 1.0)

    def betaq(beta: np.ndarray) -> np.ndarray:
        alpha = 2.0 - np.power(beta, -(eta + 1.0))
        ua = u_beta * alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            low_branch = np.power(ua, e1)
            high_branch = np.power(1.0 / (2.0 - ua), e1)
        return np.where(u_beta <= 1.0 / alpha, low_branch, high_branch)

    c1 = 0.5 * (y1 + y2 - betaq(1.0 + 2.0 * (y1 - lower) / safe) * delta)
    c2 = 0.5 * (y1 + y2 + betaq(1.0 + 2.0 * (upper - y2) / safe) * delta)
    np.clip(c1, lower, upper, out=c1)
    np.clip(c2, lower, upper, out=c2)
    swap = u_swap < 0.5
    o1 = np.where(active, np.where(swap, c2, c1), p1)
    o2 = np.where(active, np.where(swap, c1, c2), p2)
    return o1.astype(p1.dtype, copy=False), o2.astype(p1.dtype, copy=False)
