"""Non-dominated ranks and crowding distances against naive twins, moocore and pymoo."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import naive_mo
from genepool.algorithms import _mo_nb
from genepool.algorithms._mo_nb import crowding_distance, nondominated_rank

CONTINUOUS = st.one_of(
    st.integers(-3, 3).map(float),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([np.inf, np.nan]),
)
DISCRETE = st.sampled_from([0.0, 1.0, 2.0])  # many ties and duplicates
ONE_TO_FIVE = st.integers(1, 5)


def point_sets(max_n: int = 40, m=ONE_TO_FIVE, elements=CONTINUOUS):
    """(n, m) float sets with some rows duplicated and, at times, a constant column."""
    sets = m.flatmap(
        lambda m: st.integers(0, max_n).flatmap(
            lambda n: arrays(np.float64, (n, m), elements=elements)
        )
    )

    def decorate(F, dup, constant):
        if F.shape[0] and dup:
            F = np.vstack([F, F[[d % F.shape[0] for d in dup]]])
        if constant is not None and F.shape[0]:
            F[:, constant % F.shape[1]] = 1.5
        return F

    return st.builds(
        decorate,
        sets,
        st.lists(st.integers(0, 10**6), max_size=6),
        st.one_of(st.none(), st.integers(0, 4)),
    )


ANY_SET = st.one_of(point_sets(), point_sets(elements=DISCRETE))


@settings(max_examples=200, deadline=None)
@given(ANY_SET)
def test_rank_equals_naive_peeling(F):
    assert np.array_equal(nondominated_rank(F), naive_mo.rank(F))


@contextlib.contextmanager
def stairs_budget(value: int) -> Iterator[None]:
    old = _mo_nb._STAIRS_BUDGET, _mo_nb._STAIRS_SLACK
    _mo_nb._STAIRS_BUDGET = _mo_nb._STAIRS_SLACK = value
    try:
        yield
    finally:
        _mo_nb._STAIRS_BUDGET, _mo_nb._STAIRS_SLACK = old


@settings(max_examples=100, deadline=None)
@given(st.one_of(point_sets(120, st.just(3)), point_sets(120, st.just(3), DISCRETE)))
def test_three_objectives_divide_and_conquer_equals_naive(F):
    # budget 0: the staircase sweep gives way at its first shift, so the fallback ranks (sets
    # of more than 48 distinct points reach its Fenwick-tree merge)
    with stairs_budget(0):
        assert np.array_equal(nondominated_rank(F), naive_mo.rank(F))


@pytest.mark.parametrize("kind", ["uniform", "discrete", "duplicated", "plane"])
def test_three_objectives_divide_and_conquer_equals_moocore(kind):
    moocore = pytest.importorskip("moocore")
    F = _kind(kind, 5000, 3, np.random.default_rng(7))
    with stairs_budget(0):
        assert np.array_equal(nondominated_rank(F), moocore.pareto_rank(F))


@settings(max_examples=150, deadline=None)
@given(ANY_SET, st.data())
def test_crowding_equals_naive(F, data):
    r = nondominated_rank(F)
    want = naive_mo.crowding(F, r)
    np.testing.assert_allclose(crowding_distance(F, r), want, rtol=1e-12, atol=0)
    # any grouping of the rows, not only fronts (two objectives then take the general path)
    groups = np.array(
        data.draw(st.lists(st.integers(-2, 3), min_size=len(F), max_size=len(F))), dtype=np.int64
    )
    np.testing.assert_allclose(
        crowding_distance(F, groups), naive_mo.crowding(F, groups), rtol=1e-12, atol=0
    )


def _kind(kind: str, n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    return {
        "uniform": lambda: rng.random((n, m)),
        "discrete": lambda: rng.integers(0, 6, (n, m)).astype(float),
        "duplicated": lambda: np.repeat(rng.random((n // 10, m)), 10, axis=0),
        "line": lambda: np.repeat(rng.random((n, 1)), m, axis=1),  # a chain: n fronts
        "plane": lambda: (lambda x: x / x.sum(axis=1, keepdims=True))(rng.random((n, m))),
    }[kind]()


@pytest.mark.parametrize("m", [2, 3, 4, 5])
@pytest.mark.parametrize("kind", ["uniform", "discrete", "duplicated", "line", "plane"])
def test_rank_equals_moocore(m, kind):
    moocore = pytest.importorskip("moocore")
    F = _kind(kind, 3000, m, np.random.default_rng(m))
    assert np.array_equal(nondominated_rank(F), moocore.pareto_rank(F))


@pytest.mark.parametrize("m", [2, 3, 4, 5])
def test_infinities_equal_naive(m):
    # moocore 0.3.2 misranks +inf with 3 objectives and crashes on -inf with 3 and 4: the naive
    # twin is the oracle (m >= 4 calls moocore on per-column dense ranks where a column has inf)
    rng = np.random.default_rng(20 + m)
    F = rng.integers(0, 4, (300, m)).astype(float)
    F[rng.random(F.shape) < 0.1] = np.inf
    F[rng.random(F.shape) < 0.05] = -np.inf
    assert np.array_equal(nondominated_rank(F), naive_mo.rank(F))


@pytest.mark.parametrize("m", [2, 3, 5])
@pytest.mark.parametrize("kind", ["uniform", "discrete", "duplicated", "plane"])
def test_rank_equals_pymoo(m, kind):
    nds = pytest.importorskip("pymoo.util.nds.non_dominated_sorting")
    F = _kind(kind, 1500, m, np.random.default_rng(10 + m))
    want = np.full(len(F), -1, dtype=np.int64)
    for k, front in enumerate(nds.NonDominatedSorting().do(F)):
        want[front] = k
    assert np.array_equal(nondominated_rank(F), want)


def test_three_objective_degenerate_front_rotates_the_sweep():
    # (x, t, 1 - t): one front whose staircase grows with every point when x is swept
    # (quadratic shifting): that sweep gives up early; sweeping t first is cheap
    rng = np.random.default_rng(3)
    t = rng.random(20_000)
    F = np.c_[rng.random(20_000), t, 1 - t]
    for columns, fine in (([0, 1, 2], False), ([1, 2, 0], True)):
        S = F[:, columns][np.lexsort(F[:, columns].T[::-1])]
        _, ok = _mo_nb._stairs_3d_nb(S[:, 1].copy(), S[:, 2].copy(), 512, 2**20)
        assert ok == fine
    assert np.all(nondominated_rank(F) == 0)
    with stairs_budget(0):  # every sweep gives up: divide and conquer
        assert np.all(nondominated_rank(F) == 0)


def test_a_large_single_front_on_a_plane_ranks_all_zero():
    # the worst case of a front-by-front search (a late NSGA-II population): no n x n array,
    # no quadratic time
    x = np.random.default_rng(0).random((200_000, 3))
    assert np.all(nondominated_rank(x / x.sum(axis=1, keepdims=True)) == 0)


def test_two_objectives_at_scale_gives_staircase_fronts():
    rng = np.random.default_rng(0)
    F = rng.random((200_000, 2))
    r = nondominated_rank(F)
    for k in (0, 1, int(r.max())):  # each front a strict staircase, dominated by the one before
        f = F[r == k][np.lexsort((F[r == k][:, 1], F[r == k][:, 0]))]
        assert len(f) == 1 or np.all(np.diff(f[:, 1]) < 0)
        if k:
            prev = F[r == k - 1]
            p = f[len(f) // 2]
            assert np.any(np.all(prev <= p, axis=1) & np.any(prev < p, axis=1))


@pytest.mark.parametrize(
    "F, want",
    [
        (np.zeros((0, 2)), []),
        (np.array([[1.0, 2.0]]), [0]),
        (np.ones((4, 3)), [0, 0, 0, 0]),  # all equal: one front
        (np.array([[3.0], [1.0], [np.inf], [1.0], [2.0]]), [2, 0, 3, 0, 1]),  # m = 1
        (np.array([[1.0, 1.0], [np.nan, 0.0], [2.0, 2.0], [0.0, np.nan]]), [0, 2, 1, 2]),
        (np.array([[np.nan, 1.0], [np.nan, np.nan]]), [0, 0]),  # only NaN rows
        (np.array([[np.inf, 0.0, 0.0], [np.inf, np.inf, 0.0], [0.0, 0.0, np.inf]]), [0, 1, 0]),
    ],
)
def test_degenerate_sets(F, want):
    assert nondominated_rank(F).tolist() == want


def test_crowding_of_small_fronts_and_duplicates():
    F = np.array([[0.0, 5.0], [9.0, 9.0], [1.0, 1.0], [1.0, 1.0], [3.0, 0.0], [0.0, 5.0]])
    r = np.array([0, 1, 0, 0, 0, 0])  # a front of 1 row (row 1) and one with duplicates
    d = crowding_distance(F, r)
    assert d[1] == np.inf
    # f1 order: 0, 5, 2, 3, 4 (ties by row); f2 order: 4, 2, 3, 0, 5
    assert d[0] == d[4] == d[5] == np.inf  # 0 first in f1, 5 last in f2, 4 an end of both
    assert d[2] == pytest.approx((1 - 0) / 3 + (1 - 0) / 5)
    assert d[3] == pytest.approx((3 - 1) / 3 + (5 - 1) / 5)
    assert np.all(crowding_distance(F[:2], np.zeros(2, dtype=np.int64)) == np.inf)


def test_nan_rows_have_no_crowding():
    F = np.array([[1.0, 1.0], [np.nan, 0.0], [2.0, 2.0], [0.0, np.nan]])
    assert crowding_distance(F, nondominated_rank(F))[[1, 3]].tolist() == [0.0, 0.0]


def test_rejects_a_one_dimensional_array():
    with pytest.raises(ValueError, match="2-D"):
        nondominated_rank(np.zeros(3))
    with pytest.raises(ValueError, match="rank"):
        crowding_distance(np.zeros((3, 2)), np.zeros(2, dtype=np.int64))


def test_crowding_groups_by_any_rank_labels():
    F = np.random.default_rng(1).random((50, 2))
    r = nondominated_rank(F)
    want = crowding_distance(F, r)
    assert np.array_equal(crowding_distance(F, r * 10 - 7), want)  # negative, sparse labels
    assert np.array_equal(crowding_distance(F, r.astype(float)), want)


def test_crowding_of_a_group_with_equal_f1_and_different_f2_takes_the_general_path():
    # found by hypothesis: one run of equal f1 whose f2 differ is no staircase; the one-sort
    # path took it for a run of equal rows and gave the max-f2 extreme to the wrong row
    F = np.ones((38, 2))
    F[[29, 37], 1] = 0.0
    groups = np.zeros(38, dtype=np.int64)
    groups[29] = 1
    np.testing.assert_array_equal(crowding_distance(F, groups), naive_mo.crowding(F, groups))
