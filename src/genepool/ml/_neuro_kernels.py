"""Batched MLP forward pass (numpy): a chunk of genomes through one matmul per layer."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["ACTIVATIONS", "fitness", "forward", "layer_slices"]


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0, out=a)


def _tanh(a: np.ndarray) -> np.ndarray:
    return np.tanh(a, out=a)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-a)), in place; exp overflow to inf gives the right limit 0
    with np.errstate(over="ignore"):
        np.negative(a, out=a)
        np.exp(a, out=a)
    a += 1
    return np.reciprocal(a, out=a)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": _relu,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
}


def layer_slices(sizes: Sequence[int]) -> list[tuple[slice, slice]]:
    """(weights, bias) column slices of each layer in a flat genome."""
    out, start = [], 0
    for a, b in itertools.pairwise(sizes):
        w = slice(start, start + a * b)
        bias = slice(w.stop, w.stop + b)
        out.append((w, bias))
        start = bias.stop
    return out


def forward(
    W: np.ndarray, X: np.ndarray, slices: Sequence[tuple[slice, slice]], activation: str
) -> np.ndarray:
    """Logits ``(c, m, k)`` of ``c`` genomes ``W (c, n_weights)`` on ``X (m, n_in)``.

    Oracle: tests/test_ml_neuro.py::naive_logits (one network at a time, plain loops).
    """
    c = W.shape[0]
    act = ACTIVATIONS[activation]
    m = X.shape[0]
    h: np.ndarray = X
    for i, (ws, bs) in enumerate(slices):
        n_out = bs.stop - bs.start
        n_in = (ws.stop - ws.start) // n_out
        weights = W[:, ws].reshape(c, n_in, n_out)
        if i == 0:
            # The inputs are shared by every network: one GEMM (m, n_in) @ (n_in, c * n_out)
            # instead of c small products (numpy's broadcast matmul does not reach BLAS).
            wide = np.ascontiguousarray(weights.transpose(1, 0, 2)).reshape(n_in, c * n_out)
            z = np.ascontiguousarray((h @ wide).reshape(m, c, n_out).transpose(1, 0, 2))
        else:
            z = np.matmul(h, weights)  # (c, m, n_in) @ (c, n_in, n_out) -> (c, m, n_out)
        z += W[:, None, bs]
        h = z if i == len(slices) - 1 else act(z)
    return h


def fitness(z: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    """Per-network training accuracy or mean cross-entropy (float64, shape ``(c,)``).

    ``z`` is the ``(c, m, k)`` logits (overwritten), ``y`` the ``(m,)`` class codes.
    """
    if kind == "accuracy":
        return (z.argmax(axis=2) == y).mean(axis=1, dtype=np.float64)
    # log-softmax of the true class: z_y - logsumexp(z), in place on z
    z -= z.max(axis=2, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=2))
    true = np.take_along_axis(z, y[None, :, None], axis=2)[..., 0]
    return (lse - true).mean(axis=1, dtype=np.float64)
