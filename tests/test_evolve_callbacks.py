"""`HallOfFame` and `TrialSketch` against brute-force references computed here with numpy.

Strategies are keyed on their decoded parameters, like the fitness cache: genotypes that decode
to the same integers/categories (and the same reals) are one strategy. Fitness is a function of
the decoded strategy, as in a run (the same strategy always gets the same value).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import genepool as gp
from genepool.backtest import StrategyProblem, synthetic_ohlcv
from genepool.errors import ConfigError
from genepool.evolve.callbacks import HallOfFame, TrialSketch
from genepool.space import REAL
from support import MIXED_SPACE

RSI_SPACE = StrategyProblem(np.linspace(100.0, 110.0, 200), "rsi", freq="1h").space
SPACES = {"mixed": MIXED_SPACE, "rsi": RSI_SPACE}


# -- references -----------------------------------------------------------------------------
def keys(space: gp.Space, X: np.ndarray) -> list[tuple]:
    """One hashable key per row: its decoded parameters (``-0.0 == 0.0`` like the cache)."""
    cols = space.decode(X)
    return list(zip(*(cols[name].tolist() for name in space.names)))


def key_matrix(space: gp.Space, X: np.ndarray) -> np.ndarray:
    """Decoded parameters as numbers, shape (n, d): reals by value, the others by index."""
    cols = []
    for j, gene in enumerate(space.genes):
        if gene.kind == REAL:
            cols.append(gene.decode(X[:, j]) + 0.0)  # folds -0.0 into 0.0
        elif isinstance(gene, gp.Categorical):
            cols.append(gene.indices(X[:, j]).astype(np.float64))
        else:
            cols.append(gene.decode(X[:, j]).astype(np.float64))
    return np.stack(cols, axis=1)


def n_distinct(space: gp.Space, X: np.ndarray) -> int:
    return np.unique(key_matrix(space, X), axis=0).shape[0]


def first_occurrences(space: gp.Space, X: np.ndarray) -> np.ndarray:
    _, first = np.unique(key_matrix(space, X), axis=0, return_index=True)
    return np.sort(first)


def hall_of_fame_reference(space, generations, size, maximize=True):
    """Every row ever seen, first occurrence of each strategy, finite only, best k."""
    X = np.concatenate([g.X for g in generations])
    f = np.concatenate([g.fitness for g in generations])
    rows = first_occurrences(space, X)
    rows = rows[np.isfinite(f[rows])]
    score = -f[rows] if maximize else f[rows]
    rows = rows[np.argsort(score, kind="stable")][:size]  # ties: the earlier one first
    return X[rows], f[rows]


# -- seeded sequences of generations --------------------------------------------------------
def same_cell(space: gp.Space, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Other genotypes of the same strategies: index genes moved within their rounding cell."""
    Y = X.copy()
    for j, gene in enumerate(space.genes):
        if gene.kind != REAL:
            lo, hi = space.lower[j], space.upper[j]
            centre = np.floor(X[:, j] + 0.5)
            Y[:, j] = np.clip(centre + rng.uniform(-0.49, 0.49, len(X)), lo, hi)
    assert keys(space, Y) == keys(space, X)
    return Y


def stream(space: gp.Space, seed: int, n_gen: int = 12, pop: int = 60, pool: int = 150):
    """Generations drawn from a pool of strategies: exact copies, same-cell genotypes, new ones."""
    rng = np.random.default_rng(seed)
    base = space.sample(pool, rng)
    gens = []
    for _ in range(n_gen):
        X = base[rng.integers(0, pool, pop)]
        moved = rng.random(pop) < 0.3
        X[moved] = same_cell(space, X[moved], rng)
        new = rng.random(pop) < 0.1
        X[new] = space.sample(int(new.sum()), rng)
        gens.append(X)
    return gens


def coarse_fitness(space: gp.Space, X: np.ndarray) -> np.ndarray:
    """A function of the decoded strategy with many ties, NaN, +inf and -inf."""
    m = key_matrix(space, X)
    f = np.round(np.sin(m @ np.arange(1.0, space.dims + 1.0)), 1)
    pick = np.floor(np.abs(m[:, 0]) * 7.0) % 13
    f[pick == 0] = np.nan
    f[pick == 1] = np.inf
    f[pick == 2] = -np.inf
    return f


def generations(space, seed, **kw) -> list[SimpleNamespace]:
    return [
        SimpleNamespace(X=X, fitness=coarse_fitness(space, X)) for X in stream(space, seed, **kw)
    ]


def feed(callback, gens):
    for g in gens:
        callback(g)
    return callback


# -- HallOfFame ------------------------------------------------------------------------------
@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("size", [1, 5, 20, 1000])
@pytest.mark.parametrize("maximize", [True, False])
def test_hall_of_fame_equals_brute_force(space_name, seed, size, maximize):
    space = SPACES[space_name]
    gens = generations(space, seed)
    hof = feed(HallOfFame(space, size, maximize=maximize), gens)
    X, f = hall_of_fame_reference(space, gens, size, maximize)
    np.testing.assert_array_equal(hof.fitness, f)
    np.testing.assert_array_equal(hof.X, X)
    assert np.isfinite(hof.fitness).all()
    assert len(set(keys(space, hof.X))) == len(hof.X)
    if size == 1000:  # more than the distinct strategies: all the finite ones
        everything = np.concatenate([g.X for g in gens])
        assert len(hof.X) < n_distinct(space, everything) < size


def test_hall_of_fame_sees_ties_nan_and_inf():
    """The seeded streams above exercise what they claim to."""
    gens = generations(MIXED_SPACE, 0)
    f = np.concatenate([g.fitness for g in gens])
    X = np.concatenate([g.X for g in gens])
    assert np.isnan(f).any() and np.isposinf(f).any() and np.isneginf(f).any()
    assert len(np.unique(f[np.isfinite(f)])) < 25  # many ties
    distinct = n_distinct(MIXED_SPACE, X)
    assert distinct < len(X) / 3  # many duplicates
    assert len(np.unique(X, axis=0)) > distinct  # and genotypes that differ but decode equal


def test_hall_of_fame_keys_on_decoded_integers():
    space = gp.Space([gp.Integer("n", 0, 9), gp.Real("x", 0.0, 1.0)])
    hof = HallOfFame(space, 5)
    hof(SimpleNamespace(X=np.array([[2.2, 0.5], [1.9, 0.5], [3.0, 0.5]]), fitness=[5.0, 5.0, 1.0]))
    hof(SimpleNamespace(X=np.array([[2.4, 0.5], [2.0, 0.25]]), fitness=[5.0, 7.0]))
    np.testing.assert_array_equal(hof.X, [[2.0, 0.25], [2.2, 0.5], [3.0, 0.5]])
    np.testing.assert_array_equal(hof.fitness, [7.0, 5.0, 1.0])


def test_hall_of_fame_never_takes_nan_or_inf():
    space = MIXED_SPACE
    X = space.sample(4, np.random.default_rng(0))
    for maximize in (True, False):
        hof = HallOfFame(space, 3, maximize=maximize)
        hof(SimpleNamespace(X=X, fitness=np.array([np.nan, np.inf, -np.inf, np.nan])))
        assert hof.X.shape == (0, space.dims) and hof.fitness.shape == (0,)
        hof(SimpleNamespace(X=X, fitness=np.array([np.inf, 2.0, -np.inf, np.nan])))
        np.testing.assert_array_equal(hof.X, X[[1]])
        np.testing.assert_array_equal(hof.fitness, [2.0])


def test_hall_of_fame_multi_objective_ranks_by_the_first_column():
    space = MIXED_SPACE
    X = space.sample(4, np.random.default_rng(1))
    hof = HallOfFame(space, 2)
    hof(SimpleNamespace(X=X, fitness=np.array([[1.0, 9.0], [3.0, 0.0], [2.0, 5.0], [0.0, 1.0]])))
    np.testing.assert_array_equal(hof.X, X[[1, 2]])
    np.testing.assert_array_equal(hof.fitness, [3.0, 2.0])


def _through_disk(state, tmp_path, name):
    """A checkpoint's trip: arrays through npz, the rest through JSON."""
    arrays, meta = state
    np.savez(tmp_path / f"{name}.npz", **arrays)
    (tmp_path / f"{name}.json").write_text(json.dumps(meta))
    with np.load(tmp_path / f"{name}.npz") as z:
        loaded = {k: z[k] for k in z.files}
    return loaded, json.loads((tmp_path / f"{name}.json").read_text())


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("cut", [0, 1, 5, 11])
def test_hall_of_fame_state_round_trip(tmp_path, space_name, maximize, cut):
    space = SPACES[space_name]
    gens = generations(space, 7)
    whole = feed(HallOfFame(space, 10, maximize=maximize), gens)
    first = feed(HallOfFame(space, 10, maximize=maximize), gens[:cut])
    resumed = HallOfFame(space, 10, maximize=maximize)
    resumed.load_state_dict(*_through_disk(first.state_dict(), tmp_path, "hof"))
    feed(resumed, gens[cut:])
    np.testing.assert_array_equal(resumed.X, whole.X)
    np.testing.assert_array_equal(resumed.fitness, whole.fitness)


def test_hall_of_fame_does_not_alias_its_input():
    space = MIXED_SPACE
    X = space.sample(5, np.random.default_rng(2))
    f = np.arange(5.0)
    hof = HallOfFame(space, 3)
    hof(SimpleNamespace(X=X, fitness=f))
    saved = hof.X.copy()
    X[:] = 0.0
    f[:] = -1.0
    np.testing.assert_array_equal(hof.X, saved)
    np.testing.assert_array_equal(hof.fitness, [4.0, 3.0, 2.0])


# -- TrialSketch -----------------------------------------------------------------------------
def distinct_stream(space: gp.Space, n: int, seed: int, repeats: float = 0.5) -> np.ndarray:
    """A shuffled stream with exactly ``n`` distinct strategies, many of them repeated."""
    rng = np.random.default_rng(seed)
    pool = space.sample(n, rng)
    again = pool[rng.integers(0, n, int(repeats * n))]
    X = np.concatenate([pool, again, same_cell(space, again, rng)])
    return X[rng.permutation(len(X))]


def chunks(X: np.ndarray, sizes: np.ndarray) -> list[SimpleNamespace]:
    return [SimpleNamespace(X=part) for part in np.split(X, np.cumsum(sizes)[:-1])]


def random_chunks(X: np.ndarray, rng: np.random.Generator) -> list[SimpleNamespace]:
    cuts = np.sort(rng.choice(np.arange(1, len(X)), size=min(40, len(X) - 1), replace=False))
    return [SimpleNamespace(X=part) for part in np.split(X, cuts)]


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("seed", range(3))
def test_sketch_is_exact_below_k(space_name, seed):
    space = SPACES[space_name]
    gens = stream(space, seed)  # about 250 distinct strategies in 720 rows
    X = np.concatenate(gens)
    sketch = feed(TrialSketch(space, k=1024), [SimpleNamespace(X=g) for g in gens])
    assert sketch.exact
    assert sketch.n_distinct == n_distinct(space, X) == len(sketch.X) == len(sketch.hashes)
    # below k the sample is every distinct strategy, each as the genotype first seen
    first = first_occurrences(space, X)
    assert sorted(keys(space, sketch.X)) == sorted(keys(space, X[first]))
    by_key = dict(zip(keys(space, X[first]), X[first]))
    for key, x in zip(keys(space, sketch.X), sketch.X):
        np.testing.assert_array_equal(x, by_key[key])


def test_sketch_counts_same_cell_genotypes_once():
    space = gp.Space([gp.Integer("n", 0, 9), gp.Categorical("c", ["x", "y"])])
    X = np.array([[2.2, 0.0], [1.9, 0.4], [2.0, -0.3], [2.0, 0.6], [9.4, 1.4]])
    sketch = TrialSketch(space, k=8)
    sketch(SimpleNamespace(X=X))
    assert sketch.n_distinct == 3 == n_distinct(space, X)


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("n", [5_000, 20_000, 50_000])
@pytest.mark.parametrize("seed", range(2))
def test_sketch_estimate_above_k(space_name, n, seed):
    space = SPACES[space_name]
    k = 256
    X = distinct_stream(space, n, seed)
    assert n_distinct(space, X) == n
    sketch = feed(TrialSketch(space, k=k), random_chunks(X, np.random.default_rng(seed)))
    assert not sketch.exact
    assert len(sketch.X) == len(sketch.hashes) == k
    # relative standard error of the bottom-k estimate is about 1 / sqrt(k - 2) = 6.3 %
    assert abs(sketch.n_distinct / n - 1.0) < 4.0 / np.sqrt(k)


def test_sketch_estimate_is_unbiased():
    """Over 40 seeded streams the mean estimate is within 3 standard errors of the truth."""
    space, k, n = MIXED_SPACE, 256, 10_000
    ratios = []
    for seed in range(40):
        X = space.sample(n, np.random.default_rng(1000 + seed))
        sketch = TrialSketch(space, k=k)
        sketch(SimpleNamespace(X=X))
        ratios.append(sketch.n_distinct / n)
    assert abs(np.mean(ratios) - 1.0) < 3.0 / np.sqrt(k - 2) / np.sqrt(len(ratios))
    assert 0.5 / np.sqrt(k) < np.std(ratios) < 2.0 / np.sqrt(k)


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("k", [64, 4096])
def test_sketch_sample_is_a_subset_without_duplicates(space_name, k):
    space = SPACES[space_name]
    X = distinct_stream(space, 3_000, 5)
    sketch = feed(TrialSketch(space, k=k), random_chunks(X, np.random.default_rng(5)))
    seen = {x.tobytes() for x in X}
    assert all(x.tobytes() in seen for x in sketch.X)  # genotypes that were fed, as they were
    sample_keys = keys(space, sketch.X)
    assert len(set(sample_keys)) == len(sample_keys) == min(k, 3_000)
    assert np.all(sketch.hashes[1:] > sketch.hashes[:-1])  # the smallest hashes, sorted, once
    # each strategy is kept as the genotype first seen
    first = first_occurrences(space, X)
    by_key = dict(zip(keys(space, X[first]), X[first]))
    for key, x in zip(sample_keys, sketch.X):
        np.testing.assert_array_equal(x, by_key[key])


def _same_sketch(a: TrialSketch, b: TrialSketch) -> None:
    np.testing.assert_array_equal(a.hashes, b.hashes)
    np.testing.assert_array_equal(a.X, b.X)
    assert a.n_distinct == b.n_distinct and a.exact == b.exact


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("n", [200, 20_000])
def test_sketch_is_independent_of_chunking(space_name, n):
    space = SPACES[space_name]
    X = distinct_stream(space, n, 11)
    one = TrialSketch(space, k=512)
    one(SimpleNamespace(X=X))
    for seed in range(3):
        _same_sketch(
            feed(TrialSketch(space, k=512), random_chunks(X, np.random.default_rng(seed))), one
        )
    _same_sketch(feed(TrialSketch(space, k=512), chunks(X, np.full(len(X) // 7, 7))), one)
    _same_sketch(
        feed(
            TrialSketch(space, k=512),
            [SimpleNamespace(X=x[None]) for x in X[:3000]] + [SimpleNamespace(X=X[3000:])],
        ),
        one,
    )


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("n", [200, 20_000])
def test_sketch_is_independent_of_order(space_name, n):
    space = SPACES[space_name]
    rng = np.random.default_rng(12)
    pool = space.sample(n, rng)
    X = pool[np.concatenate([np.arange(n), rng.integers(0, n, n)])]  # exact copies only
    one = TrialSketch(space, k=512)
    one(SimpleNamespace(X=X))
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(X))
        _same_sketch(feed(TrialSketch(space, k=512), random_chunks(X[perm], rng)), one)
    # with same-cell genotypes the kept genotype is the first seen, the strategies are the same
    Y = np.concatenate([X, same_cell(space, X, rng)])
    a = feed(TrialSketch(space, k=512), random_chunks(Y, rng))
    b = feed(TrialSketch(space, k=512), random_chunks(Y[::-1], rng))
    np.testing.assert_array_equal(a.hashes, b.hashes)
    assert keys(space, a.X) == keys(space, b.X)
    assert a.n_distinct == b.n_distinct == one.n_distinct


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("cut", [0, 3, 20, 39])
def test_sketch_state_round_trip(tmp_path, space_name, cut):
    space = SPACES[space_name]
    X = distinct_stream(space, 5_000, 13)
    gens = random_chunks(X, np.random.default_rng(13))
    assert len(gens) > cut
    whole = feed(TrialSketch(space, k=256), gens)
    first = feed(TrialSketch(space, k=256), gens[:cut])
    resumed = TrialSketch(space, k=256)
    resumed.load_state_dict(*_through_disk(first.state_dict(), tmp_path, "sketch"))
    assert resumed.hashes.dtype == np.uint64
    feed(resumed, gens[cut:])
    _same_sketch(resumed, whole)


def test_sketch_sample_is_uniform_over_distinct_strategies():
    """Neither how often a strategy was tried nor when changes its chance to be kept."""
    space, k, n = MIXED_SPACE, 1024, 20_000
    rng = np.random.default_rng(21)
    pool = space.sample(n, rng)
    pool = pool[np.argsort(pool[:, 0])]  # time order correlated with gene "a"
    popular = np.arange(n) % 2 == 0  # tried 20 times each, the others once
    X = np.concatenate([pool, np.repeat(pool[popular], 19, axis=0)])
    X = X[
        np.argsort(
            np.concatenate([np.arange(n), np.repeat(np.flatnonzero(popular), 19)]), kind="stable"
        )
    ]
    sketch = feed(TrialSketch(space, k=k), chunks(X, np.full(len(X) // 1000, 1000)))
    kept = np.isin(pool[:, 0], sketch.X[:, 0])
    assert kept.sum() == k
    se = 0.5 / np.sqrt(k)
    assert abs(popular[kept].mean() - 0.5) < 4 * se  # measured 0.49
    a = sketch.X[:, 0]  # uniform on [-3, 3]: sd sqrt(3)
    assert abs(a.mean() - pool[:, 0].mean()) < 4 * np.sqrt(3.0 / k)
    n_gene = space.decode(sketch.X)["n"]  # uniform on 0..9
    counts = np.bincount(n_gene, minlength=10)
    expected = k / 10
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 27.9  # 99.9 % quantile of chi2(9)


def test_sketch_rejects_a_tiny_k():
    with pytest.raises(ConfigError, match="k"):
        TrialSketch(MIXED_SPACE, k=1)


# -- in a run --------------------------------------------------------------------------------
def test_callbacks_in_a_run_equal_the_references():
    """What `maximize` passes the callbacks (user's sign, every generation) meets the contract."""
    df = synthetic_ohlcv(1500, freq="1h", seed=3)
    problem = StrategyProblem(df, "rsi", min_trades=3)
    seen = []
    hof = HallOfFame(problem.space, 15)
    sketch = TrialSketch(problem.space, k=300)
    gp.maximize(
        problem,
        gp.GA(problem.space, 80, seed=1),
        generations=8,
        callbacks=[
            lambda g: seen.append(SimpleNamespace(X=g.X.copy(), fitness=g.fitness.copy())),
            hof,
            sketch,
        ],
        progress=False,
    )
    assert len(seen) == 8
    X, f = hall_of_fame_reference(problem.space, seen, 15)
    np.testing.assert_array_equal(hof.X, X)
    np.testing.assert_array_equal(hof.fitness, f)
    np.testing.assert_allclose(hof.fitness, problem.evaluate(hof.X))  # user's sign: maximized
    everything = np.concatenate([g.X for g in seen])
    distinct = n_distinct(problem.space, everything)
    if distinct < 300:
        assert sketch.exact and sketch.n_distinct == distinct
    else:
        assert abs(sketch.n_distinct / distinct - 1.0) < 4.0 / np.sqrt(300)
