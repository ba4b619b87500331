"""The multi-objective benchmarks against pymoo, their true fronts against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genepool import problems
from genepool.errors import ConfigError
from genepool.problems import BNH, DTLZ2, ZDT1, ZDT2, ZDT3, das_dennis
from genepool.problems.multiobjective import zdt3_regions
from genepool.testing import check_problem

pymoo_problems = pytest.importorskip("pymoo.problems")

CASES = [
    (ZDT1(), "zdt1", {}),
    (ZDT1(5), "zdt1", {"n_var": 5}),
    (ZDT1(2), "zdt1", {"n_var": 2}),
    (ZDT2(), "zdt2", {}),
    (ZDT2(7), "zdt2", {"n_var": 7}),
    (ZDT3(), "zdt3", {}),
    (ZDT3(4), "zdt3", {"n_var": 4}),
    (DTLZ2(), "dtlz2", {"n_var": 12, "n_obj": 3}),
    (DTLZ2(7, 2), "dtlz2", {"n_var": 7, "n_obj": 2}),
    (DTLZ2(9, 5), "dtlz2", {"n_var": 9, "n_obj": 5}),
    (DTLZ2(3, 3), "dtlz2", {"n_var": 3, "n_obj": 3}),
    (BNH(), "bnh", {}),
]
IDS = [f"{name}-{mine!r}" for mine, name, _ in CASES]


def sample(prob, n, seed):
    """Random rows of the box, with its corners (bounds exactly) among them."""
    rng = np.random.default_rng(seed)
    X = prob.space.sample(n, rng)
    low, high = prob.space.lower, prob.space.upper
    X[0], X[1] = low, high
    X[2] = np.where(rng.random(prob.n_var) < 0.5, low, high)
    return X


@pytest.mark.parametrize(("mine", "name", "kwargs"), CASES, ids=IDS)
def test_matches_pymoo(mine, name, kwargs):
    theirs = pymoo_problems.get_problem(name, **kwargs)
    X = sample(mine, 300, seed=len(name) + mine.n_var)
    F, G = theirs.evaluate(X, return_values_of=["F", "G"])
    out = mine.evaluate(X)
    assert out.shape == (300, mine.n_obj + mine.n_constraints)
    np.testing.assert_allclose(out[:, : mine.n_obj], F, rtol=1e-12, atol=1e-12)
    if mine.n_constraints:
        np.testing.assert_allclose(out[:, mine.n_obj :], G, rtol=1e-12, atol=1e-12)
    else:
        assert G is None or np.asarray(G).size == 0
    np.testing.assert_array_equal(mine.space.lower, theirs.xl)
    np.testing.assert_array_equal(mine.space.upper, theirs.xu)


@pytest.mark.parametrize(("mine", "name", "kwargs"), CASES, ids=IDS)
def test_rows_are_evaluated_independently(mine, name, kwargs):
    X = sample(mine, 40, seed=1)
    batch = mine.evaluate(X)
    one_by_one = np.concatenate([mine.evaluate(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_array_equal(batch, one_by_one)  # bit for bit
    assert batch.dtype == np.float64
    check_problem(mine)  # the problem contract, the sharing protocol included


@pytest.mark.parametrize("cls", [ZDT1, ZDT2])
@pytest.mark.parametrize("n_points", [1, 2, 101, 1000])
def test_zdt12_fronts_are_the_closed_forms_and_pymoos(cls, n_points):
    front = cls().pareto_front(n_points)
    f1 = np.linspace(0, 1, n_points)
    f2 = 1 - np.sqrt(f1) if cls is ZDT1 else 1 - f1**2
    np.testing.assert_allclose(front, np.column_stack([f1, f2]), rtol=0, atol=1e-15)
    theirs = pymoo_problems.get_problem(cls.__name__.lower()).pareto_front(
        n_pareto_points=n_points
    )
    np.testing.assert_allclose(front, theirs, rtol=0, atol=1e-15)


@pytest.mark.parametrize("cls", [ZDT1, ZDT2, ZDT3])
def test_zdt_pareto_set_lands_on_the_front(cls):
    prob = cls(10)
    X = np.zeros((201, 10))
    X[:, 0] = np.linspace(0, 1, 201)
    F = prob.evaluate(X)
    f1 = F[:, 0]
    h = {
        ZDT1: 1 - np.sqrt(f1),
        ZDT2: 1 - f1**2,
        ZDT3: 1 - np.sqrt(f1) - f1 * np.sin(10 * np.pi * f1),
    }[cls]
    np.testing.assert_allclose(F[:, 1], h, rtol=0, atol=1e-15)


def test_zdt3_regions_match_a_dense_filter_and_pymoo():
    regions = zdt3_regions()
    assert regions.shape == (5, 2)
    # pymoo's published region ends (10 digits)
    pymoo_regions = [
        [0, 0.0830015349],
        [0.182228780, 0.2577623634],
        [0.4093136748, 0.4538821041],
        [0.6183967944, 0.6525117038],
        [0.8233317983, 0.8518328654],
    ]
    # pymoo's start of the second piece is off by 5e-8 (h there is 2.9e-7 above the first
    # piece's minimum); ours meets it to 1e-15
    atol = np.full((5, 2), 1e-9)
    atol[1, 0] = 1e-7
    assert (np.abs(regions - pymoo_regions) <= atol).all()
    h = 1 - np.sqrt(regions) - regions * np.sin(10 * np.pi * regions)
    np.testing.assert_allclose(h[1:, 0], h[:-1, 1], rtol=0, atol=1e-14)
    # the dense twin: keep the grid points below every earlier one (strict running minimum)
    x = np.linspace(0, 1, 2_000_001)
    h = 1 - np.sqrt(x) - x * np.sin(10 * np.pi * x)
    earlier = np.concatenate([[np.inf], np.minimum.accumulate(h)[:-1]])
    kept = x[h < earlier]
    inside = (
        (kept[:, None] >= regions[:, 0] - 1e-6) & (kept[:, None] <= regions[:, 1] + 1e-6)
    ).any(1)
    assert inside.all()
    for a, b in regions:  # each piece is covered by the kept grid points
        piece = kept[(kept >= a - 1e-6) & (kept <= b + 1e-6)]
        assert piece.min() - a < 1e-6 and b - piece.max() < 1e-6


@pytest.mark.parametrize("n_points", [1, 5, 10, 100, 1000])
def test_zdt3_front_is_on_the_curve_inside_the_regions(n_points):
    front = ZDT3().pareto_front(n_points)
    assert front.shape == (n_points, 2)
    f1, f2 = front.T
    np.testing.assert_allclose(f2, 1 - np.sqrt(f1) - f1 * np.sin(10 * np.pi * f1), atol=1e-15)
    regions = zdt3_regions()
    assert ((f1[:, None] >= regions[:, 0]) & (f1[:, None] <= regions[:, 1])).any(1).all()
    # non-dominated up to the pieces' starts, which are weakly dominated (equal f2) in
    # exact arithmetic, as in pymoo's front
    order = np.argsort(f1, kind="stable")
    f2s = f2[order]
    assert (np.diff(f2s) <= 1e-12).all()
    if n_points >= 1000:  # every piece gets points, both ends included
        for a, b in regions:
            assert np.isclose(f1, a, atol=1e-15).any() and np.isclose(f1, b, atol=1e-15).any()
    # every point of pymoo's front lies in a piece
    theirs = pymoo_problems.get_problem("zdt3").pareto_front(n_points=500)
    lo, hi = regions[:, 0] - 1e-9, regions[:, 1] + 1e-9
    assert ((theirs[:, :1] >= lo) & (theirs[:, :1] <= hi)).any(1).all()


@pytest.mark.parametrize(("n_obj", "n_points"), [(2, 100), (3, 1000), (3, 91), (4, 500)])
def test_dtlz2_front_is_das_dennis_on_the_sphere_as_pymoo(n_obj, n_points):
    from pymoo.util.ref_dirs import get_reference_directions

    front = DTLZ2(n_obj + 4, n_obj).pareto_front(n_points)
    p = max(q for q in range(1, 200) if math.comb(q + n_obj - 1, n_obj - 1) <= n_points)
    assert front.shape == (math.comb(p + n_obj - 1, n_obj - 1), n_obj)
    assert front.shape[0] <= n_points
    np.testing.assert_allclose(np.linalg.norm(front, axis=1), 1.0, rtol=0, atol=1e-15)
    assert (front >= 0).all()
    dirs = get_reference_directions("das-dennis", n_obj, n_partitions=p)
    theirs = pymoo_problems.get_problem("dtlz2", n_var=n_obj + 4, n_obj=n_obj).pareto_front(
        ref_dirs=dirs
    )
    mine_sorted = front[np.lexsort(front.T[::-1])]
    theirs_sorted = theirs[np.lexsort(theirs.T[::-1])]
    np.testing.assert_allclose(mine_sorted, theirs_sorted, rtol=0, atol=1e-15)


def test_dtlz2_pareto_set_lands_on_the_sphere():
    prob = DTLZ2(12, 3)
    X = prob.space.sample(500, np.random.default_rng(3))
    X[:, 2:] = 0.5
    np.testing.assert_allclose(np.linalg.norm(prob.evaluate(X), axis=1), 1.0, atol=1e-15)
    X[:, 2:] = 0.9  # g = 10 * 0.16 = 1.6: radius 2.6
    np.testing.assert_allclose(np.linalg.norm(prob.evaluate(X), axis=1), 2.6, atol=1e-14)


@pytest.mark.parametrize(("m", "p"), [(2, 1), (2, 7), (3, 1), (3, 5), (4, 4), (5, 2)])
def test_das_dennis_matches_pymoo(m, p):
    from pymoo.util.ref_dirs import get_reference_directions

    W = das_dennis(p, m)
    assert W.shape == (math.comb(p + m - 1, m - 1), m)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-15)
    theirs = get_reference_directions("das-dennis", m, n_partitions=p)
    np.testing.assert_allclose(
        W[np.lexsort(W.T[::-1])], theirs[np.lexsort(theirs.T[::-1])], rtol=0, atol=1e-15
    )
    assert len({tuple(r) for r in W}) == len(W)


def test_bnh_front_is_feasible_and_not_dominated_by_random_feasible_points():
    prob = BNH()
    front = prob.pareto_front(400)
    theirs = pymoo_problems.get_problem("bnh").pareto_front(n_points=400)
    np.testing.assert_allclose(front, theirs, rtol=1e-14, atol=1e-14)
    x0 = np.linspace(0, 5, 400)
    Xs = np.column_stack([x0, np.minimum(x0, 3)])
    assert (prob.evaluate(Xs)[:, 2:] <= 1e-15).all()  # feasible (g1 = 0 at the origin)
    X = prob.space.sample(20_000, np.random.default_rng(7))
    out = prob.evaluate(X)
    F = out[(out[:, 2:] <= 0).all(axis=1), :2]
    for z in front:  # no feasible point strictly dominates a front point (beyond rounding)
        dominated = (F <= z - 1e-9).all(axis=1) & (F < z - 1e-9).any(axis=1)
        assert not dominated.any()
    # and the front's own points do not dominate each other
    for i, z in enumerate(front):
        others = np.delete(front, i, axis=0)
        assert not ((others <= z).all(axis=1) & (others < z).any(axis=1)).any()


def test_attributes():
    z = ZDT1()
    assert (z.n_var, z.n_obj, z.n_constraints) == (30, 2, 0)
    assert z.objective_names == ("f1", "f2") and z.constraints == ()
    assert z.space.dims == 30 and (z.space.lower == 0).all() and (z.space.upper == 1).all()
    d = DTLZ2()
    assert (d.n_var, d.n_obj, d.objective_names) == (12, 3, ("f1", "f2", "f3"))
    b = BNH()
    assert (b.n_var, b.n_obj, b.n_constraints, b.constraints) == (2, 2, 2, ("g1", "g2"))
    assert list(b.space.upper) == [5.0, 3.0]
    assert repr(DTLZ2(5, 2)) == "DTLZ2(n_var=5, n_obj=2)" and repr(BNH()) == "BNH()"
    assert z.bytes_per_candidate() > 0


def test_get_and_names():
    assert problems.names() == ["ackley", "rastrigin", "rosenbrock", "sphere"]
    assert problems.names("multi") == ["bnh", "dtlz2", "zdt1", "zdt2", "zdt3"]
    assert problems.names("all") == sorted(problems.names() + problems.names("multi"))
    assert isinstance(problems.get("zdt1", 30), ZDT1)
    assert problems.get("zdt3", 5).n_var == 5
    d = problems.get("dtlz2", 12)
    assert isinstance(d, DTLZ2) and (d.n_var, d.n_obj) == (12, 3)
    assert isinstance(problems.get("bnh", 2), BNH)
    assert isinstance(problems.get("zdt2", 4), ZDT2)


def test_bad_input():
    with pytest.raises(ConfigError, match=r"X must have shape \(n, 30\) for ZDT1, got \(4, 3\)"):
        ZDT1().evaluate(np.zeros((4, 3)))
    with pytest.raises(ConfigError, match=r"X must have shape"):
        BNH().evaluate(np.zeros(2))
    with pytest.raises(ConfigError, match="n_var must be an integer >= 2, got 1"):
        ZDT1(1)
    with pytest.raises(ConfigError, match="n_var must be an integer >= 2, got True"):
        ZDT2(True)
    with pytest.raises(ConfigError, match=r"n_var must be >= n_obj \(3\), got 2"):
        DTLZ2(2, 3)
    with pytest.raises(ConfigError, match="n_obj must be an integer >= 2, got 1"):
        DTLZ2(5, 1)
    with pytest.raises(ConfigError, match="n_points must be an integer >= 1, got 0"):
        ZDT3().pareto_front(0)
    with pytest.raises(ConfigError, match="n_points must be an integer >= 1, got 2.5"):
        DTLZ2().pareto_front(2.5)
    with pytest.raises(ConfigError, match="n_partitions must be an integer >= 1, got 0"):
        das_dennis(0, 3)
    with pytest.raises(ConfigError, match="bnh has exactly 2 genes: dims must be 2, got 3"):
        problems.get("bnh", 3)
    with pytest.raises(ConfigError, match="n_var must be >= n_obj"):
        problems.get("dtlz2", 2)
    with pytest.raises(ConfigError, match="n_var must be an integer >= 2, got 1"):
        problems.get("zdt1", 1)
    with pytest.raises(ConfigError, match="unknown problem 'zdt9'"):
        problems.get("zdt9", 3)
    with pytest.raises(ConfigError, match="kind must be 'single', 'multi' or 'all', got 'x'"):
        problems.names("x")
