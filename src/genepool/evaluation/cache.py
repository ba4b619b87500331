"""``FitnessCache``: an exact LRU cache of fitness values, bounded by bytes, in numpy arrays."""

from __future__ import annotations

import math
from typing import TypedDict, Union

import numpy as np
from numpy.typing import ArrayLike

from ..errors import ConfigError
from ..memory._size import format_size, parse_size
from ..space import REAL, Space
from . import _nb

__all__ = ["CacheSpec", "CacheStats", "FitnessCache", "KeyedBatch"]


class _CacheCounts(TypedDict):
    hits: int
    misses: int
    hit_rate: float
    evictions: int
    inserts: int
    entries: int
    nbytes: int
    max_bytes: int


class CacheStats(_CacheCounts, total=False):
    """What :meth:`FitnessCache.stats` returns; ``disabled`` (the reason) only after an
    automatic cache turned itself off (:meth:`~genepool.Evaluator.cache_stats`)."""

    disabled: str | None


_INITIAL_ENTRIES = 4096


class KeyedBatch:
    """The cache keys of one population, computed on demand from ``X`` without copying it."""

    def __init__(
        self,
        X: np.ndarray,
        mode: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        step: np.ndarray,
    ) -> None:
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.Xbits = self.X.view(np.uint64)
        self.mode, self.lower, self.upper, self.step = mode, lower, upper, step
        self.hashes = _nb.hash_rows(self.X, self.Xbits, mode, lower, upper, step)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def group(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first, inverse)``: first row of each distinct key, and each row's group."""
        return _nb.group_rows(
            self.X, self.Xbits, self.hashes, self.mode, self.lower, self.upper, self.step
        )

    def keys(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Key matrix ``(len(rows), d)`` of ``rows`` (default: all rows)."""
        rows = np.arange(self.n) if rows is None else np.asarray(rows, dtype=np.int64)
        return _nb.materialize_keys(
            self.X, self.Xbits, rows, self.mode, self.lower, self.upper, self.step
        )


def key_plan(space: Space, quantize: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(mode, step)`` of the keys of ``space``: integer, categorical and bool genes by their
    decoded index, real genes by their float64 bits or, with ``quantize``, their grid cell."""
    real = space.kinds == REAL
    mode = np.where(real, _nb.KEY_REAL, _nb.KEY_INDEX).astype(np.int64)
    step = np.ones(space.dims)
    if quantize is not None:
        try:
            q = np.broadcast_to(np.asarray(quantize, dtype=np.float64), (space.dims,))
        except ValueError:
            raise ConfigError(
                f"quantize must be a scalar or have shape ({space.dims},), got {quantize!r}"
            ) from None
        if not np.all((q > 0) & (q <= 1)):
            raise ConfigError(f"quantize must be within (0, 1], got {quantize!r}")
        mode = np.where(real, _nb.KEY_QUANTIZED, mode).astype(np.int64)
        step = q * (space.upper - space.lower)
    return mode, step


def keyed_batch(space: Space, X: np.ndarray) -> KeyedBatch:
    """The exact keys (decoded parameters, no quantization) of a population ``X``."""
    mode, step = key_plan(space)
    return KeyedBatch(_canonical(space, X), mode, space.lower, space.upper, step)


def _canonical(space: Space, X: np.ndarray) -> np.ndarray:
    # A space whose decoding is many-to-one per gene (StrategySpace) maps each strategy's
    # genomes onto one, so that keys stay equal exactly when the decoded parameters are.
    canonical = getattr(space, "canonical", None)
    return X if canonical is None else canonical(X)


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


class FitnessCache:
    """Exact cache of fitness values keyed on *decoded* parameters, least recently used first out.

    Keys are the canonical bytes of each individual's decoded parameters (reals by value,
    integers and categories by index, see :meth:`Space.cache_keys`), so two genotypes that
    decode to the same parameters share one entry. Everything lives in a few numpy arrays (keys,
    hashes, values, last-use ticks and an open-addressing slot table) whose total size,
    :attr:`nbytes`, never exceeds ``max_bytes``; arrays grow geometrically up to that bound.
    When full, the least recently used entries are evicted, ``evict_fraction`` of the capacity
    at a time (at least as many as needed).

    Parameters
    ----------
    max_bytes : int or str, default "256MB"
        Bound on the memory of the cache.
    quantize : float or array of shape (d,), optional
        Approximate mode: real genes are keyed on a grid of this resolution relative to each
        gene's range (e.g. ``1e-3``), so near-duplicates hit. The cached value is the fitness
        of the first individual evaluated in the cell. Off by default (exact).
    evict_fraction : float, default 1/16
        Share of the capacity evicted at once when the cache is full.

    Examples
    --------
    >>> import numpy as np
    >>> import genepool as gp
    >>> space = gp.Space([gp.Integer("w", 1, 9), gp.Real("k", 0.0, 1.0)])
    >>> cache = FitnessCache("1MB")
    >>> X = np.array([[2.2, 0.5], [1.9, 0.5], [3.0, 0.5]])  # rows 0 and 1 decode equal
    >>> cache.add(space, X[[0, 2]], np.array([1.0, 2.0]))
    >>> found, values = cache.get(space, X)
    >>> found.tolist(), values.tolist()
    ([True, True, True], [1.0, 1.0, 2.0])
    """

    def __init__(
        self,
        max_bytes: int | str = "256MB",
        *,
        quantize: ArrayLike | None = None,
        evict_fraction: float = 1 / 16,
    ) -> None:
        self.max_bytes = parse_size(max_bytes, "max_bytes")
        if not 0.0 < evict_fraction <= 1.0:
            raise ConfigError(f"evict_fraction must be within (0, 1], got {evict_fraction!r}")
        self.evict_fraction = float(evict_fraction)
        self.quantize = quantize
        self.hits = self.misses = self.evictions = self.inserts = 0
        self._d: int | None = None
        self._m: int | None = None
        self._size = 0
        self._clock = 0
        self._keys = np.empty((0, 0), dtype=np.uint64)
        self._hashes = np.empty(0, dtype=np.uint64)
        self._values = np.empty((0, 0), dtype=np.float64)
        self._ticks = np.empty(0, dtype=np.int64)
        self._slots = np.full(0, _nb.EMPTY, dtype=np.int64)
        self._plan: tuple[Space, np.ndarray, np.ndarray] | None = None

    # -- sizing ------------------------------------------------------------------------------
    @property
    def max_entries(self) -> int:
        """Most entries that fit in ``max_bytes`` (0 before the first key width is known)."""
        if self._d is None:
            return 0
        return self._capacity_for(self._d, self._m or 1)

    def _capacity_for(self, d: int, m: int) -> int:
        row = 8 * d + 8 + 8 * m + 8  # key, hash, values, tick
        # The slot table is a power of two >= 2 * capacity: try every table size that fits.
        cap, slots = 0, 2
        while 8 * slots <= self.max_bytes:
            cap = max(cap, min(slots // 2, (self.max_bytes - 8 * slots) // row))
            slots *= 2
        return cap

    def nbytes_for(
        self, entries: int, d: int, m: int = 1, resident: bool = False
    ) -> tuple[int, int]:
        """Bytes this cache would hold after ``entries`` inserts of keys ``d`` wide with ``m``
        values, and its peak while growing there (the last two allocations side by side):
        the geometric growth and the ``max_bytes`` bound of :meth:`put`.

        ``resident``: only the pages written (the rows filled and the slot table); the rest of
        the capacity becomes resident only where the kernel backs it with huge pages.
        """
        row = 8 * d + 8 + 8 * m + 8

        def size(cap: int, filled: int) -> int:
            rows = min(cap, filled) if resident else cap
            return rows * row + (8 * _pow2_at_least(2 * cap) if cap else 0)

        cap_max = self._capacity_for(d, m)
        if entries <= 0 or cap_max == 0:
            return 0, 0
        cap = _INITIAL_ENTRIES
        while cap < entries:
            cap *= 2
        cap = min(cap, cap_max)
        prev = min(cap // 2, cap_max) if cap > _INITIAL_ENTRIES else 0
        return size(cap, entries), size(cap, entries) + size(prev, prev)

    @property
    def nbytes(self) -> int:
        """Memory held by the cache's arrays, in bytes (always <= ``max_bytes``)."""
        return int(
            self._keys.nbytes
            + self._hashes.nbytes
            + self._values.nbytes
            + self._ticks.nbytes
            + self._slots.nbytes
        )

    def __len__(self) -> int:
        return self._size

    def stats(self) -> CacheStats:
        """Hits, misses, hit rate, evictions, entries and bytes."""
        looked = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / looked if looked else 0.0,
            "evictions": self.evictions,
            "inserts": self.inserts,
            "entries": self._size,
            "nbytes": self.nbytes,
            "max_bytes": self.max_bytes,
        }

    def __repr__(self) -> str:
        return (
            f"FitnessCache({self._size} entries, {format_size(self.nbytes)} of "
            f"{format_size(self.max_bytes)}, hits={self.hits}, misses={self.misses})"
        )

    # -- keys ------------------------------------------------------------------------------
    def batch(self, space: Space, X: np.ndarray) -> KeyedBatch:
        """The keys of a population ``X`` (shape ``(n, d)``), ready for lookups and grouping.

        Integer, categorical and bool genes are keyed by their decoded index; real genes by the
        bits of their float64 value (``-0.0`` folded into ``0.0``), or, with ``quantize``, by
        the index of their grid cell.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != space.dims:
            raise ConfigError(f"X must have shape (n, {space.dims}), got {X.shape}")
        mode, step = self._key_plan(space)
        return KeyedBatch(_canonical(space, X), mode, space.lower, space.upper, step)

    def _key_plan(self, space: Space) -> tuple[np.ndarray, np.ndarray]:
        if self._plan is not None and self._plan[0] is space:
            return self._plan[1], self._plan[2]
        mode, step = key_plan(space, self.quantize)
        self._plan = (space, mode, step)
        return mode, step

    def _allocate(self, capacity: int) -> None:
        d, m = self._d or 0, self._m or 1
        keys = np.empty((capacity, d), dtype=np.uint64)
        hashes = np.empty(capacity, dtype=np.uint64)
        values = np.empty((capacity, m), dtype=np.float64)
        ticks = np.empty(capacity, dtype=np.int64)
        n = self._size
        if n:
            keys[:n], hashes[:n], values[:n], ticks[:n] = (
                self._keys[:n],
                self._hashes[:n],
                self._values[:n],
                self._ticks[:n],
            )
        self._keys, self._hashes, self._values, self._ticks = keys, hashes, values, ticks
        n_slots = _pow2_at_least(2 * capacity) if capacity else 0  # empty: no slots needed
        self._slots = np.full(n_slots, _nb.EMPTY, dtype=np.int64)
        _nb.table_insert(self._slots, self._hashes, 0, n)

    # -- lookup and insert -------------------------------------------------------------------
    def _check_width(self, batch: KeyedBatch) -> None:
        d = batch.X.shape[1]
        if self._d is None:
            self._d = d
        elif d != self._d:
            raise ConfigError(
                f"keys have {d} genes, the cache holds {self._d}: use one cache per search space"
            )

    def lookup(self, batch: KeyedBatch, rows: np.ndarray | None = None) -> np.ndarray:
        """Entry index of each row (all rows, or ``rows``), -1 when absent.

        Hits become the most recently used entries, in the order of ``rows``.
        """
        self._check_width(batch)
        rows = np.arange(batch.n) if rows is None else np.asarray(rows, dtype=np.int64)
        if self._size == 0:
            self.misses += rows.shape[0]
            return np.full(rows.shape[0], _nb.EMPTY, dtype=np.int64)
        idx = _nb.table_lookup(
            self._slots,
            self._keys,
            self._hashes,
            batch.X,
            batch.Xbits,
            rows,
            batch.hashes,
            batch.mode,
            batch.lower,
            batch.upper,
            batch.step,
        )
        hit = idx >= 0
        n_hit = int(hit.sum())
        self.hits += n_hit
        self.misses += rows.shape[0] - n_hit
        if n_hit:
            self._ticks[idx[hit]] = self._clock + np.arange(n_hit)
            self._clock += n_hit
        return idx

    def values_at(self, idx: np.ndarray) -> np.ndarray:
        """Cached values of entries ``idx`` (from :meth:`lookup`, all >= 0)."""
        v = self._values[idx]
        return v[:, 0] if self._m == 1 else v

    def get(self, space: Space, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(found, values)`` for the rows of ``X``: mask of cached rows, values (NaN if not)."""
        idx = self.lookup(self.batch(space, X))
        found = idx >= 0
        values = np.full((len(idx), self._m or 1), np.nan)
        if found.any():
            values[found] = self._values[idx[found]]
        return found, values[:, 0] if values.shape[1] == 1 else values

    def add(self, space: Space, X: np.ndarray, values: np.ndarray) -> None:
        """Cache ``values`` for the rows of ``X`` (duplicates and cached rows are skipped)."""
        batch = self.batch(space, X)
        first, _ = batch.group()
        present = self.lookup(batch, first) >= 0
        self.put(batch, first[~present], np.asarray(values)[first[~present]])

    def put(self, batch: KeyedBatch, rows: np.ndarray, values: np.ndarray) -> None:
        """Insert rows ``rows`` of ``batch`` (distinct keys, not cached yet) with ``values``."""
        self._check_width(batch)
        rows = np.asarray(rows, dtype=np.int64)
        V = np.asarray(values, dtype=np.float64)
        V = V.reshape(V.shape[0], math.prod(V.shape[1:])) if V.ndim > 1 else V[:, None]
        if V.shape[0] != rows.shape[0]:
            raise ConfigError(f"got {rows.shape[0]} rows but {V.shape[0]} values")
        if self._m is None:
            self._m = V.shape[1]
            self._allocate(0)
        elif V.shape[1] != self._m:
            raise ConfigError(f"values have {V.shape[1]} columns, the cache holds {self._m}")
        cap_max = self.max_entries
        if rows.shape[0] == 0 or cap_max == 0:
            return
        if rows.shape[0] > cap_max:  # only the most recent ones can stay
            rows, V = rows[-cap_max:], V[-cap_max:]
        k = rows.shape[0]
        overflow = self._size + k - cap_max
        if overflow > 0:
            batch_size = max(overflow, math.ceil(self.evict_fraction * cap_max))
            self._evict(min(self._size, batch_size))
        if self._size + k > self._keys.shape[0]:
            want = max(_INITIAL_ENTRIES, self._keys.shape[0])
            while want < self._size + k:
                want *= 2
            self._allocate(min(want, cap_max))
        start, stop = self._size, self._size + k
        self._keys[start:stop] = batch.keys(rows)
        self._hashes[start:stop] = batch.hashes[rows]
        self._values[start:stop] = V
        self._ticks[start:stop] = self._clock + np.arange(k)
        self._clock += k
        self._size = stop
        self.inserts += k
        _nb.table_insert(self._slots, self._hashes, start, stop)

    def _evict(self, count: int) -> None:
        """Drop the ``count`` least recently used entries and re-index the rest."""
        if count <= 0:
            return
        n = self._size
        keep = np.ones(n, dtype=bool)
        keep[np.argsort(self._ticks[:n], kind="stable")[:count]] = False
        m = n - count
        self._keys[:m] = self._keys[:n][keep]
        self._hashes[:m] = self._hashes[:n][keep]
        self._values[:m] = self._values[:n][keep]
        self._ticks[:m] = self._ticks[:n][keep]
        self._size = m
        self.evictions += count
        self._slots.fill(_nb.EMPTY)
        _nb.table_insert(self._slots, self._hashes, 0, m)

    def shrink(self, fraction: float = 0.5) -> int:
        """Evict the least recently used ``fraction`` of the entries and give the memory back.

        Returns the number of bytes released. Used by the memory monitor under pressure.
        """
        before = self.nbytes
        self._evict(int(self._size * fraction))
        self._allocate(max(self._size, 1) if self._m is not None else 0)
        return before - self.nbytes

    def clear(self) -> None:
        """Drop every entry and release the arrays (statistics are kept)."""
        self._size = 0
        if self._m is not None:
            self._allocate(0)


#: None (automatic), True/False, a size (bytes or ``"256MB"``) or a FitnessCache.
CacheSpec = Union[bool, int, str, FitnessCache, None]
