"""Shared array checks for operators (validation is cheap: shapes and dtypes only)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError


def minimized(fitness: npt.ArrayLike) -> np.ndarray:
    """Fitness as a 1-D float64 array to minimize, NaN mapped to +inf (never selected first)."""
    f = np.asarray(fitness, dtype=np.float64)
    if f.ndim != 1:
        raise ConfigError(f"fitness must have shape (n,), got {f.shape}")
    if f.size == 0:
        raise ConfigError("fitness must not be empty")
    nan = np.isnan(f)
    if nan.any():
        f = np.where(nan, np.inf, f)
    return f


def check_pair(p1: np.ndarray, p2: np.ndarray) -> None:
    if p1.ndim != 2 or p1.shape != p2.shape:
        raise ConfigError(
            f"parents must be 2-D arrays of equal shape, got {p1.shape} and {p2.shape}"
        )


def check_n(n_select: object) -> int:
    if isinstance(n_select, bool) or not isinstance(n_select, (int, np.integer)) or n_select < 0:
        raise ConfigError(f"n_select must be a non-negative integer, got {n_select!r}")
    return int(n_select)


def gene_rate(rate: npt.ArrayLike | None, d: int) -> np.ndarray | float:
    """Per-gene probability: None -> 1/d, a scalar, or an array of shape (d,)."""
    if rate is None:
        return 1.0 / d
    r = np.asarray(rate, dtype=np.float64)
    if r.ndim > 1 or (r.ndim == 1 and r.shape[0] != d):
        raise ConfigError(f"rate must be a scalar or have shape ({d},), got shape {r.shape}")
    if not np.all((r >= 0) & (r <= 1)):
        raise ConfigError(f"rate must be within [0, 1], got {rate!r}")
    return float(r) if r.ndim == 0 else r


def gene_sites(
    shape: tuple[int, int], rate: np.ndarray | float, rng: np.random.Generator
) -> np.ndarray:
    """Flat positions (sorted, int64) of the genes hit by independent Bernoulli(rate) trials.

    Gaps between hits are Geometric(p) for ``p = max(rate)``, so the cost scales with the
    number of hits, not with ``n * d``; per-gene rates below the maximum are then thinned with
    probability ``rate[j] / p``. Exactly the same distribution as ``random(shape) < rate``.
    Oracle: tests/test_operators_mutation.py (per-gene frequencies).
    """
    n, d = shape
    total = n * d
    r = np.asarray(rate, dtype=np.float64)
    p = float(r.max()) if r.size else 0.0
    if total == 0 or p <= 0.0:
        return np.empty(0, dtype=np.int64)
    if p >= 1.0:
        pos = np.arange(total, dtype=np.int64)
    else:
        expected = total * p
        k = int(expected + 6.0 * np.sqrt(expected) + 16)
        # Gaps are capped at ``total`` (any gap that long ends the sequence anyway), which also
        # keeps the cumulative sum from overflowing when p is tiny.
        pos = np.cumsum(np.minimum(rng.geometric(p, size=k), total)) - 1
        while pos[-1] < total:  # more hits than expected: extend (rare)
            more = np.cumsum(np.minimum(rng.geometric(p, size=k), total))
            pos = np.concatenate([pos, pos[-1] + more])
        pos = pos[: np.searchsorted(pos, total)]
    if r.ndim == 1 and not np.all(r == p):
        pos = pos[rng.random(pos.shape[0]) * p < r[pos % d]]
    return pos


def swap_mask(shape: tuple[int, ...], swap: float, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli(swap) mask; a fair coin (swap = 0.5) is drawn as random bits (4x cheaper)."""
    if swap == 0.5:
        return rng.integers(0, 2, size=shape, dtype=np.bool_)
    return rng.random(shape, dtype=np.float32) < np.float32(swap)
