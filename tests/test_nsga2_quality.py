"""Quality of NSGA2 on ZDT1-3 and DTLZ2 at equal evaluations: median hypervolume over 10 seeds
against pymoo's (see TOLERANCE for where the issue's target stands). The slow tests run both
libraries on the same vectorized functions (defined here, so that the oracle does not depend
on ``gp.problems``); run them with ``pytest -m slow``. ``benchmarks/bench_mo_nsga2.py`` prints
the same numbers with IGD beside them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import genepool as gp

moocore = pytest.importorskip("moocore")


def zdt1(X: np.ndarray) -> np.ndarray:
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.column_stack([f1, g * (1.0 - np.sqrt(f1 / g))])


def zdt2(X: np.ndarray) -> np.ndarray:
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.column_stack([f1, g * (1.0 - (f1 / g) ** 2)])


def zdt3(X: np.ndarray) -> np.ndarray:
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.column_stack([f1, g * (1.0 - np.sqrt(f1 / g) - f1 / g * np.sin(10 * np.pi * f1))])


def dtlz2(X: np.ndarray) -> np.ndarray:
    """Three objectives: ``(1 + g)`` times a point of the unit sphere's positive octant."""
    g = ((X[:, 2:] - 0.5) ** 2).sum(axis=1)
    a, b = X[:, 0] * np.pi / 2, X[:, 1] * np.pi / 2
    return (1.0 + g)[:, None] * np.column_stack(
        [np.cos(a) * np.cos(b), np.cos(a) * np.sin(b), np.sin(a)]
    )


#: name: (function, variables, objectives)
PROBLEMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int, int]] = {
    "zdt1": (zdt1, 30, 2),
    "zdt2": (zdt2, 30, 2),
    "zdt3": (zdt3, 30, 2),
    "dtlz2": (dtlz2, 12, 3),
}
POPULATION, GENERATIONS, SEEDS = 100, 250, 10


def hypervolume(F: np.ndarray, m: int) -> float:
    """moocore's exact hypervolume against (1.1, ..., 1.1) of the rows inside it."""
    ref = np.full(m, 1.1)
    F = F[np.all(F < ref, axis=1)]
    return float(moocore.hypervolume(F, ref=ref)) if F.shape[0] else 0.0


def genepool_front(name: str, seed: int, population: int, generations: int) -> np.ndarray:
    fn, d, m = PROBLEMS[name]
    opt = gp.NSGA2(
        gp.Space.box(0.0, 1.0, d), population, seed=seed, archive_size=None,
        reference_point=np.full(m, 1.1),
    )  # fmt: skip
    for _ in range(generations):
        X = opt.ask()
        opt.tell(X, fn(X))
    assert opt.state.n_evaluations == population * generations
    return opt.front()[1]


def pymoo_front(name: str, seed: int, population: int, generations: int) -> np.ndarray:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize

    fn, d, m = PROBLEMS[name]

    class Wrapped(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=d, n_obj=m, xl=0.0, xu=1.0)

        def _evaluate(self, x, out, *args, **kwargs):
            out["F"] = fn(x)

    # pymoo's defaults: SBX eta 15 prob 0.9, PM eta 20, eliminate_duplicates=True
    res = minimize(Wrapped(), NSGA2(pop_size=population), ("n_gen", generations), seed=seed)
    assert res.algorithm.evaluator.n_eval == population * generations  # equal evaluations
    return np.asarray(res.F)


def test_zdt1_front_hypervolume_near_the_true_front():
    # The true front f2 = 1 - sqrt(f1) has hypervolume 1.1^2 - 1/3 against (1.1, 1.1); 20,000
    # evaluations on 30 variables reach 0.867 at this seed (98.9 %; seeds 0-4: 98.9-99.0 %).
    # The front stays inside the closed form (past it: a wrong objective, sign or reference).
    true_hv = 1.1**2 - 1.0 / 3.0
    F = genepool_front("zdt1", seed=3, population=100, generations=200)
    hv = hypervolume(F, 2)
    assert 0.98 * true_hv <= hv <= true_hv
    assert np.all(F[:, 1] >= 1.0 - np.sqrt(F[:, 0]) - 1e-12)  # nothing beyond the true front
    # and it spans the front: both ends reached to within 5 % of f1's range
    assert F[:, 0].min() < 0.05 and F[:, 0].max() > 0.95


#: How far below pymoo's median genepool's may be. The issue's target is "at least pymoo's";
#: measured over 10 seeds (benchmarks/bench_mo_nsga2.py --parts quality) genepool is 0.02 %
#: below on ZDT1, level on ZDT2, 0.01 % below on ZDT3 and 1.1 % below on DTLZ2 (not significant
#: over 30 seeds: Mann-Whitney p = 0.23). These bounds hold that level (a regression of the
#: operators or of survival costs far more) and say plainly that the target is not met.
TOLERANCE = {"zdt1": 5e-4, "zdt2": 5e-4, "zdt3": 5e-4, "dtlz2": 0.02}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_median_hypervolume_near_pymoos(name):
    pytest.importorskip("pymoo")
    m = PROBLEMS[name][2]
    ours = [hypervolume(genepool_front(name, s, POPULATION, GENERATIONS), m) for s in range(SEEDS)]
    theirs = [hypervolume(pymoo_front(name, s, POPULATION, GENERATIONS), m) for s in range(SEEDS)]
    floor = np.median(theirs) * (1.0 - TOLERANCE[name])
    assert np.median(ours) >= floor, (sorted(ours), sorted(theirs))
