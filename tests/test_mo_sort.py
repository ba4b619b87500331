"""Non-dominated ranks and crowding distances against naive twins and moocore."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import naive_mo
from genepool.algorithms._mo_nb import crowding_distance, nondominated_rank


def point_sets(max_n: int = 40, values=None):
    """(n, m) float sets: continuous, discrete (many ties), with duplicated rows and NaN/inf."""
    m = st.integers(1, 4)
    elements = values or st.one_of(
        st.integers(-3, 3).map(float),
        st.floats(-1e3, 1e3, allow_nan=False),
        st.sampled_from([np.inf, np.nan]),
    )
    return m.flatmap(
        lambda m: st.integers(0, max_n).flatmap(
            lambda n: arrays(np.float64, (n, m), elements=elements)
        )
    ).flatmap(
        lambda F: st.lists(st.integers(0, max(F.shape[0] - 1, 0)), max_size=5).map(
            lambda dup: np.vstack([F, F[dup]]) if F.shape[0] and dup else F
        )
    )


@settings(max_examples=300, deadline=None)
@given(point_sets())
def test_rank_equals_naive_peeling(F):
    assert np.array_equal(nondominated_rank(F), naive_mo.rank(F))


@settings(max_examples=200, deadline=None)
@given(point_sets())
def test_crowding_equals_naive(F):
    r = nondominated_rank(F)
    got, want = crowding_distance(F, r), naive_mo.crowding(F, r)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("m", [2, 3, 5])
@pytest.mark.parametrize("kind", ["uniform", "discrete", "duplicated", "degenerate"])
def test_rank_equals_moocore(m, kind):
    moocore = pytest.importorskip("moocore")
    rng = np.random.default_rng(m)
    n = 3000
    F = {
        "uniform": lambda: rng.random((n, m)),
        "discrete": lambda: rng.integers(0, 6, (n, m)).astype(float),
        "duplicated": lambda: np.repeat(rng.random((n // 10, m)), 10, axis=0),
        "degenerate": lambda: np.repeat(rng.random((n, 1)), m, axis=1),  # all on one line
    }[kind]()
    assert np.array_equal(nondominated_rank(F), moocore.pareto_rank(F))


def test_two_objectives_at_scale_never_builds_a_square_array():
    rng = np.random.default_rng(0)
    F = rng.random((200_000, 2))
    r = nondominated_rank(F)
    # each front is mutually non-dominated and every row of front k+1 is dominated by front k
    order = np.lexsort((F[:, 1], F[:, 0]))
    for k in (0, 1, int(r.max())):
        front = F[r == k]
        f = front[np.lexsort((front[:, 1], front[:, 0]))]
        assert np.all(np.diff(f[:, 1]) < 0) or len(f) == 1  # a strict staircase
    assert r[order[0]] == 0


def test_nan_rows_rank_last_and_have_no_crowding():
    F = np.array([[1.0, 1.0], [np.nan, 0.0], [2.0, 2.0], [0.0, np.nan]])
    r = nondominated_rank(F)
    assert r.tolist() == [0, 2, 1, 2]
    assert crowding_distance(F, r)[[1, 3]].tolist() == [0.0, 0.0]


def test_rejects_a_one_dimensional_array():
    with pytest.raises(ValueError, match="2-D"):
        nondominated_rank(np.zeros(3))
