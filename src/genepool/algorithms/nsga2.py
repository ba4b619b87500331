"""NSGA-II (Deb et al. 2002) with ask/tell, at population sizes from 10^2 to 10^6.

One generation: binary tournaments on (rank, crowding distance) pick parents, simulated binary
crossover and polynomial mutation make ``n`` offspring (a fused kernel, block by block), the
offspring are evaluated, and the best ``n`` of parents + offspring survive: whole fronts while
they fit, then the least crowded rows of the front that does not. Constraints follow Deb's
constrained domination: a feasible row beats an infeasible one, infeasible rows are ranked by
their total violation.

Memory stays O(n (d + m)): the population and the offspring (``2 n d`` values), the objectives
of the ``2 n`` rows being ranked, and a few values per row. No kernel builds an ``n x n`` array,
and survival writes the surviving offspring into the slots of the parents that died instead of
building a third population.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .._rng import make_rng
from ..errors import ConfigError, OptimizerError, check_float, check_int
from ..space import BOOL, CATEGORICAL, Real, Space
from ._mo_nb import crowding_distance, nondominated_rank
from ._nsga2_nb import N_UNIFORMS, vary_pairs_nb
from ._storage import check_storage
from .base import Optimizer

__all__ = [
    "NSGA2",
    "NSGA2State",
    "constrained_rank",
    "needed_crowding",
    "survivors",
    "total_violation",
]

log = logging.getLogger("genepool")

#: Parent pairs varied per block: the uniforms of a block take ``BLOCK * d * 7 * 8`` bytes
#: (3.4 MB at 30 genes). A constant, so the random stream never depends on memory.
BLOCK = 2048
#: Times a child that is a copy of a parent is bred again (``redraw_copies``).
REDRAWS = 3
#: Rows copied at a time when surviving offspring move into the population.
COPY_BLOCK = 65536


def total_violation(constraints: np.ndarray | None, n: int) -> np.ndarray:
    """Total constraint violation per row: the sum of the positive parts of ``g`` (``g <= 0``
    is satisfied); zeros without constraints."""
    if constraints is None:
        return np.zeros(n, dtype=np.float64)
    return np.maximum(constraints, 0.0).sum(axis=1)


def constrained_rank(F: np.ndarray, violation: np.ndarray | None) -> np.ndarray:
    """Deb's constrained non-dominated rank: the feasible rows (``violation == 0``) by
    non-domination of ``F``, then the infeasible rows, each distinct violation one front after
    the last feasible one (smaller violation first). Equal to :func:`nondominated_rank` when
    every row is feasible (``violation`` None: no constraints)."""
    if violation is None:
        return nondominated_rank(F)
    feasible = violation <= 0.0
    if feasible.all():
        return nondominated_rank(F)
    rank = np.empty(F.shape[0], dtype=np.int64)
    rows = np.flatnonzero(feasible)
    start = 0
    if rows.size:
        rank[rows] = nondominated_rank(F[rows])
        start = int(rank[rows].max()) + 1
    bad = np.flatnonzero(~feasible)
    _, dense = np.unique(violation[bad], return_inverse=True)
    rank[bad] = start + dense
    return rank


def needed_crowding(F: np.ndarray, rank: np.ndarray, n: int) -> np.ndarray:
    """Crowding distances of the rows that can survive: every front up to the first that does
    not fit whole in ``n`` (their values equal :func:`crowding_distance` on all rows: a front's
    distances depend on that front only); 0 for the rows of later fronts, which die unread.
    Early in a run half the rows are in such fronts, so this halves the cost of the crowding."""
    last = int(np.searchsorted(np.cumsum(np.bincount(rank)), n))
    rows = np.flatnonzero(rank <= last)
    if rows.shape[0] == rank.shape[0]:
        return crowding_distance(F, rank)
    crowding = np.zeros(rank.shape[0], dtype=np.float64)
    crowding[rows] = crowding_distance(F[rows], rank[rows])
    return crowding


def survivors(rank: np.ndarray, crowding: np.ndarray, n: int) -> np.ndarray:
    """Indices (sorted) of the ``n`` rows NSGA-II keeps: every front that fits whole, then the
    rows of the next front with the largest crowding distance (ties to the lower index)."""
    counts = np.bincount(rank)
    filled = np.cumsum(counts)
    last = int(np.searchsorted(filled, n))  # the first front that does not fit whole
    keep = rank < last
    room = n - int(keep.sum())
    if room:
        front = np.flatnonzero(rank == last)
        order = np.argsort(-crowding[front], kind="stable")
        keep[front[order[:room]]] = True
    return np.flatnonzero(keep)


@dataclass
class NSGA2State:
    """Everything NSGA-II needs to continue: arrays, counters, the RNG and the archive."""

    X: np.ndarray | None  # population (n, d)
    F: np.ndarray | None  # its objectives (n, m), every one minimized
    violation: np.ndarray | None  # total constraint violation (n,), 0 where feasible
    rank: np.ndarray | None  # constrained non-dominated rank (n,), 0 the first front
    crowding: np.ndarray | None  # crowding distance within the front (n,)
    reference: np.ndarray | None  # hypervolume reference point (m,), internal scale
    generation: int
    n_evaluations: int
    rng: np.random.Generator
    archive_X: np.ndarray | None = None
    archive_F: np.ndarray | None = None
    archive: dict[str, Any] = field(default_factory=dict)


class NSGA2(Optimizer):
    """NSGA-II: multi-objective evolution on a :class:`~genepool.Space`, vectorized.

    Fitness has shape ``(n, m)``, one column per objective, on the engine's minimized scale
    (``minimize``/``maximize`` with ``objectives=`` give each objective its sense). A problem
    with constraints returns them after the objectives and declares ``n_constraints``; with
    ask/tell, pass them to :meth:`tell`.

    Parameters
    ----------
    space : Space
        The search space: real, integer, categorical and bool genes. Real and integer genes get
        SBX and polynomial mutation; categorical and bool genes are swapped between the parents
        (each with probability 1/2) and resampled to another category.
    population_size : int, default 100
        ``n``: individuals kept, and offspring per generation.
    crossover_rate : float, default 0.9
        Probability that a pair of parents is recombined.
    eta_crossover : float, default 15
        Distribution index of SBX (larger: children nearer their parents), as in pymoo.
    gene_prob : float, default 0.5
        Probability that SBX recombines one gene of a recombined pair.
    eta_mutation : float, default 20
        Distribution index of polynomial mutation.
    mutation_rate : float or array of shape (d,), optional
        Per-gene mutation probability; default ``1 / d``.
    redraw_copies : bool, default True
        Breed again (up to 3 times) a child that is a copy of one of its parents (its pair was
        not recombined and no gene mutated: about 4 % of the children at the defaults), so that
        no evaluation is spent on a solution the population holds. pymoo's
        ``eliminate_duplicates`` does the same against every row, with an ``n x n`` distance
        matrix.
    archive_size : int or None, default 10_000
        Capacity of the external Pareto archive of every non-dominated solution found during
        the run (:class:`~genepool.algorithms.archive.ParetoArchive`); None: no archive (the
        result's front is then the final population's first front).
    archive_bytes : int or str, optional
        A cap on the archive's memory (``"50MB"``), beside ``archive_size``.
    reference_point : array of shape (m,), optional
        Hypervolume reference point on the internal (minimized) scale. Default: the worst
        finite value of each objective in the first generation plus 10 % of its range (1.0
        where the range is 0), fixed for the run and saved in checkpoints.
    seed : int or numpy Generator, optional
    dtype : float32 or float64, default float64
    storage : {"memory"}
        Only ``"memory"``: non-dominated sorting and crowding need every individual's
        objectives and ranks at once, so NSGA-II's population stays in memory (``"disk"`` is
        :class:`GA` and :class:`PSO`; ``docs/memory.md``).

    Examples
    --------
    >>> import numpy as np
    >>> from genepool import NSGA2, Space
    >>> opt = NSGA2(Space.box(0, 1, 3), population_size=40, seed=1)
    >>> for _ in range(20):
    ...     X = opt.ask()
    ...     opt.tell(X, np.column_stack([X[:, 0], 1 - X[:, 0] + X[:, 1:].sum(1)]))
    >>> F = opt.front()[1]
    >>> F.shape[1], bool(np.all(F[:, 0] + F[:, 1] < 1.2))
    (2, True)
    """

    multi_objective = True

    def __init__(
        self,
        space: Space,
        population_size: int = 100,
        *,
        crossover_rate: float = 0.9,
        eta_crossover: float = 15.0,
        gene_prob: float = 0.5,
        eta_mutation: float = 20.0,
        mutation_rate: float | np.ndarray | None = None,
        redraw_copies: bool = True,
        archive_size: int | None = 10_000,
        archive_bytes: int | str | None = None,
        reference_point: npt.ArrayLike | None = None,
        seed: int | np.random.Generator | None = None,
        dtype: npt.DTypeLike = np.float64,
        storage: str = "memory",
    ) -> None:
        if not isinstance(space, Space):
            raise ConfigError(f"space must be a genepool.Space, got {type(space).__name__}")
        if check_storage(storage, None) == "disk":
            raise ConfigError(
                "NSGA2 keeps its population in memory (storage='memory'): non-dominated "
                "sorting needs every individual at once; storage='disk' is for GA and PSO"
            )
        self.space = space
        self._n = check_int("population_size", population_size, minimum=2)
        self.crossover_rate = check_float("crossover_rate", crossover_rate, low=0.0, high=1.0)
        self.eta_crossover = check_float("eta_crossover", eta_crossover, low=0.0)
        self.gene_prob = check_float("gene_prob", gene_prob, low=0.0, high=1.0)
        self.eta_mutation = check_float("eta_mutation", eta_mutation, low=0.0)
        self.redraw_copies = bool(redraw_copies)
        d = space.dims
        rate = 1.0 / d if mutation_rate is None else mutation_rate
        try:
            self._rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (d,)).copy()
        except ValueError:
            raise ConfigError(
                f"mutation_rate must be a scalar or have shape ({d},), got {mutation_rate!r}"
            ) from None
        if not np.all((self._rate >= 0) & (self._rate <= 1)):
            raise ConfigError(f"mutation_rate must be within [0, 1], got {mutation_rate!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
        categorical = np.isin(space.kinds, (CATEGORICAL, BOOL))
        self._categories = np.where(categorical, np.maximum(space.n_choices, 1), 0).astype(
            np.int64
        )
        self._lower = space.lower.astype(np.float64)
        self._upper = space.upper.astype(np.float64)
        self._reference_given = _reference(reference_point)
        self._discrete = {j for j, g in enumerate(space.genes) if not isinstance(g, Real)}
        self.archive = _make_archive(archive_size, archive_bytes)
        self.state = NSGA2State(
            X=None,
            F=None,
            violation=None,
            rank=None,
            crowding=None,
            reference=self._reference_given,
            generation=0,
            n_evaluations=0,
            rng=make_rng(seed),
        )
        self._pending: np.ndarray | None = None

    # -- what it is --------------------------------------------------------------------------
    @property
    def population_size(self) -> int:
        return self._n

    @property
    def n_objectives(self) -> int | None:
        """``m``, known once the first generation was told."""
        return None if self.state.F is None else int(self.state.F.shape[1])

    @property
    def cache_by_default(self) -> bool:
        """Off on continuous genes (SBX and polynomial mutation almost never repeat a
        candidate), on where integer, categorical or bool genes decode to repeats."""
        return not all(isinstance(g, Real) for g in self.space.genes)

    def memory_footprint(self) -> int:
        """Population + offspring, the objectives and bookkeeping of the ``2 n`` rows ranked
        (4 objectives assumed before the first tell), one block of uniforms, the archive."""
        n, d = self._n, self.space.dims
        m = self.n_objectives or 4
        genes = self.dtype.itemsize * d * 2 * n
        ranking = 2 * n * (8 * m + 48)
        block = BLOCK * d * (N_UNIFORMS * 8 + 4 * self.dtype.itemsize)
        archive = 0 if self.archive is None else self.archive.capacity * 8 * (d + m)
        return genes + ranking + block + archive

    # -- ask/tell ----------------------------------------------------------------------------
    def ask(self) -> np.ndarray:
        if self._pending is not None:
            raise OptimizerError("ask() called twice without tell()")
        st = self.state
        if st.X is None:
            self.check_fits_in_memory()
            X = self.space.sample(self._n, st.rng, dtype=self.dtype)
        else:
            X = self._offspring()
        self._pending = X
        return X

    def tell(
        self, X: np.ndarray, fitness: np.ndarray, constraints: npt.ArrayLike | None = None
    ) -> None:
        """Report the objectives (``(n, m)``, minimized) of the last :meth:`ask`, and the
        constraint values ``g`` (``(n, k)``, ``g <= 0`` satisfied) when there are any."""
        X, F = self._check_tell(X, fitness, self._pending)
        if F.ndim == 1:
            F = F[:, None]
        st = self.state
        if st.F is not None and F.shape[1] != st.F.shape[1]:
            raise OptimizerError(
                f"fitness has {F.shape[1]} objective(s) but earlier generations had "
                f"{st.F.shape[1]}"
            )
        violation = total_violation(_constraints(constraints, X.shape[0]), X.shape[0])
        if st.X is None:
            self._first(X, F, violation)
        else:
            self._survive(X, F, violation)
        st.generation += 1
        st.n_evaluations += X.shape[0]
        self._pending = None

    def _first(self, X: np.ndarray, F: np.ndarray, violation: np.ndarray) -> None:
        st = self.state
        st.X, st.F, st.violation = np.array(X), F, violation
        st.rank = constrained_rank(F, violation)
        st.crowding = crowding_distance(F, st.rank)
        if st.reference is None:
            st.reference = default_reference(F)
        elif st.reference.shape != (F.shape[1],):
            raise OptimizerError(
                f"reference_point has {st.reference.shape[0]} values but the fitness has "
                f"{F.shape[1]} objectives"
            )
        self._archive_update(X, F, violation, st.rank)

    def _survive(self, X: np.ndarray, F: np.ndarray, violation: np.ndarray) -> None:
        st = self.state
        assert st.X is not None and st.F is not None and st.violation is not None
        n = self._n
        F_all = np.concatenate([st.F, F])
        constrained = bool((st.violation > 0).any() or (violation > 0).any())
        v_all = np.concatenate([st.violation, violation]) if constrained else None
        # The population's objectives now live in F_all, and its ranks and crowding distances
        # are about to be recomputed: drop them while the 2n rows are ranked (60 bytes per
        # individual off the peak, measured at 10^6). If ranking fails (e.g. out of memory) the
        # population stays whole: its objectives come back from F_all, its ranks and distances
        # are recomputed on the population alone (valid, not those of the merged ranking).
        st.F = st.violation = st.rank = st.crowding = None
        try:
            rank = constrained_rank(F_all, v_all)
            crowding = needed_crowding(F_all, rank, n)
            keep = survivors(rank, crowding, n)
            self._archive_update(X, F, violation, rank[n:])
            # surviving offspring take the slots of the parents that died, in order
            new = keep[keep >= n]
            alive = np.zeros(n, dtype=bool)
            alive[keep[keep < n]] = True
            dead = np.flatnonzero(~alive)
            perm = np.arange(n)
            perm[dead] = new
            kept = (F_all[perm], np.zeros(n) if v_all is None else v_all[perm], rank[perm],
                    crowding[perm])  # fmt: skip
        except BaseException:
            st.F = F_all[:n].copy()
            st.violation = np.zeros(n) if v_all is None else v_all[:n].copy()
            st.rank = constrained_rank(st.F, st.violation)
            st.crowding = crowding_distance(st.F, st.rank)
            raise
        st.F, st.violation, st.rank, st.crowding = kept
        for start in range(0, new.shape[0], COPY_BLOCK):  # bounded gathers, no third population
            rows = new[start : start + COPY_BLOCK]
            st.X[dead[start : start + COPY_BLOCK]] = X[rows - n]

    def _archive_update(
        self, X: np.ndarray, F: np.ndarray, violation: np.ndarray, rank: np.ndarray
    ) -> None:
        """Offer the archive the feasible, finite rows of ``X`` in the first front: a row
        outside it is dominated by a solution already found."""
        if self.archive is None:
            return
        rows = np.flatnonzero((rank == 0) & (violation <= 0.0) & np.isfinite(F).all(axis=1))
        if rows.size:
            self.archive.update(self._canonical(X[rows]), F[rows])

    def _canonical(self, X: np.ndarray) -> np.ndarray:
        """``X`` with its integer, categorical and bool genes at the encoding of their decoded
        value, so that the archive stores one row per distinct decoded individual (two
        encodings of the same integer are the same solution). Real genes are left as they
        are. Works in place on ``X`` (a gather)."""
        for j, gene in enumerate(self.space.genes):
            if j in self._discrete:
                X[:, j] = gene.encode(gene.decode(X[:, j]))
        return X

    def _offspring(self) -> np.ndarray:
        """``n`` children: binary tournaments on (rank, crowding), then the fused SBX +
        polynomial mutation kernel, :data:`BLOCK` pairs at a time."""
        st = self.state
        assert st.X is not None and st.rank is not None and st.crowding is not None
        n, d = self._n, self.space.dims
        out = np.empty((n, d), dtype=self.dtype)
        copies = np.zeros(n, dtype=bool)
        pairs = (n + 1) // 2
        for first in range(0, pairs, BLOCK):
            self._vary(min(BLOCK, pairs - first), out, 2 * first, copies)
        redo = np.flatnonzero(copies) if self.redraw_copies else np.empty(0, dtype=np.int64)
        for _ in range(REDRAWS):  # children that are copies of a parent are bred again
            if not redo.size:
                break
            again = np.empty((2 * redo.size, d), dtype=self.dtype)
            copied = np.zeros(2 * redo.size, dtype=bool)
            for first in range(0, redo.size, BLOCK):
                self._vary(min(BLOCK, redo.size - first), again, 2 * first, copied)
            out[redo] = again[0::2]
            redo = redo[copied[0::2]]
        if self.dtype != np.float64:  # rounding to float32 can cross a float64 bound
            self.space.clip(out)
        return out

    def _vary(self, pairs: int, out: np.ndarray, row0: int, copies: np.ndarray) -> None:
        """Tournaments for ``pairs`` pairs of parents, then their children into ``out[row0:]``
        (``copies`` marks the children equal to a parent)."""
        st = self.state
        assert st.X is not None
        parents = self._tournament(2 * pairs, st.rng)
        crossed = st.rng.random(pairs) < self.crossover_rate
        U = st.rng.random((pairs, self.space.dims, N_UNIFORMS))
        vary_pairs_nb(
            st.X[parents[:pairs]], st.X[parents[pairs:]], crossed, U, self._lower,
            self._upper, self._categories, self._rate, self.eta_crossover, self.gene_prob,
            self.eta_mutation, out, row0, copies,
        )  # fmt: skip

    def _tournament(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` winners of binary tournaments: the lower rank, then the larger crowding
        distance, then the first contestant."""
        st = self.state
        assert st.rank is not None and st.crowding is not None
        a = rng.integers(0, self._n, size=k)
        b = rng.integers(0, self._n, size=k)
        ra, rb = st.rank[a], st.rank[b]
        b_wins = (rb < ra) | ((rb == ra) & (st.crowding[b] > st.crowding[a]))
        return np.where(b_wins, b, a)

    # -- results -----------------------------------------------------------------------------
    def front(self) -> tuple[np.ndarray, np.ndarray]:
        """The population's first front (feasible rows of rank 0): ``(X, F)``, F minimized."""
        st = self.state
        if st.X is None or st.F is None or st.rank is None or st.violation is None:
            raise OptimizerError("no front yet: tell() the first generation first")
        rows = np.flatnonzero((st.rank == 0) & (st.violation <= 0.0))
        return st.X[rows].copy(), st.F[rows].copy()

    def front_summary(self) -> dict[str, float]:
        """The population's first front in numbers: ``size`` (feasible rows of rank 0) and
        ``feasible`` (the share of feasible rows)."""
        st = self.state
        assert st.rank is not None and st.violation is not None
        feasible = st.violation <= 0.0
        return {
            "size": float(np.count_nonzero((st.rank == 0) & feasible)),
            "feasible": float(feasible.mean()),
        }

    def least_violating(self) -> tuple[np.ndarray, np.ndarray]:
        """The row of the population with the least total constraint violation (the first
        such): ``(X[i:i+1], F[i:i+1])``; what a run without a feasible row can report."""
        st = self.state
        assert st.X is not None and st.F is not None and st.violation is not None
        i = int(np.argmin(st.violation))
        return st.X[i : i + 1].copy(), st.F[i : i + 1].copy()

    def pareto_set(self) -> tuple[np.ndarray, np.ndarray]:
        """The best non-dominated set found: the archive's members, or (without an archive)
        the population's first front. ``(X, F)``, F minimized."""
        if self.archive is not None and self.archive.size:
            return self.archive.X.copy(), self.archive.F.copy()
        return self.front()

    def hypervolume(self) -> float:
        """Hypervolume of the population's first front against the reference point."""
        from ..indicators import hypervolume

        st = self.state
        if st.reference is None:
            raise OptimizerError("no hypervolume yet: tell() the first generation first")
        F = self.front()[1]
        return hypervolume(F, st.reference) if F.shape[0] else 0.0

    def best(self) -> tuple[np.ndarray, float] | None:
        """None: a multi-objective run has a front, not one best (see :meth:`pareto_set`)."""
        return None

    # -- checkpointing -----------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        st = self.state
        if self.archive is not None:
            arrays, meta = self.archive.state_dict()
            st.archive_X, st.archive_F = arrays.get("X"), arrays.get("F")
            st.archive = dict(meta)
        try:
            return super().state_dict()
        finally:  # the archive object holds its members; the state refers to them only here
            st.archive_X = st.archive_F = None

    def _on_state_loaded(self) -> None:
        self._pending = None
        st = self.state
        if self.archive is not None and st.archive:
            arrays = {}
            if st.archive_X is not None and st.archive_F is not None:
                arrays = {"X": st.archive_X, "F": st.archive_F}
            self.archive.load_state_dict(arrays, st.archive)
        st.archive_X = st.archive_F = None  # the archive object holds them

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        n, d = self._n, self.space.dims
        shapes: dict[str, tuple[int, ...]] = {
            "X": (n, d),
            "violation": (n,),
            "rank": (n,),
            "crowding": (n,),
        }
        F = self.state.F
        if F is not None:
            shapes["F"] = (n, F.shape[1])
        return shapes


def default_reference(F: np.ndarray) -> np.ndarray:
    """The worst finite value of each column of ``F`` plus 10 % of its range (1.0 where the
    range is 0 or nothing is finite)."""
    m = F.shape[1]
    ref = np.ones(m)
    for j in range(m):
        col = F[:, j][np.isfinite(F[:, j])]
        if col.size:
            span = float(col.max() - col.min())
            ref[j] = float(col.max()) + (0.1 * span if span > 0 else 1.0)
    return ref


def _reference(value: npt.ArrayLike | None) -> np.ndarray | None:
    if value is None:
        return None
    ref = np.array(value, dtype=np.float64).reshape(-1)
    if ref.size == 0 or not np.isfinite(ref).all():
        raise ConfigError(f"reference_point must be finite numbers, got {value!r}")
    return ref


def _constraints(constraints: npt.ArrayLike | None, n: int) -> np.ndarray | None:
    if constraints is None:
        return None
    g = np.asarray(constraints, dtype=np.float64)
    if g.ndim == 1:
        g = g[:, None]
    if g.ndim != 2 or g.shape[0] != n:
        raise OptimizerError(
            f"constraints must have shape ({n}, k), one row per candidate, got "
            f"{np.shape(constraints)}"
        )
    if np.isnan(g).any():
        row = int(np.flatnonzero(np.isnan(g).any(axis=1))[0])
        raise OptimizerError(f"constraints hold NaN (row {row}); return a number per constraint")
    return g


def _make_archive(size: int | None, max_bytes: int | str | None) -> Any:
    if size is None:
        if max_bytes is not None:
            raise ConfigError("archive_bytes needs an archive: archive_size is None")
        return None
    from .archive import ParetoArchive

    return ParetoArchive(check_int("archive_size", size, minimum=2), max_bytes)
