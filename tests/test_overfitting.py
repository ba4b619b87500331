"""Overfitting statistics: Sharpe moments, PSR, expected maximum Sharpe, deflated Sharpe, block
moments, PBO by CSCV (against the brute-force twin in ``naive_overfitting``), and the verdict.

Published numbers:

- Bailey & Lopez de Prado (2012), "The Sharpe ratio efficient frontier": a monthly Sharpe of
  0.458 over 24 months has PSR(0) = 0.982 for normal returns and 0.913 with skewness -2.448 and
  kurtosis 10.164.
- Bailey & Lopez de Prado (2014), "The deflated Sharpe ratio", numerical example: 100 trials
  whose annualized Sharpe ratios have variance 1/2, the best one annualized 2.5 over five years
  of daily returns (T = 1250, 250 bars a year) with skewness -3 and kurtosis 10: SR0 = 0.1132
  per period (annualized about 1.79) and DSR = 0.9004.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive_overfitting as naive
from genepool.backtest.overfitting import (
    PBO,
    DeflatedSharpe,
    SharpeStats,
    block_moments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_stats,
    verdict,
)
from genepool.errors import ConfigError, DataError

PHI = NormalDist().cdf


def _moments(returns: np.ndarray, n_blocks: int) -> np.ndarray:
    """(N, 3, S) moments built one column at a time, as a caller would."""
    return np.stack([block_moments(returns[:, j], n_blocks) for j in range(returns.shape[1])])


# ---------------------------------------------------------------------------------------------
# sharpe_stats


def test_sharpe_stats_against_plain_loops(rng):
    r = rng.standard_t(5, 500) * 0.01 + 0.0005
    got = sharpe_stats(r)
    sr, skew, kurt = naive.moments(r)
    assert isinstance(got, SharpeStats) and got.n_obs == 500
    assert got.sr == pytest.approx(sr, rel=1e-12)
    assert got.sr == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)
    assert got.skew == pytest.approx(skew, rel=1e-9)
    assert got.kurtosis == pytest.approx(kurt, rel=1e-9)


def test_sharpe_stats_normal_returns_have_skew_0_kurtosis_3():
    r = np.random.default_rng(3).normal(0.001, 0.01, 200_000)
    s = sharpe_stats(r)
    assert s.sr == pytest.approx(0.1, abs=0.01)
    assert s.skew == pytest.approx(0.0, abs=0.03)
    assert s.kurtosis == pytest.approx(3.0, abs=0.06)


def test_sharpe_stats_accepts_lists_and_pandas():
    import pandas as pd

    r = [0.01, -0.02, 0.015, 0.005, 0.0]
    assert sharpe_stats(pd.Series(r)) == sharpe_stats(r) == sharpe_stats(np.array(r))


@pytest.mark.parametrize(
    ("returns", "error", "words"),
    [
        ([0.01], DataError, "1 observation"),
        ([], DataError, "0 observation"),
        ([0.01, np.nan, 0.02], DataError, "index 1"),
        ([0.01, 0.02, np.inf, -np.inf], DataError, "index 2 and 1 more"),
        ([0.01, 0.01, 0.01], DataError, "zero variance"),
        ([[0.01, 0.02], [0.0, 0.01]], ConfigError, "1-d"),
        (["a", "b"], DataError, "numbers"),
    ],
)
def test_sharpe_stats_bad_input(returns, error, words):
    with pytest.raises(error, match="returns") as info:
        sharpe_stats(returns)
    assert words in str(info.value)


# ---------------------------------------------------------------------------------------------
# probabilistic_sharpe_ratio


def test_psr_published_examples():
    # Bailey & Lopez de Prado (2012): 24 monthly returns, Sharpe 0.458
    assert round(probabilistic_sharpe_ratio(0.458, 0.0, 24, 0.0, 3.0), 3) == 0.982
    assert round(probabilistic_sharpe_ratio(0.458, 0.0, 24, -2.448, 10.164), 3) == 0.913


@pytest.mark.parametrize(
    ("sr", "bench", "n"), [(0.1, 0.0, 250), (0.05, 0.02, 1000), (-0.1, 0, 30)]
)
def test_psr_normal_returns_is_the_z_test(sr, bench, n):
    se = math.sqrt((1 + sr * sr / 2) / (n - 1))  # Lo (2002) standard error, i.i.d. normal
    assert probabilistic_sharpe_ratio(sr, bench, n, 0.0, 3.0) == pytest.approx(
        PHI((sr - bench) / se), rel=1e-12
    )


def test_psr_at_the_benchmark_is_one_half_and_grows_with_sr_and_n():
    assert probabilistic_sharpe_ratio(0.2, 0.2, 100, -1.0, 6.0) == 0.5
    values = [probabilistic_sharpe_ratio(sr, 0.0, 100, 0.0, 3.0) for sr in (-0.1, 0.0, 0.1, 0.3)]
    assert values == sorted(values) and values[1] == 0.5
    by_n = [probabilistic_sharpe_ratio(0.1, 0.0, n, 0.0, 3.0) for n in (10, 100, 1000)]
    assert by_n == sorted(by_n)


def test_psr_negative_skew_and_fat_tails_lower_it():
    normal = probabilistic_sharpe_ratio(0.15, 0.0, 250, 0.0, 3.0)
    assert probabilistic_sharpe_ratio(0.15, 0.0, 250, -2.0, 3.0) < normal
    assert probabilistic_sharpe_ratio(0.15, 0.0, 250, 0.0, 12.0) < normal


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((math.nan, 0.0, 100, 0.0, 3.0), "sr"),
        ((0.1, math.inf, 100, 0.0, 3.0), "sr_benchmark"),
        ((0.1, 0.0, 1, 0.0, 3.0), "n_obs"),
        ((0.1, 0.0, 10.5, 0.0, 3.0), "n_obs"),
        ((0.1, 0.0, True, 0.0, 3.0), "n_obs"),
        ((0.1, 0.0, 100, "x", 3.0), "skew"),
        ((0.1, 0.0, 100, 0.0, math.nan), "kurtosis"),
        ((2.0, 0.0, 100, 1.0, 0.5), "kurtosis"),  # variance term 1 - 2 + 0 < 0
    ],
)
def test_psr_bad_input(args, name):
    with pytest.raises(ConfigError, match=name):
        probabilistic_sharpe_ratio(*args)


# ---------------------------------------------------------------------------------------------
# expected_max_sharpe


def test_expected_max_sharpe_published_example():
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert round(sr0, 4) == 0.1132
    assert sr0 * math.sqrt(250) == pytest.approx(1.79, abs=0.005)


def test_expected_max_sharpe_closed_form_and_edges():
    g = 0.5772156649015329
    inv = NormalDist().inv_cdf
    for n, v in [(2, 0.01), (37, 0.3), (10_000, 1e-4)]:
        want = math.sqrt(v) * ((1 - g) * inv(1 - 1 / n) + g * inv(1 - 1 / (n * math.e)))
        assert expected_max_sharpe(n, v) == pytest.approx(want, rel=1e-9)
    assert expected_max_sharpe(1, 0.5) == 0.0
    assert expected_max_sharpe(500, 0.0) == 0.0
    assert expected_max_sharpe(10**12, 1.0) == pytest.approx(7.1, abs=0.1)  # stays finite


@pytest.mark.parametrize("n_trials", [10, 100, 1000])
def test_expected_max_sharpe_against_monte_carlo_of_normal_estimates(n_trials):
    rng = np.random.default_rng(n_trials)
    var = 0.04
    draws = rng.normal(0.0, math.sqrt(var), size=(2000, n_trials))
    mc = draws.max(axis=1).mean()  # standard error about 0.3 / sqrt(2000)
    # the extreme-value approximation is within ~2.5% for N >= 10
    assert expected_max_sharpe(n_trials, var) == pytest.approx(mc, rel=0.05)


def test_expected_max_sharpe_against_monte_carlo_of_backtests():
    """Best Sharpe of 200 noise strategies over 250 bars, against SR0 with their variance."""
    rng = np.random.default_rng(5)
    best, variances = [], []
    for _ in range(100):
        r = rng.normal(0.0, 0.01, size=(250, 200))
        srs = r.mean(axis=0) / r.std(axis=0, ddof=1)
        best.append(srs.max())
        variances.append(srs.var(ddof=1))
    assert expected_max_sharpe(200, float(np.mean(variances))) == pytest.approx(
        np.mean(best), rel=0.06
    )


@given(n=st.integers(1, 10**6), m=st.integers(1, 10**6), v=st.floats(0.0, 10.0))
@settings(max_examples=60, deadline=None)
def test_expected_max_sharpe_grows_with_trials_and_scales_with_std(n, m, v):
    lo, hi = sorted((n, m))
    assert expected_max_sharpe(lo, v) <= expected_max_sharpe(hi, v)
    assert expected_max_sharpe(hi, 4 * v) == pytest.approx(2 * expected_max_sharpe(hi, v))


@pytest.mark.parametrize(
    ("n_trials", "var", "name"),
    [
        (0, 0.1, "n_trials"),
        (-3, 0.1, "n_trials"),
        (2.5, 0.1, "n_trials"),
        (True, 0.1, "n_trials"),
        (10, -0.1, "var_trials_sharpe"),
        (10, math.nan, "var_trials_sharpe"),
    ],
)
def test_expected_max_sharpe_bad_input(n_trials, var, name):
    with pytest.raises(ConfigError, match=name):
        expected_max_sharpe(n_trials, var)


# ---------------------------------------------------------------------------------------------
# deflated_sharpe_ratio


def test_dsr_published_example():
    sr = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    dsr = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0)
    assert round(dsr, 4) == 0.9004


def test_dsr_is_psr_against_expected_max(rng):
    r = rng.normal(0.0008, 0.01, 750)
    d = deflated_sharpe_ratio(r, 250, 0.002)
    s = sharpe_stats(r)
    assert isinstance(d, DeflatedSharpe)
    assert (d.sr, d.n_obs, d.skew, d.kurtosis) == (s.sr, s.n_obs, s.skew, s.kurtosis)
    assert (d.n_trials, d.var_trials) == (250, 0.002)
    assert d.sr0 == expected_max_sharpe(250, 0.002)
    assert d.dsr == probabilistic_sharpe_ratio(s.sr, d.sr0, s.n_obs, s.skew, s.kurtosis)
    one = deflated_sharpe_ratio(r, 1, 0.002)
    assert one.sr0 == 0.0 and one.dsr == probabilistic_sharpe_ratio(
        s.sr, 0.0, s.n_obs, s.skew, s.kurtosis
    )


@given(
    seed=st.integers(0, 2**32 - 1),
    n1=st.integers(1, 100_000),
    n2=st.integers(1, 100_000),
    var=st.floats(0.0, 0.05),
)
@settings(max_examples=50, deadline=None)
def test_dsr_in_unit_interval_and_decreasing_in_trials(seed, n1, n2, var):
    r = np.random.default_rng(seed).normal(0.0005, 0.01, 300)
    lo, hi = sorted((n1, n2))
    d_lo = deflated_sharpe_ratio(r, lo, var).dsr
    d_hi = deflated_sharpe_ratio(r, hi, var).dsr
    assert 0.0 <= d_hi <= d_lo <= 1.0


def test_best_of_1000_noise_strategies_is_not_significant():
    rng = np.random.default_rng(2024)
    r = rng.normal(0.0, 0.01, size=(1000, 1000))  # 1,000 bars x 1,000 strategies of noise
    srs = r.mean(axis=0) / r.std(axis=0, ddof=1)
    best = r[:, np.argmax(srs)]
    naive_psr = probabilistic_sharpe_ratio(*_stats_tuple(best, 0.0))
    assert naive_psr > 0.99  # the trap: alone, the winner looks very significant
    d = deflated_sharpe_ratio(best, 1000, float(srs.var(ddof=1)))
    assert not d.significant() and d.dsr < 0.8


def _stats_tuple(r, bench):
    s = sharpe_stats(r)
    return s.sr, bench, s.n_obs, s.skew, s.kurtosis


def test_strong_planted_sharpe_is_significant():
    rng = np.random.default_rng(11)
    r = rng.normal(0.003, 0.01, 1000)  # true per-bar Sharpe 0.3
    assert deflated_sharpe_ratio(r, 1, 0.0).significant()
    # even after 1,000 tries with the spread of Sharpes that noise over 1,000 bars has
    assert deflated_sharpe_ratio(r, 1000, 1 / 1000).significant(alpha=0.01)


def test_significant_threshold():
    d = DeflatedSharpe(0.95, 0.1, 0.05, 10, 0.01, 500, 0.0, 3.0)
    assert not d.significant(0.05)  # strictly above 1 - alpha
    assert d.significant(0.06)
    for alpha in (0.0, 1.0, -0.1, math.nan):
        with pytest.raises(ConfigError, match="alpha"):
            d.significant(alpha)


def test_dsr_bad_input():
    r = np.random.default_rng(0).normal(0, 0.01, 100)
    with pytest.raises(ConfigError, match="n_trials"):
        deflated_sharpe_ratio(r, 0, 0.01)
    with pytest.raises(ConfigError, match="var_trials_sharpe"):
        deflated_sharpe_ratio(r, 10, -1e-4)
    with pytest.raises(DataError, match="index 3"):
        deflated_sharpe_ratio(np.r_[r[:3], np.nan, r[3:]], 10, 0.01)


# ---------------------------------------------------------------------------------------------
# block_moments


@given(t=st.integers(4, 300), half=st.integers(2, 12), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_block_moments_are_array_split_sums(t, half, seed):
    s = 2 * half
    if t < s:
        return
    r = np.random.default_rng(seed).normal(0.0, 0.01, t)
    m = block_moments(r, s)
    assert m.shape == (3, s)
    parts = np.array_split(r, s)
    assert m[0].tolist() == [len(p) for p in parts]
    np.testing.assert_allclose(m[1], [p.sum() for p in parts], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m[2], [(p * p).sum() for p in parts], rtol=1e-12)
    assert m[0].sum() == t
    assert m[1].sum() == pytest.approx(r.sum(), abs=1e-12)
    assert m[2].sum() == pytest.approx((r * r).sum(), rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "n_blocks", "error", "words"),
    [
        (np.zeros(20), 5, ConfigError, "n_blocks"),
        (np.zeros(20), 2, ConfigError, "n_blocks"),
        (np.zeros(100), 26, ConfigError, "n_blocks"),
        (np.zeros(20), 8.0, ConfigError, "n_blocks"),
        (np.zeros(7), 8, DataError, "fewer than n_blocks=8"),
        (np.r_[np.zeros(10), np.nan], 4, DataError, "index 10"),
        (np.zeros((10, 2)), 4, ConfigError, "1-d"),
        (np.full(8, 1e200), 4, DataError, "overflows"),
    ],
)
def test_block_moments_bad_input(returns, n_blocks, error, words):
    with pytest.raises(error, match=words):
        block_moments(returns, n_blocks)


# ---------------------------------------------------------------------------------------------
# PBO against the brute-force twin


def _assert_same_as_naive(returns, n_blocks, metric="sharpe"):
    want = naive.cscv_logits(returns, n_blocks, metric)
    got = probability_of_backtest_overfitting(returns, n_blocks=n_blocks, metric=metric)
    assert got.n_combinations == len(want) == math.comb(n_blocks, n_blocks // 2)
    assert (got.n_strategies, got.n_blocks) == (returns.shape[1], n_blocks)
    np.testing.assert_allclose(got.logits, want, rtol=1e-12, atol=1e-12)
    assert got.pbo == naive.pbo(returns, n_blocks, metric)
    return got


@pytest.mark.parametrize("metric", ["sharpe", "mean"])
@pytest.mark.parametrize(
    ("seed", "t", "n", "s"),
    [(0, 24, 2, 4), (1, 37, 3, 4), (2, 50, 5, 6), (3, 64, 6, 8), (4, 45, 2, 8), (5, 31, 3, 10)],
)
def test_pbo_matches_brute_force(seed, t, n, s, metric):
    rng = np.random.default_rng(seed)
    # strategies with different true means, so the winner is not always noise
    returns = rng.normal(0.0, 0.01, (t, n)) + rng.normal(0.0, 0.002, n)
    _assert_same_as_naive(returns, s, metric)


@pytest.mark.parametrize("metric", ["sharpe", "mean"])
def test_pbo_matches_brute_force_with_ties(metric):
    rng = np.random.default_rng(8)
    r = rng.normal(0.0005, 0.01, (40, 9))
    r[:, 2] = r[:, 0]  # duplicate strategies tie everywhere
    r[:, 5] = r[:, 0]
    r[:, 3] = 0.0  # never trades: Sharpe 0 on every split
    r[:, 7] = 0.0
    r[:, 4] = 0.001  # constant returns: Sharpe +inf, tied with each other
    r[:, 6] = 0.002
    r[:, 8] = -0.001  # constant losses: Sharpe -inf
    got = _assert_same_as_naive(r, 8, metric)
    assert np.isfinite(got.logits).all()


def test_pbo_in_sample_ties_go_to_the_worse_out_of_sample_strategy():
    # blocks of 2 bars; strategies 0 and 1 have the same constant gain in blocks 0 and 1,
    # strategy 1 is worse afterwards; strategy 2 is mediocre throughout.
    r = np.zeros((8, 3))
    r[:4, 0] = r[:4, 1] = 0.01
    r[4:, 0] = [0.02, 0.03, 0.02, 0.03]
    r[4:, 1] = [-0.02, -0.03, -0.02, -0.03]
    r[:, 2] = [0.001, -0.001] * 4
    got = _assert_same_as_naive(r, 4)
    # split 0 = in-sample blocks (0, 1): 0 and 1 tie at +inf, 1 is the worse out of sample,
    # and ranks last of 3: w = 1/4
    assert got.logits[0] == pytest.approx(math.log(1 / 3))


def test_pbo_all_strategies_identical_counts_every_split():
    r = np.tile(np.random.default_rng(1).normal(0, 0.01, (40, 1)), (1, 4))
    got = _assert_same_as_naive(r, 4)
    # all tie: midrank (N + 1) / 2, w = 1/2, logit 0 <= 0 on every split
    assert got.pbo == 1.0 and (got.logits == 0.0).all()


# ---------------------------------------------------------------------------------------------
# PBO: paths, batching, properties


def test_pbo_from_moments_equals_pbo_from_matrix(rng):
    r = rng.normal(0.0, 0.01, (333, 12))
    a = probability_of_backtest_overfitting(r, n_blocks=10)
    b = probability_of_backtest_overfitting(_moments(r, 10))
    np.testing.assert_array_equal(a.logits, b.logits)
    assert a.pbo == b.pbo and a.n_blocks == b.n_blocks == 10
    default = probability_of_backtest_overfitting(r)
    assert default.n_blocks == 16 and default.n_combinations == 12_870


@pytest.mark.parametrize("batch_size", [1, 7, 35, 10_000])
def test_pbo_batch_size_does_not_change_the_result(rng, batch_size):
    m = _moments(rng.normal(0.0, 0.01, (200, 15)), 8)
    ref = probability_of_backtest_overfitting(m)
    got = probability_of_backtest_overfitting(m, batch_size=batch_size)
    np.testing.assert_array_equal(got.logits, ref.logits)


def test_pbo_logits_are_read_only(rng):
    got = probability_of_backtest_overfitting(rng.normal(0.0, 0.01, (40, 3)), n_blocks=4)
    assert isinstance(got, PBO)
    with pytest.raises(ValueError):
        got.logits[0] = 1.0


@st.composite
def _cases(draw):
    half = draw(st.integers(2, 4))
    n = draw(st.integers(2, 8))
    t = draw(st.integers(2 * half, 60))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.01, (t, n)) + rng.normal(0.0, 0.003, n)
    # sometimes ties: duplicate columns, flat columns, constant columns
    for j in range(n):
        kind = draw(st.sampled_from(["noise", "noise", "noise", "copy", "flat", "constant"]))
        if kind == "copy":
            r[:, j] = r[:, 0]
        elif kind == "flat":
            r[:, j] = 0.0
        elif kind == "constant":
            r[:, j] = draw(st.sampled_from([-0.001, 0.001, 0.002]))
    perm = draw(st.permutations(range(n)))
    return r, 2 * half, np.array(perm)


@given(case=_cases(), metric=st.sampled_from(["sharpe", "mean"]))
@settings(max_examples=80, deadline=None)
def test_pbo_properties(case, metric):
    r, s, perm = case
    m = _moments(r, s)
    got = probability_of_backtest_overfitting(m, metric=metric)
    assert 0.0 <= got.pbo <= 1.0
    assert got.logits.shape == (math.comb(s, s // 2),)
    assert np.isfinite(got.logits).all()
    n = r.shape[1]
    bound = math.log(n)  # w in [1/(N+1), N/(N+1)]
    assert (np.abs(got.logits) <= bound + 1e-12).all()
    assert got.pbo == np.mean(got.logits <= 0)
    permuted = probability_of_backtest_overfitting(m[perm], metric=metric)
    np.testing.assert_array_equal(permuted.logits, got.logits)


# ---------------------------------------------------------------------------------------------
# PBO: behaviour


def test_pbo_of_pure_noise_is_about_one_half():
    # Under the null the winner's out-of-sample rank is uniform, so E[PBO] = 1/2 for even N;
    # one PBO varies a lot (std about 0.2: the splits share data), so average 24 seeds
    # (standard error about 0.04) and allow three standard errors.
    values = []
    for seed in range(24):
        r = np.random.default_rng(100 + seed).normal(0.0, 0.01, (400, 10))
        values.append(probability_of_backtest_overfitting(r, n_blocks=10).pbo)
    assert np.mean(values) == pytest.approx(0.5, abs=0.12)


def test_pbo_with_a_real_edge_is_about_zero():
    rng = np.random.default_rng(42)
    moments = [block_moments(rng.normal(0.0, 0.01, 2000), 16) for _ in range(49)]
    edge = block_moments(rng.normal(0.002, 0.01, 2000), 16)  # per-bar Sharpe 0.2
    got = probability_of_backtest_overfitting(np.stack([*moments[:20], edge, *moments[20:]]))
    assert got.pbo < 0.02
    assert np.median(got.logits) == pytest.approx(math.log(50), rel=1e-12)  # ranked best


@pytest.mark.parametrize(
    ("moments", "kwargs", "error", "words"),
    [
        (np.ones((3, 3, 5)), {}, ConfigError, "n_blocks"),
        (np.ones((3, 3, 2)), {}, ConfigError, "n_blocks"),
        (np.ones((3, 3, 26)), {}, ConfigError, "n_blocks"),
        (np.ones((1, 3, 8)), {}, ConfigError, "at least 2"),
        (np.ones((3, 4, 8)), {}, ConfigError, r"shape \(N, 3, n_blocks\)"),
        (np.ones(8), {}, ConfigError, r"got shape \(8,\)"),
        (np.ones((3, 3, 8)), {"metric": "sortino"}, ConfigError, "metric"),
        (np.ones((3, 3, 8)), {"n_blocks": 10}, ConfigError, "n_blocks=10"),
        (np.ones((3, 3, 8)), {"batch_size": 0}, ConfigError, "batch_size"),
        (np.ones((40, 1)), {}, ConfigError, "N >= 2"),
        (np.ones((40, 3)), {"n_blocks": 7}, ConfigError, "n_blocks"),
        (np.ones((10, 3)), {}, DataError, r"returns\[:, 0\] has 10 observations"),
    ],
)
def test_pbo_bad_input(moments, kwargs, error, words):
    with pytest.raises(error, match=words):
        probability_of_backtest_overfitting(moments, **kwargs)


def test_pbo_bad_moments_are_named(rng):
    good = _moments(rng.normal(0.0, 0.01, (80, 3)), 8)
    cases = [
        ((1, 1, 2), np.nan, r"non-finite value nan at \[1, 1, 2\]"),
        ((2, 0, 3), 0.0, r"moments\[2, 0, 3\] = 0.0 is not a positive whole count"),
        ((0, 0, 1), 2.5, r"moments\[0, 0, 1\] = 2.5 is not a positive whole count"),
        ((1, 0, 4), 11.0, r"moments\[1, 0, 4\] = 11.0 but moments\[0, 0, 4\] = 10.0"),
        ((2, 2, 7), -1.0, r"moments\[2, 2, 7\] = -1.0"),
    ]
    for where, value, words in cases:
        bad = good.copy()
        bad[where] = value
        with pytest.raises(DataError, match=words):
            probability_of_backtest_overfitting(bad)
    r = rng.normal(0.0, 0.01, (80, 3))
    r[17, 2] = np.inf
    with pytest.raises(DataError, match=r"returns\[:, 2\] has a non-finite value inf at index 17"):
        probability_of_backtest_overfitting(r)


# ---------------------------------------------------------------------------------------------
# verdict


def _dsr(dsr, n_trials=4210):
    return DeflatedSharpe(dsr, 0.05, 0.06, n_trials, 0.001, 2000, 0.0, 3.0)


def _pbo(pbo):
    return PBO(pbo, np.zeros(0), 12_870, 50, 16)


def test_verdict_not_significant_and_overfit():
    assert verdict(_dsr(0.41), _pbo(0.71)) == (
        "Not significant: a Sharpe this high is expected from 4,210 tries on noise "
        "(deflated Sharpe 0.41 < 0.95). Overfitting is likely: the in-sample winner ranked at "
        "or below the out-of-sample median in 71% of 12,870 splits (PBO 0.71)."
    )


def test_verdict_significant_and_not_overfit():
    assert verdict(_dsr(0.992), _pbo(0.03)) == (
        "Significant: a Sharpe this high is unlikely to come from 4,210 tries on noise "
        "(deflated Sharpe 0.99 > 0.95). Overfitting is unlikely: the in-sample winner stayed "
        "above the out-of-sample median in 97% of 12,870 splits (PBO 0.03)."
    )


def test_verdict_variants():
    assert verdict(_dsr(0.5, n_trials=1)) == (
        "Not significant: a Sharpe this high can be luck even from a single try "
        "(deflated Sharpe 0.50 < 0.95)."
    )
    assert "Some overfitting" in verdict(_dsr(0.5), _pbo(0.3))
    assert "Overfitting is likely" in verdict(_dsr(0.5), _pbo(0.5))  # a coin flip
    # enough decimals that the comparison reads true
    assert "(deflated Sharpe 0.951 > 0.950)" in verdict(_dsr(0.9512))
    assert "(deflated Sharpe 0.9496 < 0.9500)" in verdict(_dsr(0.9496))
    assert "0.98 < 0.99" in verdict(_dsr(0.98), alpha=0.01)


def test_verdict_bad_input():
    with pytest.raises(ConfigError, match="dsr"):
        verdict(0.9)
    with pytest.raises(ConfigError, match="pbo"):
        verdict(_dsr(0.9), 0.3)
    with pytest.raises(ConfigError, match="alpha"):
        verdict(_dsr(0.9), alpha=1.5)


def test_verdict_end_to_end_on_a_noise_search():
    rng = np.random.default_rng(9)
    n, t = 200, 1000
    sharpes = np.empty(n)
    moments = np.empty((n, 3, 16))
    best, best_sr = None, -np.inf
    for j in range(n):  # one strategy at a time, as a search would
        r = rng.normal(0.0, 0.01, t)
        sharpes[j] = sharpe_stats(r).sr
        moments[j] = block_moments(r, 16)
        if sharpes[j] > best_sr:
            best, best_sr = r, sharpes[j]
    d = deflated_sharpe_ratio(best, n, float(sharpes.var(ddof=1)))
    p = probability_of_backtest_overfitting(moments)
    text = verdict(d, p)
    assert text.startswith("Not significant: a Sharpe this high is expected from 200 tries")
    assert text.endswith(f"of 12,870 splits (PBO {p.pbo:.2f}).")
