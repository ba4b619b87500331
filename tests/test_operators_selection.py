"""Parent selection against the naive twins in ``tests/naive.py``.

Two kinds of checks: the operator reproduces the naive twin when both are fed the same random
draws (the draw order documented by each operator), and its selection frequencies match the
naive probabilities within 5 standard errors of the sample size.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from genepool.errors import ConfigError
from genepool.operators import selection as sel

N_DRAWS = 200_000


def assert_frequencies(picks: np.ndarray, probs, n: int) -> None:
    """Empirical pick frequencies match ``probs`` within 5 standard errors (exact at p = 0, 1)."""
    probs = np.asarray(probs, dtype=np.float64)
    freq = np.bincount(picks, minlength=n) / picks.shape[0]
    se = np.sqrt(probs * (1.0 - probs) / picks.shape[0])
    np.testing.assert_array_less(np.abs(freq - probs), 5.0 * se + 1e-12)


def fitness_cases(seed: int) -> list[np.ndarray]:
    """Seeded fitness arrays: distinct, ties, NaN, inf, negatives, one individual."""
    rng = np.random.default_rng(seed)
    distinct = rng.permutation(12).astype(np.float64) - 5.0
    ties = rng.integers(0, 3, size=9).astype(np.float64)
    with_nan = rng.normal(size=8)
    with_nan[[1, 5]] = np.nan
    with_inf = rng.normal(size=7)
    with_inf[2] = np.inf
    return [
        distinct,
        ties,
        with_nan,
        with_inf,
        np.array([3.5]),
        np.array([2.0, 2.0, 2.0]),
        np.full(4, np.nan),
    ]


CASES = [(seed, i) for seed in range(3) for i in range(7)]


def case(seed: int, i: int) -> np.ndarray:
    return fitness_cases(seed)[i]


# -- tournament ------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize(("seed", "i"), CASES)
def test_tournament_reproduces_naive_with_same_draws(seed, i, k):
    f = case(seed, i)
    before = f.copy()
    got = sel.tournament(f, 50, np.random.default_rng(seed), k=k)
    contestants = np.random.default_rng(seed).integers(0, f.shape[0], size=(50, k))
    assert got.shape == (50,)
    assert np.issubdtype(got.dtype, np.integer)
    assert got.tolist() == naive.tournament(f, contestants)
    np.testing.assert_array_equal(f, before)  # NaN-aware: input untouched


@pytest.mark.parametrize("n", [1, 2, 3, 6])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_tournament_closed_form_matches_enumeration(n, k):
    f = np.random.default_rng(n * 10 + k).permutation(n).astype(np.float64)
    enumerated = naive.tournament_probabilities(f, k)
    for i in range(n):
        r = int(f[i])  # f is a permutation of 0..n-1, so the value is the rank (0 = best)
        assert enumerated[i] == pytest.approx(naive.tournament_rank_probability(r, n, k))


@pytest.mark.parametrize("k", [2, 3, 7])
def test_tournament_frequencies_by_rank_match_closed_form(k):
    n = 10
    rng = np.random.default_rng(100 + k)
    f = rng.permutation(n) * 1.5 - 4.0
    picks = sel.tournament(f, N_DRAWS, rng, k=k)
    rank_of = np.argsort(np.argsort(f))  # 0 = best
    probs = [naive.tournament_rank_probability(int(rank_of[i]), n, k) for i in range(n)]
    assert_frequencies(picks, probs, n)


def test_tournament_frequencies_with_ties_and_nan_match_enumeration():
    f = np.array([1.0, np.nan, 0.5, 1.0, np.inf, 0.5])
    rng = np.random.default_rng(7)
    picks = sel.tournament(f, N_DRAWS, rng, k=3)
    assert_frequencies(picks, naive.tournament_probabilities(f, 3), f.shape[0])


def test_tournament_k1_is_uniform():
    f = np.arange(5.0)
    picks = sel.tournament(f, N_DRAWS, np.random.default_rng(3), k=1)
    assert_frequencies(picks, [0.2] * 5, 5)


# -- linear rank -----------------------------------------------------------------------------


@pytest.mark.parametrize("pressure", [1.0, 1.5, 2.0])
@pytest.mark.parametrize(("seed", "i"), CASES)
def test_rank_reproduces_naive_with_same_draws(seed, i, pressure):
    f = case(seed, i)
    before = f.copy()
    got = sel.rank(f, 40, np.random.default_rng(seed), pressure=pressure)
    p = naive.rank_probabilities(f, pressure)
    expected = np.random.default_rng(seed).choice(f.shape[0], size=40, p=p)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(f, before)


@pytest.mark.parametrize("pressure", [1.0, 1.3, 2.0])
def test_rank_frequencies_match_linear_probabilities(pressure):
    rng = np.random.default_rng(11)
    f = rng.normal(size=9)
    f[4] = np.nan
    f[6] = f[2]  # a tie
    picks = sel.rank(f, N_DRAWS, rng, pressure=pressure)
    assert_frequencies(picks, naive.rank_probabilities(f, pressure), f.shape[0])


def test_rank_best_gets_pressure_over_n_and_worst_two_minus_pressure_over_n():
    f = np.array([3.0, -1.0, 7.0, 0.0, np.nan])  # best: index 1, worst: the NaN
    picks = sel.rank(f, N_DRAWS, np.random.default_rng(5), pressure=1.8)
    probs = np.zeros(5)
    probs[1], probs[4] = 1.8 / 5, 0.2 / 5
    freq = np.bincount(picks, minlength=5) / N_DRAWS
    for i in (1, 4):
        se = math.sqrt(probs[i] * (1 - probs[i]) / N_DRAWS)
        assert abs(freq[i] - probs[i]) < 5 * se


# -- roulette --------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "i"), CASES)
def test_roulette_reproduces_naive_with_same_draws(seed, i):
    f = case(seed, i)
    before = f.copy()
    got = sel.roulette(f, 40, np.random.default_rng(seed))
    p = naive.roulette_probabilities(f)
    expected = np.random.default_rng(seed).choice(f.shape[0], size=40, p=p)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(f, before)


@pytest.mark.parametrize(
    "f",
    [
        [-3.0, -1.0, 0.5, 2.0, -2.5, 1.0],  # negatives are fine
        [1.0, np.nan, 0.0, np.inf, 0.25],
        [4.0, 4.0, 4.0],  # all weights 0 -> uniform
        [np.nan, 2.0, np.nan],  # one finite -> always it
        [np.nan, np.nan],  # nothing finite -> uniform
    ],
)
def test_roulette_frequencies_match_window_probabilities(f):
    f = np.array(f)
    picks = sel.roulette(f, N_DRAWS, np.random.default_rng(8))
    assert_frequencies(picks, naive.roulette_probabilities(f), f.shape[0])


def test_roulette_never_picks_the_unique_worst_or_nan():
    f = np.array([0.0, 5.0, np.nan, 1.0, 2.0])
    picks = sel.roulette(f, 50_000, np.random.default_rng(9))
    assert not np.isin(picks, [1, 2]).any()


# -- stochastic universal sampling -----------------------------------------------------------


@pytest.mark.parametrize("n_select", [1, 2, 7, 20, 64])
@pytest.mark.parametrize(("seed", "i"), CASES)
def test_sus_reproduces_naive_with_same_draws(seed, i, n_select):
    f = case(seed, i)
    before = f.copy()
    got = sel.sus(f, n_select, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    pointer_order = naive.sus(f, n_select, rng.random())
    expected = rng.permutation(np.array(pointer_order))  # the documented final shuffle
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(f, before)


@pytest.mark.parametrize("seed", range(30))
def test_sus_counts_are_floor_or_ceil_of_expected(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 15))
    f = rng.normal(size=n)
    f[rng.random(n) < 0.2] = np.nan
    n_select = int(rng.integers(1, 60))
    counts = np.bincount(sel.sus(f, n_select, rng), minlength=n)
    expected = naive.sus_expected_counts(f, n_select)
    for c, e in zip(counts, expected):
        assert math.floor(e - 1e-9) <= c <= math.ceil(e + 1e-9)
    assert counts.sum() == n_select


@settings(max_examples=150, deadline=None)
@given(
    f=st.lists(
        st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf)), min_size=1, max_size=12
    ),
    n_select=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_sus_property_floor_or_ceil(f, n_select, seed):
    f = np.array(f)
    picks = sel.sus(f, n_select, np.random.default_rng(seed))
    assert picks.shape == (n_select,)
    counts = np.bincount(picks, minlength=f.shape[0])
    for c, e in zip(counts, naive.sus_expected_counts(f, n_select)):
        assert math.floor(e - 1e-9) <= c <= math.ceil(e + 1e-9)


def test_sus_mean_counts_equal_expected_counts():
    f = np.array([0.0, 0.3, 1.1, 2.0, 2.5, 0.7])
    n_select, reps = 10, 20_000
    rng = np.random.default_rng(21)
    total = np.zeros(f.shape[0])
    for _ in range(reps):
        total += np.bincount(sel.sus(f, n_select, rng), minlength=f.shape[0])
    expected = np.array(naive.sus_expected_counts(f, n_select))
    # A count is floor(e) or ceil(e), so its standard deviation is at most 1/2.
    np.testing.assert_array_less(np.abs(total / reps - expected), 5 * 0.5 / math.sqrt(reps))


class _TopOffsetRng:
    """A stand-in generator whose offset is the largest double below 1 (rounding edge)."""

    def random(self) -> float:
        return 1.0 - 2.0**-53

    def permutation(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x)


@pytest.mark.parametrize("worst", [1.0, np.nan])
@pytest.mark.parametrize("n_select", [1, 7])
def test_sus_never_picks_a_zero_weight_last_individual_at_the_rounding_edge(worst, n_select):
    # Ten weights of 0.1 sum to 1 - 2**-53 < 1, so the last pointer can fall past the wheel.
    f = np.array([0.0] * 10 + [worst])
    picks = sel.sus(f, n_select, _TopOffsetRng())
    assert (picks < 10).all()
    assert picks.tolist() == naive.sus(f, n_select, 1.0 - 2.0**-53)


def test_sus_zero_picks():
    picks = sel.sus(np.array([1.0, 2.0]), 0, np.random.default_rng(0))
    assert picks.shape == (0,)
    assert np.issubdtype(picks.dtype, np.integer)


# -- truncation ------------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.99, 1.0])
@pytest.mark.parametrize(("seed", "i"), CASES)
def test_truncation_reproduces_naive_with_same_draws(seed, i, fraction):
    f = case(seed, i)
    before = f.copy()
    got = sel.truncation(f, 30, np.random.default_rng(seed), fraction=fraction)
    pool = naive.truncation_pool(f, fraction)
    draws = np.random.default_rng(seed).integers(0, len(pool), size=30)
    assert got.tolist() == [pool[j] for j in draws]
    np.testing.assert_array_equal(f, before)


def test_truncation_is_uniform_over_the_top():
    f = np.array([5.0, 1.0, np.nan, 3.0, 0.0, 4.0, 2.0, 6.0])
    picks = sel.truncation(f, N_DRAWS, np.random.default_rng(4), fraction=0.5)
    probs = np.zeros(8)
    probs[[4, 1, 6, 3]] = 0.25  # the best four: fitness 0, 1, 2, 3
    assert_frequencies(picks, probs, 8)


# -- shared contract -------------------------------------------------------------------------

OPERATORS = [
    (sel.tournament, {"k": 3}),
    (sel.rank, {"pressure": 1.5}),
    (sel.roulette, {}),
    (sel.sus, {}),
    (sel.truncation, {"fraction": 0.5}),
]


@pytest.mark.parametrize(("op", "params"), OPERATORS)
def test_selection_shape_range_and_seed(op, params):
    f = np.random.default_rng(1).normal(size=13)
    a = op(f, 25, np.random.default_rng(99), **params)
    b = op(f, 25, np.random.default_rng(99), **params)
    assert a.shape == (25,)
    assert np.issubdtype(a.dtype, np.integer)
    assert ((a >= 0) & (a < 13)).all()
    np.testing.assert_array_equal(a, b)
    assert op(f, 0, np.random.default_rng(0), **params).shape == (0,)


@pytest.mark.parametrize(("op", "params"), OPERATORS)
@pytest.mark.parametrize("n_select", [-1, 2.5, True, "3", None])
def test_selection_rejects_bad_n_select(op, params, n_select):
    with pytest.raises(ConfigError):
        op(np.arange(4.0), n_select, np.random.default_rng(0), **params)


@pytest.mark.parametrize(("op", "params"), OPERATORS)
@pytest.mark.parametrize("fitness", [np.zeros((3, 2)), np.zeros(0), 1.5])
def test_selection_rejects_bad_fitness(op, params, fitness):
    with pytest.raises(ConfigError):
        op(fitness, 2, np.random.default_rng(0), **params)


@pytest.mark.parametrize("k", [0, -2, 2.0, 1.5, True, None])
def test_tournament_rejects_bad_k(k):
    with pytest.raises(ConfigError):
        sel.tournament(np.arange(4.0), 2, np.random.default_rng(0), k=k)


@pytest.mark.parametrize("pressure", [0.99, 2.01, -1.0, np.nan])
def test_rank_rejects_pressure_outside_1_2(pressure):
    with pytest.raises(ConfigError):
        sel.rank(np.arange(4.0), 2, np.random.default_rng(0), pressure=pressure)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.01, np.nan])
def test_truncation_rejects_fraction_outside_0_1(fraction):
    with pytest.raises(ConfigError):
        sel.truncation(np.arange(4.0), 2, np.random.default_rng(0), fraction=fraction)


# -- samplers: prepared once, drawn many times, bit-identical to the functions -------------------
_SELECTIONS = [
    ("tournament", {"k": 3}),
    ("tournament", {}),
    ("rank", {"pressure": 1.7}),
    ("rank", {}),
    ("roulette", {}),
    ("sus", {}),
    ("truncation", {"fraction": 0.3}),
]


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, 1.0, 2.0, -1.5, 3.25, np.nan, np.inf, -np.inf]),
        min_size=1,
        max_size=50,
    ),
    counts=st.lists(st.integers(0, 9), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_sampler_draws_what_the_selection_draws(values, counts, seed):
    """``sampler(name, f)(count, rng)`` equals ``name(f, count, rng)`` call after call, and
    leaves the generator in the same state (the GA's blocks rely on it)."""
    f = np.asarray(values)
    for name, params in _SELECTIONS:
        fn = getattr(sel, name)
        want_rng = np.random.default_rng(seed)
        try:
            want = [fn(f, c, want_rng, **params) for c in counts]
        except ConfigError:
            continue
        draw = sel.sampler(name, f.copy(), **params)
        got_rng = np.random.default_rng(seed)
        got = [draw(c, got_rng) for c in counts]
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a, b)
        assert want_rng.bit_generator.state == got_rng.bit_generator.state
