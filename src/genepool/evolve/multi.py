"""Multi-objective strategy evolution: NSGA-II on several metrics, its front in and out of sample.

``genepool evolve --objectives sharpe_ratio,max_drawdown`` runs :class:`~genepool.NSGA2` on the
training bars with one objective per metric, each in its natural sense
(:data:`~genepool.backtest.enums.METRIC_SENSES`). Then:

- the Pareto set found in sample (the optimizer's archive of every non-dominated strategy,
  each distinct strategy once: genes that decode to the same parameters count once) is
  thinned to at most ``hall_of_fame`` rows (:func:`select_front`: the pick, each objective's
  extremes, then the member farthest from those kept, in normalized objective space, one per
  point of the front), and those strategies are re-evaluated on the test bars:
  ``hall_of_fame.parquet`` and the ``front`` of ``best.json``;
- the recommended pick is the knee point of the whole in-sample Pareto set
  (:func:`genepool.indicators.knee_point`), chosen without looking at the test bars; its
  equity, trades, out-of-sample metrics and deflated-Sharpe verdict are reported like the best
  strategy of a single-objective run, the verdict counting every distinct strategy the run
  evaluated.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..algorithms import NSGA2
from ..algorithms.archive import normalized
from ..algorithms.nsga2 import default_reference
from ..backtest import StrategyProblem
from ..backtest.problem import INVALID_FITNESS
from ..evaluation.cache import keyed_batch
from ..run import Direction
from . import _files as F_
from .config import objective_senses
from .out_of_sample import BestTrace, metrics_dict, most_active, trace_best, with_metrics
from .records import RunRecord
from .universe import write_symbol_metrics

__all__ = [
    "PICK_RULE",
    "MetricObjectives",
    "StrategyNSGA2",
    "finish_multi",
    "front_table",
    "select_front",
    "strategy_direction",
]

#: How the recommended pick is chosen, as ``best.json`` and the report say it.
PICK_RULE = (
    "knee point of the in-sample Pareto front (genepool.indicators.knee_point on the "
    "objectives normalized to [0, 1]); chosen on the training bars only"
)


class MetricObjectives(StrategyProblem):
    """A :class:`StrategyProblem` whose fitness is several metrics, each as it is (no sign),
    in the sense given to the run: ``(n, m)``.

    ``objective`` takes the names of :class:`StrategyProblem` (``"-name"``: the metric is
    minimized). A strategy with too few trades or a non-finite objective gets, in every
    column, the worst value of that column's sense (``-1e12`` maximized, ``+1e12``
    minimized), so that it is dominated by every valid strategy. ``objective_names`` are the
    bare metric names.
    """

    def _configure(self, family: str, objective: Any, **settings: Any) -> None:
        super()._configure(family, objective, **settings)
        self._given = list(self.objective_names or ())  # with their "-": the senses
        self.objective_names = [n.lstrip("-") for n in self.objective_names or ()]
        self._signs = np.array([sign for _, sign in self.objectives])

    def shared_config(self) -> dict[str, Any]:
        """:meth:`StrategyProblem.shared_config` with the objectives as given (``-name``
        minimized), so that a worker's copy has the same senses."""
        return {**super().shared_config(), "objective": list(self._given)}

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """The objective metrics of each strategy, shape ``(n, m)`` (invalid: the worst)."""
        fit = super().evaluate(X)  # sign * metric, to maximize; invalid -1e12
        return np.atleast_2d(fit.T).T * self._signs


def problem_names(senses: list[tuple[str, str]]) -> list[str]:
    """:class:`StrategyProblem` objective names of ``(metric, sense)`` pairs."""
    return [m if sense == "maximize" else f"-{m}" for m, sense in senses]


def strategy_direction(senses: list[tuple[str, str]]) -> Direction:
    """The run's direction: one objective per metric, named after it, in its sense."""
    return Direction.named(dict(senses))


class StrategyNSGA2(NSGA2):
    """:class:`~genepool.NSGA2` whose hypervolume reference point is drawn from the valid
    strategies of the first generation (not from the ``1e12`` of the invalid ones, which would
    make every later hypervolume the same number to twelve digits)."""

    def _first(self, X: np.ndarray, F: np.ndarray, violation: np.ndarray) -> None:
        if self.state.reference is None:
            valid = np.isfinite(F).all(axis=1) & (np.abs(F) < -INVALID_FITNESS / 2).all(axis=1)
            if valid.any():
                self.state.reference = default_reference(F[valid])
        super()._first(X, F, violation)

    def _archive_update(
        self, X: np.ndarray, F: np.ndarray, violation: np.ndarray, rank: np.ndarray
    ) -> None:
        """Only valid strategies enter the archive (an invalid one is no solution found, and
        its ``1e12`` markers would fill ``pareto.parquet`` of a run without a valid one)."""
        super()._archive_update(X, F, violation, np.where(valid_rows(F), rank, -1))


def valid_rows(F: np.ndarray) -> np.ndarray:
    """Rows of internal objectives ``F`` that are not the invalid marker (finite, < 1e12)."""
    return np.isfinite(F).all(axis=1) & (np.abs(F) < -INVALID_FITNESS / 2).all(axis=1)


def select_front(F: np.ndarray, pick: int, cap: int) -> np.ndarray:
    """Indices of at most ``cap`` rows of the front ``F`` (internal scale) to report.

    The pick first, then each objective's best row (the extremes of the front), then greedily
    the row farthest (Euclidean, objectives normalized to [0, 1]) from every row kept so far,
    which spreads the kept rows evenly along the front (farthest-point sampling); rows at the
    same point as a kept one (strategies that made the same trades) are left out. The result
    is ordered: the pick first, then the others by the first objective (best first).
    Deterministic (ties to the lower index); O(len(F) * cap) time, O(len(F)) memory.
    """
    n = F.shape[0]
    N = normalized(F)
    chosen = [pick]
    dist = np.sqrt(((N - N[pick]) ** 2).sum(axis=1))
    for j in range(F.shape[1]):
        best = int(np.argmin(F[:, j]))
        if dist[best] > 0 and len(chosen) < cap:  # not at a point already kept
            chosen.append(best)
            dist = np.minimum(dist, np.sqrt(((N - N[best]) ** 2).sum(axis=1)))
    while len(chosen) < min(cap, n):
        i = int(np.argmax(dist))
        if dist[i] <= 0:
            break  # only rows at points already kept are left
        chosen.append(i)
        dist = np.minimum(dist, np.sqrt(((N - N[i]) ** 2).sum(axis=1)))
    rest = sorted((i for i in chosen if i != pick), key=lambda i: (F[i, 0], i))
    return np.array([pick, *rest], dtype=np.int64)


def front_table(
    params: pd.DataFrame, is_m: pd.DataFrame, oos_m: pd.DataFrame | None
) -> pd.DataFrame:
    """The front as ``hall_of_fame.parquet``: ``rank`` (1 is the pick), ``pick``, the
    parameters, every metric in sample (``is_``) and out (``oos_``)."""
    table = params.reset_index(drop=True).copy()
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.insert(1, "pick", np.arange(len(table)) == 0)
    return with_metrics(table, is_m, oos_m)


def front_entries(
    params: list[dict[str, Any]],
    senses: list[tuple[str, str]],
    is_m: pd.DataFrame,
    oos_m: pd.DataFrame | None,
) -> list[dict[str, Any]]:
    """``best.json``'s ``front``: each strategy's parameters and objectives in and out."""
    names = [m for m, _ in senses]
    out = []
    for i, p in enumerate(params):
        entry: dict[str, Any] = {
            "params": p,
            "in_sample": {m: float(is_m[m].iloc[i]) for m in names},
            "out_of_sample": None
            if oos_m is None
            else {m: float(oos_m[m].iloc[i]) for m in names},
        }
        out.append(entry)
    return out


def finish_multi(
    run_dir: Path,
    config: Any,
    problem: MetricObjectives,
    test_problem: MetricObjectives | None,
    train: Any,
    test: Any,
    optimizer: NSGA2,
    base: RunRecord,
) -> tuple[RunRecord, BestTrace]:
    """Write the final population, the front in and out of sample (``hall_of_fame.parquet``),
    the pick's equity and trades; the run's record (``base`` holds the spans and the
    annualization) without its verdict and run statistics.

    When no strategy was ever valid, the front is empty and the record's strategy is the most
    active one of the final population (the closest to valid), as in a single-objective run.
    """
    from ..indicators import knee_point

    senses = objective_senses(config.objectives)
    direction = strategy_direction(senses)
    space = problem.space
    st = optimizer.state
    assert st.X is not None and st.F is not None
    pop = pd.DataFrame(space.decode(st.X))
    user = direction.to_user(st.F)
    for j, (metric, _) in enumerate(senses):
        pop[metric] = user[:, j]
    F_.write_frame(run_dir / F_.POPULATION, pop)

    X_all, F_all = optimizer.pareto_set()
    ok = valid_rows(F_all)
    X, F = X_all[ok], F_all[ok]
    if len(X):  # distinct strategies: genes that decode to the same one count once
        first = np.sort(keyed_batch(space, X).group()[0])
        X, F = X[first], F[first]
    if len(X):
        rows = select_front(F, knee_point(F), config.hall_of_fame)
        top_X = X[rows]
    else:  # no strategy was ever valid: the closest to valid, the most active
        top_X, _ = most_active(problem, st.X, np.zeros(st.X.shape[0]))
    is_m = problem.metrics(top_X)
    oos_m = None if test_problem is None else test_problem.metrics(top_X)
    decoded = pd.DataFrame(space.decode(top_X))
    F_.write_frame(run_dir / F_.HALL_OF_FAME, front_table(decoded, is_m, oos_m))
    symbols = write_symbol_metrics(run_dir, problem, test_problem, top_X)
    params = space.decode_row(top_X[0])
    best = trace_best(problem, test_problem, params, train, test)
    F_.write_frame(run_dir / F_.EQUITY, best.equity)
    F_.write_frame(run_dir / F_.TRADES, best.trades)
    why = None if len(X) else _invalid_reason(is_m.iloc[0], senses, config.min_trades)
    listed = [space.decode_row(x) for x in top_X] if len(X) else []
    record = dataclasses.replace(
        base,
        strategy=config.strategy,
        objective=config.objective,
        valid=why is None,
        invalid_reason=why,
        params=params,
        fitness=None,
        in_sample=metrics_dict(is_m.iloc[0]),
        out_of_sample=None if oos_m is None else metrics_dict(oos_m.iloc[0]),
        objectives=[{"name": m, "sense": s} for m, s in senses],
        pick={
            "rule": PICK_RULE,
            "pareto_size": len(X),
            "pareto_points": len(np.unique(F, axis=0)) if len(X) else 0,
            "front_size": len(listed),
        },
        front=front_entries(listed, senses, is_m, oos_m),
        symbols=symbols,
    )
    return record, best


def _invalid_reason(metrics: pd.Series, senses: list[tuple[str, str]], min_trades: int) -> str:
    """Why the reported strategy of a run without a valid one is not valid."""
    n_trades = int(metrics["n_trades"])
    if n_trades < min_trades:
        return f"the most active made {n_trades} trades in sample, --min-trades is {min_trades}"
    bad = [m for m, _ in senses if not np.isfinite(float(metrics[m]))]
    return f"the most active has a non-finite {', '.join(bad) or 'objective'} in sample"
