"""The bounded Pareto archive (``genepool.algorithms.archive``) and its thinning kernels.

Guaranteed (and tested here): without thinning, the members are exactly the distinct
non-dominated rows of everything added, in canonical order (lexicographic by F, then X), however
the rows were ordered or split into calls; a thinning depends only on the members at that moment,
so two archives holding the same set thin identically. Not guaranteed: the same members after
call sequences that thin at different moments.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import naive_mo
from genepool.algorithms._archive_nb import (
    crowding_truncate,
    dominated_by_any,
    farthest_point_select,
    grid_representatives,
    lex_order,
)
from genepool.algorithms._archive_nb import front_2d as front_2d_kernel
from genepool.algorithms.archive import THIN_METHODS, ParetoArchive, extremes, thin_indices
from genepool.errors import ConfigError
from genepool.run.direction import Direction, Objective
from genepool.space import Categorical, Integer, Real, Space

# -- oracles -----------------------------------------------------------------------------------


def naive_members(X: np.ndarray, F: np.ndarray) -> np.ndarray:
    """``[F | X]`` of the distinct non-dominated rows with finite F, in canonical order."""
    ok = np.isfinite(F).all(axis=1)
    X, F = X[ok], F[ok]
    if F.shape[0] == 0:
        return np.empty((0, F.shape[1] + X.shape[1]))
    front = naive_mo.rank(F) == 0
    return np.unique(np.c_[F[front], X[front]], axis=0)  # lexicographic: F first, then X


def naive_fps(Z: np.ndarray, seeds: list[int], k: int) -> list[int]:
    """Greedy farthest-point selection, the plain loop."""
    taken: list[int] = []
    for s in seeds:
        if s not in taken and len(taken) < k:
            taken.append(s)
    n = Z.shape[0]
    while len(taken) < min(k, n):
        best, best_d = -1, -1.0
        for i in range(n):
            if i in taken:
                continue
            d = min(float(((Z[i] - Z[t]) ** 2).sum()) for t in taken) if taken else np.inf
            if d > best_d:
                best, best_d = i, d
        taken.append(best)
    return taken


def naive_crowding_truncate(Z: np.ndarray, k: int) -> np.ndarray:
    alive = list(range(Z.shape[0]))
    while len(alive) > k:
        sub = Z[alive]
        c = naive_mo.crowding(sub, np.zeros(len(alive), dtype=np.int64))
        alive.pop(int(np.argmin(c)))  # argmin: ties to the lowest index
    return np.array(alive, dtype=np.int64)


def front_2d(n: int, seed: int = 0) -> np.ndarray:
    t = np.sort(np.random.default_rng(seed).random(n))
    return np.c_[t, 1.0 - np.sqrt(t)]


def sphere_3d(n: int, seed: int = 0) -> np.ndarray:
    v = np.abs(np.random.default_rng(seed).normal(size=(n, 3)))
    return v / np.linalg.norm(v, axis=1)[:, None]


# -- strategies --------------------------------------------------------------------------------

small = st.integers(0, 4).map(float)
values = st.one_of(small, st.sampled_from([np.nan, np.inf, -np.inf]))


@st.composite
def batches(draw, max_rows: int = 25):
    """A list of (X, F) batches with small integer values: many ties, duplicates, NaN, inf."""
    m = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, max_rows))
        F = draw(arrays(np.float64, (n, m), elements=values))
        X = draw(arrays(np.float64, (n, d), elements=st.integers(0, 2).map(float)))
        out.append((X, F))
    return out


# -- membership --------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(batches())
def test_members_are_the_nondominated_rows_of_everything_added(parts):
    a = ParetoArchive(capacity=10_000)
    for X, F in parts:
        before = {tuple(r) for r in np.c_[a.F, a.X]} if a.size else set()
        added = a.update(X, F)
        after = {tuple(r) for r in np.c_[a.F, a.X]}
        assert added == len(after - before)
    X = np.vstack([x for x, _ in parts])
    F = np.vstack([f for _, f in parts])
    np.testing.assert_array_equal(np.c_[a.F, a.X], naive_members(X, F))
    assert a.thinnings == 0 and a.dropped == 0


@settings(max_examples=60, deadline=None)
@given(batches(), st.randoms(use_true_random=False))
def test_members_do_not_depend_on_order_or_split(parts, rnd):
    X = np.vstack([x for x, _ in parts])
    F = np.vstack([f for _, f in parts])
    perm = list(range(X.shape[0]))
    rnd.shuffle(perm)
    one, two = ParetoArchive(), ParetoArchive()
    one.update(X, F)
    cut = rnd.randint(0, len(perm))
    two.update(X[perm[:cut]], F[perm[:cut]])
    two.update(X[perm[cut:]], F[perm[cut:]])
    assert np.array_equal(one.F, two.F) and np.array_equal(one.X, two.X)


def test_duplicates_stored_once_equal_objectives_with_other_genes_kept():
    a = ParetoArchive()
    assert a.update(np.array([[1.0], [1.0]]), np.array([[0.0, 1.0], [0.0, 1.0]])) == 1
    assert a.update(np.array([[1.0]]), np.array([[0.0, 1.0]])) == 0  # already a member
    assert a.update(np.array([[2.0]]), np.array([[0.0, 1.0]])) == 1  # same F, other genes
    np.testing.assert_array_equal(a.X, [[1.0], [2.0]])
    assert a.update(np.array([[3.0]]), np.array([[0.0, 0.5]])) == 1  # dominates both
    np.testing.assert_array_equal(a.F, [[0.0, 0.5]])


def test_non_finite_rows_ignored():
    a = ParetoArchive()
    F = np.array([[np.nan, -5.0], [-np.inf, 0.0], [1.0, np.inf], [1.0, 1.0]])
    assert a.update(np.zeros((4, 2)), F) == 1
    np.testing.assert_array_equal(a.F, [[1.0, 1.0]])
    assert a.update(np.zeros((1, 2)), np.array([[np.nan, np.nan]])) == 0


def test_members_read_only():
    a = ParetoArchive()
    a.update(np.zeros((1, 1)), np.zeros((1, 2)))
    with pytest.raises(ValueError):
        a.F[0, 0] = 1.0


# -- caps and thinning -------------------------------------------------------------------------


@pytest.mark.parametrize("method", THIN_METHODS)
@pytest.mark.parametrize("m", [2, 3])
def test_caps_respected_after_every_update_and_counted(method, m, caplog):
    rng = np.random.default_rng(m)
    cap, max_bytes = 60, 45 * 8 * (m + 3)
    a = ParetoArchive(capacity=cap, max_bytes=max_bytes, method=method, headroom=0.0)
    b = ParetoArchive(capacity=cap, method=method, headroom=0.0)
    dropped = 0
    with caplog.at_level(logging.INFO, logger="genepool"):
        for _ in range(8):
            F = sphere_3d(50, int(rng.integers(1 << 30)))[:, :m] if m == 3 else front_2d(50, 1)
            F = F + rng.normal(0, 0.01, F.shape)
            X = rng.random((50, 3))
            before = a.size
            a.update(X, F)
            b.update(X, F)
            assert a.size <= 45 and a.nbytes <= max_bytes
            assert b.size <= cap
            if a.last_reason is not None and a.thinnings:
                dropped = a.dropped
            assert a.size >= min(before, 1)
    assert a.thinnings >= 1 and a.last_reason == "bytes" and dropped == a.dropped
    assert b.last_reason == "capacity"
    lines = [r.getMessage() for r in caplog.records if "pareto archive thinned" in r.getMessage()]
    assert len(lines) == a.thinnings + b.thinnings
    if method != "grid":  # the grid alone cannot hit a target exactly
        assert "-> 45 rows (" in lines[0] or "-> 60 rows (" in lines[0]
    s = a.stats()
    assert s["size"] == a.size and s["thinnings"] == a.thinnings and s["max_bytes"] == max_bytes
    # after thinning, still mutually non-dominated
    assert (naive_mo.rank(a.F) == 0).all()


@pytest.mark.parametrize("method", THIN_METHODS)
@pytest.mark.parametrize("F", [front_2d(3000), sphere_3d(3000)], ids=["2d", "3d"])
def test_extremes_survive_thinning(method, F):
    for target in (F.shape[1], 10, 200):
        kept = thin_indices(F, target, method)
        assert kept.size <= target and np.array_equal(kept, np.unique(kept))
        assert set(extremes(F).tolist()) <= set(kept.tolist())
        if method != "grid":
            assert kept.size == target


@pytest.mark.parametrize("method", THIN_METHODS)
def test_thinning_many_equal_objective_vectors(method):
    # 12 distinct objective vectors, each held by 1,000 members (different genes)
    F = np.repeat(front_2d(12), 1000, axis=0)
    kept = thin_indices(F, 100, method)
    assert kept.size <= 100 and set(extremes(F).tolist()) <= set(kept.tolist())
    if method != "grid":
        assert kept.size == 100
    assert len({tuple(r) for r in F[kept]}) == (12 if method != "grid" else len(kept))


def test_one_objective_keeps_every_minimum():
    a = ParetoArchive(capacity=3)
    a.update(np.arange(5.0)[:, None], np.array([[2.0], [1.0], [1.0], [3.0], [1.0]]))
    assert a.size == 3 and (a.F == 1.0).all()  # 3 members at the minimum: at capacity
    np.testing.assert_array_equal(a.X[:, 0], [1.0, 2.0, 4.0])


def test_thinning_deterministic_and_independent_of_insertion_order():
    F = sphere_3d(400, 3)
    X = np.random.default_rng(3).random((400, 2))
    perm = np.random.default_rng(4).permutation(400)
    one, two = ParetoArchive(capacity=500), ParetoArchive(capacity=500)
    one.update(X, F)
    two.update(X[perm[:150]], F[perm[:150]])
    two.update(X[perm[150:]], F[perm[150:]])
    assert one.thin(50, "test") == 350 == two.thin(50, "test")
    assert np.array_equal(one.F, two.F) and np.array_equal(one.X, two.X)
    for method in THIN_METHODS:
        assert np.array_equal(thin_indices(F, 50, method), thin_indices(F.copy(), 50, method))


def test_headroom_thins_below_the_cap_and_less_often():
    a = ParetoArchive(capacity=100)  # headroom 0.1: thinned to 90
    b = ParetoArchive(capacity=100, headroom=0.0)
    for g in range(60):
        X = np.random.default_rng(g).random((3, 1))
        F = front_2d(3, g)  # a few new members at each call
        a.update(X, F)
        b.update(X, F)
        assert a.size <= 100 and b.size <= 100
    assert a.last_reason == "capacity" and 0 < a.thinnings < b.thinnings
    assert a.thin(10, "x") > 0 and a.size == 10  # an explicit target has no headroom


def test_shrink_halves_and_reports_bytes():
    a = ParetoArchive()
    a.update(np.zeros((100, 2)) + np.arange(100)[:, None], front_2d(100))
    nbytes = a.nbytes
    assert a.shrink() == nbytes // 2
    assert a.size == 50 and a.last_reason == "memory" and a.dropped == 50
    assert ParetoArchive().shrink() == 0
    assert a.thin(1000, "noop") == 0


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(1, 3)), elements=small),
    st.integers(0, 12),
)
def test_farthest_point_equals_plain_loop(Z, k):
    seeds = extremes(Z)
    got = farthest_point_select(Z, seeds, k)
    assert got.tolist() == naive_fps(Z, seeds.tolist(), k)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 40), st.integers(0, 40), st.integers(0, 3))
def test_crowding_truncation_equals_naive(n, k, seed):
    rng = np.random.default_rng(seed)
    Z = np.round(front_2d(n, seed) * 8) / 8 if seed % 2 else rng.random((n, 3))
    np.testing.assert_array_equal(crowding_truncate(Z, k), naive_crowding_truncate(Z, k))


@settings(max_examples=100, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(0, 20), st.integers(1, 3)), elements=small),
    arrays(np.float64, st.tuples(st.integers(0, 20), st.just(3)), elements=small),
)
def test_dominated_by_any_equals_pairs(P, Q):
    Q = Q[:, : P.shape[1]]
    want = [any(naive_mo.dominates(q, p) for q in Q) for p in P]
    assert dominated_by_any(P, Q).tolist() == want


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 40), st.just(2)), elements=small))
def test_front_2d_and_lex_order_equal_naive(F):
    order = np.lexsort((F[:, 1], F[:, 0]))
    assert np.array_equal(lex_order(F[:, 0], F[:, 1]), order)
    front = order[naive_mo.rank(F)[order] == 0] if F.shape[0] else order
    assert np.array_equal(front_2d_kernel(F), front)


def test_lex_order_few_ties():
    F = np.random.default_rng(0).random((1000, 2))
    F[500:510, 0] = F[0, 0]
    assert np.array_equal(lex_order(F[:, 0], F[:, 1]), np.lexsort((F[:, 1], F[:, 0])))


@pytest.mark.parametrize("F", [front_2d(20_000), sphere_3d(20_000)], ids=["2d", "3d"])
def test_grid_representatives_in_range(F):
    Z = (F - F.min(0)) / (F.max(0) - F.min(0))
    reps = grid_representatives(Z, 500, 1000)
    assert 500 <= reps.size <= 1000 and np.array_equal(reps, np.unique(reps))


def test_thinning_large_front_quickly():
    F = front_2d(200_000)
    kept = thin_indices(F, 2000)
    assert kept.size == 2000
    Z = (F - F.min(0)) / (F.max(0) - F.min(0))
    # coverage: every dropped point within 2x the spacing of 2000 points on the curve
    gaps = np.sqrt((np.diff(Z[kept], axis=0) ** 2).sum(axis=1))
    assert gaps.max() < 4 * 2.0 / 2000


# -- checkpoints -------------------------------------------------------------------------------


def test_state_dict_round_trip_then_identical_updates():
    rng = np.random.default_rng(7)
    a = ParetoArchive(capacity=40, max_bytes="100KB")
    a.update(rng.random((200, 2)), sphere_3d(200, 1))
    arrays_, meta = a.state_dict()
    json.dumps(meta)
    b = ParetoArchive()
    b.load_state_dict(arrays_, json.loads(json.dumps(meta)))
    assert b.stats() == a.stats() and b.method == a.method
    for _ in range(3):
        X, F = rng.random((100, 2)), sphere_3d(100, int(rng.integers(99)))
        assert a.update(X, F) == b.update(X, F)
        assert np.array_equal(a.X, b.X) and np.array_equal(a.F, b.F)
    assert a.stats() == b.stats()


def test_load_state_dict_errors_name_the_problem():
    a = ParetoArchive()
    a.update(np.zeros((2, 2)), np.array([[0.0, 1.0], [1.0, 0.0]]))
    arrays_, meta = a.state_dict()
    with pytest.raises(ConfigError, match="'F' missing"):
        ParetoArchive().load_state_dict({"X": arrays_["X"]}, meta)
    with pytest.raises(ConfigError, match="'thinnings' missing"):
        ParetoArchive().load_state_dict(
            arrays_, {k: v for k, v in meta.items() if k != "thinnings"}
        )
    with pytest.raises(ConfigError, match="equal rows"):
        ParetoArchive().load_state_dict({"X": arrays_["X"][:1], "F": arrays_["F"]}, meta)
    with pytest.raises(ConfigError, match="do not match"):
        ParetoArchive().load_state_dict({"X": arrays_["X"], "F": np.zeros((2, 3))}, meta)
    with pytest.raises(ConfigError, match="capacity"):
        ParetoArchive().load_state_dict(arrays_, {**meta, "capacity": 1})


# -- output ------------------------------------------------------------------------------------


def _space_direction():
    space = Space([Real("k", 0.0, 1.0), Integer("window", 1, 9), Categorical("kind", ("a", "b"))])
    direction = Direction((Objective("sharpe", "maximize"), Objective("drawdown", "minimize")))
    return space, direction


def _filled():
    a = ParetoArchive()
    X = np.array([[0.5, 3.0, 1.0], [0.25, 7.0, 0.0]])
    F = np.array([[-2.0, 0.3], [-1.0, 0.1]])  # internal: sharpe negated
    a.update(X, F)
    return a


def test_to_frame_columns_and_sense():
    space, direction = _space_direction()
    df = _filled().to_frame(space, direction)
    assert list(df.columns) == ["k", "window", "kind", "sharpe", "drawdown"]
    assert df["sharpe"].tolist() == [2.0, 1.0] and df["drawdown"].tolist() == [0.3, 0.1]
    assert df["kind"].tolist() == ["b", "a"] and df["window"].tolist() == [3, 7]
    other = Direction(
        (Objective("a", "minimize"), Objective("b", "minimize"), Objective("c", "minimize"))
    )
    with pytest.raises(ConfigError, match="3 objectives"):
        _filled().to_frame(space, other)
    df1 = _filled().to_frame(space, Direction.maximize())
    assert list(df1.columns[-2:]) == ["f1", "f2"] and df1["f1"].tolist() == [2.0, 1.0]
    empty = ParetoArchive().to_frame(space, direction)
    assert list(empty.columns) == ["k", "window", "kind", "sharpe", "drawdown"] and len(empty) == 0


def test_write_parquet_readable_with_metadata(tmp_path):
    pd = pytest.importorskip("pandas")
    pq = pytest.importorskip("pyarrow.parquet")
    space, direction = _space_direction()
    a = _filled()
    path = tmp_path / "pareto.parquet"
    a.write_parquet(path, space, direction)
    df = pd.read_parquet(path)
    pd.testing.assert_frame_equal(df, a.to_frame(space, direction))
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(path).metadata.items()}
    assert Direction.from_metadata(meta) == direction
    assert json.loads(meta["genepool.archive"])["size"] == 2
    assert not list(tmp_path.glob("*.tmp"))


# -- bad input ---------------------------------------------------------------------------------


def test_bad_input_errors():
    with pytest.raises(ConfigError, match="capacity"):
        ParetoArchive(capacity=1)
    with pytest.raises(ConfigError, match="max_bytes"):
        ParetoArchive(max_bytes="lots")
    with pytest.raises(ConfigError, match="method"):
        ParetoArchive(method="kmeans")
    a = ParetoArchive()
    with pytest.raises(ConfigError, match="F must be 2-D"):
        a.update(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ConfigError, match="rows"):
        a.update(np.zeros((3, 2)), np.zeros((2, 2)))
    a.update(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ConfigError, match="3 objectives"):
        a.update(np.zeros((1, 2)), np.zeros((1, 3)))
    with pytest.raises(ConfigError, match="1 genes"):
        a.update(np.zeros((1, 1)), np.zeros((1, 2)))
    with pytest.raises(ConfigError, match="target"):
        a.thin(-1, "x")
