"""Mutation operators against the naive twins in ``tests/naive.py``.

Every operator first draws its Bernoulli(rate) mutation sites (``_common.gene_sites``:
geometric gaps, thinned for per-gene rates; its distribution is tested below against the
per-gene rates), then one draw per selected gene in row-major order. The tests draw the same
numbers from an identically seeded generator and give them to the naive twin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from genepool.errors import ConfigError
from genepool.operators import mutation as mut
from genepool.operators._common import gene_sites

SHAPES = [(1, 1), (6, 1), (1, 5), (10, 4), (40, 9)]
RATES = [None, 0.0, 0.3, 1.0, "per-gene"]


def rate_for(rate, d, seed=0):
    if rate == "per-gene":
        return np.random.default_rng(seed).uniform(0, 1, size=d)
    return rate


def mirror_mask(rng, shape, rate, genes=None):
    """The operator's gene mask: its site sampler (tested on its own below), as a mask."""
    r = 1.0 / shape[1] if rate is None else np.asarray(rate, dtype=np.float64)
    if genes is not None:
        r = np.where(genes, r, 0.0)
    mask = np.zeros(shape[0] * shape[1], dtype=bool)
    mask[gene_sites(shape, r, rng)] = True
    return mask.reshape(shape)


def box(d, seed):
    rng = np.random.default_rng(seed)
    lower = rng.uniform(-4, 1, size=d)
    upper = lower + rng.uniform(0.5, 6, size=d)
    return lower, upper


def population(shape, lower, upper, seed, dtype=np.float64):
    X = np.random.default_rng(seed).uniform(lower, upper, size=shape)
    if shape[0] > 2:
        X[0] = lower  # genes on the bounds
        X[1] = upper
    return X.astype(dtype)


def call(op, X, seed, **params):
    """Run ``op`` with copy=True and assert that the input was left alone."""
    before = X.copy()
    Y = op(X, np.random.default_rng(seed), **params)
    np.testing.assert_array_equal(X, before)
    assert Y.shape == X.shape and Y.dtype == X.dtype
    assert not np.shares_memory(X, Y)
    return Y


# -- polynomial ------------------------------------------------------------------------------


@pytest.mark.parametrize("eta", [0.0, 5.0, 20.0, 200.0])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("shape", SHAPES)
def test_polynomial_reproduces_naive_with_same_draws(shape, rate, eta):
    lower, upper = box(shape[1], 1)
    X = population(shape, lower, upper, 2)
    r = rate_for(rate, shape[1])
    Y = call(mut.polynomial, X, 3, lower=lower, upper=upper, eta=eta, rate=r)
    rng = np.random.default_rng(3)
    mask = mirror_mask(rng, shape, r)
    expected = naive.polynomial(X, lower, upper, eta, mask, rng.random(int(mask.sum())))
    np.testing.assert_allclose(Y, expected, rtol=1e-12, atol=1e-12)
    assert (Y >= lower).all() and (Y <= upper).all()
    np.testing.assert_array_equal(Y[~mask], X[~mask])


def test_polynomial_moves_down_or_up_with_even_odds_and_shrinks_with_eta():
    n = 100_000
    lower, upper = np.zeros(1), np.ones(1)
    X = np.full((n, 1), 0.5)
    steps = []
    for eta in (2.0, 20.0):
        Y = mut.polynomial(X, np.random.default_rng(4), lower, upper, eta=eta, rate=1.0)
        step = (Y - X)[:, 0]
        assert abs(np.mean(step < 0) - 0.5) < 5 * math.sqrt(0.25 / n)
        assert (step != 0).mean() > 0.999
        steps.append(np.mean(np.abs(step)))
    assert steps[0] > steps[1]


# -- gaussian --------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.1, "per-gene"])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gaussian_reproduces_naive_with_same_draws(shape, rate, sigma):
    lower, upper = box(shape[1], 5)
    X = population(shape, lower, upper, 6)
    r = rate_for(rate, shape[1])
    s = np.linspace(0.05, 0.5, shape[1]) if sigma == "per-gene" else sigma
    Y = call(mut.gaussian, X, 7, lower=lower, upper=upper, sigma=s, rate=r)
    rng = np.random.default_rng(7)
    mask = mirror_mask(rng, shape, r)
    z = rng.standard_normal(int(mask.sum()))
    np.testing.assert_allclose(
        Y, naive.gaussian(X, lower, upper, s, mask, z), rtol=1e-12, atol=1e-12
    )


def test_gaussian_step_size_is_sigma_times_range():
    n = 100_000
    lower, upper = np.array([0.0, -2.0]), np.array([1.0, 6.0])
    X = np.zeros((n, 2))
    Y = mut.gaussian(X, np.random.default_rng(8), lower, upper, sigma=0.1, rate=1.0)
    sd = 0.1 * (upper - lower)
    # The sample sd of n normals has standard error sd / sqrt(2 n).
    np.testing.assert_array_less(np.abs(Y.std(axis=0) - sd), 5 * sd / math.sqrt(2 * n))
    np.testing.assert_array_less(np.abs(Y.mean(axis=0)), 5 * sd / math.sqrt(n))


# -- uniform reset ---------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_reset_reproduces_naive_with_same_draws(shape, rate):
    lower, upper = box(shape[1], 9)
    X = population(shape, lower, upper, 10)
    r = rate_for(rate, shape[1])
    Y = call(mut.uniform_reset, X, 11, lower=lower, upper=upper, rate=r)
    rng = np.random.default_rng(11)
    mask = mirror_mask(rng, shape, r)
    u = rng.random(int(mask.sum()))
    np.testing.assert_allclose(
        Y, naive.uniform_reset(X, lower, upper, mask, u), rtol=1e-12, atol=1e-12
    )
    assert (Y >= lower).all() and (Y <= upper).all()


def test_per_gene_rates_are_respected():
    n = 40_000
    rates = np.array([0.0, 0.02, 0.3, 0.5, 0.85, 1.0])
    d = rates.shape[0]
    X = np.full((n, d), 2.0)  # outside [0, 1]: a reset always changes the gene
    Y = mut.uniform_reset(X, np.random.default_rng(12), np.zeros(d), np.ones(d), rate=rates)
    empirical = (Y != X).mean(axis=0)
    se = np.sqrt(rates * (1 - rates) / n)
    np.testing.assert_array_less(np.abs(empirical - rates), 5 * se + 1e-12)


def test_default_rate_is_one_over_d():
    n, d = 30_000, 8
    X = np.full((n, d), 2.0)
    Y = mut.uniform_reset(X, np.random.default_rng(13), np.zeros(d), np.ones(d))
    se = math.sqrt((1 / d) * (1 - 1 / d) / (n * d))
    assert abs((Y != X).mean() - 1 / d) < 5 * se


# -- integer step ----------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 3])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("shape", SHAPES)
def test_integer_step_reproduces_naive_with_same_draws(shape, rate, step):
    rng = np.random.default_rng(14)
    d = shape[1]
    genes = rng.random(d) < 0.6
    X = rng.integers(-5, 6, size=shape) + rng.uniform(-0.4, 0.4, size=shape)
    r = rate_for(rate, d)
    Y = call(mut.integer_step, X, 15, genes=genes, step=step, rate=r)
    rng = np.random.default_rng(15)
    mask = mirror_mask(rng, shape, r, genes=genes)
    u = rng.random(int(mask.sum()))
    np.testing.assert_array_equal(Y, naive.integer_step(X, step, mask, u))
    moved = np.floor(Y + 0.5) - np.floor(X + 0.5)  # decoded integers
    np.testing.assert_array_equal(np.abs(moved), np.where(mask, step, 0))
    np.testing.assert_array_equal(Y[:, ~genes], X[:, ~genes])


def test_integer_step_rate_one_moves_every_integer_gene_with_even_odds():
    n = 50_000
    genes = np.array([True, False, True])
    X = np.zeros((n, 3))
    Y = mut.integer_step(X, np.random.default_rng(16), genes, step=2, rate=1.0)
    assert (np.abs(Y[:, genes]) == 2).all()
    assert (Y[:, ~genes] == 0).all()
    up = (Y[:, genes] > 0).mean()
    assert abs(up - 0.5) < 5 * math.sqrt(0.25 / (2 * n))


# -- categorical resample --------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("seed", range(3))
def test_categorical_resample_changes_exactly_the_masked_genes(rate, seed):
    rng = np.random.default_rng(seed)
    n_choices = np.array([0, 1, 2, 3, 5, 1, 7])
    shape = (30, n_choices.shape[0])
    # Encoded categories live in [-0.5, k - 0.5]; decode to the nearest index.
    X = rng.uniform(-0.5, np.maximum(n_choices, 1) - 0.5, size=shape)
    r = rate_for(rate, shape[1], seed)
    Y = call(mut.categorical_resample, X, seed + 100, n_choices=n_choices, rate=r)
    mask = mirror_mask(np.random.default_rng(seed + 100), shape, r, genes=n_choices >= 2)
    for i in range(shape[0]):
        for j in range(shape[1]):
            k = int(n_choices[j])
            if mask[i, j]:
                new = Y[i, j]
                assert new == int(new) and 0 <= new <= k - 1
                assert int(new) != naive.decode_index(X[i, j], k)
            else:
                assert Y[i, j] == X[i, j]


def test_categorical_resample_never_touches_genes_with_fewer_than_two_choices():
    X = np.random.default_rng(17).uniform(-0.5, 0.5, size=(200, 3))
    Y = mut.categorical_resample(X, np.random.default_rng(18), np.array([1, 0, 1]), rate=1.0)
    np.testing.assert_array_equal(Y, X)


@pytest.mark.parametrize("k", [2, 4])
def test_categorical_resample_is_uniform_over_the_other_categories(k):
    n = 60_000
    rng = np.random.default_rng(19)
    current = rng.integers(0, k, size=n)
    X = (current + rng.uniform(-0.45, 0.45, size=n))[:, None]
    Y = mut.categorical_resample(X, rng, np.array([k]), rate=1.0)[:, 0].astype(int)
    assert (Y != current).all()
    for c in range(k):
        new = Y[current == c]
        probs = np.full(k, 1 / (k - 1))
        probs[c] = 0.0
        freq = np.bincount(new, minlength=k) / new.shape[0]
        se = np.sqrt(probs * (1 - probs) / new.shape[0])
        np.testing.assert_array_less(np.abs(freq - probs), 5 * se + 1e-12)


# -- shared contract -------------------------------------------------------------------------


def operators(d):
    lower, upper = np.zeros(d), np.full(d, 4.0)
    return [
        (mut.polynomial, {"lower": lower, "upper": upper}),
        (mut.gaussian, {"lower": lower, "upper": upper}),
        (mut.uniform_reset, {"lower": lower, "upper": upper}),
        (mut.integer_step, {"genes": np.ones(d, dtype=bool)}),
        (mut.categorical_resample, {"n_choices": np.full(d, 5)}),
    ]


NAMES = ["polynomial", "gaussian", "uniform_reset", "integer_step", "categorical_resample"]


@pytest.mark.parametrize("which", range(5), ids=NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rate_zero_changes_nothing_and_rate_one_changes_every_gene(which, dtype):
    op, params = operators(6)[which]
    X = np.random.default_rng(20).uniform(0.6, 3.4, size=(50, 6)).astype(dtype)
    np.testing.assert_array_equal(call(op, X, 21, rate=0.0, **params), X)
    Y = call(op, X, 22, rate=1.0, **params)
    assert (Y != X).all()


@pytest.mark.parametrize("which", range(5), ids=NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_copy_false_mutates_in_place_like_copy_true(which, dtype):
    op, params = operators(4)[which]
    X = np.random.default_rng(23).uniform(0.6, 3.4, size=(30, 4)).astype(dtype)
    expected = call(op, X, 24, rate=0.5, **params)
    Z = X.copy()
    out = op(Z, np.random.default_rng(24), rate=0.5, copy=False, **params)
    assert out is Z
    np.testing.assert_array_equal(Z, expected)
    assert (Z != X).any()


@pytest.mark.parametrize("which", range(5), ids=NAMES)
@pytest.mark.parametrize("rate", [-0.1, 1.5, np.nan, [0.5, 0.5], [[0.5] * 4], np.full(5, 0.1)])
def test_bad_rate_raises(which, rate):
    op, params = operators(4)[which]
    with pytest.raises(ConfigError):
        op(np.ones((3, 4)), np.random.default_rng(0), rate=rate, **params)


@pytest.mark.parametrize("which", range(5), ids=NAMES)
@pytest.mark.parametrize("shape", [(4,), (2, 2, 4)])
def test_bad_population_shape_raises(which, shape):
    op, params = operators(4)[which]
    with pytest.raises(ConfigError):
        op(np.ones(shape), np.random.default_rng(0), **params)


def test_polynomial_rejects_negative_eta():
    with pytest.raises(ConfigError):
        mut.polynomial(
            np.ones((2, 2)), np.random.default_rng(0), np.zeros(2), np.full(2, 2.0), eta=-1.0
        )


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    d=st.integers(1, 6),
    eta=st.floats(0, 100),
    rate=st.floats(0, 1),
)
def test_polynomial_property_stays_in_bounds_and_touches_only_masked_genes(seed, n, d, eta, rate):
    lower, upper = box(d, seed)
    X = population((n, d), lower, upper, seed)
    Y = mut.polynomial(X, np.random.default_rng(seed), lower, upper, eta=eta, rate=rate)
    assert np.isfinite(Y).all()
    assert (Y >= lower).all() and (Y <= upper).all()
    mask = mirror_mask(np.random.default_rng(seed), (n, d), rate)
    np.testing.assert_array_equal(Y[~mask], X[~mask])


# -- the site sampler ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rate", [0.01, 1 / 30, 0.3, 0.97, "per-gene", "per-gene-with-zeros"], ids=str
)
def test_gene_sites_hit_each_gene_with_its_rate(rate):
    n, d = 20_000, 12
    rng = np.random.default_rng(99)
    if rate == "per-gene":
        r = np.random.default_rng(1).uniform(0.0, 0.6, size=d)
    elif rate == "per-gene-with-zeros":
        r = np.where(np.arange(d) % 3 == 0, 0.0, 0.25)
    else:
        r = np.full(d, rate)
    pos = gene_sites((n, d), r if isinstance(rate, str) else rate, rng)
    assert pos.dtype == np.int64
    assert np.all(np.diff(pos) > 0) and (pos.size == 0 or (pos[0] >= 0 and pos[-1] < n * d))
    counts = np.bincount(pos % d, minlength=d)
    se = np.sqrt(n * r * (1 - r)) + 1e-12
    assert np.all(np.abs(counts - n * r) <= 5 * se + (r == 0) * 0), (counts, n * r)
    assert np.all(counts[r == 0] == 0)
    # rows are independent: hits per row follow the binomial mean and variance
    per_row = np.bincount(pos // d, minlength=n)
    assert abs(per_row.mean() - r.sum()) < 5 * np.sqrt((r * (1 - r)).sum() / n)
    var = (r * (1 - r)).sum()
    assert abs(per_row.var() - var) < 0.1 * var + 1e-9


def test_gene_sites_edge_rates():
    rng = np.random.default_rng(0)
    assert gene_sites((5, 4), 0.0, rng).size == 0
    np.testing.assert_array_equal(gene_sites((5, 4), 1.0, rng), np.arange(20))
    assert gene_sites((0, 4), 0.5, rng).size == 0
