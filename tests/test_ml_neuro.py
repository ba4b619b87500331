"""genepool.ml.NeuralNetProblem: batched forward pass vs a naive loop, fitness, digits.

Both backends (numpy, torch) are checked against the same per-sample loop; the torch cases
skip only where PyTorch is not installed (``.[test]`` installs it), the CUDA ones where torch
sees no GPU.
"""

from __future__ import annotations

import importlib.util
import math
import pickle

import numpy as np
import psutil
import pytest

pytest.importorskip("sklearn")

import itertools

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import genepool as gp
from genepool.errors import ConfigError, DataError
from genepool.evaluation import ProcessExecutor
from genepool.ml import NeuralNetProblem
from genepool.ml import neuro as neuro_module

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed")


def _has_cuda() -> bool:
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


BACKENDS = [
    pytest.param(("numpy", None), id="numpy"),
    pytest.param(("torch", None), id="torch-cpu", marks=needs_torch),
    pytest.param(
        ("torch", "cuda"),
        id="torch-cuda",
        marks=pytest.mark.skipif(not _has_cuda(), reason="no CUDA device"),
    ),
]


def naive_logits(w, X, sizes, activation):
    """One network, one sample, one neuron at a time (the oracle of the batched forward)."""
    act = {
        "relu": lambda v: max(v, 0.0),
        "tanh": math.tanh,
        "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
    }[activation]
    out = np.empty((X.shape[0], sizes[-1]))
    for s in range(X.shape[0]):
        h = [float(v) for v in X[s]]
        pos = 0
        for layer, (a, b) in enumerate(itertools.pairwise(sizes)):
            weights = [[w[pos + i * b + j] for j in range(b)] for i in range(a)]
            bias = [w[pos + a * b + j] for j in range(b)]
            pos += a * b + b
            z = [sum(h[i] * weights[i][j] for i in range(a)) + bias[j] for j in range(b)]
            h = z if layer == len(sizes) - 2 else [act(v) for v in z]
        out[s] = h
    return out


def naive_cross_entropy(z, y):
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("hidden", [(), (5,), (4, 3)])
def test_batched_forward_matches_naive_loop(activation, hidden, backend):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 3))
    y = rng.integers(0, 3, size=7)
    y[:3] = [0, 1, 2]
    backend, device = backend
    kw = {"activation": activation, "dtype": np.float64, "backend": backend, "device": device}
    p = NeuralNetProblem(X, y, hidden=hidden, **kw)
    assert (p.backend, p.device.split(":")[0]) == (backend, device or "cpu")
    W = rng.uniform(-2, 2, size=(6, p.n_weights))
    z = p.logits(W)
    assert z.shape == (6, 7, 3)
    for k in range(6):
        np.testing.assert_allclose(z[k], naive_logits(W[k], X, p.layer_sizes, activation))
    ce = p.evaluate(W)
    expected = [
        naive_cross_entropy(naive_logits(W[k], X, p.layer_sizes, activation), y) for k in range(6)
    ]
    np.testing.assert_allclose(ce, expected, rtol=1e-10)
    acc = NeuralNetProblem(X, y, hidden=hidden, fitness="accuracy", **kw).evaluate(W)
    np.testing.assert_allclose(acc, [(z[k].argmax(1) == y).mean() for k in range(6)])
    # held-out inputs go through the same forward pass
    X2 = rng.normal(size=(4, 3))
    np.testing.assert_allclose(
        p.logits(W[0], X2)[0], naive_logits(W[0], X2, p.layer_sizes, activation)
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hidden", [(), (8,)])
def test_float32_close_to_float64_and_chunking_invariant(backend, hidden):
    backend, device = backend
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 4))
    y = rng.integers(0, 2, size=50)
    kw = {"hidden": hidden, "backend": backend, "device": device}
    p64 = NeuralNetProblem(X, y, dtype=np.float64, **kw)
    p32 = NeuralNetProblem(X, y, **kw)
    W = p64.space.sample(20, rng)
    np.testing.assert_allclose(p32.evaluate(W), p64.evaluate(W), rtol=1e-4)
    whole = p64.evaluate(W)
    parts = np.concatenate([p64.evaluate(W[i : i + 3]) for i in range(0, 20, 3)])
    np.testing.assert_allclose(parts, whole, rtol=1e-12)


@needs_torch
@pytest.mark.parametrize("fitness", ["cross_entropy", "accuracy"])
@pytest.mark.parametrize("hidden", [(), (16,), (8, 4)])
def test_torch_and_numpy_backends_agree(fitness, hidden):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    kw = {"hidden": hidden, "fitness": fitness, "activation": "relu"}
    pn = NeuralNetProblem(X, y, backend="numpy", **kw)
    pt = NeuralNetProblem(X, y, backend="torch", **kw)
    W = pn.space.sample(64, np.random.default_rng(3))
    fn, ft = pn.evaluate(W), pt.evaluate(W)
    assert fn.dtype == ft.dtype == np.float64 and ft.shape == (64,)
    if fitness == "accuracy":
        # float32 rounding may flip a near-tie argmax: at most a sample or two per network
        assert np.abs(fn - ft).max() <= 2 / len(y)
    else:
        np.testing.assert_allclose(ft, fn, rtol=1e-5)
    np.testing.assert_allclose(pt.logits(W[:2]), pn.logits(W[:2]), rtol=1e-4, atol=1e-4)


def test_backend_auto_follows_torch_being_installed(monkeypatch):
    X, y = np.zeros((4, 2)), [0, 1, 0, 1]
    assert NeuralNetProblem(X, y, backend="numpy").backend == "numpy"
    assert NeuralNetProblem(X, y).backend == ("torch" if HAS_TORCH else "numpy")
    monkeypatch.setattr(neuro_module, "torch_installed", lambda: False)
    p = NeuralNetProblem(X, y)
    assert (p.backend, p.device) == ("numpy", "cpu")
    with pytest.raises(ConfigError, match="needs PyTorch.*genepool\\[torch\\]"):
        NeuralNetProblem(X, y, backend="torch")
    with pytest.raises(ConfigError, match="needs PyTorch"):
        NeuralNetProblem(X, y, device="cuda")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"backend": "jax"}, "backend must be one of"),
        ({"backend": "numpy", "device": "cuda"}, "needs backend='torch'"),
        pytest.param({"backend": "torch", "device": "tpu!"}, "device must be", marks=needs_torch),
        pytest.param(
            {"backend": "torch", "device": "cuda"},
            "no CUDA device",
            marks=pytest.mark.skipif(
                not HAS_TORCH or _has_cuda(), reason="needs torch on a machine without CUDA"
            ),
        ),
    ],
)
def test_bad_backend_or_device(kw, match):
    with pytest.raises(ConfigError, match=match):
        NeuralNetProblem(np.zeros((4, 2)), [0, 1, 0, 1], **kw)


@needs_torch
def test_torch_problem_pickles_without_its_tensors_and_shares_training_data():
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    p = NeuralNetProblem(X, y, hidden=(4,), backend="torch")
    W = p.space.sample(5, rng)
    expected = p.evaluate(W)
    assert p._tensors is not None
    assert p._tensors[0].data_ptr() == p.X.ctypes.data  # the CPU tensor is the array, no copy
    clone = pickle.loads(pickle.dumps(p))
    assert clone._tensors is None
    np.testing.assert_array_equal(clone.evaluate(W), expected)
    assert p.shared_config()["backend"] == "torch"
    rebuilt = NeuralNetProblem.from_shared(p.shared_arrays(), p.shared_config())
    np.testing.assert_array_equal(rebuilt.evaluate(W), expected)


@needs_torch
def test_torch_backend_through_process_workers_matches_serial():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(200, 6)), rng.integers(0, 3, size=200)
    p = NeuralNetProblem(X, y, hidden=(8,), backend="torch")
    W = p.space.sample(40, rng)
    serial = gp.Evaluator(p, cache=False).evaluate(W)
    ex = ProcessExecutor(workers=2, min_seconds=0)  # ships every chunk, however cheap
    try:
        pooled = gp.Evaluator(p, cache=False, chunk_size=10, executor=ex).evaluate(W)
        assert "shared memory" in ex.plan_note  # the workers rebuilt it from shared_config
    finally:
        ex.close()
    np.testing.assert_array_equal(pooled, serial)


@needs_torch
def test_set_threads_caps_torch_threads_once_torch_is_loaded():
    import torch

    from genepool.evaluation._pool import set_threads

    before = torch.get_num_threads()
    try:
        set_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_layout_labels_and_bytes():
    X = np.zeros((10, 64))
    y = np.array(list("abcdeabcde"))
    p = NeuralNetProblem(X, y, hidden=(16,))
    assert p.layer_sizes == (64, 16, 5)
    assert p.n_weights == 64 * 16 + 16 + 16 * 5 + 5
    assert p.space.dims == p.n_weights
    assert set(p.predict(np.zeros(p.n_weights), X)) <= set("abcde")
    assert p.bytes_per_candidate() > 10 * (16 + 5) * 4
    assert p.sense == "min"
    assert NeuralNetProblem(X, y, fitness="accuracy").sense == "max"


@pytest.mark.parametrize(
    ("kw", "err", "match"),
    [
        ({"activation": "gelu"}, ConfigError, "activation must be one of"),
        ({"fitness": "mse"}, ConfigError, "fitness must be one of"),
        ({"hidden": (0,)}, ConfigError, "hidden layer sizes"),
        ({"weight_bound": 0}, ConfigError, "weight_bound"),
        ({"dtype": np.int32}, ConfigError, "dtype"),
    ],
)
def test_bad_arguments(kw, err, match):
    with pytest.raises(err, match=match):
        NeuralNetProblem(np.zeros((4, 2)), [0, 1, 0, 1], **kw)


def test_bad_data():
    with pytest.raises(DataError, match="single class"):
        NeuralNetProblem(np.zeros((4, 2)), [0, 0, 0, 0])
    with pytest.raises(DataError, match="y must have shape"):
        NeuralNetProblem(np.zeros((4, 2)), [0, 1])
    with pytest.raises(DataError, match="NaN"):
        NeuralNetProblem(np.full((2, 2), np.nan), [0, 1])


def _budgeted_now() -> int:
    """This process's anonymous + shared memory (what memory_limit bounds), RSS elsewhere."""
    from genepool.memory._proc import read_status

    now = read_status()
    return psutil.Process().memory_info().rss if now is None else now.budgeted


def test_memory_budget_chunks_the_population():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 32))
    y = rng.integers(0, 10, size=2000)
    p = NeuralNetProblem(X, y, hidden=(64,))
    # relative to what the (long) test session already holds: 600 MiB of room
    limit = _budgeted_now() + 600 * 2**20
    res = p.solve(gp.GA(p.space, 2000, seed=0), generations=2, memory_limit=limit)
    assert len(res.memory.chunk_sizes) >= 1
    assert max(res.memory.chunk_sizes) < 2000  # ~1.6 MB per network: not all at once
    assert res.memory.peak_anon < limit  # what the budget bounds


def _digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)


GA_OPTIONS = {
    "crossover": "blend",
    "mutation": ("gaussian", {"sigma": 0.02}),
    "mutation_rate": 0.2,
}


@pytest.mark.parametrize("backend", BACKENDS[:2])
def test_digits_fast(backend):
    Xtr, Xte, ytr, yte = _digits()
    p = NeuralNetProblem(Xtr, ytr, hidden=(), backend=backend[0])
    res = p.solve(gp.GA(p.space, 100, seed=0, **GA_OPTIONS), generations=100)
    # measured 0.769 held-out (seed 0; numpy and torch alike); bound with margin, as another
    # BLAS can round differently and send the GA elsewhere
    assert p.holdout_accuracy(res, Xte, yte) >= 0.70
    assert res.best_fitness < 1.0


@pytest.mark.slow
def test_digits_reaches_90_percent_held_out():
    Xtr, Xte, ytr, yte = _digits()
    p = NeuralNetProblem(Xtr, ytr, hidden=())
    res = p.solve(gp.GA(p.space, 100, seed=0, **GA_OPTIONS), generations=300, time_limit=300)
    # measured 0.927 held-out, 0.940 train (seed 0; 2.9 s on torch, 7.6 s on numpy, 2 cores)
    assert p.holdout_accuracy(res, Xte, yte) >= 0.90


@needs_torch
def test_budget_error_on_torch_points_to_the_numpy_backend():
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(500, 8)), rng.integers(0, 3, size=500)
    p = NeuralNetProblem(X, y, hidden=(8,), backend="torch")
    assert NeuralNetProblem(X, y, backend="numpy").memory_hint() is None
    limit = _budgeted_now() - 20 * 2**20  # torch is already over it
    ev = gp.Evaluator(p, memory_limit=limit, cache=False)
    with pytest.raises(gp.errors.MemoryBudgetExceeded, match="backend='numpy' is much lighter"):
        ev.evaluate(p.space.sample(50, rng))
    # a run refuses such a budget before it starts, with the same advice
    with pytest.raises(ConfigError, match="too small.*backend='numpy' is much lighter"):
        p.solve(gp.GA(p.space, 20, seed=0), generations=2, memory_limit=limit)
