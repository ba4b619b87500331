"""Mutation: ``f(X, rng, ..., rate=None, copy=True) -> X'`` on arrays of shape (n, d).

``rate`` is the per-gene mutation probability: None means ``1/d``, a scalar, or an array of
shape ``(d,)``. Only the selected genes draw random numbers, so the cost scales with
``rate * n * d``. With ``copy=False`` the input is modified in place (the optimizers do this on
offspring they own).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError
from ._common import gene_rate, gene_sites

__all__ = ["categorical_resample", "gaussian", "integer_step", "polynomial", "uniform_reset"]


def _sites(
    X: np.ndarray,
    rate: npt.ArrayLike | None,
    rng: np.random.Generator,
    copy: bool,
    genes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(Y, flat view of Y, flat positions of the mutated genes, their columns)``."""
    if X.ndim != 2:
        raise ConfigError(f"X must have shape (n, d), got {X.shape}")
    r = gene_rate(rate, X.shape[1])
    if genes is not None:  # restrict to a subset of gene columns
        r = np.where(genes, r, 0.0)
    Y = X.copy() if copy else X
    if not Y.flags.c_contiguous:
        if not copy:
            raise ConfigError("copy=False needs a C-contiguous array")
        Y = np.ascontiguousarray(Y)
    pos = gene_sites(X.shape, r, rng)
    return Y, Y.reshape(-1), pos, pos % X.shape[1]


def gaussian(
    X: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    sigma: float | np.ndarray = 0.1,
    rate: npt.ArrayLike | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Add ``N(0, (sigma * (upper - lower))^2)`` noise to each selected gene.

    ``sigma`` is relative to each gene's range (a scalar or shape ``(d,)``). No bound repair.
    """
    Y, flat, pos, cols = _sites(X, rate, rng, copy)
    scale = np.broadcast_to(np.asarray(sigma, dtype=np.float64) * (upper - lower), (X.shape[1],))
    flat[pos] += rng.standard_normal(pos.shape[0]) * scale[cols]
    return Y


def polynomial(
    X: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    eta: float = 20.0,
    rate: npt.ArrayLike | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Polynomial mutation (Deb & Goyal 1996, the bounded form of Deb's NSGA-II code).

    Perturbations follow a polynomial distribution of index ``eta`` and stay in bounds.
    Oracle: ``naive.polynomial``.
    """
    if not eta >= 0:  # also rejects NaN
        raise ConfigError(f"polynomial eta must be >= 0, got {eta!r}")
    Y, flat, pos, cols = _sites(X, rate, rng, copy)
    lo = np.asarray(lower, dtype=np.float64)[cols]
    hi = np.asarray(upper, dtype=np.float64)[cols]
    y = flat[pos].astype(np.float64)
    span = hi - lo
    d1 = (y - lo) / span
    d2 = (hi - y) / span
    u = rng.random(pos.shape[0])
    p = 1.0 / (eta + 1.0)
    left = u < 0.5
    xy = np.where(left, 1.0 - d1, 1.0 - d2)
    val = np.where(
        left,
        2.0 * u + (1.0 - 2.0 * u) * xy ** (eta + 1.0),
        2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy ** (eta + 1.0),
    )
    deltaq = np.where(left, val**p - 1.0, 1.0 - val**p)
    flat[pos] = np.clip(y + deltaq * span, lo, hi)
    return Y


def uniform_reset(
    X: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    rate: npt.ArrayLike | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Replace each selected gene by a uniform draw within its bounds."""
    Y, flat, pos, cols = _sites(X, rate, rng, copy)
    lo = np.asarray(lower, dtype=np.float64)[cols]
    hi = np.asarray(upper, dtype=np.float64)[cols]
    flat[pos] = rng.uniform(lo, hi)
    return Y


def integer_step(
    X: np.ndarray,
    rng: np.random.Generator,
    genes: np.ndarray,
    step: int = 1,
    rate: npt.ArrayLike | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Move each selected integer gene ``step`` units up or down (even odds); no bound repair.

    ``genes`` is a boolean mask of shape ``(d,)`` of the integer genes.
    """
    Y, flat, pos, _ = _sites(X, rate, rng, copy, genes=np.asarray(genes, dtype=bool))
    flat[pos] += np.where(rng.random(pos.shape[0]) < 0.5, -step, step)
    return Y


def categorical_resample(
    X: np.ndarray,
    rng: np.random.Generator,
    n_choices: np.ndarray,
    rate: npt.ArrayLike | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Replace each selected categorical gene by a *different* category, uniformly.

    ``n_choices`` (shape ``(d,)``) gives the number of categories per gene; genes with fewer
    than 2 are never touched. Categories are encoded as indices (see :mod:`genepool.space`).
    """
    k = np.asarray(n_choices, dtype=np.int64)
    Y, flat, pos, cols = _sites(X, rate, rng, copy, genes=k >= 2)
    kc = k[cols]
    current = np.clip(np.floor(flat[pos] + 0.5), 0, kc - 1).astype(np.int64)
    # A uniform draw among the k - 1 other categories.
    flat[pos] = (current + 1 + np.floor(rng.random(pos.shape[0]) * (kc - 1))) % kc
    return Y
