"""``profile`` and ``plan``: measure a run's stages at a few population sizes, then project the
configured run (memory, time, disk, compile cost) and say which settings it needs.

:func:`profile` probes the sizes it is given; :func:`plan` (``genepool evolve --dry-run``)
chooses small sizes within a time budget and projects exactly the configured run. Both return
a :class:`Profile`. Nothing is written but temporary probe folders, removed again.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import psutil

from ..algorithms.base import Optimizer
from ..errors import ConfigError, check_int
from ..evaluation.cache import FitnessCache
from ..evaluation.evaluator import AUTO_CACHE_WARMUP, _make_cache
from ..evaluation.executors import MIN_SECONDS, available_cores
from ..memory._proc import read_status
from ..memory._size import format_size, parse_size
from ..memory.monitor import MemoryMonitor
from ..problem import ProblemLike, as_problem
from ..run.budget import check_budget_fits
from ..run.config import CacheSpec, ExecutorSpec, RunConfig
from ..run.direction import Direction
from ._cold import measure_cold_start
from ._probe import INNER, JitCost, Probe, run_probe, warm_up
from ._project import (
    MEMORY_FLOOR,
    Line,
    extrapolation,
    fit,
    implied_chunk,
    memory_band,
    time_band,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Estimate", "Profile", "Projection", "Recommendation", "plan", "profile"]

#: Generations measured per probe size (after the warm-up): four, so that a leak shows as
#: two steady steps of the memory held between generations.
PROBE_GENERATIONS = 4
#: A probe whose projected peak exceeds this share of the available memory is refused.
PROBE_MEMORY_SHARE = 0.8
#: Headroom of a recommended memory limit: this share of the available memory.
HEADROOM = 0.8
#: Growth of held memory per generation that is reported as a leak (and projected).
LEAK_BYTES = 1 * 2**20
#: ... and this share of the memory held (the population), at the largest probe.
LEAK_SHARE = 0.02
#: An executor is advised when its generations take less than this share of the serial ones.
CLEAR_WIN = 0.75
#: Seconds :func:`plan` spends probing, at most (about; the last probe may run over).
PLAN_SECONDS = 20.0


@dataclass(frozen=True)
class Estimate:
    """A projected figure and its relative uncertainty (``band``: 0.1 = +-10 %)."""

    value: float
    band: float

    @property
    def low(self) -> float:
        return self.value * (1 - min(self.band, 0.99))

    @property
    def high(self) -> float:
        return self.value * (1 + self.band)

    def bytes(self) -> str:
        return f"{format_size(self.value)} +- {self.band:.0%}"

    def seconds(self) -> str:
        return f"{_duration(self.value)} +- {self.band:.0%}"


@dataclass(frozen=True)
class Recommendation:
    """A setting, as a command-line flag and as a Python keyword, and why."""

    flag: str
    python: str
    reason: str

    def __str__(self) -> str:
        return f"{self.flag}  ({self.python}): {self.reason}"


@dataclass
class Projection:
    """The configured run, projected from the probes."""

    population: int
    generations: int
    memory_limit: int | None
    #: candidates per evaluation chunk the memory limit implies (the population: one chunk)
    chunk_size: int
    n_chunks: int
    #: peak resident memory of the process (VmHWM, as measured from outside)
    peak_rss: Estimate
    #: the part of it that the population, its fitness and the history hold
    population_bytes: Estimate
    #: working memory of evaluation per candidate (what a chunk costs per row)
    bytes_per_candidate: float
    cache_bytes: int
    seconds_per_generation: Estimate
    #: the whole run: generations x time per generation, plus the compile of a cold start
    seconds: Estimate
    #: bytes the run directory reaches: checkpoints, history, snapshots, population files
    disk: dict[str, int]
    #: the baseline: resident memory of the process with its code loaded, before any population
    base_rss: int
    available_memory: int
    cores: int
    executor: str
    executor_reason: str
    #: file-backed resident memory (libraries, memory-mapped data): in the RSS, not in the
    #: budget, which counts anonymous memory
    file_rss: int = 0
    #: bytes each generation leaves behind that the next does not reuse (0.0: none seen)
    leak_per_generation: float = 0.0
    #: True when the run as configured is refused or exceeds its limit / the machine
    fits: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def peak_anon(self) -> float:
        """The projected peak of what a memory limit counts (anonymous memory)."""
        return max(0.0, self.peak_rss.value - self.file_rss)

    @property
    def disk_total(self) -> int:
        return int(sum(self.disk.values()))


@dataclass
class Profile:
    """What :func:`profile` (or :func:`plan`) measured and projected.

    ``probes`` hold the measurements (one per size); ``projection`` the configured run;
    ``recommendations`` the settings to use, each with its reason. ``str(profile)`` is the
    report the command line prints; :meth:`stages_frame` the stage table as a DataFrame,
    :meth:`to_dict` everything as JSON-ready values.
    """

    problem: str
    optimizer: str
    n_bars: int | None
    probes: list[Probe]
    jit: JitCost
    projection: Projection
    recommendations: list[Recommendation]
    kind: Literal["profile", "plan"] = "profile"
    #: with an executor other than serial: the largest size probed again, serially
    serial: Probe | None = None
    #: what the caller adds about the run (e.g. a command's walk-forward folds)
    notes: list[str] = field(default_factory=list)

    def stages_frame(self) -> pd.DataFrame:
        """One row per probe size and stage: seconds per generation, per strategy (and per
        strategy-bar for a backtest), kept and peak memory, bytes per strategy."""
        import pandas as pd

        rows = []
        for p in self.probes:
            for s in p.stages:
                rows.append(
                    {
                        "size": p.size,
                        "stage": s.stage,
                        "seconds": s.seconds,
                        "us_per_strategy": 1e6 * s.seconds / p.size,
                        "ns_per_strategy_bar": (
                            1e9 * s.seconds / (p.size * self.n_bars) if self.n_bars else np.nan
                        ),
                        "cpu_share": s.cpu_seconds / s.seconds if s.seconds > 0 else np.nan,
                        "kept_bytes": s.kept,
                        "peak_bytes": s.peak,
                        "bytes_per_strategy": s.peak / p.size,
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, object]:
        """Everything, as JSON-ready values."""
        proj = asdict(self.projection)
        for key in ("peak_rss", "population_bytes", "seconds_per_generation", "seconds"):
            est = getattr(self.projection, key)
            proj[key] = {"value": est.value, "band": est.band, "low": est.low, "high": est.high}
        proj["disk_total"] = self.projection.disk_total
        return {
            "kind": self.kind,
            "problem": self.problem,
            "optimizer": self.optimizer,
            "n_bars": self.n_bars,
            "jit": asdict(self.jit),
            "probes": [
                {
                    **asdict(p),
                    "seconds_per_generation": p.seconds_per_generation,
                    "spread": p.spread,
                    "duplicate_rate": p.duplicate_rate,
                }
                for p in self.probes
            ],
            "projection": proj,
            "recommendations": [asdict(r) for r in self.recommendations],
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        from ._format import format_profile

        return format_profile(self)


# -- the entry points ------------------------------------------------------------------------
def profile(
    problem: ProblemLike,
    optimizer: Optimizer,
    sizes: Iterable[int] | None = None,
    *,
    population: int | None = None,
    generations: int | None = None,
    probe_generations: int = PROBE_GENERATIONS,
    memory_limit: int | str | None = None,
    cache: CacheSpec = None,
    executor: ExecutorSpec = "serial",
    workers: int | None = None,
    run_dir: str | Path | bool | None = None,
    checkpoint_every: int | None = None,
    snapshot_every: int | None = None,
    objectives: Sequence[str] | Mapping[str, str] | None = None,
    sense: Literal["minimize", "maximize"] = "minimize",
    time_budget: float | None = None,
    cold_start: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Profile:
    """Measure ``optimizer`` on ``problem`` at population ``sizes``, project the run.

    Parameters
    ----------
    problem, optimizer
        As for :func:`genepool.minimize`; ``optimizer`` is not advanced (each probe runs a
        fresh copy at its size, :meth:`~genepool.Optimizer.resized`).
    sizes : iterable of int, optional
        Population sizes to probe (each >= 2). Default: chosen as :func:`plan` does, within
        ``time_budget`` seconds.
    population : int, optional
        Population of the run to project (default: the optimizer's).
    generations : int, optional
        Generations of the run to project (default 100, as ``minimize``).
    probe_generations : int, default 4
        Generations measured at each size (after a warm-up of 2 at a tiny size that loads or
        compiles the kernels); a leak is looked for with four or more.
    memory_limit, cache, executor, workers, checkpoint_every, snapshot_every, objectives
        The run's settings, as for :func:`genepool.minimize`; the probes use them (the memory
        limit sizes a backtest's blocks; evaluation is not chunked in a probe, so that it
        measures the working memory per candidate, and the projection applies the run's
        chunk rule).
    run_dir : path or bool, optional
        Whether the run writes a run directory (history, checkpoints): the probes then write
        theirs to a temporary folder, removed afterwards (never to ``run_dir``).
    sense : {"minimize", "maximize"}
        The run's sense (a maximized fitness costs the same; given for multi-objective senses).
    time_budget : float, optional
        Seconds of probing when ``sizes`` is None (default 20).
    cold_start : bool, default False
        Also measure the compile cost of a cold start: the warm-up in two fresh processes
        whose numba cache is empty (a minute or two for a backtest). Without it, the cost is
        measured only when this process had to compile.
    progress : callable, optional
        Called with a line before each step (warm-up, each probe), e.g. ``print``.

    Returns
    -------
    Profile

    Raises
    ------
    ConfigError
        Sizes that are not integers >= 2, a size whose probe would not fit in the available
        memory, or a memory limit below what the process needs before any population.
    """
    target = population if population is not None else optimizer.population_size
    target = check_int("population", target, minimum=2)
    chosen = None if sizes is None else _check_sizes(sizes)
    probe_generations = check_int("probe_generations", probe_generations, minimum=1)
    direction = Direction.of(sense)  # a ConfigError naming any other sense
    writes = bool(run_dir) or checkpoint_every is not None or snapshot_every is not None
    config = RunConfig(
        direction=direction,
        objectives=objectives,
        generations=generations,
        memory_limit=memory_limit,
        cache=cache,
        executor=executor,
        workers=workers,
        run_dir="profile-run" if writes else None,
        checkpoint_every=checkpoint_every,
        snapshot_every=snapshot_every,
        progress=False,
    )
    limit = None if memory_limit is None else parse_size(memory_limit)
    budget = PLAN_SECONDS if time_budget is None else float(time_budget)
    where = Path(run_dir) if isinstance(run_dir, (str, Path)) else None
    return _profile(problem, optimizer, config, target, chosen, probe_generations, limit,
                    budget, "profile", cold_start, where, progress or _quiet)  # fmt: skip


def plan(
    problem: ProblemLike,
    optimizer: Optimizer,
    *,
    time_budget: float = PLAN_SECONDS,
    **run: Any,
) -> Profile:
    """The plan of ``minimize(problem, optimizer, **run)`` without running it: short probes at
    small sizes (within ``time_budget`` seconds), projected to the optimizer's population.

    ``run`` takes the keywords of :func:`profile` (``generations``, ``memory_limit``,
    ``cache``, ``executor``, ``run_dir``, ``checkpoint_every``, ...). ``print(plan(...))``
    shows the chunks, memory, time, disk and executor decision.
    """
    prof = profile(problem, optimizer, None, time_budget=time_budget, **run)
    prof.kind = "plan"
    return prof


# -- the work --------------------------------------------------------------------------------
def _check_sizes(sizes: Iterable[object]) -> list[int]:
    """Sizes as sorted distinct ints >= 2 (ConfigError naming the one that is not)."""
    if isinstance(sizes, (str, bytes)):
        sizes = parse_sizes(str(sizes))
    out = []
    for s in sizes:
        if isinstance(s, float) and s.is_integer():
            s = int(s)
        out.append(check_int("sizes", s, minimum=2))
    if not out:
        raise ConfigError("sizes is empty: give at least one population size to probe")
    return sorted(set(out))


def parse_sizes(text: str, name: str = "sizes") -> list[int]:
    """``"1000,10k,1e5,1_000_000"`` as a list of ints (ConfigError naming the bad item)."""
    items = [item for item in text.replace(" ", "").split(",") if item]
    if any(len(item) == 3 and item.isdigit() and item[0] == "0" for item in items):
        raise ConfigError(
            f"{name} {text!r}: a '000' item looks like a thousands separator; sizes are "
            f"separated by commas, so write 10000, 10_000 or 10k"
        )
    out = [_parse_count(item, name) for item in items]
    if not out:
        raise ConfigError(f"{name} {text!r} names no size; give e.g. 1000,10000,100000")
    return out


def _parse_count(item: str, name: str) -> int:
    mult = {"k": 10**3, "m": 10**6}.get(item[-1:].lower(), 1)
    body = item[:-1] if mult > 1 else item
    try:
        value = float(body.replace("_", ""))
    except ValueError:
        raise ConfigError(
            f"{name}: {item!r} is not a whole number of individuals (e.g. 1000, 10k, 1e5)"
        ) from None
    value *= mult
    if not math.isfinite(value) or not value.is_integer():
        raise ConfigError(f"{name}: {item!r} is not a whole number of individuals")
    if value < 2:
        raise ConfigError(f"{name}: {item!r} is below 2 individuals")
    return int(value)


def _quiet(_: str) -> None:
    pass


def _error(message: str, cli: str) -> ConfigError:
    exc = ConfigError(message)
    exc.cli_message = cli
    return exc


def _available_memory() -> int:
    return int(psutil.virtual_memory().available)


def _profile(
    problem: ProblemLike,
    optimizer: Optimizer,
    config: RunConfig,
    target: int,
    sizes: list[int] | None,
    probe_generations: int,
    limit: int | None,
    budget: float,
    kind: Literal["profile", "plan"],
    cold_start: bool = False,
    where: Path | None = None,
    say: Callable[[str], None] = print,
) -> Profile:
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(
            f"optimizer must be a genepool optimizer (GA, ...), got {type(optimizer).__name__}"
        )
    prob = as_problem(problem, optimizer.space)
    scratch = Path(tempfile.mkdtemp(prefix="genepool-profile-"))
    try:
        first = sizes[0] if sizes else min(target, 64)
        small = max(2, min(first, 32))
        say(f"warm-up at {small}: loading (or compiling) the kernels")
        jit = warm_up(prob, optimizer, config, small, limit, scratch)
        if jit.cold:  # this process compiled: that is the cold start
            jit.cold_seconds, jit.cold_peak = jit.compile_seconds, 0
        elif cold_start:
            say("a cold start: compiling in fresh processes with an empty numba cache")
            _measure_cold(jit, prob, optimizer, config, small, limit)
        base = read_status()
        base_rss = base.rss if base is not None else 0
        base_anon = base.anon if base is not None else 0
        if limit is not None and limit <= base_anon:
            typed = config.memory_limit if isinstance(config.memory_limit, str) else limit
            raise _error(
                f"memory_limit {typed} is below what this process needs before "
                f"any population: {format_size(base_anon)} of anonymous memory (the "
                f"interpreter, numpy, numba's kernels, the data); give at least "
                f"{format_size(2 * base_anon)}",
                f"--memory-limit {typed} is below what the process needs before "
                f"any population ({format_size(base_anon)}: the interpreter, its libraries, "
                f"the compiled kernels and the data); give at least "
                f"--memory-limit {_nice(2 * base_anon)}",
            )
        probes = _run_probes(prob, optimizer, config, target, sizes, probe_generations, limit,
                             budget, scratch, say)  # fmt: skip
        serial = None
        if _executor_name(config.executor) != "serial":  # what the executor buys, measured
            here = dataclasses.replace(config, executor="serial", workers=None)
            say(f"probe at {probes[-1].size:,} again, serially (to judge the executor)")
            serial = run_probe(prob, optimizer, here, probes[-1].size, probe_generations, limit,
                               scratch)  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n_bars = getattr(prob, "n_bars", None)
    if getattr(prob, "universe", None) is not None:
        n_bars = None  # bars differ per symbol: no per strategy-bar figures
    proj = _project(prob, optimizer, config, probes, jit, target, limit, base_rss, base_anon,
                    where)  # fmt: skip
    recs = _recommend(prob, optimizer, config, probes, proj, limit, base_anon, serial)
    return Profile(
        problem=_name(prob),
        optimizer=type(optimizer).__name__,
        n_bars=int(n_bars) if isinstance(n_bars, (int, np.integer)) else None,
        probes=probes,
        jit=jit,
        projection=proj,
        recommendations=recs,
        kind=kind,
        serial=serial,
    )


def _measure_cold(
    jit: JitCost, prob: Any, optimizer: Optimizer, config: RunConfig, size: int,
    limit: int | None,
) -> None:  # fmt: skip
    """Fill ``jit``'s cold-start figures from fresh processes (or say why not)."""
    runs, why = measure_cold_start(prob, optimizer, config, size, limit)
    if not runs:
        jit.cold_note = why
        return
    seconds = sorted(r["seconds"] for r in runs)
    jit.cold_seconds = float(np.median(seconds))
    jit.cold_band = (seconds[-1] - seconds[0]) / jit.cold_seconds if jit.cold_seconds else 0.0
    jit.cold_peak = int(max(r["hwm"] for r in runs))


def _name(problem: Any) -> str:
    inner = getattr(problem, "problem", None) or getattr(problem, "function", None)
    if inner is not None and hasattr(inner, "__name__"):
        return str(inner.__name__)
    if isinstance(getattr(problem, "name", None), str):
        return f"{type(problem).__name__}({problem.name})"
    family = getattr(getattr(problem, "family", None), "name", None)
    return f"{type(problem).__name__}({family})" if family else type(problem).__name__


def _auto_sizes(target: int) -> list[int]:
    """A ladder of sizes toward ``target``: 64, x4, ... (the target itself when it is small)."""
    if target <= 256:
        return sorted({max(2, target // 4), max(2, target // 2), target})
    ladder, s = [], 64
    while s < target:
        ladder.append(s)
        s *= 4
    return [*ladder, target]


def _run_probes(
    prob: Any,
    optimizer: Optimizer,
    config: RunConfig,
    target: int,
    sizes: list[int] | None,
    probe_generations: int,
    limit: int | None,
    budget: float,
    scratch: Path,
    say: Callable[[str], None],
) -> list[Probe]:
    auto = sizes is None
    ladder = _auto_sizes(target) if auto else list(sizes or [])
    probes: list[Probe] = []
    spent = 0.0
    for size in ladder:
        need = _probe_need(prob, optimizer, probes, size)
        avail = _available_memory()
        if auto and len(probes) >= 2 and limit is not None and need > PROBE_MEMORY_SHARE * limit:
            break  # chosen sizes stay within the run's own limit (probes are not chunked)
        if need > PROBE_MEMORY_SHARE * avail:
            if auto and len(probes) >= 2:
                break
            raise _error(
                f"sizes: probing {size:,} individuals needs about {format_size(need)}, more than "
                f"{PROBE_MEMORY_SHARE:.0%} of the {format_size(avail)} available; probe smaller "
                f"sizes (the projection extrapolates to the run's population)",
                f"--populations {size:,} needs about {format_size(need)} to probe, more than "
                f"{PROBE_MEMORY_SHARE:.0%} of the {format_size(avail)} available; give smaller "
                f"--populations (the projection extrapolates to --population)",
            )
        if auto and len(probes) >= 2:
            per_gen = fit([p.size for p in probes], [p.seconds_per_generation for p in probes])
            if spent + per_gen(size) * probe_generations > budget:
                break
        say(f"probe at {size:,} ({probe_generations} generations)")
        probe = run_probe(prob, optimizer, config, size, probe_generations, limit, scratch)
        probes.append(probe)
        spent += sum(probe.seconds)
    return probes


def _probe_need(prob: Any, optimizer: Optimizer, probes: list[Probe], size: int) -> float:
    """Bytes a probe of ``size`` needs above the process: projected from the probes so far,
    else the optimizer's footprint and the problem's own estimate per candidate."""
    if len(probes) >= 1:
        return fit([p.size for p in probes], [p.peak + p.cache_bytes for p in probes])(size)
    footprint = optimizer.resized(size).memory_footprint() or 0
    per = prob.bytes_per_candidate() or 0
    return float(footprint + per * size)


def _stage_line(probes: Sequence[Probe], name: str, what: str) -> Line:
    sizes, values = [], []
    for p in probes:
        row = p.stage(name)
        sizes.append(p.size)
        values.append(0.0 if row is None else float(getattr(row, what)))
    return fit(sizes, values)


def _project(
    prob: Any,
    optimizer: Optimizer,
    config: RunConfig,
    probes: list[Probe],
    jit: JitCost,
    n: int,
    limit: int | None,
    base_rss: int,
    base_anon: int,
    where: Path | None = None,
) -> Projection:
    sizes = [p.size for p in probes]
    G = int(config.generations or 100)
    # -- time: the top-level stages of a generation
    per_gen = fit(sizes, [p.seconds_per_generation for p in probes])
    t_gen = Estimate(per_gen(n), time_band(probes, per_gen, n))
    run_seconds = G * t_gen.value
    last = max(probes, key=lambda p: p.size)
    if last.cache_off:
        # an automatic cache that does not pay is on for its warm-up generations only: those
        # cost what the probes' generations with it cost
        on = fit(sizes, [_cached_seconds(p) for p in probes])(n)
        run_seconds += min(G, AUTO_CACHE_WARMUP) * max(0.0, on - t_gen.value)
    # the run as it will start: loading the kernels from numba's cache (which this process
    # filled if it had to compile; the compile is reported apart)
    start = max(0.0, jit.first_generation_extra - jit.compile_seconds)
    total = Estimate(run_seconds + start, t_gen.band)
    # -- memory: held between generations, each stage's peak above the probe's start (less
    # the probe's own cache, projected apart), evaluation's working memory per candidate
    held = fit(sizes, [p.held for p in probes])
    working = _stage_line(probes, "evaluate", "peak")
    cached = [_probe_cache(p) for p in probes]
    lines = {
        s: fit(sizes, [_peak(p, s) - c for p, c in zip(probes, cached)])
        for s in ("ask", "evaluate", "tell", "bookkeeping")
    }
    cache_b, cache_growth, cache_pages = _cache_bytes(probes, n, G, config, limit)
    chunk = n
    if limit is not None:
        fixed = base_anon + held(n) + cache_b + 8 * n * max(1, optimizer.space.dims)
        chunk = implied_chunk(limit, fixed, working.b, n)
    # evaluation's peak at the run's chunk: the whole-population peak less the rows not held
    values = {s: line(n) for s, line in lines.items()}
    values["evaluate"] -= working.b * (n - chunk)
    top = max(values, key=lambda s: values[s])
    # the stages' peaks see the cache at its final size; it grows (old and new arrays side by
    # side) after the fitness's temporaries are gone, while the batch's keys and hashes are
    # alive (8 bytes a gene, and one)
    width = last.cache_shape[0] if last.cache_shape is not None else 0
    keys = 8 * (width + 1) * n if cache_growth else 0.0
    above = max(values[top] + cache_b, held(n) + cache_growth + keys)
    # memory a generation leaves behind that the next does not reuse (a leak): over the run
    growth = max(0.0, fit(sizes, [p.growth for p in probes])(n))
    leaking = all(p.growth > 0 for p in probes) and last.growth > max(
        LEAK_BYTES, LEAK_SHARE * last.held
    )
    if leaking:
        above += growth * G
    value = base_rss + above
    # the band: the dominating line's largest residual, at least the floor
    err = lines[top].abs_residual * extrapolation(n, probes)
    band = max(MEMORY_FLOOR * extrapolation(n, probes), err / max(value, 1.0))
    peak = Estimate(value, band + cache_pages / max(value, 1.0))
    avail = _available_memory()
    proj = Projection(
        population=n,
        generations=G,
        memory_limit=limit,
        chunk_size=chunk,
        n_chunks=-(-n // max(chunk, 1)),
        peak_rss=peak,
        population_bytes=Estimate(held(n), memory_band(held.residual, n, probes)),
        bytes_per_candidate=working.b,
        cache_bytes=int(cache_growth),
        seconds_per_generation=t_gen,
        seconds=total,
        disk=_disk(probes, optimizer, config, n, G),
        base_rss=base_rss,
        available_memory=avail,
        cores=available_cores(),
        executor=_executor_name(config.executor),
        executor_reason="",
        file_rss=int(last.file_rss),
        leak_per_generation=growth if leaking else 0.0,
    )
    _check_fits(proj, prob, optimizer, held(n), base_anon, where)
    return proj


def _cached_seconds(p: Probe) -> float:
    """The median generation after the first while an automatic cache was still on."""
    times = sorted(p.seconds[1:AUTO_CACHE_WARMUP] or p.seconds[:1])
    return times[len(times) // 2]


def _peak(p: Probe, stage: str) -> float:
    row = p.stage(stage)
    return 0.0 if row is None else float(row.peak_above_start)


def _probe_cache(p: Probe) -> float:
    """The probe's fitness cache at its final size (its inserts, by the cache's growth rule)."""
    if p.cache_shape is None or not p.cache_inserts:
        return 0.0
    d, m, bound = p.cache_shape
    return float(FitnessCache(bound).nbytes_for(p.cache_inserts, d, m)[0])


def _executor_name(spec: Any) -> str:
    return spec if isinstance(spec, str) else type(spec).__name__


def _cache_bytes(
    probes: list[Probe], n: int, generations: int, config: RunConfig, limit: int | None
) -> tuple[float, float, float]:
    """The fitness cache in the run, at its largest and at its peak while it grows (two
    allocations side by side), and the uncertainty of that peak.

    The entries it takes in are the probes' new entries per candidate and generation, over
    the whole run (or over the generations an automatic cache needs to find that it does not
    pay, when it turned itself off in a probe), sized by the cache's own growth rule
    (:meth:`~genepool.FitnessCache.nbytes_for`): halfway between the rows filled and the whole
    capacity, half the difference being the uncertainty, since which of the two is resident
    depends on transparent huge pages (numpy asks for them; a fragmented machine has none).
    """
    last = max(probes, key=lambda p: p.size)
    if last.cache_shape is None or not last.cache_inserts:
        return 0.0, 0.0, 0.0
    d, m, _ = last.cache_shape
    cache = _make_cache(config.cache, limit)  # the run's cache, bounded by the run's limit
    if cache is None:
        return 0.0, 0.0, 0.0
    # an automatic cache that turned itself off took entries in its warm-up generations only
    took = min(last.generations, AUTO_CACHE_WARMUP) if last.cache_off else last.generations
    per_candidate = last.cache_inserts / (last.size * took)
    gens = min(generations, AUTO_CACHE_WARMUP) if last.cache_off else generations
    # between the rows filled and the whole capacity: which of them is resident depends on
    # transparent huge pages (numpy asks for them; a fragmented machine does not give them)
    entries = int(per_candidate * n * gens)
    final, peak = cache.nbytes_for(entries, d, m)
    final_r, peak_r = cache.nbytes_for(entries, d, m, resident=True)
    return (final + final_r) / 2, (peak + peak_r) / 2, (peak - peak_r) / 2


def _disk(
    probes: list[Probe], optimizer: Optimizer, config: RunConfig, n: int, generations: int
) -> dict[str, int]:
    if config.run_dir is None:
        return {}
    sizes = [p.size for p in probes]
    out: dict[str, int] = {}
    if any("checkpoints" in p.disk for p in probes):
        out["checkpoints"] = int(fit(sizes, [p.disk.get("checkpoints", 0) for p in probes])(n))
    if optimizer.storage == "disk":  # the peak of the files: the optimizer's own rule
        target = optimizer.resized(n)
        try:
            out["population files"] = int(target.disk_footprint(checkpoints=True))
        finally:
            target.close_storage()
    if any("history" in p.disk for p in probes):
        per_gen = fit(sizes, [p.disk.get("history", 0) / p.generations for p in probes])
        out["history"] = int(per_gen(n) * generations)
    if any("snapshots" in p.disk for p in probes) and config.snapshot_every:
        every = config.snapshot_every
        per = fit(sizes, [p.disk.get("snapshots", 0) / max(1, p.generations // every)
                          for p in probes])  # fmt: skip
        out["snapshots"] = int(per(n) * (generations // config.snapshot_every))
    return out


def _check_fits(
    proj: Projection, prob: Any, optimizer: Optimizer, held: float, base: int,
    where: Path | None,
) -> None:  # fmt: skip
    """Say what in the projected run does not fit: what the run itself refuses (its budget
    check, :func:`~genepool.run.budget.check_budget_fits`), a peak above the limit or the
    machine, a run directory larger than its disk's free space."""
    limit = proj.memory_limit
    if limit is not None:
        target = optimizer.resized(proj.population)
        try:
            check_budget_fits(MemoryMonitor(limit), target, getattr(prob, "memory_hint",
                                                                    lambda: None)())  # fmt: skip
        except ConfigError as exc:
            proj.fits = False
            proj.problems.append(f"the run would be refused: {exc.cli_message or exc}")
        finally:
            target.close_storage()
        if proj.fits and proj.peak_anon > 0.9 * limit:
            proj.fits = False
            proj.problems.append(
                f"the projected peak of anonymous memory {format_size(proj.peak_anon)} is "
                f"above 90 % of the {format_size(limit)} limit: the run would stop with "
                f"MemoryBudgetExceeded once chunks of one candidate are not enough"
            )
        if limit > proj.available_memory:
            proj.problems.append(
                f"the limit {format_size(limit)} is more than the "
                f"{format_size(proj.available_memory)} available now"
            )
    elif proj.peak_rss.high > proj.available_memory:
        proj.fits = False
        proj.problems.append(
            f"the projected peak {proj.peak_rss.bytes()} exceeds the "
            f"{format_size(proj.available_memory)} available: the run would swap or be killed"
        )
    if proj.leak_per_generation:
        proj.problems.append(
            f"memory grows by {format_size(proj.leak_per_generation)} per generation and is "
            f"not reused (a leak?): {format_size(proj.leak_per_generation * proj.generations)} "
            f"over {proj.generations:,} generations, counted in the peak "
            f"(docs/memory-checklist.md)"
        )
    if proj.disk:
        folder = _existing(where) if where is not None else Path.cwd()
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return
        if proj.disk_total > free:
            proj.fits = False
            proj.problems.append(
                f"the run directory would reach {format_size(proj.disk_total)}, more than the "
                f"{format_size(free)} free on the disk of {folder}"
            )


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent."""
    path = path.absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _nice(nbytes: float) -> str:
    """A size for a flag: two significant figures, rounded down, in MiB or GiB."""
    if nbytes >= 2**30:
        v = nbytes / 2**30
        digits = max(0, 1 - math.floor(math.log10(v)))
        return f"{math.floor(v * 10**digits) / 10**digits:g}GiB"
    v = max(1.0, nbytes / 2**20)
    digits = max(0, 1 - math.floor(math.log10(v)))
    return f"{math.floor(v * 10**digits) / 10**digits:g}MiB"


def _recommend(
    prob: Any,
    optimizer: Optimizer,
    config: RunConfig,
    probes: list[Probe],
    proj: Projection,
    limit: int | None,
    base_anon: int,
    serial: Probe | None = None,
) -> list[Recommendation]:
    recs: list[Recommendation] = []
    avail = proj.available_memory
    n = proj.population
    held = proj.population_bytes.value
    # -- memory limit and chunks
    room = HEADROOM * avail
    suggested = _nice(room)
    fixed = base_anon + held + proj.cache_bytes
    per = proj.bytes_per_candidate
    disk_ok = optimizer.disk_capable and optimizer.storage == "memory"
    if fixed > 0.9 * room:
        if disk_ok:
            recs.append(Recommendation(
                "--storage disk", "GA(..., storage='disk')",
                f"the population and its fitness need about {format_size(held)}, more than "
                f"the {format_size(room)} that {HEADROOM:.0%} of the available memory allows: "
                f"keep the genes in memory-mapped files",
            ))  # fmt: skip
        else:
            recs.append(Recommendation(
                f"--population {max(2, int(n * 0.8 * room / max(fixed, 1))):,}",
                "a smaller population_size",
                f"the population alone needs about {format_size(held)} of the "
                f"{format_size(avail)} available",
            ))  # fmt: skip
    chunk = implied_chunk(parse_size(suggested), fixed + 8 * n * optimizer.space.dims, per, n)
    if limit is None:
        if proj.peak_rss.high <= room:
            why = (
                f"the projected peak {proj.peak_rss.bytes()} fits in {HEADROOM:.0%} of the "
                f"{format_size(avail)} available; the limit guards the machine and keeps "
                f"evaluation in one chunk of {n:,}"
            )
        else:
            why = (
                f"the projected peak {proj.peak_rss.bytes()} exceeds {HEADROOM:.0%} of the "
                f"{format_size(avail)} available; under this limit evaluation runs in chunks "
                f"of about {chunk:,} ({-(-n // chunk):,} per generation), at "
                f"{format_size(per)} of working memory per candidate"
            )
        recs.append(Recommendation(f"--memory-limit {suggested}",
                                   f"memory_limit={suggested!r}", why))  # fmt: skip
    elif limit > avail:
        recs.append(Recommendation(
            f"--memory-limit {suggested}", f"memory_limit={suggested!r}",
            f"the limit {format_size(limit)} is more than the {format_size(avail)} available "
            f"now: the machine would swap before the budget acts",
        ))  # fmt: skip
    elif not proj.problems:
        given = config.memory_limit if isinstance(config.memory_limit, str) else str(limit)
        chunks = (
            f"evaluation runs in chunks of about {proj.chunk_size:,} ({proj.n_chunks:,} per "
            f"generation) at {format_size(per)} of working memory per candidate"
            if proj.chunk_size < n
            else f"evaluation stays in one chunk of {n:,}"
        )
        recs.append(Recommendation(
            f"--memory-limit {given} (as given)", f"memory_limit={given!r}",
            f"the projected peak {proj.peak_rss.bytes()} fits under it; {chunks}",
        ))  # fmt: skip
    # -- the cache
    recs.extend(_cache_advice(probes, config))
    # -- the executor
    recs.append(_executor_advice(probes, proj, serial))
    # -- data to a store
    data = getattr(prob, "data", None)
    if isinstance(data, dict) and getattr(prob, "universe", None) is None:
        nbytes = sum(a.nbytes for a in data.values() if isinstance(a, np.ndarray)
                     and not isinstance(a, np.memmap))  # fmt: skip
        if nbytes > 0.25 * avail:
            recs.append(Recommendation(
                "genepool data import FILE --store DIR, then --store DIR",
                "StrategyProblem(gp.backtest.open_store(DIR), ...)",
                f"the price data holds {format_size(nbytes)} in memory, over a quarter of the "
                f"{format_size(avail)} available: a store is memory-mapped and read per block",
            ))  # fmt: skip
    return recs


def _cache_advice(probes: list[Probe], config: RunConfig) -> list[Recommendation]:
    last = max(probes, key=lambda p: p.size)
    row = last.stage("cache")
    if config.cache is False or row is None:
        return []
    evaluated = max(1, last.evaluated // last.generations)
    fitness = sum(
        (r.seconds for r in last.stages if r.stage in ("fitness", *INNER) and r.stage != "cache"),
        0.0,
    )
    per_eval = fitness / evaluated
    saved = last.duplicate_rate * last.size * per_eval
    if saved >= row.seconds:
        return [Recommendation(
            "--cache" if config.cache else "(default: cache on)",
            "cache=True" if config.cache else "cache=None",
            f"the cache pays: {last.duplicate_rate:.0%} of the candidates were repeats at "
            f"{last.size:,}, saving about {_duration(saved)} per generation for "
            f"{_duration(row.seconds)} of hashing (repeats grow as the population converges)",
        )]  # fmt: skip
    return [Recommendation(
        "--no-cache", "cache=False",
        f"the cache does not pay: {last.duplicate_rate:.0%} repeats at {last.size:,} save about "
        f"{_duration(saved)} per generation and hashing costs {_duration(row.seconds)}"
        + ("" if config.cache else "; by default the cache turns itself off after "
           f"{AUTO_CACHE_WARMUP} generations, --no-cache skips them"),
    )]  # fmt: skip


def _executor_advice(
    probes: list[Probe], proj: Projection, serial: Probe | None = None
) -> Recommendation:
    """Whether a process pool pays: measured against a serial probe when an executor was
    given; else the fitness's measured CPU use against the cores, and its time per generation
    against the cost of shipping chunks."""
    last = max(probes, key=lambda p: p.size)
    ev = last.stage("evaluate")
    cores = proj.cores
    if ev is None or ev.seconds <= 0:
        return Recommendation("--executor serial", "executor='serial'", "nothing to evaluate")
    busy = ev.cpu_seconds / ev.seconds
    eval_s = _stage_line(probes, "evaluate", "seconds")(proj.population)
    if serial is not None:
        there = last.seconds_per_generation  # medians: the pool's start is not in them
        here = serial.seconds_per_generation
        name = proj.executor
        # a clear win only: short probes on a shared machine move by tens of percent
        keep = there < CLEAR_WIN * here
        choice = name if keep else "serial"
        why = (
            f"measured at {last.size:,}: a generation takes {_duration(there)} with {name} and "
            f"{_duration(here)} serially (medians; the workers' start is not in them)"
        )
        proj.executor_reason = why
        return Recommendation(f"--executor {choice}", f"executor={choice!r}", why)
    if cores <= 1:
        why = "one core: there is nothing to share the work with"
    elif busy >= 0.75 * cores:
        why = (
            f"the fitness already keeps {busy:.1f} of {cores} cores busy (numba's threads): "
            f"worker processes would share the same cores"
        )
    elif eval_s < 10 * MIN_SECONDS * cores:
        why = (
            f"evaluation takes {_duration(eval_s)} per generation: too little to pay for "
            f"shipping chunks to {cores} processes"
        )
    else:
        why = (
            f"the fitness keeps {busy:.1f} of {cores} cores busy for {_duration(eval_s)} per "
            f"generation: a process pool could cut that to about "
            f"{_duration(eval_s * max(busy, 1) / cores)}"
        )
        proj.executor_reason = why
        return Recommendation("--executor processes", "executor='processes'", why)
    proj.executor_reason = why
    return Recommendation("--executor serial", "executor='serial'", why)


def _duration(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-5:
        return f"{s * 1e6:.1f} us"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"
