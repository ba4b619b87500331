"""The verdicts of a run: is its best strategy's Sharpe ratio more than luck?

- A search (``genepool evolve``): the deflated Sharpe ratio of the best strategy over the
  distinct strategies tried, and PBO by CSCV over a uniform sample of them
  (:func:`search_verdict`).
- Nothing selected (``genepool backtest``, the stitched out-of-sample returns of a walk-forward
  run): the probabilistic Sharpe ratio against zero (:func:`psr_verdict`).

The statistics themselves are :mod:`genepool.backtest.overfitting`'s; this module decides which
returns and trials they see, and writes the results as :mod:`records` sections.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backtest import StrategyProblem
from ..backtest import overfitting as ovf
from ..backtest.enums import Metric
from ..backtest.trace import trace_strategy
from ..errors import GenepoolError
from .callbacks import TrialSketch
from .records import DeflatedSharpeRecord, PboRecord, Trials, Verdict

__all__ = ["PBO_BLOCKS", "PBO_STRATEGIES", "SearchVerdict", "psr_verdict", "search_verdict"]

PBO_BLOCKS = 16
PBO_STRATEGIES = 256  # trials (a uniform sample of the distinct strategies) in the CSCV
#: A universe's PBO replays each strategy on every symbol: at most this many symbol runs
#: (and at least PBO_MIN_STRATEGIES strategies), so that 200 symbols of 10^6 bars take
#: minutes, not an hour (a replay of 10^6 bars is about 0.05 s).
PBO_SYMBOL_RUNS = 4096
PBO_MIN_STRATEGIES = 16
PSR_LEVEL = 0.95


@dataclass(frozen=True)
class SearchVerdict:
    """The statistics of a search's best strategy and the verdict drawn from them."""

    trials: Trials
    deflated_sharpe: DeflatedSharpeRecord
    pbo: PboRecord | None  # None: fewer than two strategies with trades and varying returns
    verdict: Verdict


def search_verdict(
    problem: StrategyProblem,
    sketch: TrialSketch,
    best_returns: np.ndarray,
    min_trades: int,
) -> SearchVerdict:
    """Deflated Sharpe of the best strategy and PBO by CSCV over a sample of the trials.

    - Trials: the distinct strategies evaluated (``TrialSketch``). The variance of their
      Sharpe ratios is taken under the null hypothesis of the test (no strategy has skill):
      an estimated per-bar Sharpe then has variance 1 / (T - 1) (Lo 2002; Mertens 2002 with
      SR = 0). The variance measured across the GA's trials is reported too, but not used: with
      a real edge it is mostly the spread of real skill between strategies, which would make a
      stronger edge look less significant (tests/test_honesty.py).
    - PBO: CSCV over up to ``PBO_STRATEGIES`` valid strategies of the sketch's uniform sample of
      the trials (the set CSCV assumes), not over the hall of fame, whose near-identical top
      strategies chosen on the whole training sample bias it towards 1.
    """
    m = problem.metrics_array(sketch.X)
    sr = m[:, Metric.SHARPE_RATIO] / math.sqrt(problem.ann_factor)
    valid = np.isfinite(sr) & (m[:, Metric.N_TRADES] >= max(min_trades, 1))
    n_symbols = symbols_per_trial(problem)
    n_trials = sketch.n_distinct * n_symbols
    trials = Trials(
        n_distinct=sketch.n_distinct,
        exact=sketch.exact,
        sample=len(sketch.X),
        sample_valid=int(valid.sum()),
        sharpe_variance_measured=float(np.var(sr[valid], ddof=1)) if valid.sum() >= 2 else None,
        symbols=None if problem.universe is None else len(problem.universe),
        n_trials=None if problem.universe is None else n_trials,
    )
    dsr, dsr_record = _deflated_sharpe(best_returns, n_trials)
    pbo, pbo_record = _pbo(problem, sketch.X[valid][: pbo_strategies(problem)])
    if dsr is not None:
        text = ovf.verdict(dsr, pbo)
        if problem.universe is not None:
            text += " " + universe_trials_text(sketch.n_distinct, n_symbols, problem.aggregate)
    else:
        text = "No verdict: no strategy with trades and varying returns was found."
    verdict = Verdict(
        text=text,
        significant=None if dsr is None else bool(dsr.significant()),
        dsr=None if dsr is None else dsr.dsr,
        pbo=None if pbo is None else pbo.pbo,
    )
    return SearchVerdict(trials, dsr_record, pbo_record, verdict)


def pbo_strategies(problem: StrategyProblem) -> int:
    """Strategies in the CSCV: :data:`PBO_STRATEGIES`, fewer for a universe of many symbols
    (:data:`PBO_SYMBOL_RUNS` replays in all, at least :data:`PBO_MIN_STRATEGIES`)."""
    if problem.universe is None:
        return PBO_STRATEGIES
    fit = PBO_SYMBOL_RUNS // len(problem.universe)
    return max(PBO_MIN_STRATEGIES, min(PBO_STRATEGIES, fit))


def symbols_per_trial(problem: StrategyProblem) -> int:
    """Results each strategy's selection looked at: its number of symbols, or 1 (one series,
    or ``aggregate="portfolio"``, whose fitness is one equity curve's).

    The fitness of a universe strategy under mean, median or worst aggregates its per-symbol
    results, so choosing the best strategy used every one of them: the deflated Sharpe counts
    ``strategies x symbols`` trials (conservative: symbols that move together are fewer
    independent trials). A portfolio's fitness is the metric of the one series the verdict
    tests: one trial per strategy."""
    if problem.universe is None or problem.aggregate == "portfolio":
        return 1
    return len(problem.universe)


def universe_trials_text(n_distinct: int, n_symbols: int, aggregate: str) -> str:
    """The sentence of a universe verdict saying how its trials were counted."""
    if aggregate == "portfolio":
        return (
            f"Trials counted: {n_distinct:,} strategies (selected on the equal-weight "
            "portfolio's metrics, the Sharpe tested here)."
        )
    return (
        f"Trials counted: {n_distinct:,} strategies x {n_symbols:,} symbols = "
        f"{n_distinct * n_symbols:,} (the {aggregate} over the symbols selected on every "
        "symbol's results); the Sharpe tested is the equal-weight portfolio's."
    )


def _deflated_sharpe(
    returns: np.ndarray, n_trials: int
) -> tuple[ovf.DeflatedSharpe | None, DeflatedSharpeRecord]:
    """The DSR with the null hypothesis' variance of the trials' per-bar Sharpe ratios."""
    try:
        dsr = ovf.deflated_sharpe_ratio(returns, n_trials, 1.0 / max(len(returns) - 1, 1))
    except GenepoolError as exc:
        return None, DeflatedSharpeRecord(error=str(exc))
    record = DeflatedSharpeRecord(
        dsr=dsr.dsr,
        sharpe_per_bar=dsr.sr,
        expected_max_sharpe_per_bar=dsr.sr0,
        n_trials=dsr.n_trials,
        var_trials=dsr.var_trials,
        n_obs=dsr.n_obs,
        skew=dsr.skew,
        kurtosis=dsr.kurtosis,
        significant=dsr.significant(),
    )
    return dsr, record


def _pbo(problem: StrategyProblem, X: np.ndarray) -> tuple[ovf.PBO | None, PboRecord | None]:
    """PBO by CSCV over the strategies ``X`` whose returns vary (None: fewer than two)."""
    moments = []
    if problem.universe is not None and len(X):  # the equal-weight portfolios' returns
        from .universe import portfolio_tracer

        tracer = portfolio_tracer(problem)
        returns = (tracer.trace(problem.space.decode_row(x)).returns for x in X)
    else:
        returns = (trace_strategy(problem, problem.space.decode_row(x)).returns for x in X)
    for r in returns:  # one strategy's returns at a time
        if np.std(r) > 0:
            moments.append(ovf.block_moments(r, PBO_BLOCKS))
    if len(moments) < 2:
        return None, None
    try:
        pbo = ovf.probability_of_backtest_overfitting(np.stack(moments))
    except GenepoolError as exc:
        return None, PboRecord(error=str(exc))
    record = PboRecord(
        pbo=pbo.pbo,
        n_strategies=pbo.n_strategies,
        n_blocks=pbo.n_blocks,
        n_combinations=pbo.n_combinations,
    )
    return pbo, record


def psr_verdict(returns: np.ndarray, what: str) -> tuple[Verdict, ovf.SharpeStats | None]:
    """Verdict where nothing was selected: the probabilistic Sharpe ratio against zero.

    ``what`` names the returns in the sentence. Also returns their Sharpe statistics (None
    when they have none: too few bars, or no variance).
    """
    try:
        st = ovf.sharpe_stats(returns)
    except GenepoolError as exc:
        return Verdict(text=f"No verdict: {exc}"), None
    psr = ovf.probabilistic_sharpe_ratio(st.sr, 0.0, st.n_obs, st.skew, st.kurtosis)
    significant = psr > PSR_LEVEL
    text = (
        f"{'Significant' if significant else 'Not significant'}: the probability that the "
        f"true Sharpe ratio of {what} is above zero is {psr:.0%} ({st.n_obs:,} bars; "
        f"{'>' if significant else '<='} 95%)."
    )
    return Verdict(text=text, significant=bool(significant), psr=psr), st
