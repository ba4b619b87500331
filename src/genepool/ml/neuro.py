"""Neuroevolution: a population of small MLPs evaluated with batched matrix products.

The genome of a network is its flat weight vector: for each layer ``l`` (sizes ``s_l`` ->
``s_{l+1}``) a ``(s_l, s_{l+1})`` weight matrix (row-major) then a ``(s_{l+1},)`` bias. A
chunk of ``c`` genomes is viewed as stacked matrices of shape ``(c, s_l, s_{l+1})`` and the
whole chunk goes forward with one ``np.matmul`` per layer: ``(c, m, s_l) @ (c, s_l, s_{l+1})``
for ``m`` samples. Working memory per network is ``m * sum(s_l)`` activations, which
:meth:`NeuralNetProblem.bytes_per_candidate` reports so that the evaluator sizes chunks to the
memory budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, DataError, check_float
from ..problem import Problem
from ..space import Space
from ._neuro_kernels import ACTIVATIONS, forward, layer_slices

__all__ = ["NeuralNetProblem"]

FITNESSES = ("accuracy", "cross_entropy")


class NeuralNetProblem(Problem):
    """Classification by a population of MLPs whose weights are the genes.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training inputs (scale them first, e.g. to [0, 1] or standardized).
    y : array-like of shape (n_samples,)
        Class labels (any values; mapped to ``0 .. n_classes - 1``, see ``classes_``).
    hidden : sequence of int, default (16,)
        Hidden layer sizes; ``()`` is a linear softmax classifier.
    activation : {"relu", "tanh", "sigmoid"}, default "tanh"
        Activation of the hidden layers (the output layer is a softmax).
    fitness : {"accuracy", "cross_entropy"}, default "cross_entropy"
        ``"accuracy"``: share of training samples classified right (maximize it);
        ``"cross_entropy"``: mean negative log-likelihood (minimize it). :attr:`sense` says
        which, and :meth:`solve` picks ``maximize``/``minimize`` accordingly. Cross-entropy
        is smooth, so selection sees progress that accuracy hides; it trains better.
    weight_bound : float, default 3.0
        Genes live in ``[-weight_bound, weight_bound]``.
    dtype : {float32, float64}, default float32
        Precision of the forward pass.

    Attributes
    ----------
    space : Space
        ``n_weights`` real genes ``w0 ..``.
    layer_sizes : tuple of int
        ``(n_features, *hidden, n_classes)``.
    n_weights : int
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np, genepool as gp
    >>> from genepool.ml import NeuralNetProblem
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> problem = NeuralNetProblem(X, y, hidden=(4,))
    >>> problem.n_weights
    22
    >>> result = problem.solve(gp.GA(problem.space, 50, seed=0), generations=30)
    >>> bool(problem.accuracy(result.best_x, X, y) > 0.9)
    True
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        *,
        hidden: Any = (16,),
        activation: str = "tanh",
        fitness: str = "cross_entropy",
        weight_bound: float = 3.0,
        dtype: Any = np.float32,
    ) -> None:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {dtype}")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise DataError(f"X must have shape (n_samples, n_features), got {X.shape}")
        if not np.isfinite(X).all():
            raise DataError("X has NaN or inf values")
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise DataError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise DataError("y has a single class; classification needs at least two")
        try:
            hidden = tuple(int(h) for h in hidden)
        except (TypeError, ValueError):
            raise ConfigError(
                f"hidden must be a sequence of layer sizes, got {hidden!r}"
            ) from None
        if any(h < 1 for h in hidden):
            raise ConfigError(f"hidden layer sizes must be >= 1, got {hidden}")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        if fitness not in FITNESSES:
            raise ConfigError(f"fitness must be one of {list(FITNESSES)}, got {fitness!r}")
        self.weight_bound = check_float("weight_bound", weight_bound, low=0.0, low_inclusive=False)
        self.hidden, self.activation, self.fitness, self.dtype = hidden, activation, fitness, dtype
        self.X = np.ascontiguousarray(X, dtype=dtype)
        self.y = codes.astype(np.int64)
        self.layer_sizes = (X.shape[1], *hidden, self.classes_.shape[0])
        self._slices = layer_slices(self.layer_sizes)
        self.n_weights = self._slices[-1][1].stop
        self.space = Space.box(-self.weight_bound, self.weight_bound, self.n_weights, prefix="w")

    @property
    def sense(self) -> str:
        """``"max"`` for accuracy, ``"min"`` for cross-entropy."""
        return "max" if self.fitness == "accuracy" else "min"

    # -- evaluation --------------------------------------------------------------------------
    def logits(self, W: np.ndarray, X: np.ndarray | None = None) -> np.ndarray:
        """Output-layer logits of each network: shape ``(n_networks, n_samples, n_classes)``.

        ``W`` is ``(n_networks, n_weights)`` (or one genome ``(n_weights,)``); ``X`` defaults
        to the training inputs.
        """
        W = np.atleast_2d(np.asarray(W))
        if W.shape[1] != self.n_weights:
            raise ConfigError(f"W must have {self.n_weights} columns, got shape {W.shape}")
        Xs = self.X if X is None else np.ascontiguousarray(X, dtype=self.dtype)
        if Xs.ndim != 2 or Xs.shape[1] != self.layer_sizes[0]:
            raise DataError(f"X must have shape (n, {self.layer_sizes[0]}), got {Xs.shape}")
        return forward(W.astype(self.dtype, copy=False), Xs, self._slices, self.activation)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Fitness of each genome (row of ``X``): training accuracy or cross-entropy, ``(n,)``."""
        z = self.logits(X)
        if self.fitness == "accuracy":
            return (z.argmax(axis=2) == self.y).mean(axis=1, dtype=np.float64)
        # log-softmax of the true class: z_y - logsumexp(z), in place on z
        zmax = z.max(axis=2, keepdims=True)
        z -= zmax
        lse = np.log(np.exp(z).sum(axis=2))
        true = np.take_along_axis(z, self.y[None, :, None], axis=2)[..., 0]
        return (lse - true).mean(axis=1, dtype=np.float64)

    def bytes_per_candidate(self) -> int:
        """Activations of one network on the training set (a few copies), plus its genome."""
        m, item = self.X.shape[0], self.dtype.itemsize
        widest = max(self.layer_sizes[1:])
        # per layer output, its activation; the softmax needs ~3 arrays of (m, n_classes)
        acts = m * (2 * sum(self.layer_sizes[1:]) + 3 * self.layer_sizes[-1] + widest)
        return int(acts * item + self.n_weights * (8 + item))

    # -- using the best network --------------------------------------------------------------
    def predict(self, w: np.ndarray, X: Any) -> np.ndarray:
        """Class labels predicted by genome ``w`` (shape ``(n_weights,)``) for ``X``."""
        return self.classes_[self.logits(np.asarray(w)[None, :], X)[0].argmax(axis=1)]

    def accuracy(self, w: np.ndarray, X: Any, y: Any) -> float:
        """Share of ``(X, y)`` classified right by genome ``w`` (e.g. held-out accuracy)."""
        return float(np.mean(self.predict(w, X) == np.asarray(y)))

    def holdout_accuracy(self, result: Any, X: Any, y: Any) -> float:
        """Held-out accuracy of a run's best network (``result.best_x``) on ``(X, y)``."""
        return self.accuracy(getattr(result, "best_x", result), X, y)

    def solve(self, optimizer: Any, **kwargs: Any) -> Any:
        """``gp.maximize`` (accuracy) or ``gp.minimize`` (cross-entropy) of this problem.

        ``kwargs`` go to the run (``generations``, ``memory_limit``, ...); ``progress``
        defaults to False and ``cache`` to False (real-valued genomes never repeat).
        """
        from ..run import maximize, minimize

        kwargs.setdefault("progress", False)
        kwargs.setdefault("cache", False)
        run = maximize if self.sense == "max" else minimize
        return run(self, optimizer, **kwargs)

    # -- sharing with worker processes -------------------------------------------------------
    def shared_arrays(self) -> dict[str, np.ndarray]:
        return {"X": self.X, "y": self.y, "classes": np.asarray(self.classes_)}

    def shared_config(self) -> dict[str, Any] | None:
        if self.classes_.dtype.hasobject:
            return None
        return {
            "hidden": list(self.hidden),
            "activation": self.activation,
            "fitness": self.fitness,
            "weight_bound": self.weight_bound,
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(arrays["X"], arrays["classes"][arrays["y"]], **config)

    def __repr__(self) -> str:
        return (
            f"NeuralNetProblem(layers={self.layer_sizes}, activation={self.activation!r}, "
            f"fitness={self.fitness!r}, n_weights={self.n_weights})"
        )
