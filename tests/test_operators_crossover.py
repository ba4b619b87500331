"""Crossover operators against the naive twins in ``tests/naive.py``.

Each operator is fed a seeded generator and the naive twin an identically seeded one from which
the test draws the same masks, cut points and uniforms, in the order the operator documents.
Distributional properties (cut-point uniformity, BLX moments, SBX spread) use tolerances of
5 standard errors of the sample size.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from genepool.errors import ConfigError
from genepool.operators import crossover as cx
from genepool.operators._common import swap_mask as _swap_mask

SHAPES = [(1, 1), (1, 2), (5, 1), (7, 3), (16, 8), (3, 25)]


def parents(shape, seed, dtype=np.float64):
    """Two seeded parent arrays with distinct genes (so swaps are observable) and a few equal."""
    rng = np.random.default_rng(seed)
    p1 = rng.uniform(-5, 5, size=shape)
    p2 = rng.uniform(-5, 5, size=shape)
    if shape[0] > 2:
        p2[1] = p1[1]  # one identical pair
    return p1.astype(dtype), p2.astype(dtype)


def run_twice(op, p1, p2, seed, **params):
    """Operator output and the input copies, asserting that the parents were not modified."""
    b1, b2 = p1.copy(), p2.copy()
    c1, c2 = op(p1, p2, np.random.default_rng(seed), **params)
    np.testing.assert_array_equal(p1, b1)
    np.testing.assert_array_equal(p2, b2)
    assert c1.shape == p1.shape and c2.shape == p1.shape
    return c1, c2


def swap_mask(rng, shape, swap):
    """The operator's coin (``_common.swap_mask``: random bits for 0.5, float32 otherwise)."""
    return _swap_mask(shape, swap, rng)


def assert_per_position_multiset(p1, p2, c1, c2):
    """At every position the children hold exactly the parents' two genes."""
    np.testing.assert_array_equal(np.minimum(c1, c2), np.minimum(p1, p2))
    np.testing.assert_array_equal(np.maximum(c1, c2), np.maximum(p1, p2))


# -- uniform / one-point / two-point ---------------------------------------------------------


@pytest.mark.parametrize("swap", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_reproduces_naive_with_same_mask(shape, swap):
    p1, p2 = parents(shape, 1)
    c1, c2 = run_twice(cx.uniform, p1, p2, 2, swap=swap)
    e1, e2 = naive.uniform_crossover(p1, p2, swap_mask(np.random.default_rng(2), shape, swap))
    np.testing.assert_array_equal(c1, e1)
    np.testing.assert_array_equal(c2, e2)
    assert_per_position_multiset(p1, p2, c1, c2)
    if swap == 0.0:
        np.testing.assert_array_equal(c1, p1)
    if swap == 1.0:
        np.testing.assert_array_equal(c1, p2)


def test_uniform_swap_rate():
    shape, swap = (4000, 50), 0.3
    p1, p2 = np.zeros(shape), np.ones(shape)
    c1, _ = cx.uniform(p1, p2, np.random.default_rng(3), swap=swap)
    se = math.sqrt(swap * (1 - swap) / c1.size)
    assert abs(c1.mean() - swap) < 5 * se


@pytest.mark.parametrize("shape", SHAPES)
def test_one_point_reproduces_naive_with_same_cuts(shape):
    p1, p2 = parents(shape, 4)
    c1, c2 = run_twice(cx.one_point, p1, p2, 5)
    m, d = shape
    rng = np.random.default_rng(5)
    if d < 2:  # nothing to cut: copies, and no random numbers drawn
        np.testing.assert_array_equal(c1, p1)
        np.testing.assert_array_equal(c2, p2)
        return
    e1, e2 = naive.one_point(p1, p2, rng.integers(1, d, size=m))
    np.testing.assert_array_equal(c1, e1)
    np.testing.assert_array_equal(c2, e2)
    assert_per_position_multiset(p1, p2, c1, c2)


def test_one_point_with_one_gene_draws_nothing():
    rng = np.random.default_rng(6)
    c1, c2 = cx.one_point(np.zeros((3, 1)), np.ones((3, 1)), rng)
    assert rng.random() == np.random.default_rng(6).random()
    np.testing.assert_array_equal(c1, np.zeros((3, 1)))
    np.testing.assert_array_equal(c2, np.ones((3, 1)))


def test_one_point_cut_is_uniform_on_1_to_d_minus_1():
    m, d = 60_000, 6
    p1, p2 = np.zeros((m, d)), np.ones((m, d))
    c1, _ = cx.one_point(p1, p2, np.random.default_rng(7))
    # c1 is p1 before the cut and p2 from it on: the cut is the number of leading zeros.
    cuts = (c1 == 0).sum(axis=1)
    assert ((c1 == 0) == (np.arange(d)[None, :] < cuts[:, None])).all()
    probs = np.zeros(d)
    probs[1:] = 1 / (d - 1)
    freq = np.bincount(cuts, minlength=d) / m
    se = np.sqrt(probs * (1 - probs) / m)
    np.testing.assert_array_less(np.abs(freq - probs), 5 * se + 1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_two_point_reproduces_naive_with_same_cuts(shape):
    p1, p2 = parents(shape, 8)
    c1, c2 = run_twice(cx.two_point, p1, p2, 9)
    m, d = shape
    if d < 2:
        np.testing.assert_array_equal(c1, p1)
        np.testing.assert_array_equal(c2, p2)
        return
    # Mirror of the operator's draws: a first cut, then a non-zero offset to a second one.
    rng = np.random.default_rng(9)
    a = rng.integers(0, d + 1, size=m)
    b = (a + rng.integers(1, d + 1, size=m)) % (d + 1)
    e1, e2 = naive.two_point(p1, p2, a, b)
    np.testing.assert_array_equal(c1, e1)
    np.testing.assert_array_equal(c2, e2)
    assert_per_position_multiset(p1, p2, c1, c2)


def test_two_point_segment_is_uniform_among_distinct_cut_pairs():
    m, d = 90_000, 4
    p1, p2 = np.zeros((m, d)), np.ones((m, d))
    c1, _ = cx.two_point(p1, p2, np.random.default_rng(10))
    swapped = c1 == 1
    lo = np.where(swapped.any(axis=1), swapped.argmax(axis=1), -1)
    hi = lo + swapped.sum(axis=1)
    assert (lo >= 0).all()  # a < b: at least one gene is exchanged
    j = np.arange(d)[None, :]
    assert (swapped == ((j >= lo[:, None]) & (j < hi[:, None]))).all()  # one contiguous block
    pairs = list(itertools.combinations(range(d + 1), 2))
    p = 1 / len(pairs)
    se = math.sqrt(p * (1 - p) / m)
    for a, b in pairs:
        freq = np.mean((lo == a) & (hi == b))
        assert abs(freq - p) < 5 * se, (a, b)


# -- blend / arithmetic ----------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.5, 1.5])
@pytest.mark.parametrize("shape", SHAPES)
def test_blend_reproduces_naive_with_same_uniforms(shape, alpha):
    p1, p2 = parents(shape, 11)
    c1, c2 = run_twice(cx.blend, p1, p2, 12, alpha=alpha)
    rng = np.random.default_rng(12)
    u1, u2 = rng.random(shape), rng.random(shape)
    e1, e2 = naive.blend(p1, p2, alpha, u1, u2)
    np.testing.assert_allclose(c1, e1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c2, e2, rtol=1e-12, atol=1e-12)
    interval = np.abs(p1 - p2)
    for c in (c1, c2):
        assert (c >= np.minimum(p1, p2) - alpha * interval - 1e-12).all()
        assert (c <= np.maximum(p1, p2) + alpha * interval + 1e-12).all()


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_blend_children_moments(alpha):
    # For parents 0 and 1 a BLX-alpha child is uniform on [-alpha, 1 + alpha].
    n = 200_000
    c1, c2 = cx.blend(np.zeros((n, 1)), np.ones((n, 1)), np.random.default_rng(13), alpha=alpha)
    width = 1 + 2 * alpha
    sd = width / math.sqrt(12)
    for c in (c1, c2):
        assert abs(c.mean() - 0.5) < 5 * sd / math.sqrt(n)
        # The variance of a uniform sample has standard error width^2 / sqrt(180 n).
        assert abs(c.var() - sd**2) < 5 * width**2 / math.sqrt(180 * n)
        assert c.min() >= -alpha and c.max() <= 1 + alpha


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_arithmetic_fixed_alpha_reproduces_naive_and_draws_nothing(shape, alpha):
    p1, p2 = parents(shape, 14)
    rng = np.random.default_rng(15)
    c1, c2 = cx.arithmetic(p1, p2, rng, alpha=alpha)
    assert rng.random() == np.random.default_rng(15).random()
    e1, e2 = naive.arithmetic(p1, p2, [alpha] * shape[0])
    np.testing.assert_allclose(c1, e1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c2, e2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c1 + c2, p1 + p2, rtol=1e-12, atol=1e-12)
    if alpha == 0.0:
        np.testing.assert_array_equal(c1, p2)
        np.testing.assert_array_equal(c2, p1)


@pytest.mark.parametrize("shape", SHAPES)
def test_arithmetic_random_alpha_reproduces_naive_with_same_draws(shape):
    p1, p2 = parents(shape, 16)
    c1, c2 = run_twice(cx.arithmetic, p1, p2, 17)
    weights = np.random.default_rng(17).random((shape[0], 1))[:, 0]
    e1, e2 = naive.arithmetic(p1, p2, weights)
    np.testing.assert_allclose(c1, e1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c2, e2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c1 + c2, p1 + p2, rtol=1e-12, atol=1e-12)
    lo, hi = np.minimum(p1, p2), np.maximum(p1, p2)
    for c in (c1, c2):
        assert (c >= lo - 1e-12).all() and (c <= hi + 1e-12).all()


# -- SBX -------------------------------------------------------------------------------------


def sbx_case(shape, seed):
    rng = np.random.default_rng(seed)
    d = shape[1]
    lower = rng.uniform(-3, 0, size=d)
    upper = lower + rng.uniform(0.5, 4, size=d)
    p1 = rng.uniform(lower, upper, size=shape)
    p2 = rng.uniform(lower, upper, size=shape)
    if shape[0] > 2:
        p2[0] = p1[0]  # identical parents stay put
        p1[1] = lower  # parents on the bounds
        p2[2] = upper
    return p1, p2, lower, upper


@pytest.mark.parametrize("eta", [0.0, 2.0, 15.0, 100.0])
@pytest.mark.parametrize("gene_prob", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("shape", SHAPES)
def test_sbx_reproduces_naive_with_same_uniforms(shape, gene_prob, eta):
    p1, p2, lower, upper = sbx_case(shape, 18)
    params = {"lower": lower, "upper": upper, "eta": eta, "gene_prob": gene_prob}
    c1, c2 = run_twice(cx.sbx, p1, p2, 19, **params)
    rng = np.random.default_rng(19)
    u_do, u_beta, u_swap = rng.random(shape), rng.random(shape), rng.random(shape)
    e1, e2 = naive.sbx(p1, p2, lower, upper, eta, gene_prob, u_do, u_beta, u_swap)
    np.testing.assert_allclose(c1, e1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c2, e2, rtol=1e-12, atol=1e-12)
    for c in (c1, c2):
        assert (c >= lower).all() and (c <= upper).all()
    if gene_prob == 0.0:
        np.testing.assert_array_equal(c1, p1)
        np.testing.assert_array_equal(c2, p2)
    if shape[0] > 2:
        np.testing.assert_array_equal(c1[0], p1[0])
        np.testing.assert_array_equal(c2[0], p2[0])


@pytest.mark.parametrize("eta", [1.0, 5.0, 20.0])
def test_sbx_spread_factor_distribution_far_from_bounds(eta):
    # Far from the bounds SBX keeps the parents' mean and its spread factor
    # beta = |c1 - c2| / |p1 - p2| has P(beta <= b) = b^(eta + 1) / 2 for b <= 1.
    n = 100_000
    p1, p2 = np.zeros((n, 1)), np.ones((n, 1))
    c1, c2 = cx.sbx(p1, p2, np.random.default_rng(20), -1e6, 1e6, eta=eta, gene_prob=1.0)
    np.testing.assert_allclose(c1 + c2, 1.0, atol=1e-9)
    beta = np.abs(c1 - c2)[:, 0]
    for b in (0.5, 0.9, 1.0):
        p = b ** (eta + 1) / 2
        assert abs(np.mean(beta <= b) - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-12
    # The children are swapped with probability 1/2: c1 is the larger one half of the time.
    assert abs(np.mean(c1 > c2) - 0.5) < 5 * math.sqrt(0.25 / n)


def test_sbx_larger_eta_keeps_children_closer():
    n = 20_000
    p1, p2 = np.full((n, 1), 0.4), np.full((n, 1), 0.6)
    spread = []
    for eta in (1.0, 10.0, 100.0):
        c1, c2 = cx.sbx(p1, p2, np.random.default_rng(21), 0.0, 1.0, eta=eta, gene_prob=1.0)
        spread.append(np.mean(np.abs(c1 - c2)))
    assert spread[0] > spread[1] > spread[2]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(1, 6),
    d=st.integers(1, 5),
    eta=st.floats(0, 50),
)
def test_sbx_property_children_in_bounds(seed, m, d, eta):
    p1, p2, lower, upper = sbx_case((m, d), seed)
    c1, c2 = cx.sbx(p1, p2, np.random.default_rng(seed), lower, upper, eta=eta, gene_prob=1.0)
    for c in (c1, c2):
        assert np.isfinite(c).all()
        assert (c >= lower).all() and (c <= upper).all()


# -- shared contract -------------------------------------------------------------------------

BOUNDS = {"lower": -5.0, "upper": 5.0}
OPERATORS = [
    (cx.uniform, {}),
    (cx.one_point, {}),
    (cx.two_point, {}),
    (cx.blend, {"alpha": 0.5}),
    (cx.arithmetic, {}),
    (cx.sbx, BOUNDS),
]


@pytest.mark.parametrize(("op", "params"), OPERATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossover_keeps_dtype_and_reproduces_with_seed(op, params, dtype):
    p1, p2 = parents((9, 4), 22, dtype=dtype)
    a1, a2 = run_twice(op, p1, p2, 23, **params)
    b1, b2 = op(p1, p2, np.random.default_rng(23), **params)
    assert a1.dtype == dtype and a2.dtype == dtype
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)


@pytest.mark.parametrize(("op", "params"), OPERATORS)
@pytest.mark.parametrize(
    ("s1", "s2"), [((3, 4), (3, 5)), ((3, 4), (2, 4)), ((4,), (4,)), ((2, 2, 2), (2, 2, 2))]
)
def test_crossover_rejects_mismatched_parents(op, params, s1, s2):
    with pytest.raises(ConfigError):
        op(np.zeros(s1), np.ones(s2), np.random.default_rng(0), **params)


@pytest.mark.parametrize(
    ("op", "params"),
    [
        (cx.uniform, {"swap": -0.1}),
        (cx.uniform, {"swap": 1.1}),
        (cx.uniform, {"swap": np.nan}),
        (cx.blend, {"alpha": -0.5}),
        (cx.arithmetic, {"alpha": -0.1}),
        (cx.arithmetic, {"alpha": 1.5}),
        (cx.arithmetic, {"alpha": np.nan}),
        (cx.sbx, {**BOUNDS, "eta": -1.0}),
    ],
)
def test_crossover_rejects_bad_parameters(op, params):
    with pytest.raises(ConfigError):
        op(np.zeros((2, 3)), np.ones((2, 3)), np.random.default_rng(0), **params)
