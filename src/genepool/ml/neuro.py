"""Neuroevolution: a population of small MLPs evaluated with batched matrix products.

The genome of a network is its flat weight vector: for each layer ``l`` (sizes ``s_l`` ->
``s_{l+1}``) a ``(s_l, s_{l+1})`` weight matrix (row-major) then a ``(s_{l+1},)`` bias. A
chunk of ``c`` genomes is viewed as stacked matrices of shape ``(c, s_l, s_{l+1})`` and the
whole chunk goes forward with one ``np.matmul`` per layer: ``(c, m, s_l) @ (c, s_l, s_{l+1})``
for ``m`` samples. Working memory per network is ``m * sum(s_l)`` activations, which
:meth:`NeuralNetProblem.bytes_per_candidate` reports so that the evaluator sizes chunks to the
memory budget.

Two backends compute the same values: numpy (``_neuro_kernels``) and torch
(``_neuro_torch``, CPU or CUDA), chosen by ``backend=``; ``"auto"`` takes torch when it is
installed (1.6-2.6x as many networks per second on 2 cores, 5-8x on 16) and numpy otherwise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, DataError, check_float
from ..problem import Problem
from ..space import Space
from . import _neuro_kernels
from ._neuro_kernels import ACTIVATIONS, layer_slices

if TYPE_CHECKING:  # torch only where the torch backend runs
    import torch

    from ..algorithms.base import Optimizer
    from ..run import Result

__all__ = ["NeuralNetProblem"]

FITNESSES = ("accuracy", "cross_entropy")
BACKENDS = ("auto", "numpy", "torch")


def torch_installed() -> bool:
    """Whether PyTorch can be imported (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def resolve_backend(backend: str, device: str | torch.device | None) -> tuple[str, str]:
    """The backend and device a problem runs on, checked: ``("numpy", "cpu")`` or torch's.

    Raises
    ------
    ConfigError
        An unknown backend, ``backend="torch"`` (or a device) without PyTorch, a device torch
        does not know, or a CUDA device on a machine without one.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    wants_device = device is not None and str(device) != "cpu"
    if backend == "numpy":
        if wants_device:
            raise ConfigError(
                f"device={device!r} needs backend='torch'; the numpy backend runs on the CPU"
            )
        return "numpy", "cpu"
    if not torch_installed():
        if backend == "torch" or wants_device:
            raise ConfigError(
                f"backend={backend!r} with device={device!r} needs PyTorch, which is not "
                "installed: pip install 'genepool[torch]'"
            )
        return "numpy", "cpu"
    import torch

    try:
        dev = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r}: torch sees no CUDA device on this machine")
    return "torch", str(dev)


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
    backend : {"auto", "numpy", "torch"}, default "auto"
        What computes the forward pass. ``"auto"`` takes torch when it is installed
        (``pip install 'genepool[torch]'``) and numpy otherwise. Both give the same values up
        to floating-point rounding (the same seed can pick a different network when the
        backend changes). Importing torch costs 180 MiB (CPU wheel) to ~550 MiB (CUDA wheel)
        of RSS, which counts against a ``memory_limit``; ``"numpy"`` is the lightest.
    device : str, optional
        Torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``); the default is the CPU. The
        training data is copied to the device once; each chunk of genomes is sent to it and
        only the fitness values come back. The memory budget still sizes the chunks from
        :meth:`bytes_per_candidate`, so ``memory_limit`` also bounds what a chunk needs on
        the device.

    Attributes
    ----------
    space : Space
        ``n_weights`` real genes ``w0 ..``.
    layer_sizes : tuple of int
        ``(n_features, *hidden, n_classes)``.
    n_weights : int
    classes_ : ndarray of shape (n_classes,)
    backend : str
        ``"numpy"`` or ``"torch"``: the backend ``"auto"`` resolved to.
    device : str
        ``"cpu"``, or the torch device.

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
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        hidden: Sequence[int] = (16,),
        activation: str = "tanh",
        fitness: str = "cross_entropy",
        weight_bound: float = 3.0,
        dtype: npt.DTypeLike = np.float32,
        backend: str = "auto",
        device: str | None = None,
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
        self.backend, self.device = resolve_backend(backend, device)
        self._tensors: tuple[Any, Any] | None = None
        if self.backend == "torch":
            self.warm_up()

    @property
    def sense(self) -> str:
        """``"max"`` for accuracy, ``"min"`` for cross-entropy."""
        return "max" if self.fitness == "accuracy" else "min"

    # -- evaluation --------------------------------------------------------------------------
    def logits(self, W: npt.ArrayLike, X: npt.ArrayLike | None = None) -> np.ndarray:
        """Output-layer logits of each network: shape ``(n_networks, n_samples, n_classes)``.

        ``W`` is ``(n_networks, n_weights)`` (or one genome ``(n_weights,)``); ``X`` defaults
        to the training inputs.
        """
        W = self._genomes(W)
        Xs = self.X if X is None else np.ascontiguousarray(X, dtype=self.dtype)
        if Xs.ndim != 2 or Xs.shape[1] != self.layer_sizes[0]:
            raise DataError(f"X must have shape (n, {self.layer_sizes[0]}), got {Xs.shape}")
        if self.backend == "numpy":
            return _neuro_kernels.forward(W, Xs, self._slices, self.activation)
        import torch

        from . import _neuro_torch

        with torch.inference_mode():
            Xt = self._training_tensors()[0] if X is None else self._tensor(Xs)
            z = _neuro_torch.forward(self._tensor(W), Xt, self._slices, self.activation)
            return z.cpu().numpy()

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Fitness of each genome (row of ``X``): training accuracy or cross-entropy, ``(n,)``."""
        if self.backend == "numpy":
            return _neuro_kernels.fitness(self.logits(X), self.y, self.fitness)
        import torch

        from . import _neuro_torch

        W = self._genomes(X)
        with torch.inference_mode():
            Xt, yt = self._training_tensors()
            z = _neuro_torch.forward(self._tensor(W), Xt, self._slices, self.activation)
            return _neuro_torch.fitness(z, yt, self.fitness).cpu().numpy()

    def _genomes(self, W: npt.ArrayLike) -> np.ndarray:
        """``W`` as a checked ``(n_networks, n_weights)`` array of the problem's dtype."""
        W = np.atleast_2d(np.asarray(W))
        if W.shape[1] != self.n_weights:
            raise ConfigError(f"W must have {self.n_weights} columns, got shape {W.shape}")
        return W.astype(self.dtype, copy=False)

    def warm_up(self) -> None:
        """Evaluate one network, so that the backend's one-off costs are paid now.

        On the torch backend this imports torch, loads its CPU kernels or creates the CUDA
        context (~350 MiB of host memory), and moves the training data to the device. It runs
        when the problem is made, so that memory is in the budget's baseline instead of being
        charged to the first chunk, which would make every later chunk needlessly small.
        """
        self.evaluate(np.zeros((1, self.n_weights)))

    def memory_hint(self) -> str | None:
        """On torch: its libraries are part of the baseline; the numpy backend is lighter."""
        if self.backend != "torch":
            return None
        return (
            f"This NeuralNetProblem runs on torch ({self.device}), whose libraries take "
            "180-550 MiB of the process baseline (a CUDA context ~350 MiB more); "
            "backend='numpy' is much lighter."
        )

    # -- torch backend -----------------------------------------------------------------------
    def _tensor(self, a: np.ndarray) -> Any:
        import torch

        from ._neuro_torch import to_tensor

        return to_tensor(a, torch.device(self.device))

    def _training_tensors(self) -> tuple[Any, Any]:
        """``(X, y)`` as tensors on the device, made once (on the CPU they share the arrays)."""
        if self._tensors is None:
            self._tensors = (self._tensor(self.X), self._tensor(self.y))
        return self._tensors

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tensors"] = None  # rebuilt on first use where the problem lands
        return state

    def bytes_per_candidate(self) -> int:
        """Activations of one network on the training set (a few copies), plus its genome."""
        m, item = self.X.shape[0], self.dtype.itemsize
        widest = max(self.layer_sizes[1:])
        # per layer output, its activation; the softmax needs ~3 arrays of (m, n_classes)
        acts = m * (2 * sum(self.layer_sizes[1:]) + 3 * self.layer_sizes[-1] + widest)
        return int(acts * item + self.n_weights * (8 + item))

    # -- using the best network --------------------------------------------------------------
    def predict(self, w: npt.ArrayLike, X: npt.ArrayLike) -> np.ndarray:
        """Class labels predicted by genome ``w`` (shape ``(n_weights,)``) for ``X``."""
        return self.classes_[self.logits(np.asarray(w)[None, :], X)[0].argmax(axis=1)]

    def accuracy(self, w: npt.ArrayLike, X: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Share of ``(X, y)`` classified right by genome ``w`` (e.g. held-out accuracy)."""
        return float(np.mean(self.predict(w, X) == np.asarray(y)))

    def holdout_accuracy(
        self, result: Result | npt.ArrayLike, X: npt.ArrayLike, y: npt.ArrayLike
    ) -> float:
        """Held-out accuracy of a run's best network (``result.best_x``) on ``(X, y)``."""
        # a Result (or anything with best_x) gives its best_x; mypy keeps Result in the union
        return self.accuracy(getattr(result, "best_x", result), X, y)  # type: ignore[arg-type]

    def solve(self, optimizer: Optimizer, **kwargs: Any) -> Result:
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
            "backend": self.backend,
            "device": self.device,
        }

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> Problem:
        return cls(arrays["X"], arrays["classes"][arrays["y"]], **config)

    def __repr__(self) -> str:
        return (
            f"NeuralNetProblem(layers={self.layer_sizes}, activation={self.activation!r}, "
            f"fitness={self.fitness!r}, n_weights={self.n_weights}, backend={self.backend!r}, "
            f"device={self.device!r})"
        )
