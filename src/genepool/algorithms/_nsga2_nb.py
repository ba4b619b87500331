"""Kernels of NSGA-II's variation: simulated binary crossover and polynomial mutation, fused.

One pass over a block of parent pairs writes both children, gene by gene, from uniforms drawn
beforehand (``U`` of shape ``(pairs, d, 7)``), so that the variation of a population of 10^6
needs the offspring array and a bounded block of temporaries, not the dozen full-size arrays
that the same operators written with numpy allocate. The formulas are those of
:func:`genepool.operators.crossover.sbx` and :func:`genepool.operators.mutation.polynomial`
(Deb's NSGA-II code); ``tests/test_nsga2.py`` holds the numpy twin that reads the same
uniforms.

Uniforms per gene of a pair: ``0`` crossover of this gene (SBX: ``< gene_prob``; categorical:
swap ``< 0.5``), ``1`` SBX spread, ``2`` SBX child swap, ``3``/``4`` mutation of the first child
(site ``< rate``, then the polynomial perturbation or the new category), ``5``/``6`` the same for
the second child.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from .._numba import njit, njit_parallel

__all__ = ["N_UNIFORMS", "vary_pairs_nb"]

#: Uniform draws per gene of a pair of parents.
N_UNIFORMS = 7


@njit
def _betaq(beta: float, u: float, eta: float) -> float:
    alpha = 2.0 - beta ** (-(eta + 1.0))
    ua = u * alpha
    e1 = 1.0 / (eta + 1.0)
    if u <= 1.0 / alpha:
        return ua**e1
    return (1.0 / (2.0 - ua)) ** e1


@njit
def _polynomial(y: float, lo: float, hi: float, u: float, eta: float) -> float:
    span = hi - lo
    if span <= 0.0:
        return y
    p = 1.0 / (eta + 1.0)
    if u < 0.5:
        xy = 1.0 - (y - lo) / span
        val = 2.0 * u + (1.0 - 2.0 * u) * xy ** (eta + 1.0)
        deltaq = val**p - 1.0
    else:
        xy = 1.0 - (hi - y) / span
        val = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy ** (eta + 1.0)
        deltaq = 1.0 - val**p
    return min(max(y + deltaq * span, lo), hi)


@njit
def _other_category(current: float, k: int, u: float) -> float:
    c = min(max(np.floor(current + 0.5), 0.0), k - 1.0)
    return (c + 1.0 + np.floor(u * (k - 1))) % k


@njit_parallel
def vary_pairs_nb(
    P1: np.ndarray,
    P2: np.ndarray,
    crossed: np.ndarray,
    U: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    categories: np.ndarray,
    rate: np.ndarray,
    eta_c: float,
    gene_prob: float,
    eta_m: float,
    out: np.ndarray,
    row0: int,
    copies: np.ndarray,
) -> None:
    """Children of the pairs ``(P1[i], P2[i])`` into ``out[row0 + 2 i]`` and ``out[row0 + 2 i
    + 1]`` (the second child is skipped where it would fall past the end of ``out``);
    ``copies[row]`` says whether the child equals one of its parents in every gene.

    ``categories[j]`` is the number of categories of a categorical or bool gene (0 for real and
    integer genes, which get SBX and polynomial mutation); ``rate[j]`` the per-gene mutation
    probability; ``crossed[i]`` whether pair ``i`` is recombined. Memory: none beyond ``out``.
    Pairs run in parallel threads; each writes its own rows, so the result does not depend on
    the number of threads.
    """
    pairs, d = P1.shape
    n_out = out.shape[0]
    for i in prange(pairs):
        r1 = row0 + 2 * i
        r2 = r1 + 1
        # whether child 1 (2) still equals parent a / parent b in every gene so far
        c1a = c1b = c2a = c2b = True
        for j in range(d):
            a = np.float64(P1[i, j])
            b = np.float64(P2[i, j])
            c1 = a
            c2 = b
            k = categories[j]
            if k > 0:
                if crossed[i] and U[i, j, 0] < 0.5:
                    c1 = b
                    c2 = a
                if k >= 2:
                    if U[i, j, 3] < rate[j]:
                        c1 = _other_category(c1, k, U[i, j, 4])
                    if U[i, j, 5] < rate[j]:
                        c2 = _other_category(c2, k, U[i, j, 6])
            else:
                lo = lower[j]
                hi = upper[j]
                y1 = min(a, b)
                y2 = max(a, b)
                delta = y2 - y1
                if crossed[i] and U[i, j, 0] < gene_prob and delta > 1e-14:
                    x1 = 0.5 * (y1 + y2 - _betaq(1.0 + 2.0 * (y1 - lo) / delta, U[i, j, 1], eta_c)
                                * delta)  # fmt: skip
                    x2 = 0.5 * (y1 + y2 + _betaq(1.0 + 2.0 * (hi - y2) / delta, U[i, j, 1], eta_c)
                                * delta)  # fmt: skip
                    x1 = min(max(x1, lo), hi)
                    x2 = min(max(x2, lo), hi)
                    if U[i, j, 2] < 0.5:
                        c1 = x2
                        c2 = x1
                    else:
                        c1 = x1
                        c2 = x2
                if U[i, j, 3] < rate[j]:
                    c1 = _polynomial(c1, lo, hi, U[i, j, 4], eta_m)
                if U[i, j, 5] < rate[j]:
                    c2 = _polynomial(c2, lo, hi, U[i, j, 6], eta_m)
            out[r1, j] = c1
            c1a &= c1 == a
            c1b &= c1 == b
            c2a &= c2 == a
            c2b &= c2 == b
            if r2 < n_out:
                out[r2, j] = c2
        copies[r1] = c1a or c1b
        if r2 < n_out:
            copies[r2] = c2a or c2b
