"""Drive the GA yourself with ask/tell (pycma style), e.g. to evaluate outside Python.

Run: python examples/03_ask_tell.py
"""

import numpy as np

import genepool as gp

space = gp.Space.box(-5.0, 5.0, dims=10)
ga = gp.GA(space, population_size=200, seed=1)

generation = 0
while generation < 60 and not ga.stop():  # stop() returns {} while the GA wants to go on
    X = ga.ask()  # (200, 10) array of candidates
    fitness = np.sum((X - 1.5) ** 2, axis=1)  # evaluate them any way you like
    ga.tell(X, fitness)  # lower is better
    generation += 1

best_x, best_f = ga.best()
print(f"generation {generation}: best {best_f:.3e} at {np.round(best_x, 3)}")
