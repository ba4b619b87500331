"""Stage clocks: where a generation's time and memory go, measured only while a profile runs.

Code on the hot path marks its stages with ``with stage("kernel"):``. With no clock active
(every ordinary run) :func:`stage` returns one shared no-op context: a global read and a call.
While :func:`measuring` holds a :class:`StageClock`, each stage adds up its wall time, its CPU
time, its anonymous-memory delta (``/proc/self/statm``) and the peak of its resident memory
above its start, read from the kernel's ``VmHWM`` counter: exact, as the memory tests measure
it. Stages nest (``evaluate`` holds ``kernel``); before a nested stage resets ``VmHWM``, the
value so far is folded into every open stage, so each open stage's peak stays exact.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .memory._proc import read_status, reset_peak

__all__ = ["StageClock", "StageTotals", "measuring", "stage"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Null:
    """The context of :func:`stage` while nothing is measured."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _Null()
_ACTIVE: StageClock | None = None


def stage(name: str) -> Any:
    """The context that measures stage ``name`` under the active clock (a no-op without)."""
    clock = _ACTIVE
    return _NULL if clock is None else clock.stage(name)


@contextmanager
def measuring(clock: StageClock) -> Iterator[StageClock]:
    """Make ``clock`` the active one for the block (one at a time per process)."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, clock
    try:
        yield clock
    finally:
        _ACTIVE = previous


@dataclass
class StageTotals:
    """What a stage added up since the clock's last :meth:`StageClock.reset`."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: int = 0
    #: anonymous memory at exit less at entry, summed over calls (what the stage kept)
    kept: int = 0
    #: the largest rise of resident memory above the stage's entry, over its calls
    peak: int = 0
    #: the largest resident memory above the clock's origin seen while the stage ran
    peak_above_origin: int = 0


class _Open:
    __slots__ = ("anon", "cpu", "name", "peak", "rss", "t")

    def __init__(self, name: str, rss: int, anon: int) -> None:
        self.name = name
        self.rss = rss
        self.anon = anon
        self.peak = rss  # the largest resident memory seen so far in the stage
        self.t = time.perf_counter()
        self.cpu = time.process_time()


class StageClock:
    """Totals per stage name; :meth:`reset` starts a new measurement (e.g. a generation).

    ``origin`` is the resident memory the peaks above origin are counted from (set by
    :meth:`reset`).
    """

    def __init__(self) -> None:
        self.totals: dict[str, StageTotals] = {}
        self._open: list[_Open] = []
        self._fd = (
            os.open("/proc/self/statm", os.O_RDONLY)
            if os.path.exists("/proc/self/statm")
            else None
        )
        self.exact = reset_peak()  # VmHWM can be reset here (Linux): peaks are exact
        self.origin = self._rss_anon()[0]

    def _rss_anon(self) -> tuple[int, int]:
        if self._fd is None:
            return 0, 0
        fields = os.pread(self._fd, 128, 0).split()
        rss, shared = int(fields[1]) * _PAGE, int(fields[2]) * _PAGE
        return rss, rss - shared

    def _hwm(self) -> int:
        r = read_status()
        return 0 if r is None else r.hwm

    def reset(self) -> None:
        """Forget the totals; peaks above origin count from the resident memory now."""
        self.totals = {}
        self.origin = self._rss_anon()[0]

    def close(self) -> None:
        """Release the ``statm`` file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _fold(self) -> None:
        """Fold ``VmHWM`` so far into every open stage, then reset it."""
        if self._open:
            hwm = self._hwm()
            for o in self._open:
                o.peak = max(o.peak, hwm)
        reset_peak()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Measure the block as stage ``name``."""
        if self.exact:
            self._fold()
        rss, anon = self._rss_anon()
        o = _Open(name, rss, anon)
        self._open.append(o)
        try:
            yield
        finally:
            t, cpu = time.perf_counter() - o.t, time.process_time() - o.cpu
            rss1, anon1 = self._rss_anon()
            hwm = self._hwm() if self.exact else max(rss1, rss)
            self._open.pop()
            o.peak = max(o.peak, hwm, rss1)
            for outer in self._open:  # the outer stages saw this peak too
                outer.peak = max(outer.peak, o.peak)
            tot = self.totals.setdefault(name, StageTotals())
            tot.seconds += t
            tot.cpu_seconds += cpu
            tot.calls += 1
            tot.kept += anon1 - anon
            tot.peak = max(tot.peak, o.peak - o.rss)
            tot.peak_above_origin = max(tot.peak_above_origin, o.peak - self.origin)
