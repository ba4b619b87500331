"""Quality of the default GA (slow: run with ``pytest -m slow``)."""

from __future__ import annotations

import numpy as np
import pytest

import genepool as gp


@pytest.mark.slow
def test_default_ga_on_rastrigin_30d():
    # Issue target: median best over seeds <= 7 with P=1,000 and 50 generations
    # (DEAP ~24, pymoo ~14, PyGAD ~7-9 at that budget). We measured a median of 3.1 over seeds 0-9.
    prob = gp.problems.get("rastrigin", 30)
    best = [
        gp.minimize(
            prob, gp.GA(prob.space, 1000, seed=seed), generations=50, progress=False
        ).best_fitness
        for seed in range(3)
    ]
    assert np.median(best) <= 7.0, best


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "bound"), [("sphere", 0.1), ("ackley", 3.0), ("rosenbrock", 400.0)]
)
def test_default_ga_on_other_problems(name, bound):
    # Bounds are ~3x the medians measured over 7 seeds (sphere 0.02, ackley 0.9, rosenbrock 138).
    prob = gp.problems.get(name, 30)
    best = [
        gp.minimize(
            prob, gp.GA(prob.space, 1000, seed=seed), generations=50, progress=False
        ).best_fitness
        for seed in range(3)
    ]
    assert np.median(best) <= bound, best
