"""Mutation: ``f(X, rng, ..., rate=None, copy=True) -> X'`` on arrays of shape (n, d).

``rate`` is the per-gene mutation probability: None means ``1/d``, a scalar, or an array of
shape ``(d,)``. Only the selected genes draw random numbers, so the cost scales with
``rate * n * d``. With ``copy=False`` the input is modified in place (the optimizers do this on
offspring they own).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from ._common import gene_mask, gene_rate

__all__ = ["categorical_resample", "gaussian", "integer_step", "polynomial", "uniform_reset"]


def _mask(
    X: np.ndarray, rate: Any, rng: np.random.Generator, copy: bool, genes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if X.ndim != 2:
        raise ConfigError(f"X must have shape (n, d), got {X.shape}")
    r = gene_rate(rate, X.shape[1])
    if genes is not None:  # restrict to a subset of gene columns
        r = np.where(genes, r, 0.0)
    rows, cols = np.nonzero(gene_mask(X.shape, r, rng))
    return (X.copy() if copy else X), rows, cols


def gaussian(
    X: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    sigma: float | np.ndarray = 0.1,
    rate: Any = None,
    copy: bool = True,
) -> np.ndarray:
    """Add ``N(0, (sigma * (upper - lower))^2)`` noise to each selected gene.

    ``sigma`` is relative to each gene's range (a scalar or shape ``(d,)``). No bound repair.
    """
    Y, rows, cols = _mask(X, rate, rng, copy)
    scale = np.broadcast_to(np.asarray(sigma, dtype=np.float64) * (upper - lower), (X.shape[1],))
    Y[rows, cols] += rng.standard_normal(rows.shape[0]) * scale[cols]
    return Y


def polynomial(
    X: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    eta: float = 20.0,
    rate: Any = None,
    copy: bool = True,
) -> np.ndarray:
    """Polynomial mutation (Deb & Goyal 1996, the bounded form of Deb's NSGA-II code).

    Perturbations follow a polynomial distribution of index ``eta`` and stay in bounds.
    Oracle: ``naive.polynomial``.
    """
    if not eta >= 0:  # also rejects NaN
        raise ConfigError(f"polynomial eta must be >= 0, got {eta!r}")
    Y, rows, cols = _mask(X, rate, rng, copy)
    lo = np.asarray(lower, dtype=np.float64)[cols]
    hi = np.asarray(upper, dtype=np.float64)[cols]
    y = Y[rows, cols].astype(np.float64)
    span = hi - lo
    d1 = (y - lo) / span
    d2 = (hi - y) / span
    u = rng.random(rows.shape[0])
    p = 1.0 / (eta + 1.0)
    left = u < 0.5
    xy = np.where(left, 1.0 - d1, 1.0 - d2)
    val = np.where(
        left,
        2.0 * u + (1.0 - 2.0 * u) * xy ** (eta + 1.0),
        2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy ** (eta + 1.0),
    )
    deltaq = np.where(left, val**p - 1.0, 1.0 - val**p)
    Y[rows, cols] = np.clip(y + deltaq * span, lo, hi)
    return Y


def uniform_reset(
    X: np.ndarray,
    rng: np.random.Generator,
    lower: np.ndarray,
    upper: np.ndarray,
    rate: Any = None,
    copy: bool = True,
) -> np.ndarray:
    """Replace each selected gene by a uniform draw within its bounds."""
    Y, rows, cols = _mask(X, rate, rng, copy)
    lo = np.asarray(lower, dtype=np.float64)[cols]
    hi = np.asarray(upper, dtype=np.float64)[cols]
    Y[rows, cols] = rng.uniform(lo, hi)
    return Y


def integer_step(
    X: np.ndarray,
    rng: np.random.Generator,
    genes: np.ndarray,
    step: int = 1,
    rate: Any = None,
    copy: bool = True,
) -> np.ndarray:
    """Move each selected integer gene ``step`` units up or down (even odds); no bound repair.

    ``genes`` is a boolean mask of shape ``(d,)`` of the integer genes.
    """
    Y, rows, cols = _mask(X, rate, rng, copy, genes=np.asarray(genes, dtype=bool))
    Y[rows, cols] += np.where(rng.random(rows.shape[0]) < 0.5, -step, step)
    return Y


def categorical_resample(
    X: np.ndarray,
    rng: np.random.Generator,
    n_choices: np.ndarray,
    rate: Any = None,
    copy: bool = True,
) -> np.ndarray:
    """Replace each selected categorical gene by a *different* category, uniformly.

    ``n_choices`` (shape ``(d,)``) gives the number of categories per gene; genes with fewer
    than 2 are never touched. Categories are encoded as indices (see :mod:`genepool.space`).
    """
    k = np.asarray(n_choices, dtype=np.int64)
    Y, rows, cols = _mask(X, rate, rng, copy, genes=k >= 2)
    kc = k[cols]
    current = np.clip(np.floor(Y[rows, cols] + 0.5), 0, kc - 1).astype(np.int64)
    # A uniform draw among the k - 1 other categories.
    Y[rows, cols] = (current + 1 + np.floor(rng.random(rows.shape[0]) * (kc - 1))) % kc
    return Y
