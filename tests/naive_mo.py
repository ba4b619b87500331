"""Obviously correct twins of the multi-objective kernels (``genepool.algorithms._mo_nb``)."""

from __future__ import annotations

import numpy as np


def dominates(q: np.ndarray, p: np.ndarray) -> bool:
    """``q`` dominates ``p`` (minimizing): no worse in every objective, better in one."""
    return bool(np.all(q <= p) and np.any(q < p))


def rank(F: np.ndarray) -> np.ndarray:
    """Peel fronts: a front is every remaining row that no remaining row dominates; rows with
    NaN form one last front."""
    F = np.asarray(F, dtype=np.float64)
    n = F.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    remaining = [i for i in range(n) if not np.isnan(F[i]).any()]
    k = 0
    while remaining:
        front = [p for p in remaining if not any(dominates(F[q], F[p]) for q in remaining)]
        for p in front:
            out[p] = k
        remaining = [p for p in remaining if p not in front]
        k += 1
    out[out < 0] = k
    return out


def crowding(F: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Per front and objective: sort (ties by row index), ends inf, the others add the gap
    between their neighbours over the front's range."""
    F = np.asarray(F, dtype=np.float64)
    n, m = F.shape
    dist = np.zeros(n)
    ok = [i for i in range(n) if not np.isnan(F[i]).any()]
    for k in sorted({int(ranks[i]) for i in ok}):
        rows = [i for i in ok if ranks[i] == k]
        for j in range(m):
            s = sorted(rows, key=lambda i: (F[i, j], i))
            with np.errstate(invalid="ignore"):  # inf - inf
                span = F[s[-1], j] - F[s[0], j]
            for pos, i in enumerate(s):
                if pos == 0 or pos == len(s) - 1:
                    dist[i] = np.inf
                elif span > 0 and np.isfinite(span):
                    dist[i] += (F[s[pos + 1], j] - F[s[pos - 1], j]) / span
    return dist
