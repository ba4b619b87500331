"""Array kernels of :class:`genepool.PSO`: personal bests, neighbourhood bests and the move.

Arrays and scalars in, arrays out; no random numbers are drawn here (the wrapper passes the
uniforms it drew from the optimizer's generator). Oracles: the loop twins in ``tests/test_pso.py``,
which these equal bit for bit (the same IEEE operations in the same order).

Plain numpy, not numba, by measurement: the move is a handful of elementwise passes over one
block of particles, which numpy runs at memory speed, while the first numba kernel a process
loads costs about 65 MiB of RSS (LLVM and numba's typing context). A swarm that never touches
numba stays within a few MiB of ``import genepool`` (see ``docs/pso.md``).
"""

from __future__ import annotations

import numpy as np

#: Boundary codes of :func:`move`.
CLIP, REFLECT, RANDOM, PERIODIC = 0, 1, 2, 3


def update_pbest(X: np.ndarray, f: np.ndarray, pbest_X: np.ndarray, pbest_f: np.ndarray) -> int:
    """Rows with ``f < pbest_f`` replace their personal best (in place); NaN never does.

    Returns the number of improved particles. Oracle: ``naive_update_pbest``.
    """
    better = f < pbest_f
    improved = int(np.count_nonzero(better))
    if improved:  # copyto with where=: no (P, d) gather of the improved rows
        np.copyto(pbest_f, f, where=better)
        np.copyto(pbest_X, X, where=better[:, None])
    return improved


#: Particles whose neighbourhood is searched at once: the scratch arrays are this long, not
#: one per particle (41 bytes per particle otherwise, as much as the swarm's own fitness).
NEIGHBOURHOOD_BLOCK = 1 << 16


def neighbourhood_best(f: np.ndarray, offsets: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[i]``: index of the smallest ``f[(i + o) % n]`` over ``o`` in ``offsets`` (the first
    offset wins ties); O(n * len(offsets)), in blocks of :data:`NEIGHBOURHOOD_BLOCK`
    particles. Oracle: ``naive_neighbourhood_best``."""
    n = f.shape[0]
    for a in range(0, n, NEIGHBOURHOOD_BLOCK):
        b = min(n, a + NEIGHBOURHOOD_BLOCK)
        i = np.arange(a, b, dtype=np.int64)
        j = np.empty_like(i)
        best = out[a:b]
        np.mod(i + offsets[0], n, out=best)
        fb = f[best]
        fj = np.empty_like(fb)
        better = np.empty(b - a, dtype=bool)
        for o in offsets[1:]:
            np.add(i, o, out=j)
            np.mod(j, n, out=j)
            np.take(f, j, out=fj)
            np.less(fj, fb, out=better)
            np.copyto(best, j, where=better)
            np.copyto(fb, fj, where=better)
    return out


def move(
    X: np.ndarray,
    V: np.ndarray,
    pbest_X: np.ndarray,
    nbest: np.ndarray,
    r: np.ndarray,
    w: float,
    c1: float,
    c2: float,
    vmax: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    boundary: int,
    X_out: np.ndarray,
    start: int,
) -> tuple[float, int]:
    """One synchronous PSO step for rows ``start .. start + r.shape[0]``.

    ``v = w v + c1 r1 (p - x) + c2 r2 (g - x)``, clamped to ``[-vmax, vmax]``, ``x' = x + v``;
    ``g`` is ``pbest_X[nbest[i]]`` (``nbest`` of shape ``(1,)`` is the same for every row).
    Out of bounds: CLIP puts ``x'`` on the bound and zeroes ``v``; REFLECT mirrors ``x'`` back
    (repeatedly, as ``operators.repair.reflect``) and reverses ``v``; PERIODIC wraps ``x'``
    around (``lo + (x' - lo) mod (hi - lo)``) and keeps ``v``; RANDOM zeroes ``v`` and leaves
    ``x'`` outside for the wrapper to resample. ``V`` is updated in place, ``x'`` goes to
    ``X_out``. Returns ``(max |v| / (upper - lower), genes outside)``.
    Oracle: ``naive_move``.
    """
    stop = start + r.shape[0]
    x = X[start:stop]
    v = V[start:stop]
    term = np.empty_like(x)  # two block-sized scratch arrays, nothing of shape (P, d)
    diff = np.empty_like(x)
    # (w v + (c1 r1) (p - x)) + (c2 r2) (g - x), term by term as the loop twin adds them
    v *= w
    np.multiply(c1, r[:, 0, :], out=term)
    np.subtract(pbest_X[start:stop], x, out=diff)
    term *= diff
    v += term
    np.multiply(c2, r[:, 1, :], out=term)
    if nbest.shape[0] == 1:
        np.subtract(pbest_X[nbest[0]], x, out=diff)
    else:
        np.take(pbest_X, nbest[start:stop], axis=0, out=diff)
        diff -= x
    term *= diff
    v += term
    np.minimum(v, vmax, out=v)
    np.maximum(v, -vmax, out=v)
    xn = X_out[start:stop]
    np.add(x, v, out=xn)
    rows, cols = np.nonzero((xn < lower) | (xn > upper))
    if rows.size:
        lo, hi = lower[cols], upper[cols]
        out_x, out_v = xn[rows, cols], v[rows, cols]
        if boundary == CLIP:
            out_x = np.where(out_x < lo, lo, hi)
            out_v = np.zeros_like(out_v)
        elif boundary == REFLECT:
            span = hi - lo
            t = np.mod(out_x - lo, 2.0 * span)
            out_x = np.minimum(np.maximum(lo + span - np.abs(t - span), lo), hi)
            out_v = -out_v
        elif boundary == PERIODIC:
            out_x = np.minimum(lo + np.mod(out_x - lo, hi - lo), hi)
        else:
            out_v = np.zeros_like(out_v)
        xn[rows, cols] = out_x
        v[rows, cols] = out_v
    # fmax skips NaN, as the loop twin's ``if rel > vrel`` does
    vrel = float(np.fmax.reduce(np.abs(v) / (upper - lower), axis=None, initial=0.0))
    return vrel, int(rows.size)
