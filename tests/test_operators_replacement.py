"""Survivor selection against the naive twins in ``tests/naive.py``: exact equality.

The populations carry an id column so that every output row can be traced to its origin; the
fitness values are drawn from a small set so that ties (and NaN, inf) are common.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from genepool.errors import ConfigError
from genepool.operators import replacement as rpl

VALUES = np.array([-2.0, 0.0, 0.0, 1.5, 3.0, np.nan, np.inf, -np.inf])


def pool(n, d, seed, offset=0, dtype=np.float64):
    """``n`` rows whose first gene is a unique id, and fitness with ties, NaN and inf."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    X[:, 0] = np.arange(offset, offset + n)
    f = rng.choice(VALUES, size=n) if seed % 2 else rng.integers(0, 4, size=n).astype(float)
    return X, f


def assert_same(got, expected):
    (gx, gf), (ex, ef) = got, expected
    np.testing.assert_array_equal(gx, ex.reshape(gx.shape))
    np.testing.assert_array_equal(gf, ef)  # NaN-aware
    assert gf.dtype == np.float64


def keys(f):
    return np.array([naive.key(v) for v in f])


def call(op, *arrays, **kw):
    """Run ``op`` and assert that no input array was modified."""
    before = [a.copy() for a in arrays]
    out = op(*arrays, **kw)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b)
    return out


SIZES = [(1, 1), (1, 3), (3, 1), (5, 5), (8, 3), (4, 12)]


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n", "lam"), SIZES)
def test_mu_plus_lambda_equals_naive(n, lam, seed, d):
    P, pf = pool(n, d, seed)
    C, of = pool(lam, d, seed + 10, offset=100)
    for mu in sorted({None, 1, n, n + lam, max(1, (n + lam) // 2)}, key=str):
        got = call(rpl.mu_plus_lambda, P, pf, C, of, mu=mu)
        assert_same(got, naive.mu_plus_lambda(P, pf, C, of, mu))
        assert got[0].shape == (n if mu is None else mu, d)


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n", "lam"), SIZES)
def test_mu_comma_lambda_equals_naive(n, lam, seed, d):
    C, of = pool(lam, d, seed + 20)
    for mu in range(1, lam + 1):
        got = call(rpl.mu_comma_lambda, C, of, mu=mu)
        assert_same(got, naive.mu_comma_lambda(C, of, mu))


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n", "lam"), SIZES)
def test_generational_equals_naive(n, lam, seed, d):
    P, pf = pool(n, d, seed + 30)
    C, of = pool(lam, d, seed + 40, offset=100)
    for elitism in range(n + 1):
        if lam < n - elitism:
            with pytest.raises(ConfigError):
                rpl.generational(P, pf, C, of, elitism=elitism)
            continue
        got = call(rpl.generational, P, pf, C, of, elitism=elitism)
        assert_same(got, naive.generational(P, pf, C, of, elitism))
        assert got[0].shape == (n, d)


def test_ties_keep_parents_first_then_lower_index():
    P = np.array([[0.0], [1.0], [2.0]])
    C = np.array([[10.0], [11.0]])
    X, f = rpl.mu_plus_lambda(P, np.array([1.0, 0.0, 1.0]), C, np.array([1.0, 0.0]), mu=4)
    np.testing.assert_array_equal(X[:, 0], [1.0, 11.0, 0.0, 2.0])
    np.testing.assert_array_equal(f, [0.0, 0.0, 1.0, 1.0])


def test_nan_fitness_is_worst_and_kept_as_nan():
    P = np.array([[0.0], [1.0]])
    C = np.array([[10.0], [11.0]])
    X, f = rpl.mu_plus_lambda(P, np.array([np.nan, 5.0]), C, np.array([np.inf, 7.0]), mu=4)
    np.testing.assert_array_equal(X[:, 0], [1.0, 11.0, 0.0, 10.0])  # NaN ties inf, by order
    np.testing.assert_array_equal(f, [5.0, 7.0, np.nan, np.inf])
    X, f = rpl.generational(P, np.array([np.nan, np.nan]), C, np.array([np.nan, 1.0]), elitism=1)
    np.testing.assert_array_equal(X[:, 0], [11.0, 0.0])
    np.testing.assert_array_equal(f, [1.0, np.nan])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_keep_population_dtype(dtype):
    P, pf = pool(4, 3, 1, dtype=dtype)
    C, of = pool(6, 3, 2, offset=100, dtype=dtype)
    for X, f in (
        rpl.mu_plus_lambda(P, pf, C, of),
        rpl.mu_comma_lambda(C, of, mu=4),
        rpl.generational(P, pf, C, of, elitism=2),
    ):
        assert X.dtype == dtype and f.dtype == np.float64
        assert X.flags.c_contiguous


# -- hypothesis properties -------------------------------------------------------------------

fitness_value = st.one_of(st.floats(-1e3, 1e3), st.sampled_from([np.nan, np.inf, 0.0, 1.0]))


@settings(max_examples=150, deadline=None)
@given(
    pf=st.lists(fitness_value, min_size=1, max_size=10),
    of=st.lists(fitness_value, min_size=1, max_size=10),
    data=st.data(),
)
def test_mu_plus_lambda_property_sorted_top_mu_of_union(pf, of, data):
    n, lam = len(pf), len(of)
    mu = data.draw(st.integers(1, n + lam))
    P = np.arange(n, dtype=float)[:, None]
    C = np.arange(100, 100 + lam, dtype=float)[:, None]
    X, f = rpl.mu_plus_lambda(P, np.array(pf), C, np.array(of), mu=mu)
    k = keys(f)
    assert (k[1:] >= k[:-1]).all()  # sorted best first, NaN last
    union = np.array(pf + of)
    np.testing.assert_array_equal(k, np.sort(keys(union))[:mu])
    # Every row carries its own fitness, and no row is taken twice.
    ids = X[:, 0].astype(int)
    assert len(set(ids.tolist())) == mu
    origin = np.where(ids < 100, ids, ids - 100 + n)
    np.testing.assert_array_equal(f, union[origin])


@settings(max_examples=150, deadline=None)
@given(
    pf=st.lists(fitness_value, min_size=1, max_size=8),
    of=st.lists(fitness_value, min_size=1, max_size=12),
    data=st.data(),
)
def test_generational_property_elites_plus_best_offspring(pf, of, data):
    n, lam = len(pf), len(of)
    elitism = data.draw(st.integers(max(0, n - lam), n))
    P = np.arange(n, dtype=float)[:, None]
    C = np.arange(100, 100 + lam, dtype=float)[:, None]
    X, f = rpl.generational(P, np.array(pf), C, np.array(of), elitism=elitism)
    assert X.shape == (n, 1)
    k = keys(f)
    assert (k[1:] >= k[:-1]).all()
    from_parents = X[:, 0] < 100
    assert from_parents.sum() == elitism
    np.testing.assert_array_equal(np.sort(k[from_parents]), np.sort(keys(np.array(pf)))[:elitism])
    np.testing.assert_array_equal(
        np.sort(k[~from_parents]), np.sort(keys(np.array(of)))[: n - elitism]
    )


@settings(max_examples=100, deadline=None)
@given(of=st.lists(fitness_value, min_size=1, max_size=12), data=st.data())
def test_mu_comma_lambda_property_best_offspring_only(of, data):
    mu = data.draw(st.integers(1, len(of)))
    C = np.arange(len(of), dtype=float)[:, None]
    X, f = rpl.mu_comma_lambda(C, np.array(of), mu=mu)
    k = keys(f)
    assert (k[1:] >= k[:-1]).all()
    np.testing.assert_array_equal(k, np.sort(keys(np.array(of)))[:mu])
    np.testing.assert_array_equal(f, np.array(of)[X[:, 0].astype(int)])


# -- bad input -------------------------------------------------------------------------------


def test_bad_mu_raises():
    P, pf = pool(3, 2, 0)
    C, of = pool(4, 2, 1)
    for mu in (0, -1, 8):
        with pytest.raises(ConfigError):
            rpl.mu_plus_lambda(P, pf, C, of, mu=mu)
    for mu in (0, 5):
        with pytest.raises(ConfigError):
            rpl.mu_comma_lambda(C, of, mu=mu)


def test_bad_elitism_raises():
    P, pf = pool(3, 2, 0)
    C, of = pool(4, 2, 1)
    for elitism in (-1, 4):
        with pytest.raises(ConfigError):
            rpl.generational(P, pf, C, of, elitism=elitism)
    with pytest.raises(ConfigError):  # needs n - elitism = 3 offspring, has 2
        rpl.generational(P, pf, C[:2], of[:2], elitism=0)


@pytest.mark.parametrize("op", [rpl.mu_plus_lambda, rpl.generational])
def test_mismatched_shapes_raise(op):
    P, pf = pool(3, 2, 0)
    C, of = pool(4, 2, 1)
    bad = [
        (P, pf, pool(4, 3, 1)[0], of),  # different d
        (P[:, 0], pf, C, of),  # 1-D population
        (P, pf[:2], C, of),  # fitness too short
        (P, pf, C, np.append(of, 1.0)),  # fitness too long
        (P, pf[:, None], C, of),  # 2-D fitness
        (P[:0], pf[:0], C, of),  # empty fitness
    ]
    for args in bad:
        with pytest.raises(ConfigError):
            op(*args)


def test_mu_comma_lambda_rejects_mismatched_fitness():
    C, of = pool(5, 2, 0)
    for fitness in (of[:3], np.append(of, 0.0), of[:, None]):
        with pytest.raises(ConfigError):
            rpl.mu_comma_lambda(C, fitness, mu=2)
    with pytest.raises(ConfigError):
        rpl.mu_comma_lambda(C[:, 0], of, mu=2)
