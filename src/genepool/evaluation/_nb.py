"""Numba kernels of the fitness cache: row keys and hashes, in-batch grouping, a hash table.

A key is one ``uint64`` word per gene, the canonical form of its decoded value. Keys are
computed on the fly from the population ``X`` (float64) and its bit view ``Xbits``
(``X.view(uint64)``, no copy), so the whole population is never copied into a key matrix; only
keys that enter the cache are materialized. Tables use linear probing over a power-of-two slot
array holding entry indices (-1: empty).
"""

from __future__ import annotations

import numpy as np

from .._numba import njit

EMPTY = -1
KEY_REAL, KEY_QUANTIZED, KEY_INDEX = 0, 1, 2
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit
def _mix(z):
    """splitmix64 finalizer."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit
def _key(x, bits, m, lo, hi, step):
    """Key word of one gene value (scalars only, so LLVM inlines it); oracle: naive.cache_key."""
    if m == KEY_REAL:
        return np.uint64(0) if x == 0.0 else bits  # fold -0.0 into +0.0
    if m == KEY_QUANTIZED:
        return np.uint64(np.int64(np.floor((x - lo) / step + 0.5)))
    return np.uint64(np.int64(min(max(np.floor(x + 0.5), lo + 0.5), hi - 0.5)))


@njit
def hash_rows(X, Xbits, mode, lower, upper, step):
    """Hash of each row's key, shape ``(n,)`` uint64."""
    n, d = X.shape
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = np.uint64(d)
        for j in range(d):
            k = _key(X[i, j], Xbits[i, j], mode[j], lower[j], upper[j], step[j])
            h = _mix(h + _GOLDEN + k)
        out[i] = h
    return out


@njit
def materialize_keys(X, Xbits, rows, mode, lower, upper, step):
    """Keys of rows ``rows`` as a ``(len(rows), d)`` uint64 matrix."""
    d = X.shape[1]
    K = np.empty((rows.shape[0], d), dtype=np.uint64)
    for r in range(rows.shape[0]):
        for j in range(d):
            K[r, j] = _key(X[rows[r], j], Xbits[rows[r], j], mode[j], lower[j], upper[j], step[j])
    return K


@njit
def _same_rows(X, Xbits, a, b, mode, lower, upper, step):
    for j in range(X.shape[1]):
        if _key(X[a, j], Xbits[a, j], mode[j], lower[j], upper[j], step[j]) != _key(
            X[b, j], Xbits[b, j], mode[j], lower[j], upper[j], step[j]
        ):
            return False
    return True


@njit
def _same_as_entry(keys, e, X, Xbits, i, mode, lower, upper, step):
    for j in range(X.shape[1]):
        if keys[e, j] != _key(X[i, j], Xbits[i, j], mode[j], lower[j], upper[j], step[j]):
            return False
    return True


@njit
def group_rows(X, Xbits, H, mode, lower, upper, step):
    """Group rows with equal keys: ``(first, inverse)``, ``key(first[inverse[i]]) == key(i)``.

    ``first`` lists the first row of each distinct key in order of appearance.
    Oracle: ``np.unique`` on the naive keys (same groups).
    """
    n = X.shape[0]
    cap = 1
    while cap < 2 * n:
        cap *= 2
    mask = np.uint64(cap - 1)
    slots = np.full(cap, EMPTY, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    inverse = np.empty(n, dtype=np.int64)
    u = 0
    for i in range(n):
        s = H[i] & mask
        while True:
            g = slots[s]
            if g == EMPTY:
                slots[s] = u
                first[u] = i
                inverse[i] = u
                u += 1
                break
            r = first[g]
            if H[r] == H[i] and _same_rows(X, Xbits, r, i, mode, lower, upper, step):
                inverse[i] = g
                break
            s = (s + np.uint64(1)) & mask
    return first[:u].copy(), inverse


@njit
def table_lookup(slots, keys, hashes, X, Xbits, rows, H, mode, lower, upper, step):
    """Entry index in the table of each row ``rows`` of ``X`` (hashes ``H[rows]``), or -1."""
    mask = np.uint64(slots.shape[0] - 1)
    out = np.empty(rows.shape[0], dtype=np.int64)
    for r in range(rows.shape[0]):
        i = rows[r]
        h = H[i]
        s = h & mask
        out[r] = EMPTY
        while True:
            e = slots[s]
            if e == EMPTY:
                break
            if hashes[e] == h and _same_as_entry(keys, e, X, Xbits, i, mode, lower, upper, step):
                out[r] = e
                break
            s = (s + np.uint64(1)) & mask
    return out


@njit
def table_insert(slots, hashes, start, stop):
    """Index entries ``start .. stop-1`` (already stored, keys absent) into ``slots``."""
    mask = np.uint64(slots.shape[0] - 1)
    for e in range(start, stop):
        s = hashes[e] & mask
        while slots[s] != EMPTY:
            s = (s + np.uint64(1)) & mask
        slots[s] = e
