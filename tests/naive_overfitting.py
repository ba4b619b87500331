"""Slow, obviously correct twins of :mod:`genepool.backtest.overfitting`.

Written from the papers and the documented rules, never from the kernel:

- CSCV (Bailey, Borwein, Lopez de Prado & Zhu) by brute force: for every split from
  ``itertools.combinations`` it builds the in-sample and out-of-sample returns matrices from a
  ``(T, N)`` returns matrix, scores every column with exact rational arithmetic (so strategies
  that tie exactly do tie, whatever the order of summation), and ranks with plain Python.
- Sample moments with plain Python loops.

Documented rules the twin follows: blocks as :func:`numpy.array_split` (the first ``T % S``
blocks one bar longer); Sharpe with ``ddof=1``, and ``+inf``/``-inf``/0 by the sign of the mean
when the variance is 0; in-sample ties go to the tied strategy with the worse out-of-sample
score; out-of-sample ranks are midranks; ``w = rank / (N + 1)``; PBO = share of logits <= 0.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction


def blocks(n_obs: int, n_blocks: int) -> list[range]:
    """Bar indices of each block: contiguous, the first ``n_obs % n_blocks`` one bar longer."""
    out, start = [], 0
    for b in range(n_blocks):
        size = n_obs // n_blocks + (1 if b < n_obs % n_blocks else 0)
        out.append(range(start, start + size))
        start += size
    assert start == n_obs
    return out


def score(column: list[Fraction], metric: str) -> tuple[int, Fraction]:
    """Exact sort key of a strategy's score on some bars: ``(tier, value)``.

    ``tier`` is -1 for a Sharpe of ``-inf``, +1 for ``+inf`` and 0 otherwise; ``value`` is the
    mean (metric "mean") or ``sign(mean) * mean**2 / variance``, which orders like
    ``mean / std`` and is exact.
    """
    n = len(column)
    mean = sum(column, Fraction(0)) / n
    if metric == "mean":
        return (0, mean)
    var = sum(((x - mean) ** 2 for x in column), Fraction(0)) / (n - 1)
    if var == 0:
        return ((mean > 0) - (mean < 0), Fraction(0))
    sign = 1 if mean >= 0 else -1
    return (0, sign * mean * mean / var)


def cscv_logits(returns, n_blocks: int, metric: str = "sharpe") -> list[float]:
    """Logit of every CSCV split, in ``itertools.combinations`` order of the in-sample blocks."""
    rows = [[Fraction(float(v)) for v in row] for row in returns]
    n_obs, n_strategies = len(rows), len(rows[0])
    bars = blocks(n_obs, n_blocks)
    logits = []
    for in_blocks in itertools.combinations(range(n_blocks), n_blocks // 2):
        out_blocks = [b for b in range(n_blocks) if b not in in_blocks]
        in_rows = [rows[t] for b in in_blocks for t in bars[b]]
        out_rows = [rows[t] for b in out_blocks for t in bars[b]]
        is_scores = [score([r[j] for r in in_rows], metric) for j in range(n_strategies)]
        oos_scores = [score([r[j] for r in out_rows], metric) for j in range(n_strategies)]
        best = max(is_scores)
        tied = [j for j in range(n_strategies) if is_scores[j] == best]
        winner = min(tied, key=lambda j: oos_scores[j])  # the worse out-of-sample score
        ordered = sorted(oos_scores)  # worst first: position 1 = rank 1
        positions = [i + 1 for i, s in enumerate(ordered) if s == oos_scores[winner]]
        rank = sum(positions) / len(positions)
        w = rank / (n_strategies + 1)
        logits.append(math.log(w / (1 - w)))
    return logits


def pbo(returns, n_blocks: int, metric: str = "sharpe") -> float:
    logits = cscv_logits(returns, n_blocks, metric)
    return sum(1 for x in logits if x <= 0) / len(logits)


def moments(returns) -> tuple[float, float, float]:
    """Sharpe (ddof=1), skewness and Pearson kurtosis with plain loops (population moments)."""
    x = [float(v) for v in returns]
    n = len(x)
    mean = math.fsum(x) / n
    m2 = math.fsum((v - mean) ** 2 for v in x) / n
    m3 = math.fsum((v - mean) ** 3 for v in x) / n
    m4 = math.fsum((v - mean) ** 4 for v in x) / n
    return mean / math.sqrt(m2 * n / (n - 1)), m3 / m2**1.5, m4 / m2**2
