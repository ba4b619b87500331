"""Tune a mixed space (log-scaled real, integer, categorical, bool) with a scalar function.

``gp.elementwise`` adapts a function of one decoded parameter dict; genepool decodes the
population (ints rounded, categories mapped) and calls it row by row. Use it for slow fitness
functions; write a vectorized ``f(X)`` for cheap ones.

Run: python examples/02_mixed_space.py
"""

import math

import genepool as gp

space = gp.Space(
    [
        gp.Real("learning_rate", 1e-4, 1.0, log=True),
        gp.Integer("depth", 1, 12),
        gp.Categorical("loss", ["squared", "huber", "absolute"]),
        gp.Bool("warm_start"),
    ]
)


@gp.elementwise
def validation_loss(p):
    # A made-up response surface with its optimum at lr=0.03, depth=6, "huber", warm start.
    loss = (math.log10(p["learning_rate"]) - math.log10(0.03)) ** 2
    loss += 0.05 * (p["depth"] - 6) ** 2
    loss += {"squared": 0.3, "huber": 0.0, "absolute": 0.2}[p["loss"]]
    loss += 0.0 if p["warm_start"] else 0.1
    return loss


result = gp.minimize(
    validation_loss, gp.GA(space, population_size=60, seed=0), generations=30, progress=False
)
print(f"best loss {result.best_fitness:.4f} with {result.best_params}")
