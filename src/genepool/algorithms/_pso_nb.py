"""Numba kernels of :class:`genepool.PSO`: personal bests, neighbourhood bests and the move.

Arrays and scalars in, arrays out; no random numbers are drawn here (the wrapper passes the
uniforms it drew from the optimizer's generator). Oracles: the loop twins in ``tests/test_pso.py``.
"""

from __future__ import annotations

from .._numba import njit

#: Boundary codes of :func:`move_nb`.
CLIP, REFLECT, RANDOM, PERIODIC = 0, 1, 2, 3


@njit
def update_pbest_nb(X, f, pbest_X, pbest_f):
    """Rows with ``f < pbest_f`` replace their personal best (in place); NaN never does.

    Returns the number of improved particles. Oracle: ``naive_update_pbest``.
    """
    n, d = X.shape
    improved = 0
    for i in range(n):
        if f[i] < pbest_f[i]:
            pbest_f[i] = f[i]
            for j in range(d):
                pbest_X[i, j] = X[i, j]
            improved += 1
    return improved


@njit
def neighbourhood_best_nb(f, offsets, out):
    """``out[i]``: index of the smallest ``f[(i + o) % n]`` over ``o`` in ``offsets`` (the first
    offset wins ties); O(n * len(offsets)). Oracle: ``naive_neighbourhood_best``."""
    n = f.shape[0]
    for i in range(n):
        best = (i + offsets[0]) % n
        fb = f[best]
        for m in range(1, offsets.shape[0]):
            j = (i + offsets[m]) % n
            if f[j] < fb:
                best = j
                fb = f[j]
        out[i] = best
    return out


@njit
def move_nb(X, V, pbest_X, nbest, r, w, c1, c2, vmax, lower, upper, boundary, X_out, start):
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
    b = r.shape[0]
    d = X.shape[1]
    flexible = nbest.shape[0] == 1
    vrel = 0.0
    outside = 0
    for k in range(b):
        i = start + k
        g = nbest[0] if flexible else nbest[i]
        for j in range(d):
            x = X[i, j]
            v = (
                w * V[i, j]
                + c1 * r[k, 0, j] * (pbest_X[i, j] - x)
                + c2 * r[k, 1, j] * (pbest_X[g, j] - x)
            )
            if v > vmax[j]:
                v = vmax[j]
            elif v < -vmax[j]:
                v = -vmax[j]
            xn = x + v
            lo = lower[j]
            hi = upper[j]
            if xn < lo or xn > hi:
                outside += 1
                if boundary == CLIP:
                    xn = lo if xn < lo else hi
                    v = 0.0
                elif boundary == REFLECT:
                    span = hi - lo
                    t = (xn - lo) % (2.0 * span)
                    xn = lo + span - abs(t - span)
                    # lo + span can exceed hi by one ulp
                    xn = min(max(xn, lo), hi)
                    v = -v
                elif boundary == PERIODIC:
                    xn = min(lo + (xn - lo) % (hi - lo), hi)
                else:
                    v = 0.0
            V[i, j] = v
            X_out[i, j] = xn
            rel = abs(v) / (hi - lo)
            if rel > vrel:
                vrel = rel
    return vrel, outside
