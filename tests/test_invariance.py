"""Determinism properties (hypothesis): one seed fixes a run, whatever else changes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
from support import MIXED_SPACE, mixed_fitness


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 40), gens=st.integers(1, 6))
def test_ask_tell_loop_equals_minimize(seed, n, gens):
    """The run loop adds nothing random: a hand-driven loop gives the same best."""
    res = gp.minimize(
        mixed_fitness, gp.GA(MIXED_SPACE, n, seed=seed), generations=gens, progress=False
    )
    ga = gp.GA(MIXED_SPACE, n, seed=seed)
    best = np.inf
    for _ in range(gens):
        X = ga.ask()
        f = mixed_fitness(X)
        best = min(best, f.min())
        ga.tell(X, f)
    assert res.best_fitness == best


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_float32_population_stays_float32(seed):
    ga = gp.GA(gp.Space.box(-1, 1, 5), 10, dtype=np.float32, seed=seed)
    for _ in range(3):
        X = ga.ask()
        assert X.dtype == np.float32
        ga.tell(X, gp.problems.sphere(X))
    assert ga.state.X.dtype == np.float32
