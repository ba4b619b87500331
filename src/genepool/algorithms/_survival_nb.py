"""Survivor selection on fitness alone, for populations whose genes are on disk.

The same survivors, in the same order, as ``operators.replacement`` (a stable sort of parents
then offspring, NaN as +inf), computed without concatenating the two fitness vectors: the
population is already sorted best first, the offspring are sorted once, and the two sorted
lists are merged backwards *in place* (the new fitness over the population's, the survivors'
indices over the offspring's order), so survival holds 24 bytes per individual: the two
fitness vectors and one index vector. Oracle: ``tests/test_population_disk.py`` against
``operators.replacement`` on random fitness with ties, NaN and infinities.
"""

from __future__ import annotations

import numpy as np

from .._numba import njit

__all__ = ["merge_survivors", "plus_split", "sorted_order"]


def sorted_order(f: np.ndarray) -> np.ndarray:
    """``np.argsort(where(isnan(f), inf, f), kind="stable")`` without the copy of ``f``:
    numpy sorts NaN after +inf, so the tail of +inf and NaN is put back in index order."""
    order = np.argsort(f, kind="stable")
    finite_or_less = int(np.count_nonzero(f < np.inf))
    tail = order[finite_or_less:]
    if tail.size > 1:
        tail.sort()
    return order


@njit
def _key(x: float) -> float:
    return np.inf if np.isnan(x) else x


@njit
def plus_split(fa: np.ndarray, fb: np.ndarray, order: np.ndarray, mu: int) -> int:
    """How many of the ``mu`` best of ``fa`` (sorted) and ``fb`` (sorted by ``order``) come
    from ``fa``; ties go to ``fa`` (parents before offspring)."""
    i = 0
    j = 0
    na = fa.shape[0]
    nb = order.shape[0]
    for _ in range(mu):
        if j < nb and (i >= na or _key(fb[order[j]]) < _key(fa[i])):
            j += 1
        else:
            i += 1
    return i


@njit
def merge_survivors(
    fa: np.ndarray,
    take_a: int,
    fb: np.ndarray,
    order: np.ndarray,
    take_b: int,
    src: np.ndarray,
    n_a: int,
) -> None:
    """Merge ``fa[:take_a]`` (sorted) and ``fb[order[:take_b]]`` (sorted), ties to ``fa``.

    Writes the merged fitness over ``fa[:take_a + take_b]`` and the survivors' indices into
    ``src`` (``i`` for ``fa[i]``, ``n_a + order[j]`` for the offspring), backwards: position
    ``k`` is written after ``fa[i]`` and ``order[j]`` with ``i, j <= k`` were read, so ``src``
    may be ``order`` itself.
    """
    i = take_a
    j = take_b
    k = take_a + take_b - 1
    while k >= 0:
        if i == 0 or (j > 0 and _key(fb[order[j - 1]]) >= _key(fa[i - 1])):
            j -= 1
            o = order[j]
            src[k] = n_a + o
            fa[k] = fb[o]
        else:
            i -= 1
            src[k] = i
            fa[k] = fa[i]
        k -= 1
