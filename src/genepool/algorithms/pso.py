"""Particle swarm optimization with ask/tell in O(P d) memory, however many iterations."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Union

import numpy as np

from .._rng import make_rng
from ..errors import ConfigError, OptimizerError, check_float, check_int
from ..operators import repair as rep
from ..space import Real, Space
from . import _pso_kernels as kn
from ._storage import PopulationFiles, check_storage
from .base import Optimizer, name_and_options

__all__ = ["PSO", "PSOState"]

InertiaSpec = Union[float, tuple[str, float, float], Callable[[int], float]]
TopologySpec = Union[str, tuple[str, Mapping[str, object]]]

BOUNDARIES = {
    "clip": kn.CLIP,
    "periodic": kn.PERIODIC,
    "random": kn.RANDOM,
    "reflect": kn.REFLECT,
}
TOPOLOGIES = {"global": (), "ring": ("k",), "von_neumann": ()}
SCHEDULES = ("linear",)
#: Random numbers are drawn and used in blocks of about this many per gene and random stream,
#: so the move needs no (P, d) temporaries. Fixed (never derived from memory), so runs are
#: reproducible; the stream does not depend on it anyway (uniforms are drawn in order).
BLOCK_ELEMENTS = 1 << 15


@dataclass
class PSOState:
    """Everything a PSO needs to continue: arrays, counters and the RNG (no Python objects).

    Neighbourhood (and global) bests are not stored: they are recomputed from ``pbest_f`` in
    O(P k) at every ``tell``, so they can never disagree with the personal bests.
    """

    X: np.ndarray | None  # positions to evaluate next, shape (P, d), within the bounds
    V: np.ndarray | None  # velocities, shape (P, d)
    pbest_X: np.ndarray | None  # personal best positions, shape (P, d)
    pbest_f: np.ndarray | None  # their fitness, shape (P,), minimized; NaN is stored as +inf
    iteration: int  # number of tell() calls so far
    n_evaluations: int
    max_velocity: float  # largest |v| / (upper - lower) after the last move
    rng: np.random.Generator


class PSO(Optimizer):
    """Particle swarm optimization on a :class:`~genepool.Space`, vectorized over the swarm.

    Synchronous PSO with inertia weight (Shi & Eberhart): after each evaluation of the whole
    swarm, personal bests are updated, every particle's neighbourhood best ``g`` is found, and

    ``v <- w v + c1 r1 (p - x) + c2 r2 (g - x)``,  ``x <- x + v``

    with ``r1, r2`` uniform in [0, 1) per particle and gene, ``p`` the particle's personal best
    and ``v`` clamped to ``velocity_clamp`` times each gene's range. The defaults
    (w = 0.729, c1 = c2 = 1.49445) are Clerc's constriction coefficients.

    Memory is four ``(P, d)`` arrays (positions, velocities, personal bests, the batch handed
    out by :meth:`ask`) plus O(P): no history (``minimize`` records one row per iteration in a
    ring buffer), no P x P structure, and random numbers drawn in fixed blocks.

    Integer, categorical and bool genes are searched as continuous coordinates in their encoded
    bounds (``[low - 0.5, high + 0.5]`` for integers); :meth:`Space.decode` rounds them to the
    nearest value, so the fitness sees typed parameters while the swarm moves continuously.

    Parameters
    ----------
    space : Space
        The search space.
    swarm_size : int, default 100
        Number of particles ``P`` (candidates per :meth:`ask`).
    inertia : float, ("linear", w_start, w_end) or callable, default 0.729
        The inertia weight ``w``: a constant, a linear schedule from ``w_start`` (first move)
        to ``w_end`` (move after iteration ``max_iterations``; constant afterwards), or a
        function ``w(iteration)`` of the 0-based iteration whose results are being told.
    cognitive : float, default 1.49445
        ``c1``, the pull towards the particle's own best.
    social : float, default 1.49445
        ``c2``, the pull towards the neighbourhood best.
    topology : {"global", "ring", "von_neumann"} or (name, dict), default "global"
        Who informs whom: the whole swarm (gbest); a ring of particle indices where each sees
        itself and its ``k`` nearest indices (``("ring", {"k": 4})``, default ``k=2``); or a
        von Neumann lattice (self and 4 neighbours on rows of ``ceil(sqrt(P))`` columns,
        wrapped around). Each costs O(P k) per iteration.
    velocity_clamp : float, array of shape (d,) or None, default 0.5
        Largest ``|v|`` per gene as a fraction of the gene's encoded range; None: unclamped.
    boundary : {"reflect", "clip", "random", "periodic"}, default "reflect"
        A particle leaving the bounds is mirrored back and its velocity reversed ("reflect"),
        put on the bound with zero velocity ("clip"), re-drawn uniformly within the bounds
        with zero velocity ("random"), or wrapped around to the other side with its velocity
        kept ("periodic", pyswarms' default: good for small swarms run long on optima inside
        the box, bad when the optimum is on a bound; see docs/pso.md).
    max_iterations : int, optional
        Iterations of the run; required by a ("linear", ...) inertia schedule. When given,
        :meth:`stop` asks to stop once that many iterations were told.
    collapse_tol : float or None, default 1e-12
        :meth:`stop` reports a collapsed swarm once every ``|v|`` is below this fraction of
        its gene's range (no particle moves any more); None: never.
    seed : int or numpy Generator, optional
        Seed of the only random stream the PSO draws from.
    storage : {"memory", "disk"}, default "memory"
        ``"disk"``: positions, velocities and personal bests live in memory-mapped ``.npy``
        files, new ones each iteration (never rewritten in place), updated block by block;
        the personal-best fitness stays in RAM (24 bytes per particle at most with the told
        fitness and the neighbourhood index). Bit-identical to the in-memory swarm.
    path : str or PathLike, optional
        Folder of the files (``storage="disk"``); as :class:`~genepool.GA`'s ``path``.

    Examples
    --------
    >>> import numpy as np
    >>> from genepool import PSO, Space
    >>> pso = PSO(Space.box(-5, 5, 3), swarm_size=20, seed=1)
    >>> for _ in range(50):
    ...     X = pso.ask()
    ...     pso.tell(X, (X**2).sum(axis=1))
    >>> bool(pso.best()[1] < 1e-3)
    True
    """

    disk_capable = True
    _disk_files = "positions, velocities and personal bests, old and new"

    def __init__(
        self,
        space: Space,
        swarm_size: int = 100,
        *,
        inertia: InertiaSpec = 0.729,
        cognitive: float = 1.49445,
        social: float = 1.49445,
        topology: TopologySpec = "global",
        velocity_clamp: float | np.ndarray | None = 0.5,
        boundary: str = "reflect",
        max_iterations: int | None = None,
        collapse_tol: float | None = 1e-12,
        seed: int | np.random.Generator | None = None,
        storage: str = "memory",
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(space, Space):
            raise ConfigError(f"space must be a genepool.Space, got {type(space).__name__}")
        self.space = space
        self._n = check_int("swarm_size", swarm_size, minimum=2)
        self.max_iterations = (
            None
            if max_iterations is None
            else check_int("max_iterations", max_iterations, minimum=1)
        )
        self.inertia = inertia
        self._inertia = self._bind_inertia(inertia)
        self.cognitive = check_float("cognitive", cognitive, low=0.0)
        self.social = check_float("social", social, low=0.0)
        if self.cognitive + self.social == 0.0:
            raise ConfigError(
                "cognitive and social are both 0: particles would never be attracted"
            )
        self.topology, self._offsets = self._bind_topology(topology)
        self._vmax = self._bind_clamp(velocity_clamp)
        self.velocity_clamp = velocity_clamp
        if boundary not in BOUNDARIES:
            raise ConfigError(f"unknown boundary {boundary!r}; choose one of {sorted(BOUNDARIES)}")
        self.boundary = boundary
        self.collapse_tol = (
            None
            if collapse_tol is None
            else check_float("collapse_tol", collapse_tol, low=0.0, low_inclusive=False)
        )
        self._block = max(1, BLOCK_ELEMENTS // space.dims)
        if check_storage(storage, path) == "disk":
            self._files = PopulationFiles(path)
        self.state = PSOState(
            X=None,
            V=None,
            pbest_X=None,
            pbest_f=None,
            iteration=0,
            n_evaluations=0,
            max_velocity=0.0,
            rng=make_rng(seed),
        )
        self._pending: np.ndarray | None = None

    # -- configuration -----------------------------------------------------------------------
    def _bind_inertia(self, spec: InertiaSpec) -> Callable[[int], float]:
        if callable(spec):

            def call(t: int) -> float:
                value = spec(t)
                try:
                    w = float(value)
                except (TypeError, ValueError):
                    w = math.nan
                if not math.isfinite(w):
                    raise ConfigError(f"inertia({t}) must return a finite number, got {value!r}")
                return w

            return call
        if isinstance(spec, tuple):
            if len(spec) != 3 or spec[0] not in SCHEDULES:
                raise ConfigError(
                    f"inertia schedule must be ('linear', w_start, w_end), got {spec!r}"
                )
            try:
                w0 = check_float("w_start", spec[1], low=0.0, high=1.5)
                w1 = check_float("w_end", spec[2], low=0.0, high=1.5)
            except ConfigError as exc:
                raise ConfigError(f"inertia schedule {spec!r}: {exc}") from None
            if self.max_iterations is None:
                raise ConfigError(
                    f"inertia schedule {spec!r} needs max_iterations (the schedule's length)"
                )
            last = max(self.max_iterations - 1, 1)
            return lambda t: w0 + (w1 - w0) * min(t / last, 1.0)
        w = check_float("inertia", spec, low=0.0, high=1.5)
        return lambda t: w

    def _bind_topology(self, spec: TopologySpec) -> tuple[str, np.ndarray | None]:
        name, params = name_and_options("topology", spec, TOPOLOGIES, "a name or (name, params)")
        if name not in TOPOLOGIES:
            raise ConfigError(f"unknown topology {name!r}; choose one of {sorted(TOPOLOGIES)}")
        unknown = set(params) - set(TOPOLOGIES[name])
        if unknown:
            raise ConfigError(
                f"topology {spec!r}: {name!r} takes {list(TOPOLOGIES[name]) or 'no parameters'}"
                f", got {sorted(unknown)}"
            )
        if name == "global":
            return name, None
        if name == "ring":
            try:
                k = check_int("k", params.get("k", 2), minimum=1)
            except ConfigError as exc:
                raise ConfigError(f"topology {spec!r}: {exc}") from None
            if k >= self._n:
                raise ConfigError(
                    f"topology {spec!r}: k must be < swarm_size ({self._n}), got {k}"
                )
            return name, _ring_offsets(k)
        cols = max(1, math.ceil(math.sqrt(self._n)))
        return name, np.array([0, -1, 1, -cols, cols], dtype=np.int64)

    def _bind_clamp(self, spec: float | np.ndarray | None) -> np.ndarray:
        span = self.space.upper - self.space.lower
        if spec is None:
            return np.full(self.space.dims, np.inf)
        try:
            frac = np.broadcast_to(np.asarray(spec, dtype=np.float64), (self.space.dims,))
        except (TypeError, ValueError):
            raise ConfigError(
                f"velocity_clamp must be None, a number or an array of shape "
                f"({self.space.dims},), got {spec!r}"
            ) from None
        if not (np.isfinite(frac).all() and (frac > 0).all()):
            raise ConfigError(f"velocity_clamp must be finite and > 0, got {spec!r}")
        return np.ascontiguousarray(frac * span)

    # -- ask/tell ----------------------------------------------------------------------------
    @property
    def population_size(self) -> int:
        return self._n

    @property
    def cache_by_default(self) -> bool:
        """Off on continuous genes: particles move every iteration, and the only exact repeat
        is a particle at rest on its own best that is also its neighbourhood's best (at most
        one evaluation per neighbourhood and iteration). The cache would hash the whole swarm
        for that, and load its numba kernels (about 65 MiB of RSS). Integer, categorical and
        bool genes decode to repeats: there it starts on."""
        return not all(isinstance(g, Real) for g in self.space.genes)

    def ask(self) -> np.ndarray:
        if self._pending is not None:
            raise OptimizerError("ask() called twice without tell()")
        st = self.state
        if st.X is None:
            self.check_fits_in_memory()
            if self._files is not None:
                st.X = self._files.create("position", (self._n, self.space.dims), np.float64)
                st.V = self._files.create("velocity", st.X.shape, np.float64)  # zeros
                self.space.sample_into(st.X, st.rng, self._block)
            else:
                st.X = self.space.sample(self._n, st.rng)
                st.V = np.zeros_like(st.X)
        if self._files is not None:  # the file itself, read-only: the caller cannot change it
            X = st.X.view()
            X.flags.writeable = False
        else:
            X = st.X.copy()  # the caller may change it; the state must not follow
        self._pending = X
        return X

    def tell(self, X: np.ndarray, fitness: np.ndarray) -> None:
        # on disk f is only read (NaN never improves a personal best: NaN < x is False), so
        # it is not copied: the swarm's RAM stays at 24 bytes per particle
        disk = self._files is not None
        X, f = self._check_tell(X, fitness, self._pending, copy=not disk)
        if not isinstance(X, np.memmap):
            X = np.ascontiguousarray(X)
        if not disk:
            f[np.isnan(f)] = np.inf  # f is a private copy
        st = self.state
        if self._files is not None:
            st.pbest_X, st.pbest_f = self._pbest_to_file(X, f)
        elif st.pbest_X is None:
            st.pbest_X, st.pbest_f = X.copy(), f
        else:
            kn.update_pbest(X, f, st.pbest_X, st.pbest_f)
        self._move(X, self._neighbourhood_best(st.pbest_f), self._inertia(st.iteration))
        st.iteration += 1
        st.n_evaluations += X.shape[0]
        self._pending = None
        if self._files is not None:
            self._release_files()

    def stop(self) -> dict[str, str]:
        st = self.state
        out: dict[str, str] = {}
        if self.max_iterations is not None and st.iteration >= self.max_iterations:
            out["max_iterations"] = f"{st.iteration} iterations done"
        if self.collapse_tol is not None and st.iteration > 0:
            if st.max_velocity < self.collapse_tol:
                out["swarm collapsed"] = (
                    f"every |velocity| is below {st.max_velocity:.3g} of its gene's range "
                    f"(collapse_tol={self.collapse_tol:g})"
                )
        return out

    _size_name = "swarm_size"

    def memory_footprint(self) -> int:
        """Positions, velocities, personal bests and the asked batch (4 P d floats); the
        personal-best fitness, the fitness copy and its masks, and the neighbourhood's index,
        fitness and scratch arrays (8 P); one block of uniforms and two block-sized scratch
        arrays of the move (4 x block x d)."""
        n, d = self._n, self.space.dims
        if self._files is not None:  # pbest_f, the told fitness and the neighbourhood index
            return 8 * (3 * n + 8 * self._block * d)
        return 8 * (4 * n * d + 8 * n + 4 * self._block * d)

    def disk_footprint(self, checkpoints: bool = False) -> int:
        """Positions, velocities and personal bests, old and new during ``tell`` (six
        ``(P, d)`` files); with ``checkpoints`` three more, those an older checkpoint keeps."""
        if self._files is None:
            return 0
        return (9 if checkpoints else 6) * (self._n * self.space.dims * 8 + 128)

    def best(self) -> tuple[np.ndarray, float] | None:
        st = self.state
        if st.pbest_f is None or st.pbest_X is None:
            return None
        i = int(np.argmin(st.pbest_f))
        return st.pbest_X[i].copy(), float(st.pbest_f[i])

    def _on_state_loaded(self) -> None:
        self._pending = None

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        shape = (self._n, self.space.dims)
        return {"X": shape, "V": shape, "pbest_X": shape, "pbest_f": (self._n,)}

    # -- the move ----------------------------------------------------------------------------
    def _neighbourhood_best(self, pbest_f: np.ndarray) -> np.ndarray:
        """Index of each particle's informant, shape (P,), or (1,) for the global topology."""
        if self._offsets is None:
            return np.array([np.argmin(pbest_f)], dtype=np.int64)
        out = np.empty(pbest_f.shape[0], dtype=np.int64)
        return kn.neighbourhood_best(pbest_f, self._offsets, out)

    def _pbest_to_file(self, X: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The personal bests after ``X`` and ``f``, in a new file, block by block."""
        assert self._files is not None
        st = self.state
        new = self._files.create("pbest", X.shape, np.float64)
        for a in range(0, X.shape[0], self._block):
            b = min(X.shape[0], a + self._block)
            if st.pbest_X is None:
                new[a:b] = X[a:b]
            else:
                assert st.pbest_f is not None
                new[a:b] = st.pbest_X[a:b]
                kn.update_pbest(X[a:b], f[a:b], new[a:b], st.pbest_f[a:b])
        return new, (np.where(np.isnan(f), np.inf, f) if st.pbest_f is None else st.pbest_f)

    def _move(self, X: np.ndarray, nbest: np.ndarray, w: float) -> None:
        """New velocities (in place) and positions (into ``state.X``) from the evaluated ``X``;
        with ``storage="disk"`` both go to new files (the old velocities copied block by block
        first)."""
        st = self.state
        assert st.X is not None and st.V is not None and st.pbest_X is not None
        old_V = st.V
        if self._files is not None:
            st.X = self._files.create("position", X.shape, np.float64)
            st.V = self._files.create("velocity", X.shape, np.float64)
        lower, upper = self.space.lower, self.space.upper
        code = BOUNDARIES[self.boundary]
        n, d = X.shape
        vrel = 0.0
        buf = np.empty((min(n, self._block), 2, d))  # one block of uniforms, reused
        for start in range(0, n, self._block):
            stop = min(n, start + self._block)
            if st.V is not old_V:
                st.V[start:stop] = old_V[start:stop]
            r = st.rng.random(out=buf[: stop - start])
            m, outside = kn.move(
                X, st.V, st.pbest_X, nbest, r, w, self.cognitive, self.social,
                self._vmax, lower, upper, code, st.X, start,
            )  # fmt: skip
            vrel = max(vrel, m)
            if outside and code == kn.RANDOM:
                rep.resample(st.X[start:stop], lower, upper, st.rng, copy=False)
        st.max_velocity = float(vrel)


def _ring_offsets(k: int) -> np.ndarray:
    """Self, then the ``k`` nearest ring neighbours alternating left and right."""
    out = [0]
    step = 1
    while len(out) < k + 1:
        out.append(-step)
        if len(out) < k + 1:
            out.append(step)
        step += 1
    return np.array(out, dtype=np.int64)
