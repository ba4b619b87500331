"""Bound repair against the naive twins in ``tests/naive.py``.

``clip`` must equal its naive twin exactly. ``reflect`` must equal the float mirror loop exactly
where every mirror step is exact (dyadic bounds and values), and the exact rational mirror loop
within a few ulps of the operands elsewhere; it must always land inside the bounds.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import naive
from genepool.operators import repair as rep

EPS = np.finfo(np.float64).eps


def case(shape, seed, spread=3.0):
    """Seeded bounds and a population reaching ``spread`` widths outside them, with NaN."""
    rng = np.random.default_rng(seed)
    n, d = shape
    lower = rng.uniform(-5, 5, size=d)
    upper = lower + rng.uniform(0.1, 4, size=d)
    width = upper - lower
    X = rng.uniform(lower - spread * width, upper + spread * width, size=shape)
    if n > 3:
        X[0] = lower  # exactly on the bounds: inside
        X[1] = upper
        X[2, 0] = np.nan
    return X, lower, upper


SHAPES = [(1, 1), (9, 1), (1, 6), (12, 5), (50, 3)]


def call(op, X, *args, **kw):
    before = X.copy()
    Y = op(X, *args, **kw)
    np.testing.assert_array_equal(X, before)
    assert Y.shape == X.shape and Y.dtype == X.dtype
    assert not np.shares_memory(X, Y)
    return Y


def in_bounds_or_nan(Y, lower, upper):
    return ((Y >= lower) & (Y <= upper)) | np.isnan(Y)


# -- clip ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_clip_equals_naive(shape, seed):
    X, lower, upper = case(shape, seed)
    Y = call(rep.clip, X, lower, upper)
    np.testing.assert_array_equal(Y, naive.clip(X, lower, upper))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_copy_false_works_in_place_and_keeps_dtype(dtype):
    X, lower, upper = case((20, 4), 3)
    X = X.astype(dtype)
    expected = call(rep.clip, X, lower, upper)
    out = rep.clip(X, lower, upper, copy=False)
    assert out is X
    np.testing.assert_array_equal(X, expected)


def test_clip_accepts_scalar_bounds():
    X, _, _ = case((10, 3), 4)
    Y = call(rep.clip, X, -1.0, 2.0)
    np.testing.assert_array_equal(Y, naive.clip(X, [-1.0] * 3, [2.0] * 3))


# -- reflect ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shape", SHAPES)
def test_reflect_equals_float_mirror_loop_on_dyadic_values(shape, seed):
    # Multiples of 1/8 with small magnitudes: every mirror step and the formula are exact.
    rng = np.random.default_rng(seed)
    d = shape[1]
    lower = rng.integers(-40, 40, size=d) / 8
    upper = lower + rng.integers(1, 40, size=d) / 8
    X = rng.integers(-800, 800, size=shape) / 8
    Y = call(rep.reflect, X, lower, upper)
    np.testing.assert_array_equal(Y, naive.reflect_float(X, lower, upper))
    np.testing.assert_array_equal(Y, naive.reflect(X, lower, upper))


@pytest.mark.parametrize("spread", [0.5, 3.0, 40.0])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_reflect_matches_exact_mirror_loop(shape, seed, spread):
    X, lower, upper = case(shape, seed, spread)
    Y = call(rep.reflect, X, lower, upper)
    expected = naive.reflect(X, lower, upper)
    # Rounding in x - lower, the mod and the final sum: a few ulps of the operands.
    tol = 8 * EPS * (np.abs(X - lower) + np.abs(lower) + np.abs(upper))
    assert (np.abs(Y - expected) <= tol)[~np.isnan(X)].all()
    np.testing.assert_array_equal(np.isnan(Y), np.isnan(X))
    assert in_bounds_or_nan(Y, lower, upper).all()


def test_reflect_far_outside_the_bounds():
    lower, upper = np.array([0.0, -1.0, 10.0]), np.array([1.0, 2.5, 10.25])
    X = np.array([[731.3, -1234.567, 10.25 + 300.1], [-999.99, 4000.1, -1.0]])
    Y = call(rep.reflect, X, lower, upper)
    expected = naive.reflect(X, lower, upper)
    tol = 8 * EPS * (np.abs(X - lower) + np.abs(lower) + np.abs(upper))
    assert (np.abs(Y - expected) <= tol).all()
    assert ((Y >= lower) & (Y <= upper)).all()


def test_reflect_lands_inside_when_lower_plus_width_rounds_above_upper():
    # (-0.1) + (0.3 - (-0.1)) rounds to 0.30000000000000004 > 0.3.
    X = np.array([[np.nextafter(0.3, 1.0)], [0.3 + 1e-16], [-0.1 - 1e-17], [0.7]])
    Y = call(rep.reflect, X, np.array([-0.1]), np.array([0.3]))
    assert ((Y >= -0.1) & (Y <= 0.3)).all()
    np.testing.assert_allclose(Y, naive.reflect(X, [-0.1], [0.3]), rtol=0, atol=4 * EPS)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reflect_copy_false_works_in_place_and_keeps_dtype(dtype):
    X, lower, upper = case((20, 4), 5)
    X = X.astype(dtype)
    expected = call(rep.reflect, X, lower, upper)
    out = rep.reflect(X, lower, upper, copy=False)
    assert out is X
    np.testing.assert_array_equal(X, expected)


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(lo=finite, width=st.floats(1e-3, 1e3), xs=st.lists(finite, min_size=1, max_size=8))
def test_reflect_property_inside_and_identity_inside(lo, width, xs):
    hi = lo + width
    assume(hi > lo)
    X = np.array(xs)[:, None]
    Y = rep.reflect(X, np.array([lo]), np.array([hi]))
    assert ((Y >= lo) & (Y <= hi)).all()
    inside = (X >= lo) & (X <= hi)
    np.testing.assert_array_equal(Y[inside], X[inside])


@settings(max_examples=150, deadline=None)
@given(
    lo=st.floats(-100, 100),
    width=st.floats(0.01, 100),
    ts=st.lists(st.floats(-200, 200), min_size=1, max_size=6),
)
def test_reflect_property_matches_exact_mirror_loop(lo, width, ts):
    hi = lo + width
    assume(hi > lo)
    X = np.array([lo + t * width for t in ts])[:, None]  # within 200 widths: a short loop
    Y = rep.reflect(X, np.array([lo]), np.array([hi]))
    expected = naive.reflect(X, [lo], [hi])
    tol = 8 * EPS * (np.abs(X - lo) + abs(lo) + abs(hi))
    assert (np.abs(Y - expected) <= tol).all()


# -- resample --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_resample_reproduces_naive_with_same_draws(shape, seed):
    X, lower, upper = case(shape, seed)
    Y = call(rep.resample, X, lower, upper, np.random.default_rng(seed))
    n_out = int(((X < lower) | (X > upper)).sum())
    u = np.random.default_rng(seed).random(n_out)
    np.testing.assert_allclose(Y, naive.resample(X, lower, upper, u), rtol=1e-12, atol=1e-12)
    assert in_bounds_or_nan(Y, lower, upper).all()
    inside = (X >= lower) & (X <= upper)
    np.testing.assert_array_equal(Y[inside], X[inside])


def test_resample_draws_nothing_when_everything_is_inside():
    X, lower, upper = case((10, 3), 6, spread=0.0)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(call(rep.resample, X, lower, upper, rng), X)
    assert rng.random() == np.random.default_rng(7).random()


def test_resample_is_uniform_within_the_bounds():
    n = 100_000
    X = np.full((n, 1), 5.0)
    Y = rep.resample(X, np.array([-1.0]), np.array([3.0]), np.random.default_rng(8))[:, 0]
    counts = np.histogram(Y, bins=4, range=(-1.0, 3.0))[0]
    se = np.sqrt(n * 0.25 * 0.75)
    np.testing.assert_array_less(np.abs(counts - n / 4), 5 * se)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resample_copy_false_works_in_place_and_keeps_dtype(dtype):
    X, lower, upper = case((20, 4), 9)
    X = X.astype(dtype)
    expected = call(rep.resample, X, lower, upper, np.random.default_rng(10))
    out = rep.resample(X, lower, upper, np.random.default_rng(10), copy=False)
    assert out is X
    np.testing.assert_array_equal(X, expected)
