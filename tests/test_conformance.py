"""Conformance suite: every optimizer in the registry keeps the Optimizer contract."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import genepool as gp
from genepool.errors import OptimizerError
from support import MIXED_SPACE, mixed_fitness

BOX = gp.Space.box(-5.12, 5.12, 6)


def _sphere(X):
    return gp.problems.sphere(X)


# name -> (factory(seed), fitness)
REGISTRY = {
    "ga-default": (lambda seed: gp.GA(BOX, 40, seed=seed), _sphere),
    "ga-generational": (
        lambda seed: gp.GA(BOX, 40, replacement="generational", elitism=2, seed=seed),
        _sphere,
    ),
    "ga-comma": (
        lambda seed: gp.GA(BOX, 20, replacement="comma", offspring_size=60, seed=seed),
        _sphere,
    ),
    "ga-sbx-gaussian-roulette": (
        lambda seed: gp.GA(
            BOX,
            30,
            selection="roulette",
            crossover="sbx",
            mutation="gaussian",
            repair="clip",
            seed=seed,
        ),
        _sphere,
    ),
    "ga-blend-sus-resample": (
        lambda seed: gp.GA(
            BOX,
            31,
            selection="sus",
            crossover=("blend", {"alpha": 0.5}),
            repair="resample",
            seed=seed,
        ),
        _sphere,
    ),
    "ga-float32": (lambda seed: gp.GA(BOX, 40, dtype=np.float32, seed=seed), _sphere),
    "ga-mixed-space": (lambda seed: gp.GA(MIXED_SPACE, 40, seed=seed), mixed_fitness),
    "ga-mixed-integer-step": (
        lambda seed: gp.GA(
            MIXED_SPACE,
            40,
            mutation="integer_step",
            crossover="two_point",
            selection="rank",
            seed=seed,
        ),
        mixed_fitness,
    ),
    "pso-default": (lambda seed: gp.PSO(BOX, 40, seed=seed), _sphere),
    "pso-ring-clip": (
        lambda seed: gp.PSO(BOX, 31, topology=("ring", {"k": 4}), boundary="clip", seed=seed),
        _sphere,
    ),
    "pso-von-neumann-random-unclamped": (
        lambda seed: gp.PSO(
            BOX, 25, topology="von_neumann", boundary="random", velocity_clamp=None, seed=seed
        ),
        _sphere,
    ),
    "pso-periodic-linear-inertia": (
        lambda seed: gp.PSO(
            BOX,
            30,
            inertia=("linear", 0.9, 0.4),
            max_iterations=50,
            boundary="periodic",
            seed=seed,
        ),
        _sphere,
    ),
    "pso-mixed-space": (lambda seed: gp.PSO(MIXED_SPACE, 40, seed=seed), mixed_fitness),
}

params = pytest.mark.parametrize("name", sorted(REGISTRY))


def _run(opt, fitness, generations=5):
    asked = []
    for _ in range(generations):
        X = opt.ask()
        asked.append(X.copy())
        opt.tell(X, fitness(X))
    return asked


@params
def test_ask_shapes_and_bounds(name):
    factory, fitness = REGISTRY[name]
    opt = factory(0)
    for _ in range(6):
        X = opt.ask()
        assert X.ndim == 2 and X.shape[1] == opt.space.dims
        assert X.shape[0] >= 1
        assert np.isfinite(X).all()
        assert opt.space.contains(X).all(), "ask() left the bounds"
        opt.tell(X, fitness(X))


@params
def test_tell_does_not_mutate_inputs(name):
    factory, fitness = REGISTRY[name]
    opt = factory(1)
    for _ in range(3):
        X = opt.ask()
        f = fitness(X)
        X_before, f_before = X.copy(), f.copy()
        opt.tell(X, f)
        np.testing.assert_array_equal(X, X_before)
        np.testing.assert_array_equal(f, f_before)
        # and the optimizer holds no reference to them
        X[:] = 0.0
        f[:] = -1e9
        assert opt.best()[1] != -1e9


@params
def test_same_seed_same_run_and_different_seed_differs(name):
    factory, fitness = REGISTRY[name]
    a = _run(factory(7), fitness)
    b = _run(factory(7), fitness)
    c = _run(factory(8), fitness)
    for xa, xb in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
    assert not all(np.array_equal(xa, xc) for xa, xc in zip(a, c))


@params
def test_nan_fitness_never_becomes_best(name):
    factory, fitness = REGISTRY[name]
    opt = factory(3)
    for _ in range(5):
        X = opt.ask()
        f = fitness(X).astype(np.float64)
        f[::2] = np.nan  # half the population is NaN, including likely good ones
        opt.tell(X, f)
        assert np.isfinite(opt.best()[1])


@params
def test_state_round_trips_through_a_pickle_free_checkpoint(name):
    factory, fitness = REGISTRY[name]
    opt = factory(11)
    _run(opt, fitness, 3)
    arrays, meta = opt.state_dict()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    meta_json = json.dumps(meta)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        loaded = {k: z[k] for k in z.files}
    fresh = factory(999)  # different seed: the state must overwrite everything
    fresh.load_state_dict(loaded, json.loads(meta_json))
    cont_a = _run(opt, fitness, 3)
    cont_b = _run(fresh, fitness, 3)
    for xa, xb in zip(cont_a, cont_b):
        np.testing.assert_array_equal(xa, xb)


@params
def test_ask_tell_order_is_enforced(name):
    factory, fitness = REGISTRY[name]
    opt = factory(0)
    with pytest.raises(OptimizerError, match="without a pending ask"):
        opt.tell(np.zeros((3, opt.space.dims)), np.zeros(3))
    X = opt.ask()
    with pytest.raises(OptimizerError, match="twice"):
        opt.ask()
    with pytest.raises(OptimizerError, match="shape"):
        opt.tell(X[:-1], fitness(X[:-1]))
    with pytest.raises(OptimizerError, match="fitness must have shape"):
        opt.tell(X, np.zeros(X.shape[0] + 1))


@params
def test_optimizer_improves_on_its_problem(name):
    factory, fitness = REGISTRY[name]
    opt = factory(5)
    X = opt.ask()
    f0 = fitness(X)
    opt.tell(X, f0)
    for _ in range(30):
        X = opt.ask()
        opt.tell(X, fitness(X))
    assert opt.best()[1] < np.median(f0)
