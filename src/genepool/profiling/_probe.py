"""Measured probes: a few generations of the configured run at one population size each.

A probe is the real run loop (:class:`~genepool.run.loop.Run`) with the run's problem, a fresh
copy of its optimizer at the probe's size (:meth:`~genepool.Optimizer.resized`) and the run's
settings (cache, executor, a temporary run directory with its history and checkpoints), under
a :class:`~genepool._stages.StageClock`. Evaluation is not chunked in a probe (one chunk of the
whole population): the working memory per candidate it measures is what the projection's chunk
rule divides the budget by. The problem and the optimizer are told the run's memory limit
(``fit_memory``), so that a backtest's blocks have the run's size.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from .._stages import StageClock, StageTotals, measuring
from ..algorithms.base import Optimizer
from ..evaluation.evaluator import AUTO_CACHE_WARMUP
from ..memory._proc import read_status, reset_peak
from ..memory.monitor import malloc_live, malloc_trim
from ..problem import Problem
from ..run.config import RunConfig
from ..run.loop import Run

__all__ = ["JitCost", "Probe", "StageRow", "run_probe", "warm_up"]

#: Stages of the run loop and of a backtest, in the order a generation passes them.
STAGE_ORDER = (
    "ask",
    "evaluate",
    "cache",
    "decode",
    "indicator tables",
    "kernel",
    "objective",
    "fitness",
    "tell",
    "bookkeeping",
)
#: Generations measured after an automatic cache turned itself off (the run's steady state).
AFTER_CACHE = 3
#: Stages inside ``evaluate``; what evaluate spends outside them is the ``fitness`` row.
INNER = ("cache", "decode", "indicator tables", "kernel", "objective")


@dataclass
class StageRow:
    """One stage of a probe, per generation (means; peaks are the largest)."""

    stage: str
    seconds: float
    cpu_seconds: float
    kept: int
    peak: int
    peak_above_start: int


@dataclass
class Probe:
    """What a probe of ``size`` individuals measured over ``generations`` generations."""

    size: int
    generations: int
    #: wall seconds of each generation
    seconds: list[float]
    stages: list[StageRow]
    #: resident / anonymous memory when the probe began (before its optimizer existed)
    rss_start: int
    anon_start: int
    #: anonymous memory held between generations above ``anon_start`` (the population, its
    #: fitness, the history), less the fitness cache (projected on its own)
    held: int
    #: the largest resident memory of the probe above ``rss_start`` (VmHWM)
    peak: int
    #: file-backed resident memory at the end (libraries, memory-mapped data)
    file_rss: int
    #: ``held`` at the start of each generation (its growth after the first two is a leak)
    held_series: list[int] = field(default_factory=list)
    requested: int = 0
    evaluated: int = 0
    cache_bytes: int = 0
    #: entries the cache took in (new distinct candidates), its key width, values, bound
    cache_inserts: int = 0
    cache_shape: tuple[int, int, int] | None = None
    #: the cache was off at the end (``cache=False``, or it turned itself off: it did not pay)
    cache_off: bool = False
    #: bytes of the probe's run directory: checkpoints (the last two), history, snapshots
    disk: dict[str, int] = field(default_factory=dict)

    def stage(self, name: str) -> StageRow | None:
        """The row of stage ``name``, if the probe passed it."""
        return next((s for s in self.stages if s.stage == name), None)

    @property
    def steady(self) -> list[float]:
        """The generations of the steady state: after the first (which starts worker
        processes and fills an empty cache), and after an automatic cache turned itself off."""
        if self.cache_off and len(self.seconds) > AUTO_CACHE_WARMUP:
            return self.seconds[AUTO_CACHE_WARMUP:]
        return self.seconds[1:] if len(self.seconds) >= 3 else self.seconds

    @property
    def seconds_per_generation(self) -> float:
        """The median generation of the steady state (:attr:`steady`)."""
        s = sorted(self.steady)
        return s[len(s) // 2]

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median generation of the steady state: the noise of the
        measurement."""
        med = self.seconds_per_generation
        s = self.steady
        return (max(s) - min(s)) / med if med > 0 else 0.0

    @property
    def growth(self) -> float:
        """Bytes ``held`` grew per generation after the second, when it grew steadily: every
        step up, the largest at most twice the smallest (a leak keeps about the same each
        generation; the allocator's reshuffles do not); else 0.0. Needs four generations."""
        h = self.held_series[1:]
        steps = [b - a for a, b in pairwise(h)]
        if len(steps) < 2 or min(steps) <= 0 or max(steps) > 2 * min(steps):
            return 0.0
        return sum(steps) / len(steps)

    @property
    def duplicate_rate(self) -> float:
        """Share of the requested evaluations that the cache (or deduplication) saved."""
        return 1.0 - self.evaluated / self.requested if self.requested else 0.0


@dataclass
class JitCost:
    """The numba compilation seen while the first (tiny) probe ran."""

    #: seconds spent compiling (0.0: every kernel came from numba's on-disk cache)
    compile_seconds: float
    compiled: int
    #: wall seconds of the first generation less those of the second (load or compile)
    first_generation_extra: float
    #: anonymous memory the warm-up left behind (compiled code, loaded libraries)
    memory: int
    #: the warm-up's peak resident memory above its start
    peak: int
    #: a cold start measured in fresh processes with an empty numba cache (``cold_start``):
    #: compile seconds (their median), relative spread, peak resident memory of the process
    cold_seconds: float | None = None
    cold_band: float = 0.0
    cold_peak: int = 0
    #: why a cold start was not measured, if it was asked for and could not be
    cold_note: str | None = None

    @property
    def cold(self) -> bool:
        """Kernels were compiled in this process (its numba cache was cold)."""
        return self.compiled > 0


@contextmanager
def _compile_timer() -> Iterator[list[float]]:
    """Seconds spent in numba compilations (outermost ones) and their count, while open."""
    acc = [0.0, 0.0]
    try:
        from numba.core import event
    except ImportError:  # pragma: no cover - numba is a dependency
        yield acc
        return

    class Listener(event.Listener):
        depth = 0
        t0 = 0.0

        def on_start(self, ev: Any) -> None:
            if self.depth == 0:
                self.t0 = time.perf_counter()
            self.depth += 1

        def on_end(self, ev: Any) -> None:
            self.depth -= 1
            if self.depth == 0:
                acc[0] += time.perf_counter() - self.t0
                acc[1] += 1

    with event.install_listener("numba:compile", Listener()):
        yield acc


def _probe_config(config: RunConfig, generations: int, run_dir: Path | None) -> RunConfig:
    """The run's settings for a probe: its own budget and run directory, no resume, silent."""
    return dataclasses.replace(
        config,
        generations=generations,
        max_evaluations=None,
        target=None,
        time_limit=None,
        stagnation=None,
        memory_limit=None,  # one chunk: the probe measures the memory per candidate
        chunk_size="auto",
        run_dir=run_dir,
        resume=False,
        callbacks=(),
        progress=False,
        checkpoint_every=None if run_dir is None else (config.checkpoint_every or None),
        snapshot_every=None if run_dir is None else config.snapshot_every,
    )


def _folder_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _disk(run_dir: Path | None) -> dict[str, int]:
    if run_dir is None or not run_dir.exists():
        return {}
    parts = {
        "checkpoints": run_dir / "checkpoint",
        "history": run_dir / "history.parquet",
        "snapshots": run_dir / "populations",
        "population files": run_dir / "population",
    }
    return {k: _folder_bytes(p) for k, p in parts.items() if p.exists()}


def _make_run(
    problem: Problem,
    optimizer: Optimizer,
    config: RunConfig,
    memory_limit: int | None,
) -> Run:
    run = Run(problem, optimizer, config)
    if memory_limit is not None:  # the run's blocks and chunks, not the probe's (no limit)
        optimizer.fit_memory(memory_limit)
        run.problem.fit_memory(memory_limit)
    run.reporter.start(config.generations)
    run.start = time.perf_counter()
    return run


def warm_up(
    problem: Problem,
    optimizer: Optimizer,
    config: RunConfig,
    size: int,
    memory_limit: int | None,
    scratch: Path,
) -> JitCost:
    """Two generations at ``size``: numba's kernels are compiled or loaded, lazy imports done,
    and what that cost is measured."""
    run_dir = scratch / "warm-up" if config.run_dir is not None else None
    before = read_status()
    reset_peak()
    with _compile_timer() as compiled:
        opt = optimizer.resized(size)
        run = _make_run(problem, opt, _probe_config(config, 2, run_dir), memory_limit)
        times = []
        try:
            for _ in range(2):
                t = time.perf_counter()
                run.step()
                times.append(time.perf_counter() - t)
        finally:
            run._close(nullcontext(), None)
    del run, opt
    gc.collect()
    malloc_trim()
    after = read_status()
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
    memory = peak = 0
    if before is not None and after is not None:
        memory = max(0, after.anon - before.anon)
        peak = max(0, after.hwm - before.rss)
    return JitCost(compiled[0], int(compiled[1]), max(0.0, times[0] - times[1]), memory, peak)


def _rows(totals: dict[str, StageTotals], generations: int) -> list[StageRow]:
    """Per-generation rows, with the evaluate time outside the inner stages as ``fitness``."""
    g = max(1, generations)
    rows = {
        name: StageRow(
            name, t.seconds / g, t.cpu_seconds / g, t.kept // g, t.peak, t.peak_above_origin
        )
        for name, t in totals.items()
    }
    ev = rows.get("evaluate")
    if ev is not None:
        inner = [rows[n] for n in INNER if n in rows]
        rows["fitness"] = StageRow(
            "fitness",
            max(0.0, ev.seconds - sum(r.seconds for r in inner)),
            max(0.0, ev.cpu_seconds - sum(r.cpu_seconds for r in inner)),
            ev.kept - sum(r.kept for r in inner),
            ev.peak,
            ev.peak_above_start,
        )
    return [rows[n] for n in STAGE_ORDER if n in rows]


def _live() -> int | None:
    """Bytes the process holds: malloc's live bytes (exact; nothing is trimmed, so the probe
    runs as the run does), else anonymous memory after handing freed heap back."""
    live = malloc_live()
    if live is not None:
        return live
    malloc_trim()
    r = read_status()
    return None if r is None else r.anon


def run_probe(
    problem: Problem,
    optimizer: Optimizer,
    config: RunConfig,
    size: int,
    generations: int,
    memory_limit: int | None,
    scratch: Path,
) -> Probe:
    """Run ``generations`` generations at ``size`` individuals, measured stage by stage."""
    gc.collect()
    malloc_trim()  # memory freed by earlier probes goes back: this probe's rises are its own
    run_dir = scratch / f"probe-{size}" if config.run_dir is not None else None
    start = read_status()
    rss0 = start.rss if start is not None else 0
    anon0 = start.anon if start is not None else 0
    live0 = _live()
    opt = optimizer.resized(size)
    run = _make_run(problem, opt, _probe_config(config, generations, run_dir), memory_limit)
    clock = StageClock()  # resets VmHWM
    clock.origin = rss0
    seconds: list[float] = []
    held = 0
    series: list[int] = []  # held at the start of each generation
    shape = None  # the cache's key width, values per entry, bound
    try:
        with measuring(clock):
            while len(seconds) < generations:
                cache = run.evaluator.cache
                live = _live()
                if live is not None and live0 is not None:  # what malloc holds for us
                    held = live - live0 - (cache.nbytes if cache is not None else 0)
                    series.append(held)
                t = time.perf_counter()
                run.step()
                seconds.append(time.perf_counter() - t)
                if shape is None and cache is not None and cache._d is not None:
                    shape = (int(cache._d), int(cache._m or 1), int(cache.max_bytes))
                if cache is not None and run.evaluator.cache is None:
                    # the automatic cache just turned itself off: measure the steady state
                    # after it too (AFTER_CACHE generations)
                    generations = max(generations, len(seconds) + AFTER_CACHE)
                del cache
    finally:
        run._close(nullcontext(), None)
        clock.close()
    end = read_status()
    ev = run.evaluator
    stats = ev.stats
    # an automatic cache that turned itself off in the probe will do so in the run: nothing kept
    cache_stats = ev.cache_stats()
    probe = Probe(
        size=size,
        generations=len(seconds),
        seconds=seconds,
        stages=_rows(clock.totals, generations),
        rss_start=rss0,
        anon_start=anon0,
        held=max(0, held),
        # the stages cover the generation; each resets VmHWM, so their peaks are the probe's
        peak=max([0] + [t.peak_above_origin for t in clock.totals.values()]),
        file_rss=end.file if end is not None else 0,
        requested=stats["requested"],
        evaluated=stats["evaluated"],
        held_series=series,
        cache_bytes=int(cache_stats["nbytes"]) if cache_stats and ev.cache is not None else 0,
        cache_inserts=int(cache_stats["inserts"]) if cache_stats else 0,
        cache_shape=shape,
        cache_off=ev.cache is None,
        disk=_disk(run_dir),
    )
    del run, opt, ev
    gc.collect()
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
    return probe
