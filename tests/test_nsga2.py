"""NSGA2: its kernels against naive twins, the optimizer contract, and runs through minimize
(invariance across chunk size, cache, executor and resume; objectives, constraints, errors)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool.algorithms._nsga2_nb import N_UNIFORMS, vary_pairs_nb
from genepool.algorithms.nsga2 import constrained_rank, survivors, total_violation
from genepool.errors import ConfigError, FitnessError, OptimizerError
from naive_mo import crowding as naive_crowding
from naive_mo import rank as naive_rank
from support import MIXED_SPACE

BOX = gp.Space.box(0.0, 1.0, 6)


def zdt1(X: np.ndarray) -> np.ndarray:
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.column_stack([f1, g * (1.0 - np.sqrt(f1 / g))])


def mixed_two(X: np.ndarray) -> np.ndarray:
    """Two objectives on MIXED_SPACE: the sum of the genes against its negation plus a shift."""
    s = np.nan_to_num(X).sum(axis=1)
    return np.column_stack([s, (X[:, 0] - 1.0) ** 2 - s / 10.0])


# -- the variation kernel: the numpy formulas of operators.sbx / mutation.polynomial -----------
def _betaq(beta, u, eta):
    alpha = 2.0 - beta ** (-(eta + 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        low = (u * alpha) ** (1.0 / (eta + 1.0))
        high = (1.0 / (2.0 - u * alpha)) ** (1.0 / (eta + 1.0))
    return np.where(u <= 1.0 / alpha, low, high)


def _polynomial(y, lo, hi, u, eta):
    span = hi - lo
    p = 1.0 / (eta + 1.0)
    left = u < 0.5
    xy = np.where(left, 1.0 - (y - lo) / span, 1.0 - (hi - y) / span)
    val = np.where(
        left,
        2.0 * u + (1.0 - 2.0 * u) * xy ** (eta + 1.0),
        2.0 * (1.0 - u) + 2.0 * (u - 0.5) * xy ** (eta + 1.0),
    )
    deltaq = np.where(left, val**p - 1.0, 1.0 - val**p)
    return np.clip(y + deltaq * span, lo, hi)


def naive_vary(P1, P2, crossed, U, lower, upper, rate, eta_c, gene_prob, eta_m):
    """Real genes only: SBX then polynomial mutation, written array-wise from the same U."""
    y1, y2 = np.minimum(P1, P2), np.maximum(P1, P2)
    delta = y2 - y1
    active = crossed[:, None] & (U[..., 0] < gene_prob) & (delta > 1e-14)
    safe = np.where(active, delta, 1.0)
    x1 = np.clip(0.5 * (y1 + y2 - _betaq(1 + 2 * (y1 - lower) / safe, U[..., 1], eta_c) * delta),
                 lower, upper)  # fmt: skip
    x2 = np.clip(0.5 * (y1 + y2 + _betaq(1 + 2 * (upper - y2) / safe, U[..., 1], eta_c) * delta),
                 lower, upper)  # fmt: skip
    swap = U[..., 2] < 0.5
    c1 = np.where(active, np.where(swap, x2, x1), P1)
    c2 = np.where(active, np.where(swap, x1, x2), P2)
    c1 = np.where(U[..., 3] < rate, _polynomial(c1, lower, upper, U[..., 4], eta_m), c1)
    c2 = np.where(U[..., 5] < rate, _polynomial(c2, lower, upper, U[..., 6], eta_m), c2)
    out = np.empty((2 * P1.shape[0], P1.shape[1]))
    out[0::2], out[1::2] = c1, c2
    return out


@settings(max_examples=60, deadline=None)
@given(pairs=st.integers(1, 12), d=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_vary_kernel_equals_the_numpy_operators(pairs, d, seed):
    rng = np.random.default_rng(seed)
    lower, upper = -rng.random(d) * 3, rng.random(d) * 3 + 0.1
    P1 = rng.uniform(lower, upper, (pairs, d))
    P2 = rng.uniform(lower, upper, (pairs, d))
    P2[:, 0] = P1[:, 0]  # equal parents: never recombined
    crossed = rng.random(pairs) < 0.7
    U = rng.random((pairs, d, N_UNIFORMS))
    rate = np.full(d, 0.5)
    out = np.empty((2 * pairs, d))
    vary_pairs_nb(P1, P2, crossed, U, lower, upper, np.zeros(d, np.int64), rate, 15.0, 0.5,
                  20.0, out, 0, copies := np.zeros(2 * pairs, bool))  # fmt: skip
    expected = naive_vary(P1, P2, crossed, U, lower, upper, rate, 15.0, 0.5, 20.0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    parents = np.repeat(np.arange(pairs), 2)
    same = (out == P1[parents]).all(axis=1) | (out == P2[parents]).all(axis=1)
    np.testing.assert_array_equal(copies, same)
    assert np.all((out >= lower) & (out <= upper))


def test_vary_kernel_categorical_genes_swap_or_move_to_another_category():
    rng = np.random.default_rng(0)
    pairs, k = 2000, 4
    P1 = rng.integers(0, k, (pairs, 1)).astype(float)
    P2 = rng.integers(0, k, (pairs, 1)).astype(float)
    U = rng.random((pairs, 1, N_UNIFORMS))
    crossed = np.ones(pairs, dtype=bool)
    out = np.empty((2 * pairs, 1))
    vary_pairs_nb(P1, P2, crossed, U, np.zeros(1), np.full(1, k - 1.0),
                  np.array([k], np.int64), np.array([0.3]), 15.0, 0.5, 20.0, out, 0,
                  np.zeros(2 * pairs, bool))  # fmt: skip
    c1 = out[0::2, 0]
    swapped = U[:, 0, 0] < 0.5
    base = np.where(swapped, P2[:, 0], P1[:, 0])
    mutated = U[:, 0, 3] < 0.3
    np.testing.assert_array_equal(c1[~mutated], base[~mutated])
    assert np.all(c1[mutated] != base[mutated])  # another category, never the same
    assert set(np.unique(out)) <= set(range(k))


def test_odd_population_drops_the_last_second_child():
    out = np.full((3, 2), -1.0)
    P = np.full((2, 2), 0.5)
    U = np.full((2, 2, N_UNIFORMS), 0.9)
    vary_pairs_nb(P, P, np.zeros(2, bool), U, np.zeros(2), np.ones(2), np.zeros(2, np.int64),
                  np.zeros(2), 15.0, 0.5, 20.0, out, 0, copies := np.zeros(3, bool))  # fmt: skip
    np.testing.assert_array_equal(out, 0.5)
    np.testing.assert_array_equal(copies, True)  # nothing changed them: copies of a parent


# -- survival and constrained ranking -----------------------------------------------------------
def naive_constrained_rank(F, violation):
    """Deb's constrained domination, by peeling fronts pairwise."""
    n = F.shape[0]

    def dominates(a, b):
        va, vb = violation[a], violation[b]
        if va <= 0 < vb:
            return True
        if va > 0 and vb > 0:
            return va < vb
        if va > 0:
            return False
        return bool(np.all(F[a] <= F[b]) and np.any(F[a] < F[b]))

    rank = np.full(n, -1)
    left, r = set(range(n)), 0
    while left:
        front = {p for p in left if not any(dominates(q, p) for q in left if q != p)}
        for p in front:
            rank[p] = r
        left -= front
        r += 1
    return rank


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 40),
    m=st.integers(1, 3),
    seed=st.integers(0, 2**31),
    share=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_constrained_rank_equals_pairwise_constrained_domination(n, m, seed, share):
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 4, (n, m)).astype(float)
    g = np.where(rng.random((n, 2)) < share, rng.integers(1, 3, (n, 2)), -1.0)
    violation = total_violation(g, n)
    expected = naive_constrained_rank(F, violation)
    np.testing.assert_array_equal(constrained_rank(F, violation), expected)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 60), seed=st.integers(0, 2**31), discrete=st.booleans())
def test_survivors_are_whole_fronts_then_the_least_crowded(n, seed, discrete):
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 5, (2 * n, 2)).astype(float) if discrete else rng.random((2 * n, 2))
    rank = naive_rank(F)
    crowd = naive_crowding(F, rank)
    keep = survivors(rank, crowd, n)
    expected = np.sort(np.lexsort((np.arange(2 * n), -crowd, rank))[:n])
    np.testing.assert_array_equal(keep, expected)


# -- the optimizer contract, as tests/test_conformance.py holds it for the others --------------
CASES = {
    "box": (lambda seed: gp.NSGA2(BOX, 24, seed=seed), zdt1),
    "odd-float32": (lambda seed: gp.NSGA2(BOX, 25, seed=seed, dtype=np.float32), zdt1),
    "mixed-space": (lambda seed: gp.NSGA2(MIXED_SPACE, 30, seed=seed), mixed_two),
    "no-archive": (lambda seed: gp.NSGA2(BOX, 20, seed=seed, archive_size=None), zdt1),
}
cases = pytest.mark.parametrize("name", sorted(CASES))


def _run(opt, fitness, generations=5):
    asked = []
    for _ in range(generations):
        X = opt.ask()
        asked.append(X.copy())
        opt.tell(X, fitness(X))
    return asked


@cases
def test_ask_stays_in_bounds_and_tell_keeps_its_inputs(name):
    factory, fitness = CASES[name]
    opt = factory(0)
    for _ in range(6):
        X = opt.ask()
        assert X.shape == (opt.population_size, opt.space.dims)
        assert opt.space.contains(X).all()
        f = fitness(X)
        X0, f0 = X.copy(), f.copy()
        opt.tell(X, f)
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(f, f0)
        held = opt.state.X.copy()
        X[:] = np.nan  # the optimizer holds no reference to its inputs
        np.testing.assert_array_equal(opt.state.X, held)


@cases
def test_same_seed_same_run_different_seed_differs(name):
    factory, fitness = CASES[name]
    a, b, c = _run(factory(7), fitness), _run(factory(7), fitness), _run(factory(8), fitness)
    for xa, xb in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
    assert not all(np.array_equal(xa, xc) for xa, xc in zip(a, c))


@cases
def test_state_round_trips_through_npz_and_json(name):
    factory, fitness = CASES[name]
    opt = factory(11)
    _run(opt, fitness, 4)
    arrays, meta = opt.state_dict()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        loaded = {k: z[k] for k in z.files}
    fresh = factory(999)
    fresh.load_state_dict(loaded, json.loads(json.dumps(meta)))
    for xa, xb in zip(_run(opt, fitness, 3), _run(fresh, fitness, 3)):
        np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(opt.pareto_set()[1], fresh.pareto_set()[1])


def test_nan_objectives_rank_last_and_never_reach_the_front():
    opt = gp.NSGA2(BOX, 30, seed=3)
    for _ in range(5):
        X = opt.ask()
        F = zdt1(X)
        F[::2] = np.nan
        opt.tell(X, F)
        assert np.isfinite(opt.front()[1]).all()
        assert np.isfinite(opt.pareto_set()[1]).all()


def test_ask_tell_order_and_shapes_are_enforced():
    opt = gp.NSGA2(BOX, 10, seed=0)
    with pytest.raises(OptimizerError, match="without a pending ask"):
        opt.tell(np.zeros((10, 6)), np.zeros((10, 2)))
    X = opt.ask()
    with pytest.raises(OptimizerError, match="twice"):
        opt.ask()
    with pytest.raises(OptimizerError, match=r"constraints must have shape \(10, k\)"):
        opt.tell(X, zdt1(X), constraints=np.zeros((9, 2)))
    with pytest.raises(OptimizerError, match="NaN"):
        opt.tell(X, zdt1(X), constraints=np.full((10, 1), np.nan))
    opt.tell(X, zdt1(X))
    X = opt.ask()
    with pytest.raises(OptimizerError, match="3 objective.*earlier generations had 2"):
        opt.tell(X, np.zeros((10, 3)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"population_size": 1}, "population_size"),
        ({"crossover_rate": 1.5}, "crossover_rate"),
        ({"eta_crossover": -1}, "eta_crossover"),
        ({"mutation_rate": [0.1, 0.2]}, "mutation_rate"),
        ({"archive_size": 1}, "archive_size"),
        ({"archive_size": None, "archive_bytes": "1MB"}, "archive_bytes"),
        ({"reference_point": [1.0, np.nan]}, "reference_point"),
        ({"dtype": np.int32}, "dtype"),
    ],
)
def test_bad_settings_name_the_setting(kwargs, match):
    kwargs = {"population_size": 10, **kwargs}
    with pytest.raises(ConfigError, match=match):
        gp.NSGA2(BOX, **kwargs)


def test_children_that_copy_a_parent_are_bred_again():
    def copies(opt):
        st = opt.state
        X = opt.ask()
        held = {row.tobytes() for row in st.X}
        share = np.mean([row.tobytes() in held for row in X])
        opt.tell(X, zdt1(X))
        return share

    on = gp.NSGA2(BOX, 400, seed=4)
    off = gp.NSGA2(BOX, 400, seed=4, redraw_copies=False)
    for opt in (on, off):
        X = opt.ask()
        opt.tell(X, zdt1(X))
    with_redraw = np.mean([copies(on) for _ in range(5)])
    without = np.mean([copies(off) for _ in range(5)])
    assert without > 0.02  # no crossover (10 %) and no mutation (1 - 1/6)^6 ~ 33 %
    assert with_redraw < without / 10


def test_the_front_improves_on_zdt1():
    opt = gp.NSGA2(gp.Space.box(0, 1, 10), 60, seed=5, reference_point=[1.1, 1.1])
    X = opt.ask()
    opt.tell(X, zdt1(X))
    first = opt.hypervolume()
    _run(opt, zdt1, 60)
    assert opt.hypervolume() > first + 0.1


def test_constraints_lead_to_feasible_fronts():
    """Minimize (x0, x1) subject to x0 + x1 >= 1: the front is the feasible diagonal."""
    opt = gp.NSGA2(gp.Space.box(0, 1, 2), 40, seed=2)
    for _ in range(40):
        X = opt.ask()
        opt.tell(X, X.copy(), constraints=(1.0 - X.sum(axis=1))[:, None])
    Xf = opt.pareto_set()[0]
    assert np.all(Xf.sum(axis=1) >= 1.0)
    assert np.all(Xf.sum(axis=1) < 1.05)  # on (or very near) the constraint's boundary


# -- runs through minimize ----------------------------------------------------------------------
def _minimize(tmp=None, **kw):
    opt = gp.NSGA2(gp.Space.box(0, 1, 8), 40, seed=1, archive_size=kw.pop("archive_size", 200))
    return gp.minimize(zdt1, opt, generations=kw.pop("generations", 12), progress=False, **kw)


def _same_run(a, b):
    np.testing.assert_array_equal(a.pareto.to_numpy(), b.pareto.to_numpy())
    np.testing.assert_array_equal(a.best_x, b.best_x)
    assert a.hypervolume == b.hypervolume


def test_same_result_across_chunk_sizes_cache_and_executors():
    base = _minimize(cache=False)
    _same_run(base, _minimize(chunk_size=7, cache=False))
    _same_run(base, _minimize(cache=True))
    _same_run(base, _minimize(executor="processes", workers=2, chunk_size=10))


def test_resume_gives_the_uninterrupted_run(tmp_path):
    whole = _minimize(generations=12)
    _minimize(generations=5, run_dir=tmp_path / "r", checkpoint_every=1)
    resumed = _minimize(generations=12, run_dir=tmp_path / "r", resume=True)
    _same_run(whole, resumed)
    import pandas as pd

    on_disk = pd.read_parquet(tmp_path / "r" / "pareto.parquet")
    np.testing.assert_array_equal(on_disk.to_numpy(), resumed.pareto.to_numpy())
    history = resumed.history
    assert list(history["generation"]) == list(range(1, 13))
    assert history["hypervolume"].is_monotonic_increasing or history["hypervolume"].iloc[-1] > 0


def test_objectives_name_the_columns_and_give_each_its_sense():
    mixed = gp.minimize(
        lambda X: zdt1(X) * [1.0, -1.0],
        gp.NSGA2(gp.Space.box(0, 1, 8), 40, seed=1, archive_size=200),
        generations=12,
        progress=False,
        objectives={"cost": "minimize", "gain": "maximize"},
    )
    plain = _minimize()
    assert list(mixed.pareto.columns[-2:]) == ["cost", "gain"]
    np.testing.assert_array_equal(mixed.pareto[["cost", "gain"]].to_numpy() * [1, -1],
                                  plain.pareto[["f1", "f2"]].to_numpy())  # fmt: skip
    assert mixed.best_fitness.shape == (2,) and mixed.best_fitness[1] <= 0
    assert "pareto=" in repr(mixed)


def test_a_problem_names_its_objectives_and_returns_constraints():
    class Constrained(gp.Problem):
        space = gp.Space.box(0, 1, 2)
        objective_names = ("a", "b")
        n_constraints = 1

        def evaluate(self, X):
            return np.column_stack([X[:, 0], X[:, 1], 1.0 - X.sum(axis=1)])

    res = gp.minimize(Constrained(), gp.NSGA2(Constrained.space, 30, seed=0), generations=20,
                      progress=False)  # fmt: skip
    assert list(res.pareto.columns) == ["x0", "x1", "a", "b"]
    assert np.all(res.pareto[["x0", "x1"]].sum(axis=1) >= 1.0)


@pytest.mark.parametrize(
    "fitness, kwargs, error, match",
    [
        (zdt1, {"objectives": ["a", "b", "c"]}, ConfigError, "2 column.*3 objective"),
        (zdt1, {"objectives": ["only"]}, ConfigError, r"2 column.*1 objective\(s\) \['only'\]"),
        (zdt1, {"objectives": "a,b"}, ConfigError, r"\['a', 'b'\]"),
        (zdt1, {"objectives": {"a": "up", "b": "minimize"}}, ConfigError, "sense"),
        (zdt1, {"target": 0.1}, ConfigError, "target applies to one objective"),
        (lambda X: zdt1(X) * np.where(X[:, :1] > 0.5, np.nan, 1.0), {}, FitnessError, "nan"),
    ],
)
def test_bad_multi_objective_input_gets_a_clear_error(fitness, kwargs, error, match):
    with pytest.raises(error, match=match):
        gp.minimize(fitness, gp.NSGA2(gp.Space.box(0, 1, 4), 10, seed=0), generations=2,
                    progress=False, **kwargs)  # fmt: skip


def test_penalized_rows_rank_last_whatever_the_senses():
    def sometimes_fails(X):
        if (X[:, 0] > 0.6).any():
            F = zdt1(X)
            F[X[:, 0] > 0.6] = np.nan
            return F
        return zdt1(X)

    res = gp.minimize(sometimes_fails, gp.NSGA2(gp.Space.box(0, 1, 4), 20, seed=0),
                      generations=10, progress=False, on_error="penalize",
                      objectives={"a": "minimize", "b": "maximize"})  # fmt: skip
    assert res.n_errors > 0
    assert np.isfinite(res.pareto[["a", "b"]].to_numpy()).all()


def test_single_objective_optimizers_refuse_several_objectives_and_constraints():
    with pytest.raises(ConfigError, match="single-objective; use genepool.NSGA2"):
        gp.minimize(zdt1, gp.GA(BOX, 10, seed=0), objectives=["a", "b"], progress=False)
    with pytest.raises(ConfigError, match="objectives"):
        gp.minimize(zdt1, gp.GA(BOX, 10, seed=0), generations=1, progress=False)


def test_memory_pressure_thins_the_archive_and_the_report_counts_it():
    from genepool.run.config import RunConfig
    from genepool.run.loop import Run

    opt = gp.NSGA2(gp.Space.box(0, 1, 8), 60, seed=1, archive_size=500)
    run = Run(zdt1, opt, RunConfig(generations=30, progress=False))
    while run.step() is None:
        pass
    size = opt.archive.size
    assert size > 20
    run.monitor.cleanup(run.state.generation, "test pressure")
    assert opt.archive.size == size // 2
    assert "pareto archive released" in run.monitor.alerts[-1].message
    report = run.result("done").memory
    assert report.archive["thinnings"] == 1 and report.archive["last_reason"] == "memory"
    assert report.archive["dropped"] == size - size // 2


def test_a_run_without_a_feasible_solution_picks_the_least_violating():
    class Impossible(gp.Problem):  # x0 + x1 >= 3 cannot hold in the unit square
        space = gp.Space.box(0, 1, 2)
        n_constraints = 1

        def evaluate(self, X):
            return np.column_stack([X[:, 0], X[:, 1], 3.0 - X.sum(axis=1)])

    res = gp.minimize(Impossible(), gp.NSGA2(Impossible.space, 20, seed=0), generations=15,
                      progress=False)  # fmt: skip
    assert res.pareto is not None and len(res.pareto) == 0
    assert res.best_x.sum() > 1.9  # the least violating: near the corner (1, 1)


def test_a_survival_that_fails_leaves_the_population_whole(monkeypatch):
    import genepool.algorithms.nsga2 as nsga2_module

    opt = gp.NSGA2(BOX, 30, seed=5)
    _run(opt, zdt1, 3)
    before = {k: getattr(opt.state, k).copy() for k in ("X", "F", "violation")}
    X = opt.ask()

    def out_of_memory(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(nsga2_module, "needed_crowding", out_of_memory)
    with pytest.raises(MemoryError):
        opt.tell(X, zdt1(X))
    for key, value in before.items():  # the population and its objectives, as they were
        np.testing.assert_array_equal(getattr(opt.state, key), value)
    # its ranks and distances, recomputed on the population alone
    np.testing.assert_array_equal(opt.state.rank, naive_rank(before["F"]))
    np.testing.assert_array_equal(opt.state.crowding, naive_crowding(before["F"], opt.state.rank))
    assert opt.front()[1].shape[1] == 2
