"""Run-loop callbacks of strategy evolution, with checkpointable state.

- :class:`HallOfFame`: the ``k`` best *distinct* strategies seen during the whole run.
- :class:`TrialSketch`: how many distinct strategies were tried, and a uniform sample of them
  (a bottom-k / KMV sketch on the hash of their decoded parameters), in O(k) memory however long
  the run; the deflated Sharpe ratio needs both.

Both key strategies like the fitness cache does (decoded parameters: integers and categories by
value, reals by their exact float), so two genotypes that decode to the same strategy count once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import check_int
from ..evaluation.cache import keyed_batch
from ..run.direction import Direction
from ..space import Space

if TYPE_CHECKING:
    from ..run.result import Generation

__all__ = ["HallOfFame", "TrialSketch"]


class HallOfFame:
    """The ``size`` best distinct individuals of a run (fitness in the user's sign).

    Parameters
    ----------
    space : Space
    size : int
        How many to keep.
    maximize : bool, default True
        Whether larger fitness is better.
    invalid : float, optional
        A fitness that marks an invalid individual (e.g. ``StrategyProblem.invalid_fitness``
        for too few trades): such individuals never enter.

    Attributes
    ----------
    X : ndarray of shape (<= size, d)
        Encoded genes, best first (ties: the earlier one first).
    fitness : ndarray of shape (<= size,)
    """

    def __init__(
        self, space: Space, size: int, maximize: bool = True, invalid: float | None = None
    ) -> None:
        self.space = space
        self.invalid = invalid
        self.size = check_int("hall_of_fame", size, minimum=1)
        self.direction = Direction.maximize() if maximize else Direction.minimize()
        self.X = np.empty((0, space.dims))
        self.fitness = np.empty(0)

    def __call__(self, info: Generation) -> None:
        f = np.asarray(info.fitness, dtype=np.float64)
        if f.ndim != 1:
            f = f[:, 0]
        to_internal = self.direction.to_internal  # ranked on the minimized scale
        m = to_internal(f)
        ok = np.isfinite(m)
        if self.invalid is not None:
            ok &= f != self.invalid
        if len(self.fitness) == self.size:  # only rows that beat the current last can enter
            ok &= m < to_internal(self.fitness[-1])
        if not ok.any():
            return
        X = np.concatenate([self.X, np.asarray(info.X, dtype=np.float64)[ok]])
        score = np.concatenate([to_internal(self.fitness), m[ok]])
        first, _ = keyed_batch(self.space, X).group()  # first occurrence of each distinct strategy
        first = np.sort(first)
        order = first[np.argsort(score[first], kind="stable")][: self.size]
        self.X = X[order]
        self.fitness = self.direction.to_user(score[order])

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        meta = {"size": self.size, "sign": self.direction.sign}
        return {"X": self.X, "fitness": self.fitness}, meta

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.X = np.array(arrays["X"], dtype=np.float64).reshape(-1, self.space.dims)
        self.fitness = np.array(arrays["fitness"], dtype=np.float64)


class TrialSketch:
    """Count the distinct strategies a run tried and keep a uniform sample of them.

    Keeps the ``k`` distinct strategies with the smallest 64-bit key hashes (a bottom-k
    sketch): while fewer than ``k`` were seen the count is exact; beyond, it is estimated as
    ``(k - 1) / h_k`` with ``h_k`` the k-th smallest hash scaled to (0, 1] (relative error about
    ``1 / sqrt(k)``, 1.6 % for the default k = 4096). The kept strategies are a uniform random
    sample of all distinct ones, independent of their fitness. Deterministic: the same
    candidates give the same sketch, whatever the chunking, the cache or a resume.
    """

    def __init__(self, space: Space, k: int = 4096) -> None:
        self.space = space
        self.k = check_int("k", k, minimum=2)
        self.hashes = np.empty(0, dtype=np.uint64)
        self.X = np.empty((0, space.dims))

    def __call__(self, info: Generation) -> None:
        X = np.asarray(info.X, dtype=np.float64)
        h = keyed_batch(self.space, X).hashes
        if len(self.hashes) == self.k:
            keep = h < self.hashes[-1]
            if not keep.any():
                return
            X, h = X[keep], h[keep]
        allh = np.concatenate([self.hashes, h])
        allX = np.concatenate([self.X, X])
        _, first = np.unique(allh, return_index=True)  # sorted by hash; first occurrence
        first = first[: self.k]
        self.hashes = allh[first]
        self.X = allX[first]

    @property
    def n_distinct(self) -> int:
        """Distinct strategies tried (exact below ``k``, estimated above)."""
        if len(self.hashes) < self.k:
            return len(self.hashes)
        scaled = (float(self.hashes[-1]) + 1.0) / 2.0**64
        return max(self.k, round((self.k - 1) / scaled))

    @property
    def exact(self) -> bool:
        return len(self.hashes) < self.k

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"hashes": self.hashes, "X": self.X}, {"k": self.k}

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.hashes = np.array(arrays["hashes"], dtype=np.uint64)
        self.X = np.array(arrays["X"], dtype=np.float64).reshape(-1, self.space.dims)
