"""A vectorized genetic algorithm with ask/tell."""

from __future__ import annotations

import functools
import inspect
import math
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
        self.state = GAState(
            X=None, fitness=None, generation=0, n_evaluations=0, rng=make_rng(seed)
        )
        self._pending: np.ndarray | None = None

    # -- operator binding --------------------------------------------------------------------
    def _bind_selection(self, spec: OperatorSpec) -> tuple[str, Callable[..., Any]]:
        name, fn, params = _resolve("selection", spec, SELECTIONS)
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

    def ask(self) -> np.ndarray:
        if self._pending is not None:
            raise OptimizerError("ask() called twice without tell()")
        st = self.state
        if st.X is None:
            self.check_fits_in_memory()
            X = self.space.sample(self._n, st.rng, dtype=self.dtype)
        else:
            X = self._breed(st.X, st.fitness, st.rng)
        self._pending = X
        return X

    def tell(self, X: np.ndarray, fitness: np.ndarray) -> None:
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
        ask and tell are within this: see benchmarks/bench_memory.py), plus index arrays."""
        n, lam, d = self._n, self.offspring_size, self.space.dims
        return self.dtype.itemsize * d * (n + lam + max(n, lam)) + 64 * (n + lam)

    def best(self) -> tuple[np.ndarray, float] | None:
        st = self.state
        if st.X is None or st.fitness is None:
            return None
        return st.X[0].copy(), float(st.fitness[0])

    def _on_state_loaded(self) -> None:
        self._pending = None

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"X": (self._n, self.space.dims), "fitness": (self._n,)}

    def _breed(self, X: np.ndarray, fitness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Offspring of shape ``(offspring_size, d)`` from the current population."""
        lam = self.offspring_size
        half = (lam + 1) // 2
        parents = self._select(fitness, 2 * half, rng)
        children = np.take(X, parents, axis=0)  # private: the operators below work in place
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
        if children.shape[0] != lam:
            children = children[:lam].copy()
        return np.ascontiguousarray(children, dtype=self.dtype)
