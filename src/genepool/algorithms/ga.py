"""A vectorized genetic algorithm with ask/tell."""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import numpy.typing as npt

from .._rng import make_rng
from ..errors import ConfigError, OptimizerError, check_float, check_int
from ..operators import crossover as cx
from ..operators import mutation as mut
from ..operators import repair as rep
from ..operators import replacement as rpl
from ..operators import selection as sel
from ..operators._common import gene_rate, swap_mask
from ..space import BOOL, CATEGORICAL, INTEGER, Space
from . import _survival_nb as sv
from ._storage import PopulationFiles, check_storage
from .base import Optimizer, name_and_options

__all__ = ["GA", "GAState"]

#: An operator: its name, ``(name, {options})`` or a function (returning an array).
OperatorSpec = Union[str, tuple[str, Mapping[str, object]], Callable[..., np.ndarray]]

SELECTIONS: dict[str, Callable[..., Any]] = {
    "tournament": sel.tournament,
    "rank": sel.rank,
    "roulette": sel.roulette,
    "sus": sel.sus,
    "truncation": sel.truncation,
}
CROSSOVERS: dict[str, Callable[..., Any]] = {
    "uniform": cx.uniform,
    "one_point": cx.one_point,
    "two_point": cx.two_point,
    "blend": cx.blend,
    "sbx": cx.sbx,
    "arithmetic": cx.arithmetic,
}
MUTATIONS: dict[str, Callable[..., Any]] = {
    "gaussian": mut.gaussian,
    "polynomial": mut.polynomial,
    "uniform_reset": mut.uniform_reset,
    "integer_step": mut.integer_step,
}
REPAIRS: dict[str, Callable[..., Any]] = {
    "clip": rep.clip,
    "reflect": rep.reflect,
    "resample": rep.resample,
}
REPLACEMENTS = ("generational", "plus", "comma")
#: Default size of a population file's working chunk (rounded to whole blocks).
DEFAULT_CHUNK_BYTES = 64 * 2**20


def default_block_rows(dims: int) -> int:
    """Offspring bred from one random stream by default: about 4 MiB of float64 genes, within
    [256, 8192] rows. A function of the space only, so it is part of the configuration."""
    return int(min(8192, max(256, 2**22 // (8 * max(1, dims)))))


BOUNDED_CROSSOVERS = {"uniform", "one_point", "two_point", "sbx"}
BOUNDED_MUTATIONS = {"polynomial", "uniform_reset"}


def _resolve(
    kind: str, spec: OperatorSpec, registry: Mapping[str, Callable[..., Any]]
) -> tuple[str, Callable[..., Any], dict[str, Any]]:
    """Turn ``"name"``, ``("name", {params})`` or a callable into ``(name, function, params)``."""
    if callable(spec):
        return getattr(spec, "__name__", kind), spec, {}
    name, params = name_and_options(
        kind, spec, registry, "a name, (name, {options}) or a callable"
    )
    if name not in registry:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of {sorted(registry)}")
    fn = registry[name]
    # Options the GA does not pass itself: keyword parameters after the positional arguments.
    accepted = [
        p.name
        for p in list(inspect.signature(fn).parameters.values())[_POSITIONAL[kind] :]
        if p.name not in _BOUND[kind] and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ConfigError(
            f"{kind} {name!r} has no option(s) {unknown}; its options are {accepted or 'none'}"
        )
    return name, fn, params


#: Leading positional arguments of each kind of operator, and the keywords the GA binds.
_POSITIONAL = {"selection": 3, "crossover": 3, "mutation": 2}
_BOUND = {
    "selection": set(),
    "crossover": set(),
    "mutation": {"rate", "copy", "lower", "upper", "genes"},
}


@dataclass
class GAState:
    """Everything a GA needs to continue: arrays, counters and the RNG (no Python objects)."""

    X: np.ndarray | None  # population, shape (n, d), sorted best first
    fitness: np.ndarray | None  # shape (n,), minimized
    generation: int  # number of tell() calls so far
    n_evaluations: int
    rng: np.random.Generator


class GA(Optimizer):
    """Genetic algorithm on a :class:`~genepool.Space`, vectorized over the population.

    The defaults were tuned on Rastrigin, Ackley, Rosenbrock and sphere (``benchmarks/``):
    strong tournament pressure, gene-wise (uniform) recombination and (mu + lambda) survival,
    which reach a median best of 3.1 (10 seeds) on Rastrigin D=30 with 1,000 individuals and 50
    generations.

    One generation: select parents, recombine pairs with probability ``crossover_rate``, mutate
    each gene with probability ``mutation_rate``, repair bounds, evaluate, then replace.
    Categorical and bool genes are always recombined by uniform swap and mutated by resampling
    another category (averaging category indices has no meaning); real and integer genes go
    through the chosen ``crossover`` and ``mutation``.

    Parameters
    ----------
    space : Space
        The search space.
    population_size : int, default 100
        Individuals per generation (``n``).
    selection, crossover, mutation : str, (str, dict) or callable
        Operator name from :mod:`genepool.operators` with optional parameters, e.g.
        ``("tournament", {"k": 3})``, or a callable: selection ``f(fitness, n, rng) -> idx``,
        crossover ``f(p1, p2, rng) -> (c1, c2)``, mutation ``f(X, rng) -> X`` (may work in
        place). Defaults: tournament of 4, uniform crossover, polynomial mutation (eta 20).
    crossover_rate : float, default 0.9
        Probability that a pair of parents is recombined (otherwise copied).
    mutation_rate : float or array of shape (d,), optional
        Per-gene mutation probability; default ``1 / d``.
    elitism : int, optional
        Best parents kept by ``replacement="generational"``; default ``ceil(n / 100)``.
        (mu + lambda) is elitist by construction and ignores it.
    replacement : {"plus", "generational", "comma"}
        (mu + lambda) (the default: parents and offspring compete), generational with
        ``elitism``, or (mu, lambda).
    offspring_size : int, optional
        Offspring per generation (lambda); default ``n - elitism`` (generational) or ``n``.
    repair : {"reflect", "clip", "resample"}
        What to do with genes pushed out of bounds.
    seed : int or numpy Generator, optional
        Seed of the only random stream the GA draws from.
    dtype : numpy dtype, default float64
        Float type of the population (float32 halves memory).
    storage : {"memory", "disk"}, default "memory"
        Where the genes of the population and of the offspring live. ``"disk"``: in
        memory-mapped ``.npy`` files (one per generation, never rewritten in place), so the
        population is bounded by disk, not RAM; fitness stays in RAM (24 bytes per individual
        at most, see ``docs/memory.md``). A disk-backed run is bit-identical to an in-memory
        run of the same configuration, for any chunk size.
    path : str or PathLike, optional
        Folder of the population files (``storage="disk"``). Default: ``<run_dir>/population``
        when ``minimize`` has a ``run_dir`` (kept for ``resume``), else a temporary folder
        removed at the end of the run. Only genepool's own files in it are ever removed.
    block_rows : int, optional
        Offspring bred from one random stream (block 0 from the GA's own stream, the others
        from streams keyed by one number drawn from it). Part of the configuration, like the
        seed: it changes the run, while chunk sizes do not. Default: about 4 MiB of genes,
        within [256, 8192] rows (:func:`default_block_rows`); a population of at most one
        block breeds exactly as the GA always has.
    chunk_rows : int, optional
        Rows read and written at a time from population files (``storage="disk"``), rounded
        down to whole blocks (at least one). Default: 64 MiB of genes, or a sixteenth of the
        run's ``memory_limit``, whichever is smaller.

    Examples
    --------
    >>> import numpy as np
    >>> from genepool import GA, Space
    >>> ga = GA(Space.box(-5, 5, 3), population_size=20, seed=1)
    >>> for _ in range(30):
    ...     X = ga.ask()
    ...     ga.tell(X, (X**2).sum(axis=1))
    >>> bool(ga.best()[1] < 0.5)
    True
    """

    disk_capable = True
    _disk_files = "two populations and the offspring"

    def __init__(
        self,
        space: Space,
        population_size: int = 100,
        *,
        selection: OperatorSpec = ("tournament", {"k": 4}),
        crossover: OperatorSpec = "uniform",
        mutation: OperatorSpec = "polynomial",
        crossover_rate: float = 0.9,
        mutation_rate: float | np.ndarray | None = None,
        elitism: int | None = None,
        replacement: str = "plus",
        offspring_size: int | None = None,
        repair: str = "reflect",
        seed: int | np.random.Generator | None = None,
        dtype: npt.DTypeLike = np.float64,
        storage: str = "memory",
        path: str | os.PathLike[str] | None = None,
        block_rows: int | None = None,
        chunk_rows: int | None = None,
    ) -> None:
        if not isinstance(space, Space):
            raise ConfigError(f"space must be a genepool.Space, got {type(space).__name__}")
        self.space = space
        n = check_int("population_size", population_size, minimum=2)
        self._n = n
        self.crossover_rate = check_float("crossover_rate", crossover_rate, low=0.0, high=1.0)
        if replacement not in REPLACEMENTS:
            raise ConfigError(
                f"unknown replacement {replacement!r}; choose one of {list(REPLACEMENTS)}"
            )
        self.replacement = replacement
        self.elitism = (
            math.ceil(n / 100) if elitism is None else check_int("elitism", elitism, minimum=0)
        )
        if self.elitism >= n:
            raise ConfigError(f"elitism must be < population_size ({n}), got {self.elitism}")
        default_lambda = n - self.elitism if replacement == "generational" else n
        self.offspring_size = (
            default_lambda
            if offspring_size is None
            else check_int("offspring_size", offspring_size, minimum=1)
        )
        if replacement == "generational" and self.offspring_size < n - self.elitism:
            raise ConfigError(
                f"offspring_size must be >= population_size - elitism "
                f"({n - self.elitism}) for generational replacement, "
                f"got {self.offspring_size}"
            )
        if replacement == "comma" and self.offspring_size < n:
            raise ConfigError(
                f"offspring_size must be >= population_size ({n}) for (mu, lambda)"
                f" replacement, got {self.offspring_size}"
            )
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")

        d = space.dims
        categorical = np.isin(space.kinds, (CATEGORICAL, BOOL))
        rate = gene_rate(mutation_rate, d)
        try:
            rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), (d,))
        except ValueError:
            raise ConfigError(f"mutation_rate must be a scalar or have shape ({d},)") from None
        self._categorical = categorical
        self._cat_rate = np.where(categorical, rate, 0.0)
        self._num_rate = np.where(categorical, 0.0, rate)

        self.selection_name, self._select = self._bind_selection(selection)
        self.crossover_name, self._crossover = self._bind_crossover(crossover)
        self.mutation_name, self._mutate = self._bind_mutation(mutation)
        self._try_operators(selection, crossover, mutation)
        if repair not in REPAIRS:
            raise ConfigError(f"unknown repair {repair!r}; choose one of {sorted(REPAIRS)}")
        self.repair = repair
        # Operators that cannot leave the bounds make repair a no-op: skip its O(n d) scan.
        # float32 populations are always repaired (rounding can cross a float64 bound).
        self._needs_repair = not (
            self.crossover_name in BOUNDED_CROSSOVERS
            and self.mutation_name in BOUNDED_MUTATIONS
            and not callable(crossover)
            and not callable(mutation)
            and self.dtype == np.float64
        )
        swap = self._crossover_params.get("swap", 0.5)
        self._uniform_swap = (
            float(swap) if self.crossover_name == "uniform" and not callable(crossover) else None
        )
        self.block_rows = (
            default_block_rows(d)
            if block_rows is None
            else check_int("block_rows", block_rows, minimum=1)
        )
        self.chunk_rows = (
            None if chunk_rows is None else check_int("chunk_rows", chunk_rows, minimum=1)
        )
        self._chunk_bytes = DEFAULT_CHUNK_BYTES
        if check_storage(storage, path) == "disk":
            self._files = PopulationFiles(path)
        self._builtin_selection = not callable(selection)
        self.state = GAState(
            X=None, fitness=None, generation=0, n_evaluations=0, rng=make_rng(seed)
        )
        self._pending: np.ndarray | None = None

    # -- operator binding --------------------------------------------------------------------
    def _bind_selection(self, spec: OperatorSpec) -> tuple[str, Callable[..., Any]]:
        name, fn, params = _resolve("selection", spec, SELECTIONS)
        self._select_params = dict(params)
        return name, functools.partial(fn, **params) if params else fn

    def _bind_crossover(self, spec: OperatorSpec) -> tuple[str, Callable[..., Any]]:
        name, fn, params = _resolve("crossover", spec, CROSSOVERS)
        self._crossover_params = dict(params)
        if fn is cx.uniform and not 0.0 <= float(params.get("swap", 0.5)) <= 1.0:
            raise ConfigError(
                f"uniform crossover swap must be within [0, 1], got {params['swap']!r}"
            )
        if fn is cx.sbx:
            params = {"lower": self.space.lower, "upper": self.space.upper, **params}
        return name, functools.partial(fn, **params) if params else fn

    def _bind_mutation(self, spec: OperatorSpec) -> tuple[str, Callable[..., Any]]:
        name, fn, params = _resolve("mutation", spec, MUTATIONS)
        if callable(spec):
            return name, fn
        bound: dict[str, Any] = {"rate": self._num_rate, "copy": False}
        if fn is mut.integer_step:
            bound["genes"] = self.space.kinds == INTEGER
        else:
            bound["lower"], bound["upper"] = self.space.lower, self.space.upper
        return name, functools.partial(fn, **bound, **params)

    def _try_operators(self, *specs: OperatorSpec) -> None:
        """Run each named operator given options once on 4 individuals (a throwaway RNG), so
        that a bad option value fails here, named, rather than at the second ``ask``."""
        rng = np.random.default_rng(0)
        X = self.space.sample(4, rng)
        trials = (
            ("selection", lambda: self._select(np.arange(4.0), 2, rng)),
            ("crossover", lambda: self._crossover(X[:2].copy(), X[2:].copy(), rng)),
            ("mutation", lambda: self._mutate(X.copy(), rng)),
        )
        for spec, (kind, trial) in zip(specs, trials):
            if isinstance(spec, str) or callable(spec) or not dict(spec[1]):
                continue  # defaults of genepool's own operators, or the user's own function
            try:
                trial()
            except (ConfigError, TypeError, ValueError) as exc:
                raise ConfigError(f"{kind} {tuple(spec)!r}: {exc}") from None

    # -- ask/tell ----------------------------------------------------------------------------
    @property
    def population_size(self) -> int:
        return self._n

    @property
    def cache_by_default(self) -> bool:
        """Off with ``storage="disk"``: the cache keys every candidate in RAM, which is what
        a population on disk avoids (``cache=True`` turns it on all the same)."""
        return self._files is None

    def ask(self) -> np.ndarray:
        if self._pending is not None:
            raise OptimizerError("ask() called twice without tell()")
        st = self.state
        X: np.ndarray
        if st.X is None:
            self.check_fits_in_memory()
            if self._files is not None:  # the first population, drawn into a file by chunks
                X = self._files.create("offspring", (self._n, self.space.dims), self.dtype)
                self.space.sample_into(X, st.rng, self._chunk(self.space.dims))
            else:
                X = self.space.sample(self._n, st.rng, dtype=self.dtype)
        else:
            assert st.fitness is not None
            X = self._offspring(st.X, st.fitness, st.rng)
        self._pending = X
        return X

    def tell(self, X: np.ndarray, fitness: np.ndarray) -> None:
        if self._files is not None:
            self._tell_disk(X, fitness)
            return
        X, f = self._check_tell(X, fitness, self._pending)
        st = self.state
        if st.X is None:
            order = np.argsort(np.where(np.isnan(f), np.inf, f), kind="stable")
            st.X, st.fitness = X[order], f[order]
        elif self.replacement == "generational":
            st.X, st.fitness = rpl.generational(st.X, st.fitness, X, f, elitism=self.elitism)
        elif self.replacement == "plus":
            st.X, st.fitness = rpl.mu_plus_lambda(st.X, st.fitness, X, f, mu=self._n)
        else:
            st.X, st.fitness = rpl.mu_comma_lambda(X, f, mu=self._n)
        st.generation += 1
        st.n_evaluations += X.shape[0]
        self._pending = None

    def memory_footprint(self) -> int:
        """Population + offspring + the new population built by ``tell`` (measured peaks of
        ask and tell are within this: see benchmarks/bench_memory.py), plus index arrays.

        With ``storage="disk"``, the larger of ``ask`` (the population's fitness and one
        working chunk of genes with the operators' scratch, about 4 chunks) and ``tell`` (the
        fitness of the population and of the offspring and the survivors' order, 24 bytes per
        individual, and a chunk being gathered with its reads: 2 chunks). Measured with
        tracemalloc at 10^6 x 30 genes: ask 3.1 chunks, tell 8 MB + 2.2 chunks."""
        n, lam, d = self._n, self.offspring_size, self.space.dims
        if self._files is not None:
            chunk = self._chunk(d) * d * self.dtype.itemsize
            return max(8 * n + 4 * chunk, 8 * (n + lam + max(n, lam)) + 3 * chunk)
        return self.dtype.itemsize * d * (n + lam + max(n, lam)) + 64 * (n + lam)

    def disk_footprint(self, checkpoints: bool = False) -> int:
        """Two populations and the offspring during ``tell`` (``storage="disk"``); with
        ``checkpoints`` two more populations, those the last two checkpoints refer to."""
        if self._files is None:
            return 0
        n, lam, d = self._n, self.offspring_size, self.space.dims
        header = 128
        pops = 4 if checkpoints else 2
        return pops * (n * d * self.dtype.itemsize + header) + lam * d * self.dtype.itemsize

    def fit_memory(self, memory_limit: int | None) -> None:
        if memory_limit is not None:
            self._chunk_bytes = max(1, min(DEFAULT_CHUNK_BYTES, memory_limit // 16))

    def best(self) -> tuple[np.ndarray, float] | None:
        st = self.state
        if st.X is None or st.fitness is None:
            return None
        return st.X[0].copy(), float(st.fitness[0])

    def _on_state_loaded(self) -> None:
        self._pending = None

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"X": (self._n, self.space.dims), "fitness": (self._n,)}

    def _file_dtype(self, field: str) -> np.dtype:
        return self.dtype

    # -- breeding, block by block ------------------------------------------------------------
    def _chunk(self, d: int) -> int:
        """Rows of a working chunk of the population files: whole blocks, at least one."""
        rows = self.chunk_rows
        if rows is None:
            rows = self._chunk_bytes // max(1, d * self.dtype.itemsize)
        return max(1, rows // self.block_rows) * self.block_rows

    def _offspring(
        self, X: np.ndarray, fitness: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Offspring of shape ``(offspring_size, d)``: in RAM, or in a new population file.

        Offspring are bred in blocks of ``block_rows`` rows, each from its own random stream:
        block 0 from ``rng``, blocks 1.. from ``SeedSequence([key, b])`` with ``key`` drawn
        from ``rng`` right after block 0's parents (only when there is more than one block).
        A chunk groups whole blocks: parents of all its blocks are drawn, gathered at once
        (in file order), then each block is varied with its own stream. Streams are
        independent, so the grouping changes nothing: any chunk size gives the same
        offspring, in RAM or on disk.
        """
        lam, d = self.offspring_size, self.space.dims
        if lam <= self.block_rows and self._files is None:
            return self._breed(X, fitness, rng, lam)  # one block: the GA as it always was
        out = (
            np.empty((lam, d), dtype=self.dtype)
            if self._files is None
            else self._files.create("offspring", (lam, d), self.dtype)
        )
        chunk = self._chunk(d)
        blocks = range(0, lam, self.block_rows)
        draw = self._sampler(fitness)
        key = 0
        for c0 in range(0, lam, chunk):
            c1, at_out = min(lam, c0 + chunk), c0
            streams, picks = [], []
            for b0 in range(c0, c1, self.block_rows):
                rows = min(lam, b0 + self.block_rows) - b0
                b = b0 // self.block_rows
                stream = (
                    rng
                    if b == 0
                    else np.random.Generator(np.random.PCG64(np.random.SeedSequence([key, b])))
                )
                picks.append(draw(2 * ((rows + 1) // 2), stream))
                if b == 0 and len(blocks) > 1:
                    key = int(rng.integers(0, 2**63))
                streams.append((stream, rows))
            parents = np.concatenate(picks)
            # in RAM with every block even, parents are gathered into the output itself and
            # varied there (no second copy); else into a chunk, then copied out
            in_place = self._files is None and parents.shape[0] == c1 - c0
            if in_place:
                children = np.take(X, parents, axis=0, out=out[c0:c1])
            else:
                children = _gather(X, parents)
            at = 0
            for (stream, rows), block in zip(streams, picks):
                view = children[at : at + block.shape[0]]
                kids = self._vary(view, stream)
                if not in_place or kids is not view:
                    out[at_out : at_out + rows] = kids[:rows]
                at_out += rows
                at += block.shape[0]
        return out

    def _sampler(self, fitness: np.ndarray) -> sel.Sampler:
        """Parents of one block, ``draw(count, rng)``: what the selection operator returns
        with ``rng``, its O(n) preparation (ranks, weights, cumulative sums) done once per
        generation (``selection.sampler``); tournaments read only their contestants."""
        if self._builtin_selection:
            return sel.sampler(self.selection_name, fitness, **self._select_params)
        return lambda count, rng: np.asarray(self._select(fitness, count, rng))

    def _breed(
        self, X: np.ndarray, fitness: np.ndarray, rng: np.random.Generator, lam: int
    ) -> np.ndarray:
        """``lam`` offspring from the current population with one random stream."""
        half = (lam + 1) // 2
        parents = self._select(fitness, 2 * half, rng)
        children = np.take(X, parents, axis=0)  # private: the operators below work in place
        children = self._vary(children, rng)
        if children.shape[0] != lam:
            children = children[:lam].copy()
        return np.ascontiguousarray(children, dtype=self.dtype)

    def _vary(self, children: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Recombine pairs (first half with second half), mutate and repair, in place."""
        half = children.shape[0] // 2
        p1, p2 = children[:half], children[half:]
        crossed = rng.random(half) < self.crossover_rate
        if self._uniform_swap is not None:
            # Uniform crossover in place on the crossed pairs (no gather, no new children).
            mask = swap_mask(p1.shape, self._uniform_swap, rng)
            mask &= crossed[:, None]
            cx.swap_inplace(p1, p2, mask)
        elif crossed.any():
            rows = np.flatnonzero(crossed)
            a, b = p1[rows], p2[rows]
            c1, c2 = self._crossover(a, b, rng)
            if self._categorical.any():
                swap = swap_mask(a.shape, 0.5, rng) & self._categorical
                c1 = np.where(self._categorical, np.where(swap, b, a), c1)
                c2 = np.where(self._categorical, np.where(swap, a, b), c2)
            p1[rows] = c1
            p2[rows] = c2
        children = self._mutate(children, rng)
        if self._categorical.any():
            mut.categorical_resample(
                children, rng, self.space.n_choices, rate=self._cat_rate, copy=False
            )
        if self._needs_repair:
            fix = REPAIRS[self.repair]
            if self.repair == "resample":
                children = fix(children, self.space.lower, self.space.upper, rng, copy=False)
            else:
                children = fix(children, self.space.lower, self.space.upper, copy=False)
        return children

    # -- storage="disk" ----------------------------------------------------------------------
    def _tell_disk(self, X: np.ndarray, fitness: np.ndarray) -> None:
        """Survival on disk: the survivors' order from the fitness in RAM (a merge, in place,
        24 bytes per individual at most), then the next population file written in chunks,
        each gathered in file order."""
        assert self._files is not None
        X, f = self._check_tell(X, fitness, self._pending, copy=False)
        step = self._chunk(X.shape[1])
        if X is not self._pending:  # the caller's own array of the same shape: on disk too
            copy = self._files.create("offspring", X.shape, self.dtype)
            for a in range(0, X.shape[0], step):
                copy[a : a + step] = X[a : a + step]
            X = copy
        st = self.state
        n, lam = self._n, X.shape[0]
        order = sv.sorted_order(f)
        if st.X is None:  # the first population: X sorted best first (every source is X)
            src, st.fitness = order, f[order]
            parents, n_a = X, 0
        else:
            assert st.fitness is not None
            if self.replacement == "plus":
                take_a = sv.plus_split(st.fitness, f, order, n)
            elif self.replacement == "generational":
                take_a = self.elitism
            else:
                take_a = 0
            src = order if lam >= n else np.empty(n, dtype=np.int64)
            sv.merge_survivors(st.fitness, take_a, f, order, n - take_a, src, n)
            parents, n_a = st.X, n
        new = self._files.create("population", (n, X.shape[1]), self.dtype)
        for a in range(0, n, step):
            b = min(n, a + step)  # src may be longer than n: the offspring's order, reused
            new[a:b] = _gather2(parents, X, src[a:b], n_a)
        del src, order
        st.X = new
        st.generation += 1
        st.n_evaluations += lam
        self._pending = None
        self._release_files()


def _in_file_order(X: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, rows)``: ``rows = X[idx[order]]`` read with ``idx`` sorted (sequential reads
    of a file, good use of the page cache); ``rows`` belong at positions ``order``."""
    order = np.argsort(idx, kind="stable")
    return order, np.take(np.asarray(X), idx[order], axis=0)


def _gather(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``np.take(X, idx, axis=0)``; from a file, the rows are read in file order."""
    if not isinstance(X, np.memmap):
        return np.take(X, idx, axis=0)
    order, rows = _in_file_order(X, idx)
    out = np.empty_like(rows)
    out[order] = rows
    return out


def _gather2(A: np.ndarray, B: np.ndarray, src: np.ndarray, n_a: int) -> np.ndarray:
    """Rows ``src`` of ``concatenate([A[:n_a], B])`` (``src >= n_a`` are B's ``src - n_a``),
    each file read in file order."""
    out = np.empty((src.shape[0], B.shape[1]), dtype=B.dtype)
    from_a = src < n_a
    for mask, arr, shift in ((from_a, A, 0), (~from_a, B, n_a)):
        where = np.flatnonzero(mask)
        if where.size:
            order, rows = _in_file_order(arr, src[where] - shift)
            out[where[order]] = rows
    return out
