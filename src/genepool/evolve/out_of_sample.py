"""A finished GA run's best strategies re-evaluated in and out of sample, as frames.

The hall of fame (or, when no strategy was ever valid, the most active one of the final
population) with its metrics on the training and the test bars, the best strategy's equity and
trades bar by bar, and why it is not valid when it is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..backtest import METRICS, StrategyProblem
from ..backtest.enums import Metric
from ..backtest.trace import Trace, trace_strategy
from ..space import Space

__all__ = [
    "ADVICE",
    "INIT_CASH",
    "BestTrace",
    "equity_frame",
    "hall_of_fame_table",
    "invalid_reason",
    "metrics_dict",
    "most_active",
    "population_frame",
    "trace_best",
]

INIT_CASH = 10_000.0  # StrategyProblem's default initial cash, which runs use
CHUNK = 10_000  # strategies per metrics call: in chunks, like the run's evaluation

ADVICE = (
    "to find one: lower --min-trades, give the GA more training bars (more data, a larger "
    "--train-frac, fewer --walk-forward folds), or try another --strategy"
)


def population_frame(space: Space, X: np.ndarray, fitness: np.ndarray) -> pd.DataFrame:
    """The final population: decoded parameters and the fitness in the user's sense."""
    pop = pd.DataFrame(space.decode(X))
    pop["fitness"] = fitness
    return pop


def most_active(
    problem: StrategyProblem, X: np.ndarray, fitness: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The strategy of ``X`` with the most trades and its fitness (one row each): the closest
    to valid when no strategy ever was."""
    n = [problem.metrics_array(X[i : i + CHUNK])[:, Metric.N_TRADES]
         for i in range(0, len(X), CHUNK)]  # fmt: skip
    k = int(np.argmax(np.concatenate(n)))
    return X[k : k + 1], fitness[k : k + 1]


def metrics_dict(row: pd.Series) -> dict[str, Any]:
    return {m: row[m] for m in METRICS}


def hall_of_fame_table(
    space: Space, top_f: np.ndarray, is_m: pd.DataFrame, oos_m: pd.DataFrame | None
) -> pd.DataFrame:
    """Rank, parameters, fitness and every metric in sample (``is_``) and out (``oos_``)."""
    table = is_m[list(space.names)].copy()
    table.insert(0, "rank", np.arange(1, len(top_f) + 1))
    table["fitness"] = top_f
    return with_metrics(table, is_m, oos_m)


def with_metrics(
    table: pd.DataFrame, is_m: pd.DataFrame, oos_m: pd.DataFrame | None
) -> pd.DataFrame:
    """``table`` with every metric in sample (``is_<metric>``) and, where there is a test
    span, out of sample (``oos_<metric>``), one row per strategy; ``table`` itself."""
    for m in METRICS:
        table[f"is_{m}"] = is_m[m].to_numpy()
    if oos_m is not None:
        for m in METRICS:
            table[f"oos_{m}"] = oos_m[m].to_numpy()
    return table


def equity_frame(tr: Trace, sample: str) -> pd.DataFrame:
    """Value and drawdown per bar of a traced strategy, tagged ``sample`` ("in"/"out")."""
    return pd.DataFrame(
        {
            "time": tr.value.index,
            "value": tr.value.to_numpy(),
            "drawdown": tr.drawdown.to_numpy(),
            "sample": sample,
        }
    )


@dataclass(frozen=True)
class BestTrace:
    """The best strategy bar by bar: its training trace, equity and trades in and out."""

    in_sample: Trace
    equity: pd.DataFrame
    trades: pd.DataFrame


def trace_best(
    problem: StrategyProblem,
    test_problem: StrategyProblem | None,
    params: dict[str, Any],
    train: Any,
    test: Any,
) -> BestTrace:
    """Trace ``params`` on the training bars and, if any, on the test bars (whose bar numbers
    count on from the first training bar, like the in-sample trades').

    ``train``/``test`` are price frames, or :class:`~genepool.evolve.universe.UniverseData`
    for a universe problem: then the curves are the equal-weight portfolio of the per-symbol
    runs on the union calendar, and the trades every symbol's (a ``symbol`` column).
    """
    if problem.universe is not None:
        return _trace_universe(problem, test_problem, params, train, test)
    tr_in = trace_strategy(problem, params, index=train.index)
    frames, trades = [equity_frame(tr_in, "in")], [tr_in.trades.assign(sample="in")]
    if test_problem is not None and test is not None:
        tr_out = trace_strategy(test_problem, params, index=test.index, bar_offset=len(train))
        frames.append(equity_frame(tr_out, "out"))
        trades.append(tr_out.trades.assign(sample="out"))
    return BestTrace(tr_in, pd.concat(frames), pd.concat(trades))


def _trace_universe(
    problem: StrategyProblem,
    test_problem: StrategyProblem | None,
    params: dict[str, Any],
    train: Any,
    test: Any,
) -> BestTrace:
    from .universe import portfolio_tracer

    tr_in = portfolio_tracer(problem, train.index).trace(params)
    frames, trades = [equity_frame(tr_in, "in")], [tr_in.trades.assign(sample="in")]
    if test_problem is not None and test is not None:
        offsets = [s.n_bars for s in problem.universe or ()]  # bars count on per symbol
        tr_out = portfolio_tracer(test_problem, test.index).trace(params, offsets)
        frames.append(equity_frame(tr_out, "out"))
        trades.append(tr_out.trades.assign(sample="out"))
    return BestTrace(tr_in, pd.concat(frames), pd.concat(trades, ignore_index=True))


def invalid_reason(
    fitness: float,
    metrics: pd.Series,
    problem: StrategyProblem,
    objective: str,
    min_trades: int,
) -> str | None:
    """Why the best strategy is not valid (None when it is): fewer trades than ``min_trades``
    or a non-finite objective (which :class:`StrategyProblem` gives the invalid fitness)."""
    n_trades = int(metrics["n_trades"])
    if n_trades < min_trades:
        return f"the most active made {n_trades} trades in sample, --min-trades is {min_trades}"
    if not math.isfinite(fitness) or fitness == problem.invalid_fitness:
        name = objective.lstrip("-")
        return f"the best has a non-finite {name} ({metrics.get(name, fitness)}) in sample"
    return None
