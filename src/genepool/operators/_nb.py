"""Numba kernels of the operators (memory-bound gathers that numpy does in several passes)."""

from __future__ import annotations

from .._numba import njit


@njit
def take_rows2(A, B, idx, out):
    """``out[r] = concatenate([A, B])[idx[r]]`` without building the concatenation.

    Oracle: ``np.concatenate([A, B])[idx]`` (tests/test_operators_replacement.py).
    """
    n_a = A.shape[0]
    d = A.shape[1]
    for r in range(idx.shape[0]):
        i = idx[r]
        if i < n_a:
            for j in range(d):
                out[r, j] = A[i, j]
        else:
            for j in range(d):
                out[r, j] = B[i - n_a, j]
    return out
