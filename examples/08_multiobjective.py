"""Several objectives with NSGA-II: a benchmark front, objectives of both senses, constraints.

Run: python examples/08_multiobjective.py   (about 10 s on 2 cores)
"""

import numpy as np

import genepool as gp

# 1. ZDT1: two objectives, 30 variables, a known front (f2 = 1 - sqrt(f1)).
zdt1 = gp.problems.ZDT1(n_var=30)
result = gp.minimize(zdt1, gp.NSGA2(zdt1.space, 2_000, seed=0), generations=100, progress=False)
front = result.pareto[["f1", "f2"]].to_numpy()
print(f"ZDT1: {len(front)} non-dominated solutions, hypervolume {result.hypervolume:.4f}, "
      f"IGD to the true front {gp.indicators.igd(front, zdt1.pareto_front()):.4f}")  # fmt: skip
print(f"best compromise (knee point): f1={result.best_fitness[0]:.3f}, "
      f"f2={result.best_fitness[1]:.3f}")  # fmt: skip

# 2. Objectives of both senses: a "return" to maximize against a "risk" to minimize.
space = gp.Space([gp.Real("stocks", 0.0, 1.0), gp.Real("leverage", 1.0, 3.0)])


def portfolio(X: np.ndarray) -> np.ndarray:
    stocks, leverage = X[:, 0], X[:, 1]
    expected_return = leverage * (0.02 + 0.06 * stocks)
    risk = leverage * (0.01 + 0.18 * stocks**1.5)
    return np.column_stack([expected_return, risk])


result = gp.minimize(portfolio, gp.NSGA2(space, 200, seed=1), generations=40, progress=False,
                     objectives={"return": "maximize", "risk": "minimize"})  # fmt: skip
print(f"portfolio front: {len(result.pareto)} allocations, returns "
      f"{result.pareto['return'].min():.3f} .. {result.pareto['return'].max():.3f}; "
      f"best compromise {result.best_params}")  # fmt: skip

# 3. Constraints (Binh and Korn): evaluate returns 2 objectives then 2 columns g <= 0.
bnh = gp.problems.BNH()
result = gp.minimize(bnh, gp.NSGA2(bnh.space, 200, seed=2), generations=60, progress=False)
print(f"BNH: {len(result.pareto)} feasible non-dominated solutions, best compromise "
      f"{np.round(result.best_fitness, 2)}")  # fmt: skip
