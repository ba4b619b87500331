"""``genepool backtest``: one strategy with given parameters, its metrics and its report."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..backtest import METRICS, StrategyProblem
from ..backtest.calendar import BarsPerYear
from ..backtest.constraints import check_params, params_ranges
from ..backtest.trace import trace_strategy
from ..errors import ConfigError
from . import _files as F
from ._rundir import check_new_run_dir, new_run_dir
from .config import EvolveConfig
from .out_of_sample import equity_frame
from .records import COMPLETE, Annualization, BacktestRecord, write_best
from .runner import Echo, RunOutcome, _annualization, _load, _quiet
from .verdicts import psr_verdict

__all__ = ["backtest_one"]


def backtest_one(
    params: dict[str, Any],
    *,
    demo: bool = False,
    data: str | None = None,
    strategy: str = "rsi",
    fees: float = 0.001,
    slippage: float = 0.0,
    out: str | Path | None = None,
    report: bool = True,
    overwrite: bool = False,
    bars_per_year: float | None = None,
    time_column: str | None = None,
    sep: str | None = None,
    price_column: str | None = None,
    echo: Echo = _quiet,
) -> RunOutcome:
    """Backtest one strategy of ``strategy`` with ``params`` on all the bars.

    No search happened, so its verdict is the probabilistic Sharpe ratio against zero (the
    deflated Sharpe ratio with a single trial). ``params`` may be any valid strategy of the
    family (RSI(60), MA 100/200), not only one inside the GA's default search ranges; with
    ``stop_loss`` and ``take_profit`` it has stops. ``out`` follows the rules of ``evolve``: an
    existing non-empty directory is refused unless ``overwrite`` and it holds genepool's files.
    ``bars_per_year``, ``time_column``, ``sep`` and ``price_column`` are those of
    :class:`EvolveConfig`.
    """
    if demo == bool(data):
        raise ConfigError("give either --demo or --data prices.csv")
    run_dir = Path(out or f"runs/backtest-{strategy}-{time.strftime('%Y%m%d-%H%M%S')}")
    check_new_run_dir(run_dir, overwrite=overwrite)  # refuse at once, before the data load
    loading = EvolveConfig(
        data=data,
        demo=demo,
        time_column=time_column,
        sep=sep,
        price_column=price_column,
        bars_per_year=bars_per_year,
    )
    loading.validate()
    df = _load(loading)
    try:
        valid = check_params(strategy, params, n_bars=len(df))
    except ConfigError as exc:
        raise ConfigError(f"--params: {exc}") from None
    annual = _annualization(loading, df)
    echo(f"annualization: {annual}")
    problem = StrategyProblem(
        df, strategy, fees=fees, slippage=slippage, min_trades=0, bars_per_year=annual.value,
        stops="stop_loss" in valid, ranges=params_ranges(strategy, valid),
    )  # fmt: skip
    x = problem.space.check(problem.space.encode(valid))
    settings = {
        "command": "backtest",
        "demo": demo,
        "data": data,
        "strategy": strategy,
        "fees": fees,
        "slippage": slippage,
        "params": problem.space.decode_row(x[0]),
        "seed": None,
        "bars_per_year": bars_per_year,
        "time_column": loading.time_column,
        "sep": loading.sep,
        "price_column": loading.price_column,
    }
    with new_run_dir(run_dir, command="backtest", overwrite=overwrite):
        record = _write_results(run_dir, problem, x, df, settings, annual)
        F.write_json(
            run_dir / F.CONFIG,
            {
                "config": settings,
                "data": F.data_info(df, None if demo else data),
                "annualization": {"bars_per_year": annual.value, "method": annual.method},
                "versions": F.versions(),
            },
        )
        path = None
        if report:
            from .report_data import write_run_report

            path = write_run_report(run_dir)
        return RunOutcome(run_dir, record, path)


def _write_results(
    run_dir: Path,
    problem: StrategyProblem,
    x: np.ndarray,
    df: pd.DataFrame,
    settings: dict[str, Any],
    annual: BarsPerYear,
) -> BacktestRecord:
    """The strategy ``x`` on all the bars: equity, trades, a one-row population, best.json."""
    decoded = settings["params"]
    metrics = problem.metrics(x).iloc[0]
    tr = trace_strategy(problem, decoded, index=df.index)
    F.write_frame(run_dir / F.EQUITY, equity_frame(tr, "in"))
    F.write_frame(run_dir / F.TRADES, tr.trades.assign(sample="in"))
    pop = pd.DataFrame({k: [v] for k, v in decoded.items()})
    pop["fitness"] = [metrics["sharpe_ratio"]]
    F.write_frame(run_dir / F.POPULATION, pop)
    verdict, _ = psr_verdict(tr.returns, "this strategy (one tried, no search)")
    fitness = metrics["sharpe_ratio"]
    record = BacktestRecord(
        strategy=settings["strategy"],
        objective="sharpe_ratio",
        params=decoded,
        fitness=fitness if math.isfinite(float(fitness)) else None,
        in_sample={m: metrics[m] for m in METRICS},
        out_of_sample=None,
        verdict=verdict,
        status=COMPLETE,
        n_generations=0,
        n_evaluations=1,
        annualization=Annualization(annual.value, annual.method),
    )
    write_best(run_dir, record)
    return record
