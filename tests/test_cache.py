"""FitnessCache and its numba kernels against the naive twins in ``naive.py``: keys, in-batch
grouping, the hash table, LRU order, byte accounting and quantized keys."""

from __future__ import annotations

import gc
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
import naive
from genepool.errors import ConfigError
from genepool.evaluation import _nb
from genepool.evaluation.cache import FitnessCache

MIXED = gp.Space(
    [
        gp.Real("r", -1.0, 1.0),
        gp.Real("lr", 1e-4, 1e-1, log=True),
        gp.Integer("i", -3, 5),
        gp.Categorical("c", ["a", "b", "c"]),
        gp.Bool("b"),
    ]
)
# Two 10-value genes: 100 distinct keys, so random batches repeat keys often.
GRID = gp.Space([gp.Integer("a", 0, 9), gp.Integer("b", 0, 9)])

_BELOW_HALF = np.nextafter(0.5, 0.0)  # 0.49999999999999994: + 0.5 rounds to 1.0
SPECIAL = {  # per gene: signed zeros, the half-unit margins and values next to them, outliers
    "r": [-0.0, 0.0, 1.0, -1.0, 0.3, 5e-324, -5e-324, 2.0, -7.5],
    "lr": [-4.0, -1.0, -2.5, -0.0, 0.0, -4.5, 3.0],
    "i": [
        -3.5,
        5.5,
        -2.5,
        np.nextafter(-2.5, -9),
        4.5,
        np.nextafter(4.5, 0),
        -10.0,
        10.0,
        -0.0,
        _BELOW_HALF,
        0.5,
        -0.5,
        np.nextafter(-0.5, 0),
    ],
    "c": [-0.5, 2.5, 0.5, 1.5, np.nextafter(1.5, 0), -7.0, 9.0, _BELOW_HALF, -0.0],
    "b": [-0.5, 1.5, 0.5, np.nextafter(0.5, 0), _BELOW_HALF, 3.0, -2.0, -0.0],
}


def special_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    cols = [rng.choice(np.array(SPECIAL[name], dtype=np.float64), n) for name in MIXED.names]
    return np.stack(cols, axis=1)


def keys_of(batch) -> list[tuple[int, ...]]:
    return [tuple(int(w) for w in row) for row in batch.keys()]


def jittered(rng: np.random.Generator, cells: np.ndarray) -> np.ndarray:
    """Encoded rows of GRID that decode to ``cells`` (different floats for the same key)."""
    return cells + rng.uniform(-0.49, 0.49, cells.shape)


# -- keys ------------------------------------------------------------------------------------


def test_keys_match_naive_on_mixed_space_with_edge_values():
    rng = np.random.default_rng(0)
    X = np.vstack([special_rows(rng, 300), MIXED.sample(300, rng)])
    batch = FitnessCache().batch(MIXED, X)
    assert batch.keys().dtype == np.uint64 and batch.keys().shape == X.shape
    assert keys_of(batch) == naive.cache_keys(MIXED, X)
    rows = rng.permutation(len(X))[:50]
    assert [tuple(int(w) for w in k) for k in batch.keys(rows)] == [
        naive.cache_key(MIXED, X[i]) for i in rows
    ]


def test_signed_zero_and_margins_share_keys():
    cache = FitnessCache()
    X = np.array(
        [
            [0.0, -2.0, -3.5, -0.5, -0.5],  # every discrete gene at its lower margin
            [-0.0, -2.0, -3.0, 0.0, 0.0],  # -0.0 real, interior discrete values of index 0
            [0.0, -2.0, -2.5, 0.5, 0.5],  # x.5 rounds up: index 1 everywhere
            [0.0, -2.0, 5.5, 2.5, 1.5],  # upper margins
            [0.0, -2.0, 99.0, 99.0, 99.0],  # clipped to the upper index
        ]
    )
    k = keys_of(cache.batch(MIXED, X))
    assert k[0] == k[1]
    assert k[2] != k[0] and k[2][2:] == (-2 & naive._U64, 1, 1)
    assert k[3] == k[4] and k[3][2:] == (5, 2, 1)
    assert k[0][2:] == (-3 & naive._U64, 0, 0)
    assert k[0][0] == 0 and k[0][1] == naive.float_bits(-2.0)


def test_float32_input_keys_like_its_float64_values():
    rng = np.random.default_rng(1)
    X32 = np.vstack([special_rows(rng, 100), MIXED.sample(200, rng)]).astype(np.float32)
    cache = FitnessCache()
    b32 = cache.batch(MIXED, X32)
    assert keys_of(b32) == naive.cache_keys(MIXED, X32)
    np.testing.assert_array_equal(b32.keys(), cache.batch(MIXED, X32.astype(np.float64)).keys())
    np.testing.assert_array_equal(b32.hashes, cache.batch(MIXED, X32.astype(np.float64)).hashes)


def test_equal_keys_have_equal_hashes():
    rng = np.random.default_rng(2)
    X = special_rows(rng, 400)
    batch = FitnessCache().batch(MIXED, X)
    keys = naive.cache_keys(MIXED, X)
    hash_of: dict = {}
    for k, h in zip(keys, batch.hashes.tolist()):
        assert hash_of.setdefault(k, h) == h
    assert len(set(batch.hashes.tolist())) == len(hash_of)  # no collisions on these few keys


SMALL = gp.Space(
    [
        gp.Integer("i", 0, 3),
        gp.Categorical("c", ["x", "y", "z"]),
        gp.Bool("b"),
        gp.Real("r", 0.0, 1.0),
    ]
)
_margins = [-0.5, 0.5, 1.5, 2.5, 3.5, _BELOW_HALF, -0.0, -3.0, 7.0]


def _discrete(high: float) -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from(_margins), st.floats(-0.5, high, allow_subnormal=False))


_small_row = st.tuples(
    _discrete(3.5),
    _discrete(2.5),
    _discrete(1.5),
    st.sampled_from([0.0, -0.0, 0.25, 0.5, 1.0, 5e-324]),
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_small_row, min_size=2, max_size=12))
def test_keys_equal_iff_decoded_params_equal(rows):
    X = np.array(rows, dtype=np.float64)
    keys = keys_of(FitnessCache().batch(SMALL, X))
    assert keys == naive.cache_keys(SMALL, X)
    params = SMALL.decode(X)
    for i in range(len(X)):
        for j in range(i + 1, len(X)):
            same = all(params[name][i] == params[name][j] for name in SMALL.names)
            assert (keys[i] == keys[j]) == same, (X[i], X[j])


# -- grouping --------------------------------------------------------------------------------


def check_grouping(first: np.ndarray, inverse: np.ndarray, keys: list) -> None:
    n = len(keys)
    assert first.dtype == np.int64 and inverse.dtype == np.int64 and inverse.shape == (n,)
    nfirst, ninverse = naive.group_keys(keys)
    assert first.tolist() == nfirst
    assert inverse.tolist() == ninverse
    if n:  # the same partition as np.unique on the naive keys
        K = np.array(keys, dtype=np.uint64)
        _, idx, inv = np.unique(K, axis=0, return_index=True, return_inverse=True)
        assert sorted(idx.tolist()) == first.tolist()
        assert len(set(zip(inv.ravel().tolist(), inverse.tolist()))) == len(first)
        np.testing.assert_array_equal(K[first[inverse]], K)


def test_group_many_duplicates():
    rng = np.random.default_rng(3)
    X = jittered(rng, rng.integers(0, 4, (2000, 2)).astype(np.float64))
    batch = FitnessCache().batch(GRID, X)
    keys = naive.cache_keys(GRID, X)
    first, inverse = batch.group()
    check_grouping(first, inverse, keys)
    assert len(first) == 16


def test_group_no_duplicates():
    rng = np.random.default_rng(4)
    X = MIXED.sample(500, rng)
    first, inverse = FitnessCache().batch(MIXED, X).group()
    check_grouping(first, inverse, naive.cache_keys(MIXED, X))
    assert first.tolist() == list(range(500))


def test_group_mixed_edge_values():
    rng = np.random.default_rng(5)
    X = special_rows(rng, 700)
    first, inverse = FitnessCache().batch(MIXED, X).group()
    check_grouping(first, inverse, naive.cache_keys(MIXED, X))


@pytest.mark.parametrize("n", [0, 1])
def test_group_empty_and_single_row(n):
    X = MIXED.sample(n, np.random.default_rng(6))
    batch = FitnessCache().batch(MIXED, X)
    assert batch.n == n and batch.hashes.shape == (n,)
    assert batch.keys().shape == (n, MIXED.dims)
    first, inverse = batch.group()
    check_grouping(first, inverse, naive.cache_keys(MIXED, X))


@pytest.mark.parametrize("h", [0, 2**64 - 1])
def test_group_with_every_hash_colliding(h):
    # A constant hash sends every row down one probe chain: grouping must compare the keys.
    rng = np.random.default_rng(7)
    X = jittered(rng, rng.integers(0, 10, (300, 2)).astype(np.float64))
    b = FitnessCache().batch(GRID, X)
    H = np.full(b.n, h, dtype=np.uint64)
    first, inverse = _nb.group_rows(b.X, b.Xbits, H, b.mode, b.lower, b.upper, b.step)
    check_grouping(first, inverse, naive.cache_keys(GRID, X))


def test_table_lookup_with_every_hash_colliding():
    rng = np.random.default_rng(8)
    stored = rng.permutation(100)[:40]
    cells = np.stack([stored // 10, stored % 10], axis=1).astype(np.float64)
    b = FitnessCache().batch(GRID, jittered(rng, cells))
    keys = b.keys()
    hashes = np.full(40, 12345, dtype=np.uint64)
    slots = np.full(128, _nb.EMPTY, dtype=np.int64)
    _nb.table_insert(slots, hashes, 0, 40)
    assert sorted(slots[slots >= 0].tolist()) == list(range(40))
    queries = jittered(rng, rng.integers(0, 10, (200, 2)).astype(np.float64))
    q = FitnessCache().batch(GRID, queries)
    H = np.full(q.n, 12345, dtype=np.uint64)
    rows = rng.permutation(q.n)[:150]
    got = _nb.table_lookup(
        slots, keys, hashes, q.X, q.Xbits, rows, H, q.mode, q.lower, q.upper, q.step
    )
    entry_of = {k: e for e, k in enumerate(naive.cache_keys(GRID, b.X))}
    want = [entry_of.get(naive.cache_key(GRID, queries[i]), -1) for i in rows]
    assert got.tolist() == want
    assert -1 in want and any(w >= 0 for w in want)


# -- LRU semantics ---------------------------------------------------------------------------


def cached_in_lru_order(cache: FitnessCache) -> tuple[list, list]:
    """Keys and values held by ``cache``, least recently used first (white box)."""
    n = len(cache)
    if n == 0:
        return [], []
    order = np.argsort(cache._ticks[:n], kind="stable")
    keys = [tuple(int(w) for w in cache._keys[e]) for e in order]
    return keys, cache._values[order, 0].tolist()


def assert_same_state(cache: FitnessCache, model: naive.LRUCache) -> None:
    keys, values = cached_in_lru_order(cache)
    assert keys == list(model.entries)
    assert values == list(model.entries.values())
    assert len(cache) == len(model.entries) <= model.capacity
    got = (cache.hits, cache.misses, cache.evictions, cache.inserts)
    assert got == (model.hits, model.misses, model.evictions, model.inserts)
    assert cache.nbytes <= cache.max_bytes


@pytest.mark.parametrize("evict_fraction", [1 / 16, 0.3, 1.0])
@pytest.mark.parametrize(("max_bytes", "capacity"), [(300, 4), (700, 11), (1500, 24)])
def test_lru_matches_naive_model(max_bytes, capacity, evict_fraction):
    rng = np.random.default_rng(max_bytes + int(100 * evict_fraction))
    cache = FitnessCache(max_bytes, evict_fraction=evict_fraction)
    cache.get(GRID, np.empty((0, 2)))  # fixes the key width, hence max_entries
    assert cache.max_entries == capacity == naive.max_entries(max_bytes, 2)
    model = naive.LRUCache(capacity, evict_fraction)
    for _ in range(150):
        op = rng.choice(["get", "add", "put"])
        n = int(rng.integers(0, 2 * capacity + 3))
        X = jittered(rng, rng.integers(0, 10, (n, 2)).astype(np.float64))
        keys = naive.cache_keys(GRID, X)
        if op == "get":
            found, values = cache.get(GRID, X)
            want = model.lookup(keys)
            assert found.tolist() == [w is not None for w in want]
            assert values[found].tolist() == [w for w in want if w is not None]
            assert np.isnan(values[~found]).all()
        elif op == "add":
            v = rng.normal(size=n)
            cache.add(GRID, X, v)
            model.add(keys, v.tolist())
        else:  # put: distinct keys not cached, picked out of a batch in a random order
            fresh = [i for i in naive.group_keys(keys)[0] if keys[i] not in model.entries]
            rows = rng.permutation(np.array(fresh, dtype=np.int64))
            v = rng.normal(size=len(rows))
            cache.put(cache.batch(GRID, X), rows, v)
            model.put([keys[i] for i in rows], v.tolist())
        assert_same_state(cache, model)
    assert cache.evictions > 0 and cache.hits > 0


def test_lru_hand_example():
    # Capacity 4, evict_fraction 1/4: one eviction per overflow.
    cache = FitnessCache(300, evict_fraction=0.25)
    X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0], [5.0, 0.0]])
    cache.add(GRID, X[:4], np.array([10.0, 11.0, 12.0, 13.0]))
    assert cache.max_entries == 4 and len(cache) == 4
    cache.get(GRID, X[[2, 0]])  # recency now 1, 3, 2, 0 (least first)
    cache.add(GRID, X[[4]], np.array([14.0]))  # evicts 1
    found, values = cache.get(GRID, X)
    assert found.tolist() == [True, False, True, True, True, False]
    assert values[found].tolist() == [10.0, 12.0, 13.0, 14.0]
    assert cache.evictions == 1 and cache.inserts == 5


def test_put_more_than_capacity_keeps_the_last_ones():
    cache = FitnessCache(300)  # 4 entries of GRID
    cache.add(GRID, np.array([[9.0, 9.0]]), np.array([1.0]))
    X = np.stack([np.arange(10.0), np.zeros(10)], axis=1)
    batch = cache.batch(GRID, X)
    cache.put(batch, np.arange(10), np.arange(10.0))
    assert len(cache) == 4 and cache.inserts == 5 and cache.evictions == 1
    found, values = cache.get(GRID, np.vstack([X, [[9.0, 9.0]]]))
    assert found.tolist() == [False] * 6 + [True] * 4 + [False]
    assert values[found].tolist() == [6.0, 7.0, 8.0, 9.0]


def test_add_keeps_the_value_of_the_first_row_of_a_key():
    cache = FitnessCache()
    X = np.array([[2.2, 3.0], [1.9, 3.4], [2.0, 2.6], [5.0, 5.0]])
    cache.add(GRID, X, np.array([1.0, 2.0, 3.0, 4.0]))
    cache.add(GRID, X[[2]], np.array([99.0]))  # already cached: ignored
    found, values = cache.get(GRID, np.array([[1.6, 2.7], [4.6, 5.4], [0.0, 0.0]]))
    assert found.tolist() == [True, True, False] and values[:2].tolist() == [1.0, 4.0]
    assert len(cache) == 2


def test_empty_batches():
    cache = FitnessCache("1KB")
    found, values = cache.get(GRID, np.empty((0, 2)))
    assert found.shape == values.shape == (0,)
    cache.add(GRID, np.empty((0, 2)), np.empty(0))
    assert len(cache) == 0 and cache.misses == 0 and cache.nbytes <= cache.max_bytes


def test_multi_column_values():
    cache = FitnessCache()
    X = np.array([[1.0, 1.0], [2.0, 2.0]])
    V = np.array([[1.0, -1.0], [2.0, -2.0]])
    cache.add(GRID, X, V)
    found, values = cache.get(GRID, X[::-1])
    assert found.all() and values.tolist() == V[::-1].tolist()
    cache.add(GRID, X, V)  # every row cached already: nothing to put
    assert len(cache) == 2 and cache.inserts == 2
    with pytest.raises(ConfigError, match="columns"):
        cache.add(GRID, np.array([[3.0, 3.0]]), np.array([3.0]))


# -- byte accounting -------------------------------------------------------------------------


def arrays_nbytes(cache: FitnessCache) -> int:
    return sum(v.nbytes for v in vars(cache).values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("d", [1, 3, 8])
@pytest.mark.parametrize("max_bytes", [1, 7, 8, 100, 1000, 4096, 50_000, 300_000])
def test_nbytes_never_exceeds_max_bytes(d, max_bytes):
    rng = np.random.default_rng(d * 1000 + max_bytes)
    space = gp.Space.box(0.0, 1.0, d)
    cache = FitnessCache(max_bytes)
    assert cache.nbytes <= max_bytes
    cache.get(space, np.empty((0, d)))
    capacity = naive.max_entries(max_bytes, d)
    assert cache.max_entries == capacity
    sizes = []
    while sum(sizes) < 2 * capacity + 5:
        sizes.append(int(rng.integers(1, capacity // 3 + 3)))
    sizes.append(0)  # then exactly enough rows to fill it
    for n in sizes:
        n = n or capacity - len(cache)
        cache.add(space, rng.uniform(size=(n, d)), rng.normal(size=n))
        assert cache.nbytes <= max_bytes
        assert cache.nbytes == arrays_nbytes(cache)
        assert len(cache) <= capacity
    assert len(cache) == capacity


def test_max_entries_is_the_most_that_fit():
    rng = np.random.default_rng(9)
    budgets = np.unique(np.exp(rng.uniform(0, math.log(2e9), 150)).astype(np.int64))
    for d, m in [(1, 1), (2, 1), (5, 2)]:
        space = gp.Space.box(0.0, 1.0, d)
        for max_bytes in [*budgets.tolist(), 240, 50_338_105]:
            cache = FitnessCache(int(max_bytes))
            cache.put(cache.batch(space, np.empty((0, d))), np.empty(0), np.empty((0, m)))
            assert cache.max_entries == naive.max_entries(int(max_bytes), d, m), max_bytes


def test_tracemalloc_agrees_with_nbytes_and_shrink_releases():
    rng = np.random.default_rng(10)
    space = gp.Space.box(0.0, 1.0, 3)
    X = rng.uniform(size=(40_000, 3))
    values = rng.normal(size=40_000)
    warm = FitnessCache("4KiB")  # load every kernel outside the measurement
    for _ in range(3):
        warm.add(space, X[:100], values[:100])
        warm.add(space, X[100:300], values[100:300])
    del warm
    cache = FitnessCache("512KiB")
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for lo in range(0, len(X), 5000):
            cache.add(space, X[lo : lo + 5000], values[lo : lo + 5000])
        gc.collect()
        full = tracemalloc.get_traced_memory()[0] - base
        assert len(cache) == cache.max_entries == naive.max_entries(512 * 1024, 3)
        assert abs(full - cache.nbytes) <= 4096, (full, cache.nbytes)
        before = cache.nbytes
        released = cache.shrink(0.5)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert released == before - cache.nbytes > before // 3
    assert abs(after - cache.nbytes) <= 4096, (after, cache.nbytes)


def test_shrink_keeps_the_most_recently_used_half():
    rng = np.random.default_rng(11)
    cache = FitnessCache(1500)  # 24 entries of GRID
    model = naive.LRUCache(24)
    cells = np.stack(np.divmod(rng.permutation(100)[:23], 10), axis=1).astype(np.float64)
    X = jittered(rng, cells)
    cache.add(GRID, X, np.arange(23.0))
    model.add(naive.cache_keys(GRID, X), list(np.arange(23.0)))
    touched = rng.permutation(23)[:10]
    cache.get(GRID, X[touched])
    model.lookup(naive.cache_keys(GRID, X[touched]))
    before = cache.nbytes
    released = cache.shrink(0.5)
    assert len(cache) == 23 - 11 and cache.evictions == 11
    assert released > 0 and cache.nbytes == before - released
    assert cache.nbytes == arrays_nbytes(cache)
    kept = list(model.entries)[11:]
    keys, values = cached_in_lru_order(cache)
    assert keys == kept
    assert values == [model.entries[k] for k in kept]
    # It grows back to its capacity.
    more = jittered(rng, np.stack(np.divmod(np.arange(100), 10), axis=1).astype(np.float64))
    cache.add(GRID, more, np.zeros(100))
    assert len(cache) == 24 and cache.nbytes <= cache.max_bytes


def test_clear_empties_and_keeps_statistics():
    cache = FitnessCache("4KB")
    X = jittered(np.random.default_rng(12), np.array([[1.0, 2.0], [3.0, 4.0]]))
    cache.add(GRID, X, np.array([1.0, 2.0]))
    cache.get(GRID, X)
    full = cache.nbytes
    cache.clear()
    assert len(cache) == 0 and cache.nbytes < full and cache.nbytes <= 8
    assert cache.hits == 2 and cache.inserts == 2
    found, _ = cache.get(GRID, X)
    assert not found.any()
    cache.add(GRID, X, np.array([5.0, 6.0]))
    assert cache.get(GRID, X)[1].tolist() == [5.0, 6.0]


# -- quantize --------------------------------------------------------------------------------

QSPACE = gp.Space(
    [gp.Real("a", 0.0, 10.0), gp.Real("lr", 1e-3, 1e1, log=True), gp.Integer("i", 0, 4)]
)


def cell_rows(rng: np.random.Generator, cells: np.ndarray, q: float) -> np.ndarray:
    """Rows whose real genes lie strictly inside grid cells ``cells`` (resolution ``q``)."""
    step = q * (QSPACE.upper - QSPACE.lower)
    X = QSPACE.lower + cells * step + rng.uniform(-0.45, 0.45, cells.shape) * step
    X[:, 2] = cells[:, 2] + rng.uniform(-0.45, 0.45, len(cells))
    return X


def test_quantized_keys_match_naive():
    rng = np.random.default_rng(13)
    X = QSPACE.sample(300, rng)
    X[:50] += rng.normal(scale=5.0, size=(50, 3))  # outside the bounds: negative cells too
    for q in [0.01, 1.0, np.array([0.003, 0.2, 0.5])]:
        keys = keys_of(FitnessCache(quantize=q).batch(QSPACE, X))
        assert keys == naive.cache_keys(QSPACE, X, quantize=q)


def test_quantized_rows_in_one_cell_hit_and_other_cells_miss():
    rng = np.random.default_rng(14)
    q = 0.01
    cells = np.stack(
        [rng.integers(0, 101, 200), rng.integers(0, 101, 200), rng.integers(0, 5, 200)], axis=1
    ).astype(np.float64)
    cells = np.unique(cells, axis=0)
    A, B = cell_rows(rng, cells, q), cell_rows(rng, cells, q)
    assert not np.any(A == B)
    cache = FitnessCache(quantize=q)
    cache.add(QSPACE, A, np.arange(len(A), dtype=np.float64))
    cache.add(QSPACE, B, -np.ones(len(B)))  # same cells: the first value stays
    found, values = cache.get(QSPACE, B)
    assert found.all() and values.tolist() == list(range(len(A)))
    known = set(map(tuple, cells.tolist()))
    for j in range(3):
        shifted = cells.copy()
        shifted[:, j] += np.where(shifted[:, j] > 0, -1.0, 1.0)
        absent = np.array([tuple(s) not in known for s in shifted])
        found, _ = cache.get(QSPACE, cell_rows(rng, shifted, q))
        assert found.tolist() == (~absent).tolist() and absent.any()
    exact = FitnessCache()
    exact.add(QSPACE, A, np.zeros(len(A)))
    assert not exact.get(QSPACE, B)[0].any()


@pytest.mark.parametrize(
    "q", [0, 0.0, -0.5, 1.5, float("nan"), float("inf"), [0.1, 0.1], [[0.1] * 3] * 2, "abc"]
)
def test_bad_quantize_raises(q):
    cache = FitnessCache(quantize=q)
    with pytest.raises(ConfigError, match="quantize"):
        cache.get(QSPACE, QSPACE.sample(3, np.random.default_rng(0)))


def test_mixing_key_widths_raises():
    cache = FitnessCache()
    cache.add(GRID, np.array([[1.0, 1.0]]), np.array([1.0]))
    X3 = QSPACE.sample(2, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="genes"):
        cache.get(QSPACE, X3)
    with pytest.raises(ConfigError, match="genes"):
        cache.add(QSPACE, X3, np.zeros(2))
    with pytest.raises(ConfigError, match="shape"):
        cache.get(GRID, X3)
    assert len(cache) == 1 and cache.get(GRID, np.array([[1.0, 1.0]]))[0].all()


@pytest.mark.parametrize("fraction", [0, 0.0, -0.1, 1.5])
def test_bad_evict_fraction_raises(fraction):
    with pytest.raises(ConfigError, match="evict_fraction"):
        FitnessCache(evict_fraction=fraction)


@pytest.mark.parametrize("max_bytes", [0, -5, "lots", None, True])
def test_bad_max_bytes_raises_naming_it(max_bytes):
    with pytest.raises(ConfigError, match="max_bytes"):
        FitnessCache(max_bytes)
