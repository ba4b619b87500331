"""Minimize Rastrigin in 30 dimensions with the default GA.

Run: python examples/01_rastrigin.py
"""

import genepool as gp

problem = gp.problems.get("rastrigin", dims=30)
ga = gp.GA(problem.space, population_size=1000, seed=42)
result = gp.minimize(problem, ga, generations=50)

print(result)
print(result.history[["generation", "best", "mean", "diversity"]].tail())
