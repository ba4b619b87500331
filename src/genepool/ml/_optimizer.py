"""The GA of :class:`~genepool.ml.GASearchCV`: a space-filling first generation, and offspring
that are never a parameter set proposed before, so that every fit of a small budget is news.

Measured against ``RandomizedSearchCV`` at equal numbers of fits in ``docs/ml.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..algorithms.ga import GA, GAState
from ..errors import ConfigError
from ..evaluation.cache import keyed_batch
from ..space import REAL, Space

__all__ = ["INITIAL", "SearchGA", "keys_of", "search_defaults", "space_filling"]

INITIAL = ("lhs", "random")
#: Rounds of moving a repeated offspring before it is replaced by a uniform sample.
RETRIES = 8
#: Above this many rows the Latin hypercube is not optimized (the optimization is O(n^2)).
OPTIMIZE_MAX_ROWS = 256


@dataclass
class SearchGAState(GAState):
    """``GAState`` plus the keys of every candidate told so far, shape ``(k, d)``."""

    seen: np.ndarray | None = None


def search_defaults(dims: int) -> dict[str, Any]:
    """GA options of the search, before the user's ``optimizer_options``.

    Polynomial mutation with eta 5 (not 20) and a per-gene rate of ``max(1/d, min(0.5, 3/d))``
    (not ``1/d``): larger and more frequent moves. With the GA's defaults, most offspring of
    a 5-parameter tree space landed on a tree already fitted (a ``max_depth`` one step away,
    a ``max_features`` in the same integer bin) and the search lost to random sampling on
    wine; see docs/ml.md for the measurements.
    """
    rate = max(1.0 / dims, min(0.5, 3.0 / dims))
    return {"mutation": ("polynomial", {"eta": 5.0}), "mutation_rate": rate}


def keys_of(space: Space, X: np.ndarray) -> np.ndarray:
    """Decoded identity of each row, shape ``(n, d)``: the fitness cache's own exact keys
    (discrete genes by index, reals by value), so equal rows are equal parameter sets and a
    repeat here is exactly a cache hit there."""
    return keyed_batch(space, np.asarray(X)).keys()


def space_filling(space: Space, n: int, rng: np.random.Generator, method: str) -> np.ndarray:
    """``n`` encoded rows of shape ``(n, d)``.

    ``"lhs"``: a Latin hypercube (each gene's encoded range cut into ``n`` equal strata, one
    row in each, so every integer and category gets its share of rows: integer and
    categorical genes are encoded with half-unit margins), its centered discrepancy optimized
    when ``n <= 256``. ``"random"``: uniform rows, as ``Space.sample``.
    """
    if method == "random" or n < 2:
        return space.sample(n, rng)
    from scipy.stats import qmc

    optimization = "random-cd" if n <= OPTIMIZE_MAX_ROWS else None
    u = qmc.LatinHypercube(space.dims, optimization=optimization, rng=rng).random(n)
    return space.lower + u * (space.upper - space.lower)


class SearchGA(GA):
    """``GA`` with a space-filling first generation and offspring that are new.

    An offspring whose decoded parameters were told before, or appear earlier in the same
    generation, gets one gene moved (to a near integer, another category or a perturbed real
    value), up to ``RETRIES`` times with growing steps, and is then replaced by a uniform
    sample. Only when that repeats too (a nearly exhausted discrete space) does a repeat go
    out, and the fitness cache answers it without a fit. ``dedupe=False`` keeps the GA's
    offspring as they are (for ``cache=False``: a noisy score may be re-measured).
    """

    def __init__(
        self,
        space: Space,
        population_size: int,
        *,
        initial: str = "lhs",
        dedupe: bool = True,
        **options: Any,
    ) -> None:
        if initial not in INITIAL:
            raise ConfigError(f"initial must be one of {list(INITIAL)}, got {initial!r}")
        super().__init__(space, population_size, **options)
        self.initial = initial
        self.dedupe = dedupe
        self.state = SearchGAState(
            X=None, fitness=None, generation=0, n_evaluations=0, rng=self.state.rng
        )

    def ask(self) -> np.ndarray:
        st = self.state
        if st.X is None and self._pending is None:
            X = space_filling(self.space, self.population_size, st.rng, self.initial)
            X = np.ascontiguousarray(X, dtype=self.dtype)
        else:
            X = super().ask()
        if self.dedupe:
            X = self._fresh(X, st.rng)
        self._pending = X
        return X

    def tell(self, X: np.ndarray, fitness: np.ndarray) -> None:
        keys = keys_of(self.space, X)
        super().tell(X, fitness)
        st = self.state
        st.seen = keys if st.seen is None else np.concatenate([st.seen, keys])

    def _fresh(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``X`` with its repeated rows moved to parameter sets not seen before (in place)."""
        seen = set() if self.state.seen is None else {r.tobytes() for r in self.state.seen}
        keys = keys_of(self.space, X)
        for i in range(X.shape[0]):
            key = keys[i].tobytes()
            tries = 0
            while key in seen and tries <= RETRIES:
                if tries < RETRIES:
                    X[i] = self._move(X[i], rng, 1 + tries // 2)
                else:
                    X[i] = self.space.sample(1, rng, dtype=self.dtype)[0]
                key = keys_of(self.space, X[i : i + 1])[0].tobytes()
                tries += 1
            seen.add(key)
        return X

    def _move(self, x: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray:
        """``x`` with one random gene moved: another category (categorical, bool), up to
        ``scale`` integers away (integer), or by ``N(0, (scale * range / 20)^2)`` (real)."""
        x = x.copy()
        sp = self.space
        j = int(rng.integers(sp.dims))
        low, high = float(sp.lower[j]), float(sp.upper[j])
        if self._categorical[j]:
            k = int(sp.n_choices[j])
            if k < 2:
                return x
            current = int(np.floor(x[j] + 0.5 - (low + 0.5)))
            x[j] = low + 0.5 + (current + int(rng.integers(1, k))) % k
            return x
        if sp.kinds[j] == REAL:
            v = x[j] + rng.normal(0.0, 0.05 * scale * (high - low))
        else:
            v = np.floor(x[j] + 0.5) + rng.choice([-1.0, 1.0]) * rng.integers(1, scale + 1)
        if v < low:  # reflect into the bounds
            v = min(high, 2 * low - v)
        elif v > high:
            v = max(low, 2 * high - v)
        x[j] = v
        return x
