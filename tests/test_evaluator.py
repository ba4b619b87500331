from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool.errors import ConfigError, FitnessError
from support import MIXED_SPACE, mixed_fitness

BOX = gp.Space.box(-5.12, 5.12, 6)


class Counting(gp.Problem):
    """Counts the rows it evaluates; a deterministic fitness on MIXED_SPACE."""

    def __init__(self):
        self.space = MIXED_SPACE
        self.rows = 0
        self.calls = []

    def evaluate(self, X):
        self.rows += X.shape[0]
        self.calls.append(X.shape[0])
        return mixed_fitness(X)


def test_values_equal_direct_evaluation_and_duplicates_are_evaluated_once():
    prob = Counting()
    X = MIXED_SPACE.sample(50, np.random.default_rng(0))
    X = np.concatenate([X, X[:20], X[5:15]])  # 30 exact duplicates
    ev = gp.Evaluator(prob, cache=True)
    y = ev.evaluate(X)
    np.testing.assert_array_equal(y, mixed_fitness(X))
    assert prob.rows == 50
    assert ev.stats["duplicates"] == 30
    # a second generation with the same individuals is served by the cache
    y2 = ev.evaluate(X[::-1])
    np.testing.assert_array_equal(y2, y[::-1])
    assert prob.rows == 50
    assert ev.stats["cache"]["hits"] == 50


def test_genotypes_that_decode_equal_share_one_evaluation():
    prob = Counting()
    x = MIXED_SPACE.encode({"a": 0.5, "lr": 0.01, "n": 3, "c": "y", "flag": True})
    X = np.repeat(x, 4, axis=0)
    X[1, 2] += 0.3  # integer gene: still decodes to 3
    X[2, 3] -= 0.4  # categorical gene: still "y"
    X[3, 4] += 0.2  # bool: still True
    y = gp.Evaluator(prob, cache=True).evaluate(X)
    assert prob.rows == 1
    assert np.all(y == y[0])


def test_no_cache_means_no_deduplication():
    prob = Counting()
    X = MIXED_SPACE.sample(10, np.random.default_rng(1))
    gp.Evaluator(prob, cache=False).evaluate(np.concatenate([X, X]))
    assert prob.rows == 20


def test_fixed_chunk_size_splits_calls():
    prob = Counting()
    X = MIXED_SPACE.sample(23, np.random.default_rng(2))
    y = gp.Evaluator(prob, cache=False, chunk_size=5).evaluate(X)
    assert prob.calls == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(y, mixed_fitness(X))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    chunk=st.one_of(st.just("auto"), st.integers(1, 70)),
    cache=st.sampled_from([None, True, False]),
    n=st.integers(2, 40),
)
def test_runs_are_identical_for_any_chunk_size_and_cache(seed, chunk, cache, n):
    ref = gp.minimize(
        mixed_fitness, gp.GA(MIXED_SPACE, n, seed=seed), generations=6, cache=False, progress=False
    )
    res = gp.minimize(
        mixed_fitness,
        gp.GA(MIXED_SPACE, n, seed=seed),
        generations=6,
        chunk_size=chunk,
        cache=cache,
        progress=False,
    )
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    cols = ["best", "generation_best", "mean", "std", "diversity", "evaluations"]
    np.testing.assert_array_equal(res.history[cols].to_numpy(), ref.history[cols].to_numpy())


def test_identical_under_a_memory_budget():
    ref = gp.minimize(
        gp.problems.rastrigin, gp.GA(BOX, 300, seed=4), generations=5, progress=False
    )
    budget = gp.minimize(
        gp.problems.rastrigin,
        gp.GA(BOX, 300, seed=4),
        generations=5,
        memory_limit="8GB",
        progress=False,
    )
    np.testing.assert_array_equal(budget.best_x, ref.best_x)
    assert budget.memory.limit == 8 * 10**9


def test_auto_cache_turns_itself_off_for_cheap_fitness_but_true_keeps_it():
    auto = gp.minimize(
        gp.problems.rastrigin, gp.GA(BOX, 200, seed=0), generations=8, progress=False
    )
    assert auto.memory.cache["disabled"].startswith("fitness cache turned off")
    forced = gp.minimize(
        gp.problems.rastrigin, gp.GA(BOX, 200, seed=0), generations=8, cache=True, progress=False
    )
    assert "disabled" not in forced.memory.cache and forced.memory.cache["hits"] > 0
    np.testing.assert_array_equal(auto.best_x, forced.best_x)


def test_a_cache_that_turned_itself_off_is_freed():
    """Found by genepool profile: the monitor's cleanup kept the disabled cache's arrays."""
    import gc
    import weakref

    ev = gp.Evaluator(gp.problems.rastrigin, BOX, memory_limit="8GB")
    ref = weakref.ref(ev.cache)
    X = np.random.default_rng(0).uniform(-5, 5, (2000, BOX.dims))
    for g in range(6):
        ev.evaluate(X + g, generation=g)
    assert ev.cache is None and ev.cache_note is not None
    gc.collect()
    assert ref() is None
    assert ev.monitor is not None
    assert isinstance(ev.monitor.cleanup(0, "test"), int)  # the cleanup runs with no cache


def test_auto_cache_stays_on_for_expensive_fitness():
    import time

    def slow(X):
        time.sleep(0.002 * len(X))  # 2 ms per candidate
        return gp.problems.sphere(X)

    space = gp.Space([gp.Integer(f"i{j}", 0, 3) for j in range(3)])  # 64 points: duplicates
    res = gp.minimize(slow, gp.GA(space, 20, seed=0), generations=6, progress=False)
    assert "disabled" not in res.memory.cache
    assert res.memory.cache["hits"] > 0


def test_penalize_gives_only_failing_rows_the_penalty():
    def f(X):
        if (X[:, 0] > 3.0).any():
            raise ValueError("x0 too large")
        return gp.problems.sphere(X)

    X = BOX.sample(64, np.random.default_rng(3))
    bad = X[:, 0] > 3.0
    assert 0 < bad.sum() < 64
    ev = gp.Evaluator(f, BOX, on_error="penalize", penalty=1e9, cache=False)
    y = ev.evaluate(X)
    np.testing.assert_array_equal(y[bad], 1e9)
    np.testing.assert_array_equal(y[~bad], gp.problems.sphere(X[~bad]))
    assert ev.stats["errors"] == bad.sum()
    assert "ValueError: x0 too large" in ev.stats["first_error"]


def test_penalize_nan_and_report_in_result():
    def f(X):
        y = gp.problems.sphere(X)
        y[X[:, 1] < -4.0] = np.nan
        return y

    res = gp.minimize(
        f, gp.GA(BOX, 40, seed=0), generations=5, on_error="penalize", progress=False
    )
    assert res.n_errors > 0 and "returned nan" in res.first_error
    assert np.isfinite(res.best_fitness)
    assert np.isfinite(res.history["mean"]).all()  # stats over finite values only
    hi = gp.maximize(
        lambda X: -f(X), gp.GA(BOX, 40, seed=0), generations=5, on_error="penalize", progress=False
    )
    assert hi.n_errors == res.n_errors and hi.best_fitness == -res.best_fitness


def test_penalized_values_are_not_cached():
    state = {"fail": True}

    def flaky(X):
        if state["fail"]:
            raise RuntimeError("transient")
        return gp.problems.sphere(X)

    X = BOX.sample(8, np.random.default_rng(5))
    ev = gp.Evaluator(flaky, BOX, on_error="penalize", cache=True)
    assert np.isinf(ev.evaluate(X)).all()
    state["fail"] = False
    np.testing.assert_array_equal(ev.evaluate(X), gp.problems.sphere(X))


def test_errors_inside_chunks_name_the_row_of_the_population():
    def f(X):
        if (X[:, 0] > 4.5).any():
            raise ValueError("boom")
        return gp.problems.sphere(X)

    X = BOX.sample(100, np.random.default_rng(6))
    X[:, 0] = np.minimum(X[:, 0], 4.0)
    X[77, 0] = 5.0
    with pytest.raises(FitnessError, match="individual 77") as err:
        gp.Evaluator(f, BOX, chunk_size=10, cache=True).evaluate(X)
    assert err.value.index == 77 and err.value.params["x0"] == 5.0


def test_plan_explains_the_chunk_size():
    class Heavy(gp.Problem):
        space = BOX

        def evaluate(self, X):
            return gp.problems.sphere(X)

        def bytes_per_candidate(self):
            return 2**20

    ev = gp.Evaluator(Heavy(), memory_limit="64GB")
    plan = ev.plan(1_000_000)
    assert 1 <= plan.chunk_size < 1_000_000
    assert plan.n_chunks == -(-1_000_000 // plan.chunk_size)
    assert plan.bytes_per_candidate == 2**20 and not plan.calibrated
    text = str(plan)
    assert "1,000,000 candidates" in text and "room under 80% of the budget" in text
    assert "no memory_limit" in str(gp.Evaluator(Heavy()).plan(10))


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"memory_limit": "lots"}, "memory_limit"),
        ({"chunk_size": 0}, "chunk_size must be >= 1"),
        ({"chunk_size": "big"}, "chunk_size must be an integer"),
        ({"cache": 3.5}, "cache must be"),
        ({"on_error": "ignore"}, "on_error must be"),
        ({"penalty": float("nan")}, "penalty must not be NaN"),
    ],
)
def test_bad_arguments(kw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        gp.Evaluator(gp.problems.sphere, BOX, **kw)


def test_evaluator_needs_a_space():
    with pytest.raises(ConfigError, match="needs a space"):
        gp.Evaluator(gp.problems.sphere)


def test_a_budget_that_leaves_room_for_few_candidates_is_said_once(caplog):
    class Heavy(gp.Problem):
        space = BOX

        def evaluate(self, X):
            return gp.problems.sphere(X)

        def bytes_per_candidate(self):
            return 40 * 2**20

        def memory_hint(self):
            return "Try the light backend."

    import psutil

    rss = psutil.Process().memory_info().rss
    limit = int((rss + 100 * 2**20) / 0.8)  # ~100 MiB of room under the 80% aim: 2 candidates
    ev = gp.Evaluator(Heavy(), memory_limit=limit, cache=False)
    assert "room under 80%" in str(ev.plan(50)) and ev.small_chunk_note is None  # plan is quiet
    X = BOX.sample(50, np.random.default_rng(0))
    with caplog.at_level("WARNING", logger="genepool.evaluation"):
        ev.evaluate(X)
        ev.evaluate(X)
    notes = [r.getMessage() for r in caplog.records if "room for only" in r.getMessage()]
    assert len(notes) == 1 and notes[0] == ev.small_chunk_note
    assert "candidate(s) per chunk" in notes[0] and notes[0].endswith("Try the light backend.")
    assert max(ev.chunk_sizes) < 16
    # a roomy budget says nothing
    roomy = gp.Evaluator(Heavy(), memory_limit="64GB", cache=False)
    roomy.evaluate(X)
    assert roomy.small_chunk_note is None


def test_a_chunk_too_small_to_measure_never_lowers_the_estimate():
    """A remainder chunk of 2 rows of 1 MiB that grew 1.2 MiB (the allocator served part of it
    from memory freed earlier) is noise; a chunk that grew 100 MiB is a measurement."""
    from genepool.evaluation.chunking import DECAY, NOISE_BYTES, ChunkSizer

    MiB = 2**20
    sizer = ChunkSizer(estimate=MiB)
    sizer.calibrate(MiB, 150)  # the first measurement
    sizer.calibrate(0.6 * MiB, 2)  # 1.2 MiB in all: below NOISE_BYTES
    assert sizer.bpc == MiB and 1.2 * MiB < NOISE_BYTES
    sizer.calibrate(2 * MiB, 1)  # a small chunk may still raise it
    assert sizer.bpc == 2 * MiB
    sizer.calibrate(0.6 * MiB, 160)  # 96 MiB in all: it lowers the estimate, by DECAY at most
    assert sizer.bpc == DECAY * 2 * MiB
