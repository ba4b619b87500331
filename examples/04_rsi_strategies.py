"""Evolve RSI trading strategies on the embedded demo data with the fused backtest.

Every generation, each unique RSI window is computed once and one numba kernel backtests the
whole population (fees 0.1 %), with metrics equal to vectorbt's Portfolio.from_signals.

Run: python examples/04_rsi_strategies.py
"""

import genepool as gp
from genepool.backtest import StrategyProblem, demo_data

data = demo_data()  # 20,000 synthetic hourly bars, generated deterministically
problem = StrategyProblem(data, family="rsi", objective="sharpe_ratio", fees=0.001, min_trades=5)
result = gp.maximize(
    problem,
    gp.GA(problem.space, population_size=500, seed=0),
    generations=15,
    memory_limit="2GB",
    progress=False,
)

print(f"best Sharpe {result.best_fitness:.3f} with {result.best_params}")
best = problem.metrics(result.best_x[None, :]).iloc[0]
print(best[["total_return", "max_drawdown", "n_trades", "win_rate", "exposure"]].to_string())
print(
    f"{result.memory.evaluations['saved']:.0%} of evaluations served by the cache; "
    f"peak RSS {result.memory.peak_rss / 2**20:.0f} MiB"
)
