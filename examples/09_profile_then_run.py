"""Know before you run: profile a backtest at small populations, project the big run, then run
it with the memory limit the profile recommends.

Run: python examples/09_profile_then_run.py
"""

import genepool as gp
from genepool.backtest import StrategyProblem, demo_data

problem = StrategyProblem(demo_data(), "rsi", "sharpe_ratio", min_trades=5)
ga = gp.GA(problem.space, population_size=20_000, seed=7)

# three small probes, projected to the GA's 20,000 strategies over 10 generations
prof = gp.profile(problem, ga, [250, 1_000, 4_000], generations=10, sense="maximize")
print(prof)

limit = next(r for r in prof.recommendations if r.flag.startswith("--memory-limit"))
print("\nrecommended:", limit.python, "-", limit.reason)
result = gp.maximize(problem, ga, generations=10, memory_limit=limit.flag.split()[1],
                     progress=False)  # fmt: skip
projected = prof.projection.peak_rss
print(f"\nbest Sharpe {result.best_fitness:.3f} with {result.best_params}")
print(f"peak RSS {result.memory.peak_rss / 2**20:.0f} MiB, projected "
      f"{projected.value / 2**20:.0f} MiB +- {projected.band:.0%}")  # fmt: skip
