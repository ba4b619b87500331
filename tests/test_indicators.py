"""genepool.indicators against naive twins, moocore and closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genepool import indicators
from genepool.errors import ConfigError
from genepool.indicators import _nearest_distances, hypervolume, igd, knee_point
from genepool.problems import DTLZ2, ZDT1, ZDT2

moocore = pytest.importorskip("moocore")


# -- naive twins ---------------------------------------------------------------------------
def naive_hv_2d(F, ref):
    """Sorted sweep: horizontal strips under the running least f2."""
    pts = sorted(tuple(p) for p in F if np.all(np.asarray(p) < ref))
    hv, level = 0.0, ref[1]
    for a, b in pts:
        if b < level:
            hv += (ref[0] - a) * (level - b)
            level = b
    return hv


def naive_hv_inclusion_exclusion(F, ref):
    """Sum over non-empty subsets of (-1)^(|S|+1) times the box of their componentwise max."""
    pts = [np.asarray(p) for p in F if np.all(np.asarray(p) < ref)]
    total = 0.0
    for size in range(1, len(pts) + 1):
        for subset in itertools.combinations(pts, size):
            corner = np.max(subset, axis=0)
            total += (-1) ** (size + 1) * float(np.prod(np.asarray(ref) - corner))
    return total


def naive_nearest(F, front):
    F = np.asarray(F, dtype=float)
    F = F[~np.isnan(F).any(axis=1)]
    out = []
    for z in np.asarray(front, dtype=float):
        best = math.inf
        for a in F:
            best = min(best, math.sqrt(sum((a[k] - z[k]) ** 2 for k in range(len(z)))))
        out.append(best)
    return np.array(out)


def nondominated(F):
    keep = [
        i
        for i, p in enumerate(F)
        if not any(np.all(q <= p) and np.any(q < p) for j, q in enumerate(F) if j != i)
    ]
    return F[keep]


# -- strategies ----------------------------------------------------------------------------
def point_sets(m, max_rows, *, discrete=False, allow_nan=False):
    if discrete:
        elements = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.25])
    else:
        elements = st.floats(-1.0, 2.0, allow_nan=False, width=64)
    if allow_nan:
        elements = st.one_of(elements, st.just(np.nan))
    return hnp.arrays(
        np.float64, st.tuples(st.integers(0, max_rows), st.just(m)), elements=elements
    )


def with_duplicates(F, data):
    if len(F) and data.draw(st.booleans()):
        idx = data.draw(st.lists(st.integers(0, len(F) - 1), min_size=1, max_size=5))
        F = np.concatenate([F, F[idx]])
    return F


REF2 = np.array([1.0, 1.0])
REF3 = np.array([1.0, 1.0, 1.0])


# -- hypervolume ---------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(data=st.data(), discrete=st.booleans())
def test_hypervolume_2d_matches_the_sweep_and_moocore(data, discrete):
    F = with_duplicates(data.draw(point_sets(2, 40, discrete=discrete)), data)
    got = hypervolume(F, REF2)
    assert got == pytest.approx(naive_hv_2d(F, REF2), rel=1e-12, abs=1e-14)
    if len(F):
        assert got == pytest.approx(moocore.hypervolume(F, ref=REF2), rel=1e-12, abs=1e-14)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), discrete=st.booleans(), m=st.sampled_from([3, 3, 4]))
def test_hypervolume_3d_4d_match_inclusion_exclusion_and_moocore(data, discrete, m):
    F = with_duplicates(data.draw(point_sets(m, 7, discrete=discrete)), data)
    ref = np.ones(m)
    got = hypervolume(F, ref)
    assert got == pytest.approx(naive_hv_inclusion_exclusion(F, ref), rel=1e-9, abs=1e-12)
    if len(F):
        assert got == pytest.approx(moocore.hypervolume(F, ref=ref), rel=1e-12, abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hypervolume_ignores_nan_rows_and_rows_beyond_the_reference(data):
    F = data.draw(point_sets(3, 12, allow_nan=True))
    clean = F[~np.isnan(F).any(axis=1)]
    inside = clean[(clean < REF3).all(axis=1)]
    assert hypervolume(F, REF3) == hypervolume(inside, REF3)
    # rows on or beyond the reference in one objective change nothing
    beyond = np.array([[1.0, 0.0, 0.0], [0.0, 5.0, 0.0], [-1.0, -1.0, np.inf]])
    assert hypervolume(np.concatenate([F, beyond]), REF3) == hypervolume(F, REF3)


def test_hypervolume_known_values():
    assert hypervolume(np.empty((0, 2)), REF2) == 0.0
    assert hypervolume([[2.0, 0.0]], REF2) == 0.0
    assert hypervolume([[0.5, 0.5], [np.nan, 0.0]], REF2) == 0.25
    assert hypervolume([[0.0, 0.0, 0.0]], [2.0, 3.0, 4.0]) == 24.0
    assert hypervolume([[-np.inf, 0.5]], REF2) == math.inf
    # m = 1: the closed form
    assert hypervolume([[3.0], [0.25], [np.nan], [7.0]], [1.0]) == 0.75
    assert hypervolume([[3.0]], [1.0]) == 0.0
    # ZDT1's front with reference (1.1, 1.1): 1.1 * 1.1 - integral of (1 - sqrt(x)) over
    # [0, 1] (1/3) - the strip above f2 = 1.1 (none) = 1.21 - 1/3
    front = ZDT1().pareto_front(100_000)
    exact = 1.21 - 1 / 3
    got = hypervolume(front, [1.1, 1.1])
    assert got < exact and exact - got < 1e-5  # the staircase misses about 1/(2n)
    assert got == pytest.approx(moocore.hypervolume(front, ref=[1.1, 1.1]), rel=1e-12)
    # DTLZ2's front with reference (1, 1, 1): the cube less an eighth of the unit ball
    sphere = DTLZ2().pareto_front(100_000)
    got3 = hypervolume(sphere, REF3)
    assert got3 < 1 - math.pi / 6 and (1 - math.pi / 6) - got3 < 2.5e-3  # 1.8e-3 at 99681


def test_hypervolume_bad_input():
    with pytest.raises(
        ConfigError, match=r"F must have shape \(n, m\) with m >= 1, got shape \(3,\)"
    ):
        hypervolume([1.0, 2.0, 3.0], [1.0])
    with pytest.raises(
        ConfigError, match=r"F must have shape \(n, m\) with m >= 1, got shape \(2, 0\)"
    ):
        hypervolume(np.empty((2, 0)), [])
    with pytest.raises(ConfigError, match="F must be a numeric array"):
        hypervolume([["a", "b"]], [1.0, 1.0])
    with pytest.raises(
        ConfigError, match=r"reference must be 2 finite values .*got \[1.0, 1.0, 1.0\]"
    ):
        hypervolume([[0.0, 0.0]], [1.0, 1.0, 1.0])
    with pytest.raises(ConfigError, match=r"reference must be 2 finite values .*got \[1.0, nan\]"):
        hypervolume([[0.0, 0.0]], np.array([1.0, np.nan]))
    with pytest.raises(ConfigError, match="reference must be 2 finite values .*got 'ab'"):
        hypervolume([[0.0, 0.0]], "ab")
    with pytest.raises(ConfigError, match="reference must be 2 finite values"):
        hypervolume([[0.0, 0.0]], [1.0, np.inf])


# -- IGD -----------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(data=st.data(), discrete=st.booleans(), m=st.sampled_from([1, 2, 2, 3, 4]))
def test_nearest_distances_match_the_naive_twin(data, discrete, m):
    F = with_duplicates(data.draw(point_sets(m, 30, discrete=discrete, allow_nan=True)), data)
    front = data.draw(point_sets(m, 15, discrete=discrete).filter(lambda a: len(a) > 0))
    got = _nearest_distances(F, front)
    expected = naive_nearest(F, front)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=0)
    if np.isfinite(expected).all():
        assert igd(F, front) == pytest.approx(expected.mean(), rel=1e-14)
    # row order of F and a split of the front change nothing, bit for bit
    perm = np.random.default_rng(len(F)).permutation(len(F))
    np.testing.assert_array_equal(_nearest_distances(F[perm], front), got)
    k = len(front) // 2
    pieces = np.concatenate([_nearest_distances(F, front[:k]), _nearest_distances(F, front[k:])])
    np.testing.assert_array_equal(pieces, got)


def test_igd_is_zero_on_the_front_and_positive_off_it():
    front = ZDT1().pareto_front(1000)
    assert igd(front, front) == 0.0
    assert igd(front[::-1], front) == 0.0
    assert igd(np.concatenate([front, front + 1.0]), front) == 0.0
    shifted = front + np.array([0.0, 0.1])
    # every front point's nearest shifted row is at most 0.1 away, and some are closer
    assert 0.0 < igd(shifted, front) <= 0.1
    assert igd(front[::10], front) > 0.0
    sphere = DTLZ2().pareto_front(500)
    assert igd(sphere * 2.0, sphere) == pytest.approx(1.0, rel=1e-14)  # radius 2 vs 1


def test_igd_on_large_sets_matches_brute_force_in_chunks():
    rng = np.random.default_rng(5)
    F = rng.random((20_000, 2))
    front = ZDT1().pareto_front(300)
    brute = np.empty(len(front))
    for start in range(0, len(front), 64):  # the naive way, chunked to bound its memory
        block = front[start : start + 64]
        d2 = ((F[None, :, :] - block[:, None, :]) ** 2).sum(axis=2)
        brute[start : start + 64] = np.sqrt(d2.min(axis=1))
    np.testing.assert_allclose(_nearest_distances(F, front), brute, rtol=1e-15, atol=0)
    far = F + 10.0  # the worst case: every row in the strip
    np.testing.assert_allclose(
        _nearest_distances(far, front),
        np.sqrt(((far[None, :, :] - front[:30, None, :]) ** 2).sum(2).min(1)).tolist()
        + _nearest_distances(far, front[30:]).tolist(),
        rtol=1e-15,
    )


def test_igd_edge_cases_and_bad_input():
    assert igd([[np.nan, 0.0]], [[0.0, 0.0]]) == math.inf
    assert igd(np.empty((0, 2)), [[0.0, 0.0]]) == math.inf
    assert igd([[0.0], [3.0]], [[1.0], [2.5]]) == pytest.approx(0.75)
    with pytest.raises(ConfigError, match=r"front has 3 objectives but F has 2"):
        igd([[0.0, 0.0]], [[0.0, 0.0, 0.0]])
    with pytest.raises(ConfigError, match=r"front must be finite, got \[0.0, nan\] in row 1"):
        igd([[0.0, 0.0]], [[0.0, 0.0], [0.0, np.nan]])
    with pytest.raises(ConfigError, match="front must have at least one point"):
        igd([[0.0, 0.0]], np.empty((0, 2)))
    with pytest.raises(ConfigError, match=r"F must have shape \(n, m\)"):
        igd([0.0, 0.0], [[0.0, 0.0]])


# -- knee point ----------------------------------------------------------------------------
def test_knee_point_on_a_clear_knee():
    F = np.array([[0.0, 10.0], [1.0, 1.5], [2.0, 1.0], [3.0, 0.9], [10.0, 0.0]])
    assert knee_point(F) == 1  # normalized (0.1, 0.15): furthest below x + y = 1
    assert knee_point(F[::-1]) == 3
    tie = np.array([[0.0, 10.0], [1.0, 2.0], [2.0, 1.0], [10.0, 0.0]])
    assert knee_point(tie) == 1 and knee_point(tie[::-1]) == 1  # (0.1, 0.2), (0.2, 0.1)
    # ZDT1's convex front: the knee of 1 - sqrt(x) - x is at x = 1/4
    front = ZDT1().pareto_front(1001)
    assert front[knee_point(front), 0] == 0.25
    # three objectives: a point pulled towards the ideal among points on the plane
    plane = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0], [0.2, 0.2, 0.2]])
    assert knee_point(plane) == 4


def test_knee_point_falls_back_to_the_point_nearest_the_ideal():
    line = np.column_stack([np.linspace(0, 1, 11), np.linspace(1, 0, 11)])
    assert knee_point(line) == 5  # flat: (0.5, 0.5) is the nearest to (0, 0)
    scaled = line * np.array([100.0, 1.0])  # normalization makes the scale irrelevant
    assert knee_point(scaled) == 5
    even = np.column_stack([np.linspace(0, 1, 4), np.linspace(1, 0, 4)])
    assert knee_point(even) == 1  # a tie between rows 1 and 2: the lowest index
    # concave (ZDT2's 1 - x^2): nothing lies below the line of the extremes; the nearest to
    # the ideal point minimizes x^2 + (1 - x^2)^2: x = 1/sqrt(2)
    concave = ZDT2().pareto_front(1001)
    assert concave[knee_point(concave), 0] == 0.707
    # on DTLZ2's sphere every point is as near the ideal point (up to rounding)
    sphere = DTLZ2().pareto_front(91)
    norms = np.linalg.norm(sphere, axis=1)
    assert norms[knee_point(sphere)] - norms.min() <= 1e-15
    # too few distinct points, a constant objective, one row, one objective
    assert knee_point([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]) == 0
    assert knee_point([[0.0, 1.0], [0.2, 1.0], [0.5, 1.0]]) == 0
    assert knee_point([[3.0, 4.0]]) == 0
    assert knee_point([[3.0], [1.0], [1.0], [2.0]]) == 1


def naive_knee_scores(F):
    """The knee rule step by step: the scores it maximizes (-distance to the ideal point in
    the fallback)."""
    F = np.asarray(F, dtype=float)
    n, m = F.shape
    ideal, span = F.min(0), F.max(0) - F.min(0)
    N = np.array(
        [
            [(F[i, j] - ideal[j]) / span[j] if span[j] > 0 else 0.0 for j in range(m)]
            for i in range(n)
        ]
    )
    fallback = -np.array([math.sqrt(sum(v * v for v in row)) for row in N])
    if (span <= 0).any() or len({tuple(r) for r in F}) < m + 1:
        return fallback
    ext = [min(range(n), key=lambda i: (N[i, j], sum(N[i]), i)) for j in range(m)]
    E = N[ext]
    if abs(np.linalg.det(E)) < 1e-12:
        return fallback
    w = np.linalg.solve(E, np.ones(m))
    below = np.array(
        [(1 - sum(w[k] * N[i, k] for k in range(m))) / np.linalg.norm(w) for i in range(n)]
    )
    return below if below.max() > indicators.FLAT_TOLERANCE else fallback


@settings(max_examples=100, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 2, 3]), discrete=st.booleans())
def test_knee_point_follows_its_rule_whatever_the_row_order(data, m, discrete):
    F = nondominated(data.draw(point_sets(m, 25, discrete=discrete).filter(len)))
    perm = np.array(data.draw(st.permutations(range(len(F)))), dtype=np.int64)
    for G in (F, F[perm]):
        k = knee_point(G)
        score = naive_knee_scores(G)
        assert score[k] >= score.max() - 1e-9
        assert knee_point(G) == k  # deterministic
    k, k2 = knee_point(F), knee_point(F[perm])
    score = naive_knee_scores(F)
    if (score >= score.max() - 1e-9).sum() == 1:  # no near tie: the same point
        np.testing.assert_array_equal(F[perm][k2], F[k])


def test_knee_point_bad_input():
    with pytest.raises(ConfigError, match=r"F must be finite, got \[nan, 1.0\] in row 0"):
        knee_point([[np.nan, 1.0]])
    with pytest.raises(ConfigError, match=r"F must be finite"):
        knee_point([[0.0, np.inf], [1.0, 0.0]])
    with pytest.raises(ConfigError, match="F must have at least one row"):
        knee_point(np.empty((0, 2)))
    with pytest.raises(ConfigError, match=r"F must have shape \(n, m\)"):
        knee_point([1.0, 2.0])


def test_public_names():
    assert set(indicators.__all__) == {"hypervolume", "igd", "knee_point"}
