"""``ParetoArchive``: every non-dominated solution found during a run, capped by count and bytes.

Members are the non-dominated rows of everything added (objectives on the engine's internal,
minimized scale), each stored once. When the archive exceeds its ``capacity`` or ``max_bytes``
(or the memory monitor calls :meth:`ParetoArchive.shrink`), it is *thinned*: the extremes (the
best member of each objective) are kept, then the members that best cover the rest of the front
in objective space, normalized by the archive's ideal and nadir points.

Thinning method
---------------
Default ``"grid+fps"``: greedy farthest-point (k-center) selection in the normalized objective
space, seeded by the extremes (each next member is the one farthest from those kept; Gonzalez's
2-approximation of the smallest coverage radius). With more than 8 times as many members as the
target, an epsilon-grid first keeps one member per occupied box (4 to 8 times the target), so a
thinning of 10^6 points costs a few sorts plus farthest-point on at most 8 k. The farthest-point
kernel is the exact greedy, made fast by scanning only the slab a new pick can improve.

Measured (``python benchmarks/bench_archive.py --big``, table in
``benchmarks/results/bench_archive.json``; 2-core machine shared with other jobs, load ~5, so
times are indicative) on ZDT1, ZDT3, a 3-objective sphere octant and a random non-dominated
simplex set, thinning 10^4 and 10^5 points to 10^3 and 10^6 to 10^4:

- Two objectives: every method keeps the extremes and 99.92-99.995% of the hypervolume; the
  coverage radius (largest distance from a dropped point to its nearest kept one, normalized)
  is 0.0007-0.0015 for farthest-point, grid+fps and crowding alike (on a curve crowding is
  neighbour spacing, which suits it), 0.0013-0.0025 for the grid alone.
- Three objectives: crowding-based truncation (remove the least crowded, update its neighbours,
  repeat; NSGA-II's truncation iterated) judges crowding one objective at a time and leaves holes:
  coverage radius 0.050-0.072 against 0.021-0.031 for farthest-point (2.2-2.5x) and 0.025-0.039
  for grid+fps, hypervolume 0.3-0.9 points lower than farthest-point; it is also the slowest
  (18 s for 10^6 -> 10^4 on the sphere, coverage 2.7x farthest-point's). The grid alone
  cannot hit a target (the count of occupied boxes jumps with the grid size: it keeps 73-98%
  of it) and covers worse (0.044-0.063).
- Farthest-point alone covers best but takes 2.4-2.7 s (2-D) and 9-13 s (3-D) for
  10^6 -> 10^4; grid+fps takes 0.7 s and 1.0-1.3 s there, with coverage 0.0127 against
  0.0099 and hypervolume within 0.04 points. Below 8 k members (every thinning of an archive
  at its capacity) it is farthest-point exactly.

Determinism: the members are kept in a canonical order (lexicographic by objectives, then by
genes), so the archive's state after a sequence of updates that thins nothing depends only on the
set of rows added (not on their order or how they were split into calls), and a thinning depends
only on the members at that moment. When a thinning happens depends on the calls, so the state
after updates that thin does depend on how the rows were split.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, check_float, check_int
from ..memory._size import parse_size
from ._archive_nb import (
    crowding_truncate,
    dominated_by_any,
    farthest_point_select,
    front_2d,
    grid_representatives,
)
from ._mo_nb import nondominated_rank

if TYPE_CHECKING:
    import pandas as pd

    from ..run.direction import Direction
    from ..space import Space

__all__ = ["THIN_METHODS", "ParetoArchive", "pareto_frame", "thin_indices", "write_pareto"]

log = logging.getLogger("genepool")

#: The thinning methods :func:`thin_indices` knows (see the module docstring for the measurements).
THIN_METHODS = ("grid+fps", "fps", "grid", "crowding")
_GRID_FACTOR = 8  # "grid+fps": grid-reduce first when there are more than 8 x target rows
_STATE_VERSION = 1


def extremes(F: np.ndarray) -> np.ndarray:
    """The best row of each objective (ties to the lowest index), in objective order, repeats
    dropped."""
    if F.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    best = np.argmin(F, axis=0).astype(np.int64)
    _, first = np.unique(best, return_index=True)
    return best[np.sort(first)]


def normalized(F: np.ndarray) -> np.ndarray:
    """``F`` scaled to ``[0, 1]`` per objective by its ideal (min) and nadir (max) points; an
    objective with no spread becomes 0."""
    low = F.min(axis=0)
    span = F.max(axis=0) - low
    span[~(span > 0)] = 1.0
    return (F - low) / span


def thin_indices(F: np.ndarray, target: int, method: str = "grid+fps") -> np.ndarray:
    """The rows of a non-dominated set ``F`` (finite, ``(n, m)``) to keep: at most ``target``,
    the extremes first, sorted.

    Parameters
    ----------
    F : ndarray of shape (n, m)
        Objectives (minimized) of mutually non-dominated rows.
    target : int
        How many to keep (``>= 0``).
    method : {"grid+fps", "fps", "grid", "crowding"}
        See the module docstring.

    Returns
    -------
    ndarray of int64, sorted
    """
    if method not in THIN_METHODS:
        raise ConfigError(f"method must be one of {list(THIN_METHODS)}, got {method!r}")
    n = F.shape[0]
    target = max(int(target), 0)
    if target >= n:
        return np.arange(n, dtype=np.int64)
    if target == 0:
        return np.empty(0, dtype=np.int64)
    ext = extremes(F)
    if target <= ext.size:
        return np.sort(ext[:target])
    Z = normalized(F)
    if method == "crowding":
        return crowding_truncate(Z, target)
    if method == "fps":
        return np.sort(farthest_point_select(Z, ext, target))
    if method == "grid":
        high = target - ext.size
        reps = np.union1d(grid_representatives(Z, min(target // 2, high), high), ext)
        return reps
    # grid+fps
    if n <= _GRID_FACTOR * target:
        return np.sort(farthest_point_select(Z, ext, target))
    high = _GRID_FACTOR * target
    reps = np.union1d(grid_representatives(Z, high // 2, high), ext)
    if reps.size < target:  # too few distinct boxes (many equal objective vectors): fill
        rest = np.setdiff1d(np.arange(n), reps, assume_unique=True)
        return np.sort(np.concatenate([reps, rest[: target - reps.size]]))
    sub = np.searchsorted(reps, ext)
    return np.sort(reps[farthest_point_select(Z[reps], sub, target)])


def _order_ties(Fs: np.ndarray, genes: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The canonical order of rows already sorted lexicographically by ``Fs`` (equal rows by
    position): rows equal in ``Fs`` ordered by their genes (``genes(rows)`` gives them, asked
    only for such rows), then by position. Returns a permutation of ``range(len(Fs))``."""
    order = np.arange(Fs.shape[0])
    tie = np.zeros(order.size, dtype=bool)
    if order.size > 1:
        same = (Fs[1:] == Fs[:-1]).all(axis=1)
        tie[1:] |= same
        tie[:-1] |= same
    if tie.any():
        pos = np.flatnonzero(tie)
        group = np.cumsum(~np.r_[False, (Fs[pos[1:]] == Fs[pos[:-1]]).all(axis=1)])
        rows = order[pos]
        X = genes(rows)
        keys = [rows] + [X[:, j] for j in range(X.shape[1] - 1, -1, -1)] + [group]
        order[pos] = rows[np.lexsort(keys)]
    return order


def _distinct(F: np.ndarray, genes: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Rows of ``F`` (in canonical order) to keep so that identical rows (equal ``F`` and equal
    genes) appear once: the first of each run of identical rows."""
    n = F.shape[0]
    if n < 2:
        return np.arange(n)
    same = (F[1:] == F[:-1]).all(axis=1)
    if same.any():
        i = np.flatnonzero(same)
        same[i] = (genes(i + 1) == genes(i)).all(axis=1)
    return np.flatnonzero(np.r_[True, ~same])


class ParetoArchive:
    """An external archive of the non-dominated solutions of a run, capped by count and bytes.

    Parameters
    ----------
    capacity : int, default 10_000
        Most members kept (``>= 2``).
    max_bytes : int or str, optional
        Most bytes the members' arrays may take (``"64MB"``); thinned below it otherwise.
    method : str, default "grid+fps"
        Thinning method (:data:`THIN_METHODS`; the module docstring says why the default).
    headroom : float, default 0.1
        Share of the cap freed by a thinning that :meth:`update` triggers: over ``capacity``
        rows, the archive is thinned to ``capacity - floor(headroom * capacity)`` (likewise for
        ``max_bytes``), so that a full archive fed a few new members every generation is thinned
        (and logs) once in many generations rather than at every one. 0 thins to the cap.

    Notes
    -----
    Cost of :meth:`update` with ``n`` candidate rows (``d`` genes, ``m`` objectives) and ``s``
    members: with two objectives, one sort of the ``n + s`` objective vectors and a sweep
    (O(N log N)); with three or more, the candidates' own front
    (:func:`~genepool.algorithms._mo_nb.nondominated_rank`) then a cross-check of that front
    against the members (O(s |front| m) at worst); genes are only gathered for rows equal in
    ``F`` and for the rows finally kept; a thinning when over a cap (see the module docstring).
    Measured (shared 2-core machine): a 10^6-row front (m = 2, d = 30) into an empty archive of
    capacity 10^4, 1.4-1.9 s; a generation's 10^3-row front into a full archive of 10^4, 3-7 ms
    (m = 2) and 0.08-0.15 s (m = 3). Memory: O((n + s) m) plus O(k d) for the kept genes, never
    ``n x n``.

    Examples
    --------
    >>> import numpy as np
    >>> a = ParetoArchive(capacity=100)
    >>> a.update(np.array([[0.0], [1.0], [2.0]]), np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0]]))
    2
    >>> a.F
    array([[1., 2.],
           [2., 1.]])
    """

    def __init__(
        self,
        capacity: int = 10_000,
        max_bytes: int | str | None = None,
        *,
        method: str = "grid+fps",
        headroom: float = 0.1,
    ) -> None:
        self.capacity = check_int("capacity", capacity, minimum=2)
        self.headroom = check_float("headroom", headroom, low=0.0, high=1.0, high_inclusive=False)
        self.max_bytes = None if max_bytes is None else parse_size(max_bytes, "max_bytes")
        if method not in THIN_METHODS:
            raise ConfigError(f"method must be one of {list(THIN_METHODS)}, got {method!r}")
        self.method = method
        self._X = np.empty((0, 0))
        self._F = np.empty((0, 0))
        self._m: int | None = None
        self._d: int | None = None
        self.thinnings = 0
        self.dropped = 0
        self.last_reason: str | None = None

    # -- what it holds ------------------------------------------------------------------------
    @property
    def X(self) -> np.ndarray:
        """Genes of the members, ``(size, d)``, in canonical order (read-only view)."""
        v = self._X.view()
        v.flags.writeable = False
        return v

    @property
    def F(self) -> np.ndarray:
        """Objectives of the members (internal, minimized scale), ``(size, m)`` (read-only)."""
        v = self._F.view()
        v.flags.writeable = False
        return v

    @property
    def size(self) -> int:
        return int(self._F.shape[0])

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes of the members' arrays."""
        return int(self._X.nbytes + self._F.nbytes)

    @property
    def m(self) -> int | None:
        """Number of objectives (None until the first update)."""
        return self._m

    @property
    def d(self) -> int | None:
        """Number of genes (None until the first update)."""
        return self._d

    def stats(self) -> dict[str, Any]:
        """Size, bytes, caps and thinning counters (for the memory report)."""
        return {
            "size": self.size,
            "nbytes": self.nbytes,
            "capacity": self.capacity,
            "max_bytes": self.max_bytes,
            "headroom": self.headroom,
            "thinnings": self.thinnings,
            "dropped": self.dropped,
            "last_reason": self.last_reason,
        }

    def __repr__(self) -> str:
        return (
            f"ParetoArchive(size={self.size}, capacity={self.capacity}, "
            f"max_bytes={self.max_bytes}, thinnings={self.thinnings})"
        )

    # -- adding ---------------------------------------------------------------------------------
    def _check(self, X: Any, F: Any) -> tuple[np.ndarray, np.ndarray]:
        F = np.asarray(F, dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        if F.ndim != 2:
            raise ConfigError(f"F must be 2-D (n, m), got shape {F.shape}")
        if X.ndim != 2:
            raise ConfigError(f"X must be 2-D (n, d), got shape {X.shape}")
        if X.shape[0] != F.shape[0]:
            raise ConfigError(f"X has {X.shape[0]} rows but F has {F.shape[0]}")
        if F.shape[1] < 1:
            raise ConfigError(f"F must have at least one objective, got shape {F.shape}")
        if self._m is not None and F.shape[1] != self._m:
            raise ConfigError(f"F has {F.shape[1]} objectives, the archive's members {self._m}")
        if self._d is not None and X.shape[1] != self._d:
            raise ConfigError(f"X has {X.shape[1]} genes, the archive's members {self._d}")
        return X, F

    def update(self, X: np.ndarray, F: np.ndarray) -> int:
        """Merge candidate rows, keep the non-dominated ones, thin if over a cap.

        Parameters
        ----------
        X : ndarray of shape (n, d)
            Genes (encoded floats).
        F : ndarray of shape (n, m)
            Objectives on the internal scale (minimized). Rows with a non-finite value are
            ignored.

        Returns
        -------
        int
            Candidate rows that are members after the call (after any thinning).

        Notes
        -----
        A candidate equal in ``F`` to a member (or to another candidate) is kept beside it unless
        their genes are equal too: identical rows are stored once. Cost: see the class notes.
        """
        X, F = self._check(X, F)
        ok = np.isfinite(F).all(axis=1)
        if not ok.all():
            X, F = X[ok], F[ok]
        if self._m is None:
            self._m, self._d = F.shape[1], X.shape[1]
            self._X = np.empty((0, self._d))
            self._F = np.empty((0, self._m))
        if F.shape[0] == 0:
            return 0
        s = self.size
        front, allF = self._merged_front(F)
        cand = X

        def genes(rows: np.ndarray) -> np.ndarray:  # X of merged rows, gathered only when asked
            out = np.empty((rows.size, cand.shape[1]))
            old = rows < s
            out[old] = self._X[rows[old]]
            out[~old] = cand[rows[~old] - s]
            return out

        Ff = allF[front]  # lexicographic order
        order = _order_ties(Ff, lambda r: genes(front[r]))
        if not np.array_equal(order, np.arange(order.size)):
            Ff, front = Ff[order], front[order]
        keep = _distinct(Ff, lambda r: genes(front[r]))
        front, Ff = front[keep], Ff[keep]
        over = self._over_cap(front.size)
        if over is not None:
            kept = self._thin_rows(Ff, over[0], over[1])
            front, Ff = front[kept], Ff[kept]
        self._X, self._F = genes(front), np.ascontiguousarray(Ff)
        return int((front >= s).sum())

    def _merged_front(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the non-dominated rows of the members followed by the candidates ``F``,
        in lexicographic order of their objectives (equal ones by position), and the rows'
        objectives concatenated (members first)."""
        s = self.size
        if F.shape[1] == 2:  # a sort and a sweep of the union, O(N log N)
            allF = np.concatenate([self._F, F]) if s else np.ascontiguousarray(F)
            return front_2d(allF), allF
        if F.shape[1] == 1:
            allF = np.concatenate([self._F, F]) if s else np.ascontiguousarray(F)
            front = np.flatnonzero(allF[:, 0] == allF[:, 0].min())
            return front, allF
        # 3+ objectives: the candidates' own front, then a cross check against the members
        # (who are mutually non-dominated), O(s |front| m) rather than a sort of the union
        fb = np.flatnonzero(nondominated_rank(F) == 0)
        Fb = F[fb]
        cand_ok = ~dominated_by_any(Fb, self._F)
        fb, Fb = fb[cand_ok], Fb[cand_ok]
        mem_ok = ~dominated_by_any(self._F, Fb)
        allF = np.concatenate([self._F, F])
        front = np.concatenate([np.flatnonzero(mem_ok), s + fb])
        return front[np.lexsort(allF[front].T[::-1])], allF

    def _row_bytes(self) -> int:
        return 8 * ((self._d or 0) + (self._m or 0))

    def _over_cap(self, size: int) -> tuple[int, str] | None:
        """``(target, reason)`` when ``size`` members exceed a cap (the target leaves the
        headroom below the cap), else None."""
        limit, reason = self.capacity, "capacity"
        if self.max_bytes is not None and size * self._row_bytes() > self.max_bytes:
            by_bytes = self.max_bytes // max(self._row_bytes(), 1)
            if by_bytes < limit:
                limit, reason = by_bytes, "bytes"
        if size <= limit:
            return None
        return limit - int(self.headroom * limit), reason

    # -- thinning -------------------------------------------------------------------------------
    def _thin_rows(self, F: np.ndarray, target: int, reason: str) -> np.ndarray:
        """Rows of ``F`` to keep at ``target``; counts and logs the thinning."""
        before = F.shape[0]
        kept = thin_indices(F, target, self.method)
        self.thinnings += 1
        self.dropped += before - kept.size
        self.last_reason = reason
        log.info(
            "pareto archive thinned (%s): %d -> %d rows (%s)",
            reason,
            before,
            kept.size,
            self.method,
        )
        return kept

    def thin(self, target: int, reason: str) -> int:
        """Thin to at most ``target`` rows (the extremes first); returns the rows dropped."""
        target = check_int("target", target, minimum=0)
        if self.size <= target:
            return 0
        before = self.size
        kept = self._thin_rows(self._F, target, reason)
        self._X, self._F = self._X[kept], self._F[kept]
        return before - self.size

    def shrink(self) -> int:
        """Thin to half the members (for ``MemoryMonitor.add_cleanup``); returns bytes released."""
        if self.size < 2:
            return 0
        before = self.nbytes
        self.thin(self.size // 2, "memory")
        return before - self.nbytes

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``(arrays, meta)``: the members ``X`` and ``F``, and a JSON-compatible record of the
        caps, method and counters (no pickle)."""
        arrays = {"X": self._X.copy(), "F": self._F.copy()}
        meta = {
            "version": _STATE_VERSION,
            "capacity": self.capacity,
            "max_bytes": self.max_bytes,
            "method": self.method,
            "headroom": self.headroom,
            "m": self._m,
            "d": self._d,
            "thinnings": self.thinnings,
            "dropped": self.dropped,
            "last_reason": self.last_reason,
        }
        return arrays, meta

    def load_state_dict(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (caps and method included);
        :class:`~genepool.errors.ConfigError` naming what is wrong otherwise."""
        for key in ("X", "F"):
            if key not in arrays:
                raise ConfigError(f"archive state: array {key!r} missing (got {sorted(arrays)})")
        keys = ("capacity", "max_bytes", "method", "headroom", "m", "d", "thinnings", "dropped")
        for key in keys:
            if key not in meta:
                raise ConfigError(f"archive state: meta key {key!r} missing (got {sorted(meta)})")
        try:
            json.dumps(dict(meta))
        except TypeError as exc:
            raise ConfigError(f"archive state: meta is not JSON-compatible ({exc})") from None
        X = np.asarray(arrays["X"])
        F = np.asarray(arrays["F"])
        if X.ndim != 2 or F.ndim != 2 or X.shape[0] != F.shape[0]:
            raise ConfigError(
                f"archive state: X {X.shape} and F {F.shape} must be 2-D with equal rows"
            )
        if X.dtype != np.float64 or F.dtype != np.float64:
            raise ConfigError(f"archive state: X and F must be float64, got {X.dtype}, {F.dtype}")
        m, d = meta["m"], meta["d"]
        if m is not None and (F.shape[1] != m or X.shape[1] != d):
            raise ConfigError(
                f"archive state: X {X.shape} and F {F.shape} do not match m={m}, d={d}"
            )
        if not np.isfinite(F).all():
            raise ConfigError("archive state: F holds non-finite values")
        fresh = ParetoArchive(
            meta["capacity"], meta["max_bytes"], method=meta["method"], headroom=meta["headroom"]
        )
        self.capacity, self.max_bytes = fresh.capacity, fresh.max_bytes
        self.method, self.headroom = fresh.method, fresh.headroom
        self._m = None if m is None else int(m)
        self._d = None if d is None else int(d)
        self._X = np.array(X, dtype=np.float64, order="C")
        self._F = np.array(F, dtype=np.float64, order="C")
        self.thinnings = check_int("thinnings", meta["thinnings"], minimum=0)
        self.dropped = check_int("dropped", meta["dropped"], minimum=0)
        self.last_reason = meta.get("last_reason")

    # -- output ---------------------------------------------------------------------------------
    def to_frame(self, space: Space, direction: Direction) -> pd.DataFrame:
        """The members as a table: :func:`pareto_frame` of ``X`` and ``F``."""
        m = self._m if self._m is not None else direction.m
        X = self._X if self._d is not None else np.empty((0, space.dims))
        F = self._F if self._m is not None else np.empty((0, m))
        return pareto_frame(space, direction, X, F)

    def write_parquet(self, path: str | Path, space: Space, direction: Direction) -> None:
        """Write :meth:`to_frame` to ``path`` atomically (:func:`write_pareto`), with the
        archive's counters beside the direction in the schema metadata."""
        m = self._m if self._m is not None else direction.m
        X = self._X if self._d is not None else np.empty((0, space.dims))
        F = self._F if self._m is not None else np.empty((0, m))
        write_pareto(path, space, direction, X, F, {"genepool.archive": json.dumps(self.stats())})


def pareto_frame(space: Space, direction: Direction, X: np.ndarray, F: np.ndarray) -> pd.DataFrame:
    """A Pareto set as a table: decoded parameters (``space.decode``), then one column per
    objective in the user's sense (``F`` is on the internal, minimized scale), named by
    ``direction``; ``f1``, ``f2``, ... when ``direction`` has one objective (its sense applies
    to every column). An objective named like a gene becomes ``objective_<name>``.

    Raises :class:`~genepool.errors.ConfigError` when ``direction`` has another number of
    objectives than ``F`` (more than one).
    """
    import pandas as pd

    m = F.shape[1]
    if direction.m == m:
        names = list(direction.names)
    elif direction.m == 1:
        names = [f"f{j + 1}" for j in range(m)]
    else:
        raise ConfigError(
            f"direction has {direction.m} objectives {list(direction.names)}, the Pareto set {m}"
        )
    values = direction.to_user(F)
    columns: dict[str, Any] = dict(space.decode(X))
    for j, name in enumerate(names):
        key = f"objective_{name}" if name in columns else name
        columns[key] = np.asarray(values[:, j], dtype=np.float64)
    return pd.DataFrame(columns)


def write_pareto(
    path: str | Path,
    space: Space,
    direction: Direction,
    X: np.ndarray,
    F: np.ndarray,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write :func:`pareto_frame` to ``path`` atomically, the direction (and ``metadata``) in
    the Parquet schema metadata."""
    import pyarrow as pa

    from ..memory.history import write_parquet_atomic

    table = pa.Table.from_pandas(pareto_frame(space, direction, X, F), preserve_index=False)
    meta = dict(table.schema.metadata or {})
    extra = {**direction.metadata(), **(metadata or {})}
    meta.update({k.encode(): v.encode() for k, v in extra.items()})
    write_parquet_atomic(table.replace_schema_metadata(meta), Path(path))
