from __future__ import annotations

import math

import numpy as np
import pytest

import genepool as gp
from genepool import problems
from genepool.errors import ConfigError


def naive(name, x):
    d = len(x)
    if name == "sphere":
        return sum(v * v for v in x)
    if name == "rastrigin":
        return 10 * d + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in x)
    if name == "rosenbrock":
        return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(d - 1))
    if name == "ackley":
        s1 = sum(v * v for v in x) / d
        s2 = sum(math.cos(2 * math.pi * v) for v in x) / d
        return -20 * math.exp(-0.2 * math.sqrt(s1)) - math.exp(s2) + 20 + math.e
    raise AssertionError(name)


@pytest.mark.parametrize("name", problems.names())
@pytest.mark.parametrize("dims", [2, 7, 30])
def test_matches_naive_loop(name, dims):
    prob = problems.get(name, dims)
    X = prob.space.sample(50, np.random.default_rng(dims))
    expected = [naive(name, list(row)) for row in X]
    np.testing.assert_allclose(prob.evaluate(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "optimum"),
    [("sphere", 0.0), ("rastrigin", 0.0), ("ackley", 0.0), ("rosenbrock", 1.0)],
)
def test_global_optimum_is_zero(name, optimum):
    X = np.full((1, 10), optimum)
    assert abs(problems.get(name, 10).evaluate(X)[0]) < 1e-12


def test_usual_bounds():
    assert problems.get("rastrigin", 3).space == gp.Space.box(-5.12, 5.12, 3)
    assert problems.get("ackley", 3).space.upper[0] == 32.768


def test_bad_names_and_dims():
    with pytest.raises(ConfigError, match="unknown problem 'nope'"):
        problems.get("nope", 3)
    with pytest.raises(ConfigError, match="dims must be a positive integer"):
        problems.get("sphere", 0)
    with pytest.raises(ConfigError, match="rosenbrock needs dims >= 2"):
        problems.get("rosenbrock", 1)
