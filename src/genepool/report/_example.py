"""Synthetic, seeded :class:`ReportData` for tests, docs and previews of the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._data import ReportData

__all__ = ["example_data"]


def example_data(
    seed: int = 0,
    *,
    generations: int = 40,
    bars_in: int = 1500,
    bars_out: int = 500,
    population: int = 400,
    trades: int = 60,
    datetime_index: bool = True,
    memory: bool = True,
    walk_forward: bool = True,
) -> ReportData:
    """A plausible report of an RSI-strategy run drawn from ``numpy.random.default_rng(seed)``.

    ``bars_out=0`` gives a run without a test split (``equity_out`` and the out-of-sample
    metrics are None).
    """
    rng = np.random.default_rng(seed)
    g = np.arange(generations)
    best = 0.4 + 1.6 * (1 - np.exp(-g / 8)) + rng.normal(0, 0.02, generations)
    history = pd.DataFrame(
        {
            "generation": g,
            "best": np.maximum.accumulate(best),
            "mean": best - 0.8 + 0.3 * (1 - np.exp(-g / 10)),
            "std": 0.5 * np.exp(-g / 15) + 0.05,
            "diversity": np.exp(-g / 20),
        }
    )
    mem = pd.DataFrame(
        {
            "generation": g,
            "rss": (300 + 40 * np.log1p(g) + rng.normal(0, 3, generations)) * 2**20,
            "chunk_size": np.where(g % 7 == 3, 0, 2000 - 100 * (g // 10)),
        }
    )
    n = bars_in + bars_out
    prices = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))
    index = pd.date_range("2020-01-01", periods=n, freq="h") if datetime_index else None
    equity = pd.Series(10_000 * prices / prices[0], index=index)
    if index is None:
        equity_in = equity.iloc[:bars_in].reset_index(drop=True)
        equity_out = equity.iloc[bars_in:].reset_index(drop=True) if bars_out else None
    else:
        equity_in = equity.iloc[:bars_in]
        equity_out = equity.iloc[bars_in:] if bars_out else None
    if equity_out is not None:
        equity_out = equity_out / equity_out.iloc[0] * 10_000

    pop = pd.DataFrame(
        {
            "window": rng.integers(5, 40, population),
            "lower": rng.normal(30, 4, population),
            "upper": rng.normal(70, 4, population),
            "ma": rng.choice(["sma", "wilder", "ema"], population),
            "long_short": rng.random(population) < 0.3,
            "fitness": rng.normal(1.0, 0.4, population),
        }
    )
    trades = min(trades, n - 1)
    entry = np.sort(rng.choice(n - 1, trades, replace=False)) if trades else np.array([], int)
    hold = rng.integers(1, 20, trades)
    exit_ = np.minimum(entry + hold, n - 1)
    times = pd.date_range("2020-01-01", periods=n, freq="h") if datetime_index else np.arange(n)
    trade_df = pd.DataFrame(
        {
            "entry_time": times[entry],
            "exit_time": times[exit_],
            "entry_price": prices[entry],
            "exit_price": prices[exit_],
            "size": rng.integers(1, 100, trades),
        }
    )
    trade_df["pnl"] = (trade_df["exit_price"] - trade_df["entry_price"]) * trade_df["size"]
    trade_df["return"] = trade_df["exit_price"] / trade_df["entry_price"] - 1
    trade_df["sample"] = np.where(entry < bars_in, "in", "out")
    if not bars_out:
        trade_df = trade_df[trade_df["sample"] == "in"].reset_index(drop=True)

    metrics_in = {
        "sharpe_ratio": 1.84,
        "total_return": 0.412,
        "max_drawdown": -0.121,
        "n_trades": int((trade_df["sample"] == "in").sum()),
        "win_rate": 0.56,
    }
    metrics_out = (
        {
            "sharpe_ratio": 0.93,
            "total_return": 0.071,
            "max_drawdown": -0.083,
            "n_trades": int((trade_df["sample"] == "out").sum()),
            "win_rate": 0.51,
        }
        if bars_out
        else None
    )
    params = {"window": 14, "lower": 28.5, "upper": 71.25, "ma": "wilder", "long_short": False}
    k = min(10, population)
    hof = (
        pop.drop(columns="fitness")
        .head(k)
        .assign(sharpe_in=np.linspace(1.84, 1.2, k), sharpe_out=rng.normal(0.6, 0.3, k))
    )
    wf = None
    if walk_forward:
        folds = 5
        starts = pd.date_range("2020-01-01", periods=folds + 2, freq="MS")
        wf = pd.DataFrame(
            {
                "fold": np.arange(1, folds + 1),
                "train_start": starts[:folds],
                "train_end": starts[1 : folds + 1],
                "test_start": starts[1 : folds + 1],
                "test_end": starts[2 : folds + 2],
                "train_sharpe": rng.normal(1.5, 0.3, folds),
                "test_sharpe": rng.normal(0.5, 0.8, folds),
                "test_total_return": rng.normal(0.02, 0.05, folds),
            }
        )
    return ReportData(
        title=f"rsi on prices.csv, seed {seed}",
        config={
            "strategy": "rsi",
            "data": {"path": "prices.csv", "split": 0.75},
            "ga": {"population_size": population, "generations": generations, "seed": seed},
            "memory_limit": "2GB",
            "objectives": ["sharpe_ratio"],
        },
        history=history,
        memory=mem if memory else pd.DataFrame(),
        memory_limit=2 * 2**30 if memory else None,
        equity_in=equity_in,
        equity_out=equity_out,
        population=pop,
        trades=trade_df,
        best={"params": params, "in_sample": metrics_in, "out_of_sample": metrics_out},
        hall_of_fame=hof,
        verdict={
            "text": "The best strategy's Sharpe ratio is unlikely to be luck: its deflated "
            "Sharpe ratio is 0.97 and the probability of backtest overfitting is 0.18.",
            "significant": True,
            "dsr": 0.97,
            "pbo": 0.18,
            "n_trials": generations * population,
        },
        walk_forward=wf,
        initial_cash=10_000.0,  # the out-of-sample curve is drawn from the in-sample end
    )
