"""NSGA2's survival computes crowding distances only for the fronts that can survive: the
survivors and their distances equal those of the full computation, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genepool.algorithms._mo_nb import crowding_distance
from genepool.algorithms.nsga2 import constrained_rank, needed_crowding, survivors


@st.composite
def rankings(draw):
    """(F, violation, n): 2n rows with ties, duplicates, NaN and infeasible rows."""
    n = draw(st.integers(1, 30))
    m = draw(st.integers(1, 3))
    elements = st.one_of(
        st.integers(0, 4).map(float), st.floats(-10, 10), st.sampled_from([np.inf, np.nan])
    )
    F = draw(arrays(np.float64, (2 * n, m), elements=elements))
    violation = draw(arrays(np.float64, 2 * n, elements=st.sampled_from([0.0, 0.0, 0.5, 2.0])))
    return F, violation, n


@settings(max_examples=200, deadline=None)
@given(rankings())
def test_needed_crowding_matches_the_full_one_where_read(case):
    F, violation, n = case
    rank = constrained_rank(F, violation)
    full = crowding_distance(F, rank)
    part = needed_crowding(F, rank, n)
    keep = survivors(rank, full, n)
    assert np.array_equal(survivors(rank, part, n), keep)
    # the survivors' distances (what tournaments read) are the same, bit for bit
    assert np.array_equal(part[keep], full[keep])
    # rows of the fronts after the one that is split are never read: 0
    last = rank[keep].max()
    assert np.all(part[rank > last] == 0.0)
