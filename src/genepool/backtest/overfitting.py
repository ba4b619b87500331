"""Overfitting statistics of a strategy search: deflated Sharpe ratio and PBO.

A search that backtests thousands of strategies and keeps the best one reports a Sharpe ratio
that is biased upward: the best of many tries on noise looks good. Two corrections:

- :func:`deflated_sharpe_ratio` (DSR) [2]_: the probability that the selected strategy's true
  Sharpe ratio is above the one expected from the best of ``n_trials`` tries on pure noise,
  allowing for the track-record length, skewness and fat tails (the probabilistic Sharpe ratio,
  PSR [1]_, of the selected strategy against that benchmark).
- :func:`probability_of_backtest_overfitting` (PBO) [3]_: combinatorially symmetric
  cross-validation (CSCV) over ``N`` strategies; the share of in-sample/out-of-sample splits of
  the data in which the in-sample winner ranks at or below the out-of-sample median.

Sharpe ratios here are **per period** (per bar), never annualized: divide an annualized Sharpe by
``sqrt(bars_per_year)`` and the variance of annualized Sharpes by ``bars_per_year``.

PBO needs only per-block moments of each strategy, an array of shape ``(N, 3, S)`` (count, sum
and sum of squares of the returns in each of ``S`` contiguous blocks) that a caller fills one
strategy at a time with :func:`block_moments`; a ``T x N`` returns matrix is never needed, and
the CSCV kernel runs over the splits in batches with ``O(N)`` memory per thread.

References
----------
.. [1] D. H. Bailey and M. Lopez de Prado, "The Sharpe ratio efficient frontier", Journal of
   Risk 15(2), 2012.
.. [2] D. H. Bailey and M. Lopez de Prado, "The deflated Sharpe ratio: correcting for selection
   bias, backtest overfitting and non-normality", Journal of Portfolio Management 40(5), 2014.
.. [3] D. H. Bailey, J. M. Borwein, M. Lopez de Prado and Q. J. Zhu, "The probability of
   backtest overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2326253).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
from numba import prange

from .._numba import njit, njit_parallel
from ..errors import ConfigError, DataError, check_float, check_int

__all__ = [
    "PBO",
    "DeflatedSharpe",
    "SharpeStats",
    "block_moments",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_stats",
    "verdict",
]

EULER_GAMMA = 0.5772156649015329
#: Number of blocks :func:`probability_of_backtest_overfitting` uses for a returns matrix.
DEFAULT_BLOCKS = 16
#: Most blocks accepted: C(24, 12) = 2,704,156 splits; C(S, S/2) grows about 4x per 2 blocks.
MAX_BLOCKS = 24
METRICS = ("sharpe", "mean")
_STD_NORMAL = NormalDist()


def _phi(z: float) -> float:
    """Standard normal CDF (erfc keeps the lower tail accurate)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


# ---------------------------------------------------------------------------------------------
# Sharpe ratio and its sampling distribution


@dataclass(frozen=True)
class SharpeStats:
    """Per-period Sharpe ratio of one return series and the moments its standard error needs.

    Attributes
    ----------
    sr : float
        ``mean / std`` (``ddof=1``), per period, not annualized.
    n_obs : int
        Number of returns.
    skew : float
        Sample skewness ``m3 / m2**1.5`` (population moments, as in [1]_).
    kurtosis : float
        Pearson kurtosis ``m4 / m2**2`` (3 for normal returns, *not* excess kurtosis).
    """

    sr: float
    n_obs: int
    skew: float
    kurtosis: float


def _as_returns(returns: npt.ArrayLike, name: str = "returns") -> np.ndarray:
    """1-d finite float64 copy of ``returns`` or a ConfigError/DataError naming ``name``."""
    try:
        r = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numbers, got {type(returns).__name__}") from None
    if r.ndim != 1:
        raise ConfigError(f"{name} must be 1-d (one return per bar), got shape {r.shape}")
    bad = np.flatnonzero(~np.isfinite(r))
    if bad.size:
        more = f" and {bad.size - 1} more" if bad.size > 1 else ""
        raise DataError(
            f"{name} has a non-finite value {float(r[bad[0]])!r} at index {bad[0]}{more}: "
            "drop or fill missing bars before computing statistics"
        )
    return r


def sharpe_stats(returns: npt.ArrayLike) -> SharpeStats:
    """Per-period Sharpe ratio, skewness and kurtosis of one return series.

    Parameters
    ----------
    returns : array-like of shape (T,)
        Simple returns, one per bar (finite).

    Returns
    -------
    SharpeStats
        ``sr = mean / std(ddof=1)``; skewness and Pearson kurtosis from the population central
        moments ``m_k = mean((r - mean)**k)``.

    Raises
    ------
    DataError
        Fewer than 2 returns, a NaN/inf (named by index), or all returns equal (zero
        variance: the Sharpe ratio is undefined).
    ConfigError
        ``returns`` is not 1-d.

    Examples
    --------
    >>> s = sharpe_stats([0.01, -0.02, 0.015, 0.005, 0.0])
    >>> round(s.sr, 4), s.n_obs, round(s.skew, 4), round(s.kurtosis, 4)
    (0.148, 5, -0.8979, 2.5053)
    """
    r = _as_returns(returns)
    if r.size < 2:
        raise DataError(f"returns has {r.size} observation(s); the Sharpe ratio needs at least 2")
    if r.max() == r.min():
        raise DataError(
            f"returns has zero variance (all {r.size} values equal {float(r[0])!r}): "
            "the Sharpe ratio is undefined"
        )
    mean = float(r.mean())
    d = r - mean
    m2 = float(np.mean(d * d))
    m3 = float(np.mean(d**3))
    m4 = float(np.mean(d**4))
    std = math.sqrt(m2 * r.size / (r.size - 1))
    return SharpeStats(
        sr=mean / std, n_obs=int(r.size), skew=m3 / m2**1.5, kurtosis=m4 / (m2 * m2)
    )


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n_obs: int, skew: float, kurtosis: float
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (PSR, [1]_).

    ``PSR = Phi((sr - sr_benchmark) * sqrt(n_obs - 1) / sqrt(v))`` with
    ``v = 1 - skew*sr + (kurtosis-1)/4 * sr**2``, the normal approximation of the Sharpe
    estimator's distribution under non-normal (skewed, fat-tailed) i.i.d. returns. For normal
    returns (skew 0, kurtosis 3) it is the z-test of ``sr`` with standard error
    ``sqrt((1 + sr**2 / 2) / (n_obs - 1))``.

    Parameters
    ----------
    sr, sr_benchmark : float
        Observed and benchmark Sharpe ratios, per period (not annualized).
    n_obs : int
        Number of returns behind ``sr`` (>= 2).
    skew : float
        Skewness of the returns.
    kurtosis : float
        Pearson kurtosis of the returns (normal = 3).

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ConfigError
        A non-finite argument, ``n_obs < 2``, or ``skew``/``kurtosis`` that no distribution has
        (the variance term ``1 - skew*sr + (kurtosis-1)/4 * sr**2`` is not positive; every
        distribution has ``kurtosis >= 1 + skew**2``).

    Examples
    --------
    The examples of [1]_: a monthly Sharpe of 0.458 over 24 months, normal and then skewed,
    fat-tailed returns.

    >>> round(probabilistic_sharpe_ratio(0.458, 0.0, 24, 0.0, 3.0), 3)
    0.982
    >>> round(probabilistic_sharpe_ratio(0.458, 0.0, 24, -2.448, 10.164), 3)
    0.913
    """
    sr = check_float("sr", sr)
    sr_benchmark = check_float("sr_benchmark", sr_benchmark)
    n_obs = check_int("n_obs", n_obs, minimum=2)
    skew = check_float("skew", skew)
    kurtosis = check_float("kurtosis", kurtosis)
    var_term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if not var_term > 0.0:
        raise ConfigError(
            f"skew={skew!r} and kurtosis={kurtosis!r} give a non-positive variance term "
            f"1 - skew*sr + (kurtosis-1)/4*sr^2 = {var_term!r} at sr={sr!r}; kurtosis is "
            "Pearson (normal = 3, not excess) and must be >= 1 + skew^2"
        )
    z = (sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(var_term)
    return _phi(z)


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` independent tries with true Sharpe 0 ([2]_).

    ``SR0 = sqrt(V) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))`` with ``g`` the
    Euler-Mascheroni constant and ``Z^-1`` the inverse standard normal CDF: the
    extreme-value approximation of ``E[max]`` of ``N`` normal Sharpe estimates with mean 0 and
    variance ``V``. ``N = 1`` gives 0 (no selection).

    Parameters
    ----------
    n_trials : int
        Number of independent strategies tried (>= 1).
    var_sharpe : float
        Variance of their per-period Sharpe ratios (>= 0).

    Returns
    -------
    float
        Per-period Sharpe ratio; increasing in both arguments.

    Examples
    --------
    The example of [2]_: 100 trials whose annualized Sharpes have variance 1/2, daily bars
    (250 a year), so the per-period variance is ``0.5 / 250``.

    >>> round(expected_max_sharpe(100, 0.5 / 250), 4)
    0.1132
    >>> expected_max_sharpe(1, 0.01)
    0.0
    """
    n_trials = check_int("n_trials", n_trials, minimum=1)
    var_sharpe = check_float("var_trials_sharpe", var_sharpe, low=0.0)
    if n_trials == 1:
        return 0.0
    # Z^-1(1 - p) = -Z^-1(p), accurate for tiny p
    z1 = -_STD_NORMAL.inv_cdf(1.0 / n_trials)
    z2 = -_STD_NORMAL.inv_cdf(1.0 / (n_trials * math.e))
    return math.sqrt(var_sharpe) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


@dataclass(frozen=True)
class DeflatedSharpe:
    """Deflated Sharpe ratio of a selected strategy, with everything that went into it.

    Attributes
    ----------
    dsr : float
        Probability in [0, 1] that the true Sharpe exceeds ``sr0`` (``PSR(sr0)``).
    sr : float
        Observed per-period Sharpe ratio of the selected strategy.
    sr0 : float
        Expected maximum per-period Sharpe of ``n_trials`` tries on noise
        (:func:`expected_max_sharpe`).
    n_trials : int
    var_trials : float
        Variance of the trials' per-period Sharpe ratios.
    n_obs : int
    skew, kurtosis : float
        Skewness and Pearson kurtosis of the selected strategy's returns.
    """

    dsr: float
    sr: float
    sr0: float
    n_trials: int
    var_trials: float
    n_obs: int
    skew: float
    kurtosis: float

    def significant(self, alpha: float = 0.05) -> bool:
        """True when ``dsr > 1 - alpha``: the Sharpe is unlikely to be a product of the search."""
        alpha = check_float(
            "alpha", alpha, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
        )
        return self.dsr > 1.0 - alpha


def deflated_sharpe_ratio(
    returns: npt.ArrayLike, n_trials: int, var_trials_sharpe: float
) -> DeflatedSharpe:
    """Deflated Sharpe ratio (DSR, [2]_) of the strategy a search selected.

    ``DSR = PSR(SR0)``: the probabilistic Sharpe ratio of the selected strategy against the
    Sharpe ratio expected from the best of ``n_trials`` tries on noise,
    ``SR0 = expected_max_sharpe(n_trials, var_trials_sharpe)``.

    Parameters
    ----------
    returns : array-like of shape (T,)
        Per-bar returns of the selected (best) strategy.
    n_trials : int
        Number of *unique* strategies tried (>= 1); duplicates (genotypes decoding to the same
        parameters) are one trial. Correlated strategies count less than independent ones:
        an effective (e.g. clustered) number of trials is better when known.
    var_trials_sharpe : float
        Variance of the trials' **per-period** Sharpe ratios, e.g.
        ``np.var(trial_sharpes, ddof=1)``; divide the variance of annualized Sharpes by the
        number of bars per year.

    Returns
    -------
    DeflatedSharpe

    Raises
    ------
    DataError
        From :func:`sharpe_stats` (too few returns, NaN/inf, zero variance).
    ConfigError
        ``n_trials < 1`` or a negative/non-finite ``var_trials_sharpe``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = 0.001 + 0.01 * rng.standard_normal(1000)   # per-bar Sharpe about 0.1
    >>> d = deflated_sharpe_ratio(r, n_trials=1, var_trials_sharpe=0.0)
    >>> d.significant()
    True
    >>> deflated_sharpe_ratio(r, n_trials=1000, var_trials_sharpe=1 / 1000).significant()
    False
    """
    stats = sharpe_stats(returns)
    sr0 = expected_max_sharpe(n_trials, var_trials_sharpe)
    dsr = probabilistic_sharpe_ratio(stats.sr, sr0, stats.n_obs, stats.skew, stats.kurtosis)
    return DeflatedSharpe(
        dsr=dsr,
        sr=stats.sr,
        sr0=sr0,
        n_trials=int(n_trials),
        var_trials=float(var_trials_sharpe),
        n_obs=stats.n_obs,
        skew=stats.skew,
        kurtosis=stats.kurtosis,
    )


# ---------------------------------------------------------------------------------------------
# PBO by combinatorially symmetric cross-validation


def _check_n_blocks(n_blocks: object) -> int:
    n_blocks = check_int("n_blocks", n_blocks)
    if n_blocks < 4 or n_blocks % 2 or n_blocks > MAX_BLOCKS:
        raise ConfigError(
            f"n_blocks must be an even number from 4 to {MAX_BLOCKS}, got {n_blocks!r}: CSCV "
            "splits the blocks into two halves and tries all C(n_blocks, n_blocks/2) splits "
            "(16 blocks: 12,870 splits)"
        )
    return n_blocks


def _block_moments(r: np.ndarray, n_blocks: int, name: str) -> np.ndarray:
    if r.size < n_blocks:
        raise DataError(
            f"{name} has {r.size} observations, fewer than n_blocks={n_blocks}: every block "
            "needs at least one (use fewer blocks)"
        )
    # np.array_split's rule: contiguous blocks, the first T % n_blocks ones one bar longer
    size, extra = divmod(r.size, n_blocks)
    counts = np.full(n_blocks, size, dtype=np.int64)
    counts[:extra] += 1
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.empty((3, n_blocks))
    out[0] = counts
    out[1] = np.add.reduceat(r, starts)
    with np.errstate(over="ignore"):  # reported below, naming the series
        out[2] = np.add.reduceat(r * r, starts)
    if not np.isfinite(out).all():
        raise DataError(f"{name} is too large: its sum of squares overflows float64")
    return out


def block_moments(returns: npt.ArrayLike, n_blocks: int = DEFAULT_BLOCKS) -> np.ndarray:
    """Count, sum and sum of squares of one strategy's returns in contiguous blocks.

    The blocks follow :func:`numpy.array_split`: ``n_blocks`` contiguous blocks in time order,
    the first ``T % n_blocks`` of them one bar longer than the others. Stack the result of each
    strategy (all over the same bars) into an array of shape ``(N, 3, n_blocks)`` for
    :func:`probability_of_backtest_overfitting`.

    Parameters
    ----------
    returns : array-like of shape (T,)
        Per-bar returns of one strategy (finite).
    n_blocks : int, default 16
        Even, from 4 to 24; at most ``T``.

    Returns
    -------
    ndarray of shape (3, n_blocks)
        Rows: number of returns, their sum and their sum of squares, per block.

    Raises
    ------
    DataError
        NaN/inf in ``returns`` (named by index), or fewer returns than blocks.
    ConfigError
        ``returns`` not 1-d, or ``n_blocks`` odd, below 4 or above 24.

    Examples
    --------
    >>> block_moments([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], n_blocks=4)
    array([[ 2.,  2.,  2.,  1.],
           [ 3.,  7., 11.,  7.],
           [ 5., 25., 61., 49.]])

    Many strategies, one at a time (never a ``T x N`` matrix):

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> moments = np.stack([block_moments(rng.normal(0, 0.01, 500), 8) for _ in range(20)])
    >>> moments.shape
    (20, 3, 8)
    """
    r = _as_returns(returns)
    return _block_moments(r, _check_n_blocks(n_blocks), "returns")


@dataclass(frozen=True, eq=False)
class PBO:
    """Probability of backtest overfitting and the CSCV logits it comes from.

    Attributes
    ----------
    pbo : float
        Share of splits whose logit is ``<= 0``: the in-sample winner ranked at or below the
        out-of-sample median.
    logits : ndarray of shape (n_combinations,)
        ``ln(w / (1 - w))`` per split, with ``w`` the winner's relative out-of-sample rank; entry
        ``i`` is the split whose in-sample blocks are the ``i``-th tuple of
        ``itertools.combinations(range(n_blocks), n_blocks // 2)``. Read-only.
    n_combinations : int
        ``C(n_blocks, n_blocks / 2)``.
    n_strategies : int
    n_blocks : int
    """

    pbo: float
    logits: np.ndarray
    n_combinations: int
    n_strategies: int
    n_blocks: int


@njit
def _score_nb(n, s, q, metric):
    """Sharpe (metric 0, ``ddof=1``) or mean (metric 1) from count, sum, sum of squares."""
    mean = s / n
    if metric == 1:
        return mean
    ss = q - s * mean  # (n - 1) * variance
    if ss <= 1e-9 * q:  # constant returns: the variance left is rounding noise
        if mean > 0.0:
            return np.inf
        if mean < 0.0:
            return -np.inf
        return 0.0
    return mean / np.sqrt(ss / (n - 1))


@njit
def _logit_nb(is_score, oos_score):
    """Logit of the out-of-sample midrank of the in-sample winner; oracle: naive_overfitting."""
    n = is_score.shape[0]
    best = is_score[0]
    pick = oos_score[0]
    for j in range(1, n):
        # in-sample ties go to the strategy with the worse out-of-sample score
        if is_score[j] > best or (is_score[j] == best and oos_score[j] < pick):
            best = is_score[j]
            pick = oos_score[j]
    below = 0
    equal = 0
    for j in range(n):
        if oos_score[j] < pick:
            below += 1
        elif oos_score[j] == pick:
            equal += 1
    rank = below + (equal + 1) / 2.0  # 1 = worst, n = best; ties share their mean rank
    w = rank / (n + 1)
    return np.log(w / (1.0 - w))


@njit_parallel
def _cscv_logits_nb(moments, combos, metric, out_in, out_out):
    """Logits of the splits ``combos`` (in-sample blocks) and of their complements; oracle:
    naive_overfitting.cscv_logits."""
    n_strategies = moments.shape[0]
    n_blocks = moments.shape[2]
    for c in prange(combos.shape[0]):
        in_a = np.zeros(n_blocks, dtype=np.bool_)
        for k in range(combos.shape[1]):
            in_a[combos[c, k]] = True
        score_a = np.empty(n_strategies)
        score_b = np.empty(n_strategies)
        for j in range(n_strategies):
            na = 0.0
            sa = 0.0
            qa = 0.0
            nb = 0.0
            sb = 0.0
            qb = 0.0
            for k in range(n_blocks):
                if in_a[k]:
                    na += moments[j, 0, k]
                    sa += moments[j, 1, k]
                    qa += moments[j, 2, k]
                else:
                    nb += moments[j, 0, k]
                    sb += moments[j, 1, k]
                    qb += moments[j, 2, k]
            score_a[j] = _score_nb(na, sa, qa, metric)
            score_b[j] = _score_nb(nb, sb, qb, metric)
        out_in[c] = _logit_nb(score_a, score_b)
        out_out[c] = _logit_nb(score_b, score_a)


def _as_moments(data: npt.ArrayLike, n_blocks: int | None) -> np.ndarray:
    """``(N, 3, S)`` moments from moments or from a ``(T, N)`` returns matrix."""
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"moments must be numbers, got {type(data).__name__}") from None
    if arr.ndim == 2:
        n_blocks = _check_n_blocks(DEFAULT_BLOCKS if n_blocks is None else n_blocks)
        if arr.shape[1] < 2:
            raise ConfigError(
                f"returns matrix has shape {arr.shape}: PBO needs (T, N) with N >= 2 strategies"
            )
        moments = np.empty((arr.shape[1], 3, n_blocks))
        for j in range(arr.shape[1]):
            col = _as_returns(arr[:, j], f"returns[:, {j}]")
            moments[j] = _block_moments(col, n_blocks, f"returns[:, {j}]")
        return moments
    if arr.ndim != 3 or arr.shape[1] != 3:
        raise ConfigError(
            f"moments must have shape (N, 3, n_blocks) (see block_moments) or be a (T, N) "
            f"returns matrix, got shape {arr.shape}"
        )
    n, _, s = arr.shape
    if n < 2:
        raise ConfigError(f"moments has {n} strategy(ies) (axis 0); PBO needs at least 2")
    _check_n_blocks(s)
    if n_blocks is not None and n_blocks != s:
        raise ConfigError(f"n_blocks={n_blocks!r} but moments has {s} blocks (axis 2)")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        j, m, k = (int(i) for i in bad[0])
        raise DataError(
            f"moments has a non-finite value {float(arr[j, m, k])!r} at [{j}, {m}, {k}]"
        )
    counts = arr[:, 0, :]
    if (counts < 1).any() or (counts != np.round(counts)).any():
        j, k = (int(i) for i in np.argwhere((counts < 1) | (counts != np.round(counts)))[0])
        raise DataError(
            f"moments[{j}, 0, {k}] = {float(counts[j, k])!r} is not a positive whole count "
            "of returns"
        )
    differ = np.argwhere(counts != counts[0])
    if differ.size:
        j, k = (int(i) for i in differ[0])
        raise DataError(
            f"moments[{j}, 0, {k}] = {float(counts[j, k])!r} but moments[0, 0, {k}] = "
            f"{float(counts[0, k])!r}: all strategies must be split over the same bars"
        )
    negative = np.argwhere(arr[:, 2, :] < 0)
    if negative.size:
        j, k = (int(i) for i in negative[0])
        raise DataError(
            f"moments[{j}, 2, {k}] = {float(arr[j, 2, k])!r}: a sum of squares cannot be < 0"
        )
    return np.ascontiguousarray(arr)


def probability_of_backtest_overfitting(
    moments: npt.ArrayLike,
    *,
    metric: str = "sharpe",
    n_blocks: int | None = None,
    batch_size: int = 8192,
) -> PBO:
    """Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation.

    CSCV ([3]_): the bars are cut into ``S`` contiguous blocks; for each of the
    ``C(S, S/2)`` ways to choose ``S/2`` blocks as in-sample (the rest out-of-sample), the
    strategy with the best in-sample metric is taken, ``w`` is its relative out-of-sample rank
    ``rank / (N + 1)`` (rank 1 = worst of ``N``, ``N`` = best) and the split's logit is
    ``ln(w / (1 - w))``. PBO is the share of logits ``<= 0``: how often the in-sample winner
    ranks at or below the out-of-sample median. Pure noise gives about 0.5 (exactly 0.5 in
    expectation for an even ``N``; ``(N + 1) / (2N)`` for an odd one, where the median rank is
    an outcome), a real edge near 0.

    Ties, independent of the column order: in-sample ties go to the tied strategy with the
    *worse* out-of-sample metric (the conservative choice), and out-of-sample ranks are
    midranks (tied strategies share the mean of their ranks). A strategy with constant returns
    (variance within rounding of 0) has Sharpe ``+inf``, ``-inf`` or 0 by the sign of its mean,
    so a strategy that never trades (all returns 0) ranks as Sharpe 0, never as NaN.

    Parameters
    ----------
    moments : array of shape (N, 3, S), or returns of shape (T, N)
        Block moments stacked from :func:`block_moments` of each of ``N >= 2`` strategies over
        the same bars, with ``S`` even from 4 to 24; or, for convenience, a returns matrix
        (one column per strategy), split into ``n_blocks`` blocks.
    metric : {"sharpe", "mean"}, default "sharpe"
        Score of a strategy on a set of blocks: Sharpe ratio (``ddof=1``) or mean return,
        both from the summed moments of those blocks.
    n_blocks : int, optional
        Blocks for a returns matrix (default 16); with moments, if given, must equal ``S``.
    batch_size : int, default 8192
        Splits per kernel call; memory is ``O(batch_size * S)`` plus ``O(N)`` per thread.

    Returns
    -------
    PBO

    Raises
    ------
    ConfigError
        Bad shape, fewer than 2 strategies, ``S`` odd or outside 4..24, unknown ``metric``.
    DataError
        Non-finite moments or returns, counts that are not positive whole numbers or differ
        between strategies, a negative sum of squares, fewer bars than blocks.

    Examples
    --------
    Twenty strategies of pure noise: the in-sample winner is a coin flip out of sample.

    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> noise = np.stack([block_moments(rng.normal(0, 0.01, 800), 8) for _ in range(20)])
    >>> res = probability_of_backtest_overfitting(noise)
    >>> res.n_combinations, res.logits.shape, 0.2 < res.pbo < 0.8
    (70, (70,), True)

    One strategy has a real edge in every block: it wins in and out of sample.

    >>> edge = block_moments(rng.normal(0.002, 0.01, 800), 8)   # mean 0.2% per bar
    >>> float(probability_of_backtest_overfitting(np.concatenate([edge[None], noise[1:]])).pbo)
    0.0
    """
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {METRICS}, got {metric!r}")
    batch_size = check_int("batch_size", batch_size, minimum=1)
    m = _as_moments(moments, n_blocks)
    n_strategies, _, s = m.shape
    half = s // 2
    total = math.comb(s, half)
    logits = np.empty(total)
    # Splits containing block 0 come first in lexicographic order; the complement of the i-th
    # split is the (total - 1 - i)-th, so one pass over the first half scores both.
    rest = itertools.combinations(range(1, s), half - 1)
    done = 0
    while chunk := list(itertools.islice(rest, batch_size)):
        combos = np.zeros((len(chunk), half), dtype=np.int64)
        combos[:, 1:] = chunk
        out_in = np.empty(len(chunk))
        out_out = np.empty(len(chunk))
        _cscv_logits_nb(m, combos, METRICS.index(metric), out_in, out_out)
        logits[done : done + len(chunk)] = out_in
        logits[total - done - len(chunk) : total - done] = out_out[::-1]
        done += len(chunk)
    logits.setflags(write=False)
    return PBO(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        n_combinations=total,
        n_strategies=n_strategies,
        n_blocks=s,
    )


# ---------------------------------------------------------------------------------------------
# plain words


def _versus(value: float, threshold: float) -> str:
    """``value`` with as few decimals (2 or more) as keep it apart from ``threshold``."""
    for digits in range(2, 7):
        a, b = f"{value:.{digits}f}", f"{threshold:.{digits}f}"
        if a != b:
            return f"{a} {'>' if value > threshold else '<'} {b}"
    return f"{value:.6f} {'>' if value > threshold else '<='} {threshold:.6f}"


def verdict(dsr: DeflatedSharpe, pbo: PBO | None = None, alpha: float = 0.05) -> str:
    """One or two plain sentences on whether a backtest result is likely real.

    The first sentence is the deflated Sharpe test at level ``alpha`` (significant when
    ``dsr > 1 - alpha``). The second, when ``pbo`` is given, reads PBO as: likely overfit at
    ``pbo >= 0.5`` (no better than picking at random), some overfitting at ``0.2 <= pbo <
    0.5``, unlikely below 0.2.

    Examples
    --------
    >>> import numpy as np
    >>> d = DeflatedSharpe(dsr=0.41, sr=0.05, sr0=0.06, n_trials=4210, var_trials=0.001,
    ...                    n_obs=2000, skew=0.0, kurtosis=3.0)
    >>> p = PBO(pbo=0.71, logits=np.zeros(0), n_combinations=12870, n_strategies=50, n_blocks=16)
    >>> print(verdict(d, p))  # doctest: +NORMALIZE_WHITESPACE
    Not significant: a Sharpe this high is expected from 4,210 tries on noise
    (deflated Sharpe 0.41 < 0.95). Overfitting is likely: the in-sample winner ranked at or
    below the out-of-sample median in 71% of 12,870 splits (PBO 0.71).

    A best Sharpe at or below zero is never "a Sharpe this high":

    >>> print(verdict(DeflatedSharpe(0.0, -0.02, 0.06, 4210, 0.001, 2000, 0.0, 3.0)))
    Not significant: the best Sharpe ratio is not above zero (deflated Sharpe 0.00 < 0.95).
    """
    if not isinstance(dsr, DeflatedSharpe):
        raise ConfigError(f"dsr must be a DeflatedSharpe, got {type(dsr).__name__}")
    if pbo is not None and not isinstance(pbo, PBO):
        raise ConfigError(f"pbo must be a PBO or None, got {type(pbo).__name__}")
    alpha = check_float(
        "alpha", alpha, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False
    )
    level = 1.0 - alpha
    shown = f"deflated Sharpe {_versus(dsr.dsr, level)}"
    tries = f"{dsr.n_trials:,} tries" if dsr.n_trials > 1 else "a single try"
    if dsr.sr <= 0:  # nothing to explain away: "a Sharpe this high" would read as praise
        text = f"Not significant: the best Sharpe ratio is not above zero ({shown})."
    elif dsr.significant(alpha):
        text = (
            f"Significant: a Sharpe this high is unlikely to come from {tries} on noise ({shown})."
        )
    elif dsr.n_trials > 1:
        text = f"Not significant: a Sharpe this high is expected from {tries} on noise ({shown})."
    else:
        text = f"Not significant: a Sharpe this high can be luck even from {tries} ({shown})."
    if pbo is None:
        return text
    splits = f"{pbo.n_combinations:,} splits (PBO {pbo.pbo:.2f})"
    if pbo.pbo >= 0.5:
        text += (
            " Overfitting is likely: the in-sample winner ranked at or below the out-of-sample "
            f"median in {pbo.pbo:.0%} of {splits}."
        )
    elif pbo.pbo >= 0.2:
        text += (
            " Some overfitting: the in-sample winner ranked at or below the out-of-sample "
            f"median in {pbo.pbo:.0%} of {splits}."
        )
    else:
        text += (
            " Overfitting is unlikely: the in-sample winner stayed above the out-of-sample "
            f"median in {1 - pbo.pbo:.0%} of {splits}."
        )
    return text
