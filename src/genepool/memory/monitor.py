"""``MemoryMonitor``: measures the process (anonymous and file-backed memory, RSS, USS, peaks),
acts on thresholds, finds leaks.

The budget counts *anonymous* memory (on Linux ``RssAnon + RssShmem``: what the kernel cannot
reclaim); file-backed residency (``RssFile``: libraries, memory-mapped data) is reported apart,
since the kernel drops those pages under pressure. Elsewhere both are the RSS.

Interval peaks (a chunk): the kernel's peak-RSS counter (``VmHWM``, reset around the interval
through ``/proc/self/clear_refs``) is exact for RSS. When file-backed residency stays steady
over the interval (within :data:`FILE_STEADY`), the anonymous peak is ``VmHWM`` minus it, as
exact as before. When it moved (memory-mapped data read in the interval), ``VmHWM`` also counts
the file pages, and the anonymous peak is the largest of the sampler thread's readings of
``/proc/self/statm`` (every ``sample_period``), of :meth:`MemoryMonitor.sample` calls, and of
the interval's ends. The monitor keeps the run's overall peaks itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

from ..errors import ConfigError, MemoryBudgetExceeded, MemoryLeakWarning, check_float, check_int
from ._proc import IntervalMeter, Residency, read_status
from ._size import format_size, parse_size

__all__ = ["FILE_STEADY", "MemoryMonitor", "malloc_live", "malloc_trim"]

log = logging.getLogger("genepool.memory")

_SAMPLE_DTYPE = np.dtype(
    [
        ("generation", np.int64),
        ("time", np.float64),
        ("rss", np.int64),
        ("uss", np.int64),
        ("peak_rss", np.int64),
        ("chunk_size", np.int64),
        ("accounted", np.int64),
        ("anon", np.int64),
        ("file", np.int64),
        ("peak_anon", np.int64),
    ]
)

#: File-backed residency that moves by at most this over an interval is steady: the interval's
#: anonymous peak is then ``VmHWM`` minus it (exact to within this), not the sampled peak.
FILE_STEADY = IntervalMeter.STEADY


def _load_libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:  # pragma: no cover - exotic platforms
        return None


_LIBC = _load_libc()


def malloc_trim() -> bool:
    """Give freed heap memory back to the OS (glibc ``malloc_trim(0)``); False if unavailable."""
    fn = getattr(_LIBC, "malloc_trim", None)
    if fn is None:
        return False
    return bool(fn(0))


_MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2.split()]


def malloc_live() -> int | None:
    """Bytes malloc has handed out and not got back (glibc ``mallinfo2``: in use in every
    arena plus mmapped blocks), None where unavailable. Unlike resident memory it does not
    count memory freed and kept by the allocator: what a program holds, exactly."""
    fn = getattr(_LIBC, "mallinfo2", None)
    if fn is None:
        return None
    fn.restype = _MallInfo2
    info = fn()
    return int(info.uordblks + info.hblkhd)


class _PeakCounter:
    """Kernel peak RSS (Linux VmHWM) with reset; falls back to sampling elsewhere."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.exact = self._probe()

    def _probe(self) -> bool:
        try:
            self.read()
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except (OSError, ValueError):
            return False

    def read(self) -> int:
        if not getattr(self, "exact", True):
            return int(self.process.memory_info().rss)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise ValueError("no VmHWM in /proc/self/status")

    def reset(self) -> None:
        if self.exact:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")


@dataclass
class Alert:
    """Something the monitor noticed or did."""

    generation: int
    kind: str  # "cleanup", "chunk_halved", "leak", "budget_exceeded"
    message: str
    rss: int

    def to_dict(self) -> dict[str, int | str]:
        return {
            "generation": self.generation,
            "kind": self.kind,
            "message": self.message,
            "rss": self.rss,
        }


@dataclass
class _LeakDetector:
    window: int
    warmup: int
    threshold: float  # bytes per generation
    values: list[float] = field(default_factory=list)
    fired: bool = False

    def add(self, value: float) -> None:
        self.values.append(value)
        if len(self.values) > self.window + self.warmup:
            del self.values[0]

    def slope(self) -> tuple[float, float] | None:
        """(slope in bytes/generation, r^2) of the last ``window`` points after warm-up."""
        if len(self.values) < self.window + self.warmup:
            return None
        y = np.asarray(self.values[-self.window :], dtype=np.float64)
        x = np.arange(self.window, dtype=np.float64)
        x -= x.mean()
        yc = y - y.mean()
        sxx, syy = float(x @ x), float(yc @ yc)
        if syy == 0.0:
            return 0.0, 0.0
        b = float(x @ yc) / sxx
        return b, (b * b * sxx) / syy

    def suspicious(self) -> bool:
        fit = self.slope()
        return fit is not None and fit[0] > self.threshold and fit[1] > 0.9


class MemoryMonitor:
    """Watches this process's memory against a budget and acts before it is exceeded.

    Parameters
    ----------
    limit : int or str, optional
        The memory budget (``"2GB"``); without it the monitor only records statistics.
    warn_at : float, default 0.7
        Share of ``limit`` at which cleanup runs: ``gc.collect``, ``malloc_trim(0)`` and the
        registered cleanups (shrink the fitness cache, flush history to disk).
    act_at : float, default 0.9
        Share of ``limit`` above which the evaluator halves its chunk size.
    leak_window : int, default 6
        Generations over which the trend of end-of-generation memory (RSS minus what genepool
        accounts for: population, cache, history) is fitted.
    leak_threshold : int or str, optional
        Slope (bytes per generation) above which a steady trend is a leak; default
        ``max(1 MiB, limit / 1000)``.
    leak_warmup : int, default 2
        First generations ignored by the leak detector (imports, JIT, caches warming up).
    max_samples : int, default 10_000
        Capacity of the per-generation sample ring buffer.
    interval : float, default 0.25
        Minimum seconds between USS samples (reading USS costs ~0.3 ms). Anonymous memory and
        RSS are read at every generation end.
    sample_period : float or None, default 0.002
        Seconds between the sampler thread's readings of anonymous memory during a measured
        interval (Linux; a reading costs ~2 us); None turns the thread off (interval peaks
        then come from ``VmHWM``, the interval's ends and :meth:`sample` calls only).

    Notes
    -----
    The budgeted figure is :meth:`anon`: anonymous plus shared memory (``RssAnon +
    RssShmem``). Shared memory is counted because the kernel cannot drop it; a segment shared
    with worker processes (``executor="processes"``) is counted in the process that created
    it, once, and workers count only their own anonymous memory. File-backed residency
    (:meth:`file_backed`) is reported, never budgeted. Without ``/proc`` (not Linux) both
    budget and samples use the RSS, and ``file`` is 0.
    """

    def __init__(
        self,
        limit: int | str | None = None,
        warn_at: float = 0.7,
        act_at: float = 0.9,
        *,
        leak_window: int = 6,
        leak_threshold: int | str | None = None,
        leak_warmup: int = 2,
        max_samples: int = 10_000,
        interval: float = 0.25,
        sample_period: float | None = 0.002,
    ) -> None:
        self.limit = None if limit is None else parse_size(limit, "memory_limit")
        self.warn_at = check_float("warn_at", warn_at, low=0.0, high=1.0, low_inclusive=False)
        self.act_at = check_float("act_at", act_at, low=0.0, high=1.0, low_inclusive=False)
        if self.warn_at > self.act_at:
            raise ConfigError(f"warn_at ({warn_at}) must be <= act_at ({act_at})")
        threshold = (
            max(2**20, (self.limit or 0) // 1000)
            if leak_threshold is None
            else parse_size(leak_threshold, "leak_threshold")
        )
        self._leak = _LeakDetector(
            check_int("leak_window", leak_window, minimum=3),
            check_int("leak_warmup", leak_warmup, minimum=0),
            float(threshold),
        )
        self.process = psutil.Process()
        self._peak = _PeakCounter(self.process)
        self._cleanups: list[tuple[str, Callable[[], int]]] = []
        self._samples = np.zeros(
            check_int("max_samples", max_samples, minimum=1), dtype=_SAMPLE_DTYPE
        )
        self._n_samples = 0
        self.interval = check_float("interval", interval, low=0.0)
        self._last_uss_time = -np.inf
        self._last_uss = 0
        self.alerts: list[Alert] = []
        self.start_rss = self.rss()
        self.peak_rss = max(self.start_rss, self._peak.read())
        self.peak_uss = 0
        self._proc = read_status() is not None
        period = (
            None
            if sample_period is None
            else check_float("sample_period", sample_period, low=0.0, low_inclusive=False)
        )
        self._meter = IntervalMeter(period if self._proc else None)
        self._in_interval = False
        #: how the latest interval's peak was found: ``"hwm"`` (VmHWM minus steady file-backed
        #: memory), ``"sampled"`` (file-backed memory moved) or ``"rss"`` (no /proc)
        self.interval_method = ""
        self.peak_anon = 0  # (the readings below fold into these)
        self.peak_file = 0
        #: budgeted (anonymous) memory when the monitor started, and the run's peaks
        self.start_anon = self.anon()
        self.peak_anon = self.start_anon
        self.peak_file = self.file_backed()
        self._peak.reset()
        self._t0 = time.perf_counter()
        self._last_cleanup_generation = -(10**9)

    # -- measuring ---------------------------------------------------------------------------
    @property
    def exact_peaks(self) -> bool:
        """True when peaks come from the kernel's counter (Linux), not from sampling."""
        return self._peak.exact

    def rss(self) -> int:
        """Current resident set size in bytes (anonymous, file-backed and shared pages)."""
        return int(self.process.memory_info().rss)

    def residency(self) -> Residency | None:
        """Resident memory by kind (Linux ``/proc/self/status``), or None elsewhere."""
        r = read_status() if self._proc else None
        if r is not None:
            self._observe(r)
        return r

    def anon(self) -> int:
        """The memory the budget counts, in bytes: anonymous plus shared memory (``RssAnon +
        RssShmem``), which the kernel cannot reclaim; the RSS where ``/proc`` is missing."""
        r = self.residency()
        return self.rss() if r is None else r.budgeted

    def file_backed(self) -> int:
        """Resident file-backed memory (``RssFile``: libraries, memory-mapped data), which the
        kernel reclaims under pressure; not counted against the budget (0 without ``/proc``)."""
        r = self.residency()
        return 0 if r is None else r.file

    def sample(self) -> int:
        """Read memory now and fold it into the current interval's peak; returns :meth:`anon`.

        For long-running kernels that read memory-mapped data: one call per block makes the
        interval's anonymous peak as fine as the blocks, whatever the sampler thread saw.
        """
        return self.anon()

    def tree_anon(self) -> int:
        """Anonymous memory of this process and all its descendants (worker processes), bytes.

        Each process's ``RssAnon`` is summed (private pages: counted once each); shared memory
        is counted once per segment: the largest resident size any process of the tree has of
        each ``/dev/shm`` mapping, plus each process's other shared memory. Reads every
        process's ``smaps`` (milliseconds per process): for benchmarks and reports, not for
        the per-chunk path.
        """
        procs = [self.process, *self.process.children(recursive=True)]
        total = 0
        segments: dict[str, int] = {}
        for proc in procs:
            try:
                r = read_status(proc.pid)
                if r is None:
                    total += int(proc.memory_info().rss)
                    continue
                in_dev_shm = 0
                for m in proc.memory_maps(grouped=True):
                    if m.path.startswith("/dev/shm/"):
                        segments[m.path] = max(segments.get(m.path, 0), int(m.rss))
                        in_dev_shm += int(m.rss)
                total += r.anon + max(0, r.shmem - in_dev_shm)
            except (psutil.NoSuchProcess, psutil.AccessDenied):  # a worker that just exited
                continue
        return total + sum(segments.values())

    def _observe(self, r: Residency) -> None:
        """Fold a reading into the run's peaks and the interval being measured."""
        self.peak_anon = max(self.peak_anon, r.budgeted)
        self.peak_file = max(self.peak_file, r.file)
        if self._in_interval:
            self._meter.observe(r)

    def uss(self) -> int:
        """Current unique set size (private memory, shared mappings not counted) in bytes."""
        try:
            value = int(self.process.memory_full_info().uss)
        except (psutil.AccessDenied, AttributeError):  # pragma: no cover - platform dependent
            value = self.rss()
        self.peak_uss = max(self.peak_uss, value)
        return value

    def begin_interval(self) -> int:
        """Start measuring the peak of an interval (a chunk); returns :meth:`anon` now."""
        self.peak_rss = max(self.peak_rss, self._peak.read())
        if not self._proc:
            self._peak.reset()
            return self.rss()
        r = self._meter.begin()  # resets VmHWM
        if r is None:  # pragma: no cover - /proc vanished
            return self.rss()
        self._in_interval = True
        self._observe(r)
        return self._meter.budgeted(r)

    def end_interval(self) -> int:
        """Peak of :meth:`anon` since :meth:`begin_interval` (see the module doc for how).

        Without ``/proc``, the peak RSS (the kernel's counter where it has one)."""
        self._in_interval = False
        done = self._meter.end() if self._proc else None
        if done is None:
            peak = max(self._peak.read(), self.rss())
            self.peak_rss = max(self.peak_rss, peak)
            self.peak_anon = max(self.peak_anon, peak)
            self.interval_method = "rss"
            return peak
        peak, r = done
        self.interval_method = self._meter.method
        self.peak_rss = max(self.peak_rss, r.hwm, r.rss)
        self._observe(r)
        self.peak_anon = max(self.peak_anon, peak)
        self.peak_file = max(self.peak_file, self._meter.rest_high)  # file-backed (count_shmem)
        return peak

    def current_peak(self) -> int:
        """The run's peak RSS so far."""
        self.peak_rss = max(self.peak_rss, self._peak.read())
        return self.peak_rss

    def current_peak_anon(self) -> int:
        """The run's peak of :meth:`anon` so far (intervals, samples, generation ends)."""
        self.anon()
        return self.peak_anon

    # -- thresholds and actions --------------------------------------------------------------
    def level(self, rss: int) -> str:
        """``"ok"``, ``"warn"``, ``"act"`` or ``"over"`` for a memory figure (:meth:`anon`)
        against the limit."""
        if self.limit is None:
            return "ok"
        if rss > self.limit:
            return "over"
        if rss > self.act_at * self.limit:
            return "act"
        if rss > self.warn_at * self.limit:
            return "warn"
        return "ok"

    def add_cleanup(self, name: str, fn: Callable[[], int]) -> None:
        """Register a cleanup run under pressure; ``fn()`` returns the bytes it released."""
        self._cleanups.append((name, fn))

    def cleanup(self, generation: int, reason: str) -> int:
        """Run every cleanup (gc, malloc_trim, registered ones); returns the anonymous memory
        released."""
        before = self.anon()
        done = []
        for name, fn in self._cleanups:
            freed = fn()
            if freed:
                done.append(f"{name} released {format_size(freed)}")
        gc.collect()
        malloc_trim()
        after = self.anon()
        msg = (
            f"memory cleanup ({reason}): anonymous memory {format_size(before)} -> "
            + (f"{format_size(after)}")
            + (f"; {', '.join(done)}" if done else "")
        )
        self._alert(generation, "cleanup", msg, after, level=logging.INFO)
        self._last_cleanup_generation = generation
        return before - after

    def _alert(
        self, generation: int, kind: str, message: str, rss: int, level: int = logging.WARNING
    ) -> Alert:
        alert = Alert(generation, kind, message, rss)
        self.alerts.append(alert)
        log.log(level, message)
        return alert

    def note(self, generation: int, kind: str, message: str) -> None:
        """Record an action taken elsewhere (e.g. the evaluator halving its chunk)."""
        self._alert(generation, kind, message, self.anon())

    def budget_exceeded(
        self,
        generation: int,
        usage: dict[str, int],
        rss: int | None = None,
        hint: str | None = None,
    ) -> MemoryBudgetExceeded:
        """The error to raise when the limit is exceeded with nothing left to shrink.

        ``rss`` is the offending (peak) figure of anonymous memory (:meth:`anon`); the current
        one when omitted. ``hint`` (the problem's :meth:`~genepool.Problem.memory_hint`) ends
        the message.
        """
        rss = self.anon() if rss is None else rss
        parts = ", ".join(f"{k} {format_size(v)}" for k, v in usage.items())
        accounted = sum(usage.values())
        msg = (
            f"memory budget {format_size(self.limit or 0)} exceeded: peak anonymous memory "
            f"{format_size(rss)} in generation {generation} while evaluating one candidate at "
            f"a time, so there is nothing left to shrink. Held by genepool: {parts}; process "
            f"baseline {format_size(self.start_anon)}; the fitness and the rest "
            f"{format_size(max(0, rss - accounted - self.start_anon))}. Raise memory_limit, "
            f"lower the population size, use float32 genes, or make the fitness use less "
            f"memory per candidate." + (f" {hint}" if hint else "")
        )
        self._alert(generation, "budget_exceeded", msg, rss, level=logging.ERROR)
        exc = MemoryBudgetExceeded(msg, rss=rss, limit=self.limit or 0, usage=usage)
        exc.cli_message = msg.replace(
            "Raise memory_limit, lower the population size, use float32 genes,",
            "Raise --memory-limit, lower --population,",
        )
        return exc

    # -- per generation ----------------------------------------------------------------------
    def end_generation(self, generation: int, accounted: int = 0, chunk_size: int = 0) -> int:
        """Record a sample, clean up above ``warn_at``, look for a leak; returns the RSS.

        The thresholds and the leak detector use :meth:`anon` (memory-mapped data read in a
        generation is neither pressure nor a leak); the sample records both."""
        rss = self.rss()
        r = self.residency()
        anon = rss if r is None else r.budgeted
        now = time.perf_counter()
        if now - self._last_uss_time >= self.interval:
            self._last_uss = self.uss()
            self._last_uss_time = now
        self._record(
            generation,
            now - self._t0,
            rss,
            self._last_uss,
            self.current_peak(),
            chunk_size,
            accounted,
            anon,
            0 if r is None else r.file,
            self.peak_anon,
        )
        if self.level(anon) != "ok" and generation - self._last_cleanup_generation >= 1:
            self.cleanup(generation, f"anonymous memory above {self.warn_at:.0%} of the budget")
            rss, anon = self.rss(), self.anon()
        self._leak.add(anon - accounted)
        if not self._leak.fired and self._leak.suspicious():
            # Confirm before accusing anyone: memory that the garbage collector or the
            # allocator can give back is not a leak. (A threaded allocator, e.g. torch's CPU
            # kernels, creeps up in 5 MiB steps that malloc_trim returns in full.)
            gc.collect()
            malloc_trim()
            self._leak.values[-1] = self.anon() - accounted
            if self._leak.suspicious():
                self._leak.fired = True
                slope, _ = self._leak.slope()  # type: ignore[misc]
                msg = (
                    f"possible memory leak: memory not held by genepool grew by "
                    f"{format_size(slope)} per generation over the last "
                    f"{self._leak.window} generations (anonymous memory {format_size(anon)}); "
                    f"a fitness "
                    f"function that keeps references (caches, lists, globals) is the "
                    f"usual cause"
                )
                self._alert(generation, "leak", msg, anon)
                warnings.warn(msg, MemoryLeakWarning, stacklevel=3)
        return rss

    def _record(self, *row: Any) -> None:
        self._samples[self._n_samples % len(self._samples)] = row
        self._n_samples += 1

    @property
    def leak_detected(self) -> bool:
        return self._leak.fired

    def samples(self) -> np.ndarray:
        """Recorded samples in order (structured array, at most ``max_samples`` newest)."""
        cap = len(self._samples)
        if self._n_samples <= cap:
            return self._samples[: self._n_samples].copy()
        start = self._n_samples % cap
        return np.concatenate([self._samples[start:], self._samples[:start]])
