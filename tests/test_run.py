from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genepool as gp
from genepool.errors import ConfigError, FitnessError
from support import MIXED_SPACE, mixed_fitness

BOX = gp.Space.box(-5.12, 5.12, 8)


def run(seed=0, **kw):
    kw.setdefault("generations", 15)
    kw.setdefault("progress", False)
    return gp.minimize(gp.problems.rastrigin, gp.GA(BOX, 60, seed=seed), **kw)


def test_result_fields_and_history():
    res = run(generations=12)
    assert res.n_generations == 12
    assert res.n_evaluations == 12 * 60
    assert res.best_x.shape == (8,)
    assert res.best_fitness == pytest.approx(float(gp.problems.rastrigin(res.best_x[None])[0]))
    assert set(res.best_params) == set(BOX.names)
    h = res.history
    assert isinstance(h, pd.DataFrame)
    assert list(h.columns) == [
        "generation",
        "best",
        "generation_best",
        "mean",
        "std",
        "diversity",
        "evaluations",
        "wall_time",
        "rss",
    ]
    assert h["generation"].tolist() == list(range(1, 13))
    assert h["evaluations"].tolist() == [60 * g for g in range(1, 13)]
    assert (np.diff(h["best"]) <= 0).all(), "best so far must never get worse"
    assert (h["best"] <= h["generation_best"]).all()
    assert h["best"].iloc[-1] == res.best_fitness
    assert (h["diversity"] > 0).all() and (h["diversity"] < 0.5).all()
    assert (np.diff(h["wall_time"]) >= 0).all()
    assert res.stop_reason == "generations: reached 12"


def test_same_seed_gives_bit_identical_results():
    a, b = run(seed=3), run(seed=3)
    np.testing.assert_array_equal(a.best_x, b.best_x)
    assert a.best_fitness == b.best_fitness
    cols = ["best", "generation_best", "mean", "std", "diversity", "evaluations"]
    pd.testing.assert_frame_equal(a.history[cols], b.history[cols], check_exact=True)
    c = run(seed=4)
    assert not np.array_equal(a.best_x, c.best_x)


def test_maximize_is_minimize_of_the_negation():
    lo = gp.minimize(gp.problems.sphere, gp.GA(BOX, 40, seed=1), generations=10, progress=False)
    hi = gp.maximize(
        lambda X: -gp.problems.sphere(X), gp.GA(BOX, 40, seed=1), generations=10, progress=False
    )
    np.testing.assert_array_equal(lo.best_x, hi.best_x)
    assert hi.best_fitness == -lo.best_fitness
    np.testing.assert_array_equal(hi.history["best"], -lo.history["best"])
    np.testing.assert_array_equal(hi.history["mean"], -lo.history["mean"])
    assert (np.diff(hi.history["best"]) >= 0).all()


def test_target_stops_early_in_both_directions():
    res = run(generations=500, target=5.0)
    assert res.best_fitness <= 5.0 and res.n_generations < 500
    assert res.stop_reason.startswith("target: best")
    res = gp.maximize(
        lambda X: -gp.problems.sphere(X),
        gp.GA(BOX, 40, seed=1),
        generations=500,
        target=-1.0,
        progress=False,
    )
    assert res.best_fitness >= -1.0 and res.n_generations < 500
    assert ">=" in res.stop_reason


def test_max_evaluations_and_default_budget():
    res = run(generations=None, max_evaluations=200)
    assert res.n_evaluations == 240  # 4 generations of 60: overshoot < one population
    assert res.stop_reason.startswith("max_evaluations")
    res = gp.minimize(gp.problems.sphere, gp.GA(gp.Space.box(-1, 1, 2), 4, seed=0), progress=False)
    assert res.n_generations == 100  # no budget given: 100 generations


def test_time_limit_and_stagnation():
    res = run(generations=10**6, time_limit=0.2)
    assert res.stop_reason.startswith("time_limit") and res.elapsed < 5
    # A flat fitness can never improve after the first generation.
    res = gp.minimize(
        lambda X: np.zeros(len(X)),
        gp.GA(BOX, 10, seed=0),
        generations=100,
        stagnation=5,
        progress=False,
    )
    assert res.n_generations == 6 and res.stop_reason.startswith("stagnation")


def test_callbacks_see_each_generation_and_can_stop():
    seen = []

    def cb(info: gp.Generation):
        seen.append((info.generation, info.n_evaluations, info.best_fitness, info.X.shape))
        assert info.fitness.shape == (60,)
        return info.generation == 4

    res = run(callbacks=[cb])
    assert [s[0] for s in seen] == [1, 2, 3, 4]
    assert res.n_generations == 4 and res.stop_reason.startswith("callback")
    assert seen[-1][2] == res.best_fitness


def test_optimizer_stop_is_honoured():
    class Stopper(gp.GA):
        def stop(self):
            return {"converged": "test"} if self.state.generation >= 3 else {}

    res = gp.minimize(gp.problems.sphere, Stopper(BOX, 10, seed=0), generations=50, progress=False)
    assert res.n_generations == 3 and res.stop_reason == "converged: test"


def test_problem_object_and_elementwise():
    prob = gp.problems.get("sphere", 8)
    res = gp.minimize(prob, gp.GA(prob.space, 30, seed=0), generations=5, progress=False)
    assert res.n_evaluations == 150

    @gp.elementwise
    def score(p):
        assert isinstance(p["n"], int) and isinstance(p["c"], str)
        return mixed_fitness(MIXED_SPACE.encode({k: [v] for k, v in p.items()}))[0]

    res = gp.minimize(score, gp.GA(MIXED_SPACE, 20, seed=0), generations=15, progress=False)
    assert res.best_params["c"] in ("x", "y", "z")
    vec = gp.minimize(
        mixed_fitness, gp.GA(MIXED_SPACE, 20, seed=0), generations=15, progress=False
    )
    assert res.best_fitness == vec.best_fitness  # same function, same seed
    np.testing.assert_array_equal(res.best_x, vec.best_x)


def test_raising_fitness_names_the_individual():
    def f(X):
        if (X[:, 0] > 4.0).any():
            raise ValueError("boom")
        return gp.problems.sphere(X)

    with pytest.raises(FitnessError, match="ValueError: boom") as err:
        gp.minimize(f, gp.GA(BOX, 200, seed=0), generations=3, progress=False)
    e = err.value
    assert e.index is not None and e.generation == 0
    assert e.params["x0"] > 4.0
    assert f"individual {e.index}" in str(e)
    assert isinstance(e.__cause__, ValueError)


def test_nan_fitness_raises_with_index_and_params():
    def f(X):
        y = gp.problems.sphere(X)
        y[7] = np.nan
        return y

    with pytest.raises(FitnessError, match="returned nan for individual 7") as err:
        gp.minimize(f, gp.GA(BOX, 20, seed=0), progress=False)
    assert err.value.index == 7 and set(err.value.params) == set(BOX.names)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (lambda X: np.zeros(len(X) - 1), "shape"),
        (lambda X: np.full(len(X), np.inf), "returned inf for individual 0"),
        (lambda X: ["a"] * len(X), "not numeric"),
        (lambda X: np.zeros((len(X), 2, 2)), "shape"),
    ],
)
def test_bad_fitness_output_raises_fitness_error(bad, fragment):
    with pytest.raises(FitnessError, match=fragment):
        gp.minimize(bad, gp.GA(BOX, 10, seed=0), generations=2, progress=False)


def test_multi_objective_fitness_is_refused_by_single_objective_ga():
    with pytest.raises(ConfigError, match="2 objectives.*single-objective"):
        gp.minimize(lambda X: np.zeros((len(X), 2)), gp.GA(BOX, 10, seed=0), progress=False)


def test_column_fitness_is_accepted():
    res = gp.minimize(
        lambda X: gp.problems.sphere(X)[:, None],
        gp.GA(BOX, 10, seed=0),
        generations=3,
        progress=False,
    )
    assert res.n_generations == 3


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"generations": 0}, "generations must be >= 1"),
        ({"generations": 2.5}, "generations must be an integer"),
        ({"max_evaluations": -1}, "max_evaluations must be >= 1"),
        ({"time_limit": 0}, "time_limit must be > 0"),
        ({"target": float("nan")}, "target must be a finite number"),
        ({"stagnation": 0}, "stagnation must be >= 1"),
        ({"callbacks": [3]}, r"callbacks\[0\] must be callable"),
        ({"progress": "fancy"}, "progress must be"),
    ],
)
def test_bad_run_arguments(kw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        gp.minimize(gp.problems.sphere, gp.GA(BOX, 10, seed=0), **kw)


def test_bad_problem_and_optimizer():
    with pytest.raises(ConfigError, match="optimizer must be"):
        gp.minimize(gp.problems.sphere, "ga")
    with pytest.raises(ConfigError, match="problem must have"):
        gp.minimize(42, gp.GA(BOX, 10))
    with pytest.raises(ConfigError, match="6 genes"):
        gp.minimize(gp.problems.get("sphere", 6), gp.GA(BOX, 10))


def test_progress_lines_go_to_stderr(capsys):
    run(generations=3, progress="lines")
    err = capsys.readouterr().err
    assert "gen 3/3" in err and "best" in err and "evals/s" in err


def test_result_repr_is_short_for_many_genes():
    res = gp.minimize(
        gp.problems.sphere,
        gp.GA(gp.Space.box(-1, 1, 50), 10, seed=0),
        generations=2,
        progress=False,
    )
    assert "(50 genes)" in repr(res) and len(repr(res)) < 600
