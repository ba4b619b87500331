"""Chunk sizes from a memory budget: one learning rule, used for this process and for workers.

:class:`ChunkSizer` is the rule: the working memory per candidate is calibrated on the first
measured chunk, follows later chunks (a cheaper chunk lowers it by at most a quarter at a
time), and the chunk size is halved under memory pressure and doubled again after
``CALM_CHUNKS`` calm chunks. :class:`ParentChunks` sizes the chunks evaluated in this process
from the room left under the budget; :class:`WorkerChunks` sizes the chunks shipped to
workers from each worker's share of it. :class:`ChunkTally` counts the chunk sizes used.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Literal, Union

from ..errors import check_int
from ..memory._size import format_size
from ..memory.monitor import MemoryMonitor

__all__ = [
    "ChunkSize",
    "ChunkSizer",
    "ChunkTally",
    "ParentChunks",
    "WorkerChunks",
    "check_chunk_size",
]

log = logging.getLogger("genepool.evaluation")

PROBE_CHUNK = 32  # rows evaluated first to calibrate memory when no estimate is known
SMALL_CHUNK = 16  # a budget that leaves room for fewer candidates per chunk is said once
PARENT_SHARE = 0.1  # with worker processes: share of the budget kept for the parent ...
PARENT_RESERVE = 64 * 2**20  # ... at least this, above its RSS when the pool starts
AIM = 0.8  # share of a worker's working memory a chunk aims at
DECAY = 0.75  # a cheaper chunk lowers the estimate to no less than this share of it
IGNORED_BELOW = 0.25  # chunks that cost less than this share of the estimate are not news
#: A chunk that grew by less than this in all says nothing about a lower cost: at that scale the
#: allocator serves part of it from memory freed earlier (e.g. a remainder chunk of 2 rows of
#: 1 MiB each measured 0.6 MiB per row), so it may raise the estimate but never lower it.
NOISE_BYTES = 4 * 2**20
CALM_CHUNKS = 3  # calm chunks after which a halved chunk size doubles again

#: ``"auto"`` (sized from the budget) or a fixed number of candidates per chunk.
ChunkSize = Union[int, Literal["auto"]]


def check_chunk_size(chunk_size: object) -> ChunkSize:
    """``chunk_size`` validated: ``"auto"``, or an int >= 1 (a ConfigError naming it else)."""
    if chunk_size != "auto":
        return check_int("chunk_size", chunk_size, minimum=1)
    return "auto"


class ChunkSizer:
    """Bytes per candidate learned from measured chunks, and a ceiling after pressure.

    Parameters
    ----------
    estimate : float, optional
        The problem's own estimate (replaced by the first measurement).
    floor : float, default 1.0
        Least value of the first measurement.
    """

    def __init__(self, estimate: float | None = None, *, floor: float = 1.0) -> None:
        self.bpc = estimate
        self.floor = floor
        self.calibrated = False
        self.cap: int | None = None  # ceiling after pressure (halvings), relaxed when calm
        self.calm = 0

    def learn(self, size: int, observed: float, pressed: bool) -> int | None:
        """Take in a chunk of ``size`` rows that cost ``observed`` bytes per candidate.

        Returns the new ceiling when it was halved (see :meth:`adjust`), else None.
        """
        self.calibrate(observed, size)
        return self.adjust(size, pressed)

    def calibrate(self, observed: float, size: int | None = None) -> None:
        """Follow the measured cost per candidate of a chunk (of ``size`` rows: a chunk that
        grew by less than :data:`NOISE_BYTES` in all never lowers the estimate)."""
        if self.bpc is None or not self.calibrated:
            self.bpc = max(observed, self.bpc or 0.0, self.floor)
            self.calibrated = True
        elif observed < self.bpc and size is not None and observed * size < NOISE_BYTES:
            return
        elif observed > IGNORED_BELOW * self.bpc:
            # Decay slowly when a chunk costs less; ignore chunks that grew little (they were
            # served from memory freed earlier and still resident, not a real change of cost).
            self.bpc = max(observed, DECAY * self.bpc)

    def adjust(self, size: int, pressed: bool) -> int | None:
        """Halve the ceiling after a chunk of ``size`` that ``pressed`` memory (when it had
        more than one row), double it back after calm chunks; returns a new halved ceiling."""
        if pressed:
            self.calm = 0
            if size > 1:
                self.cap = max(1, size // 2)
                return self.cap
        elif self.cap is not None:
            self.calm += 1
            if self.calm >= CALM_CHUNKS:
                self.cap *= 2
                self.calm = 0
        return None


class ChunkTally:
    """Sizes of the chunks evaluated (here or on workers) and the rows they held."""

    def __init__(self) -> None:
        self.sizes: Counter[int] = Counter()
        self.largest = 0  # largest chunk since the last reset (one evaluate call)
        self.rows = 0

    def count(self, size: int) -> None:
        """One chunk of ``size`` rows was evaluated."""
        self.sizes[size] += 1
        self.largest = max(self.largest, size)
        self.rows += size


class ParentChunks:
    """Sizes the chunks evaluated in this process so that its anonymous memory
    (:meth:`~genepool.memory.MemoryMonitor.anon`) stays under the budget.

    Parameters
    ----------
    chunk_size : "auto" or int
        A fixed size, or ``"auto"`` (from the budget).
    memory_limit : int, optional
        The budget of the whole process.
    monitor : MemoryMonitor, optional
        Measures RSS and peaks, holds the thresholds, records notes.
    sizer : ChunkSizer
        The learning rule for this process.
    hint : callable
        The problem's way out of a tight budget (``Problem.memory_hint``).
    """

    def __init__(
        self,
        chunk_size: int | str,
        memory_limit: int | None,
        monitor: MemoryMonitor | None,
        sizer: ChunkSizer,
        hint: Callable[[], str | None],
    ) -> None:
        self.chunk_size = chunk_size
        self.memory_limit = memory_limit
        self.monitor = monitor
        self.sizer = sizer
        self.hint = hint
        self.small_chunk_note: str | None = None

    @property
    def measured(self) -> bool:
        """Chunks here are measured (a budget and a monitor)."""
        return self.monitor is not None and self.memory_limit is not None

    @property
    def probing(self) -> bool:
        """The next chunk calibrates the memory per candidate (nothing known yet)."""
        return self.sizer.bpc is None and self.memory_limit is not None

    def worker_budget(self) -> int | None:
        """Bytes of the budget left for worker processes: all but the parent's share."""
        if self.memory_limit is None or self.monitor is None:
            return None
        reserve = max(PARENT_RESERVE, int(PARENT_SHARE * self.memory_limit))
        return int(self.monitor.act_at * self.memory_limit) - self.monitor.anon() - reserve

    def next_size(self, remaining: int, rss: int | None, reasons: list[str] | None = None) -> int:
        """Rows of the next chunk (``reasons``, when given, collects why; :meth:`plan`)."""
        why = reasons if reasons is not None else []
        if self.chunk_size != "auto":
            why.append(f"chunk_size={self.chunk_size} was given")
            return min(int(self.chunk_size), remaining)
        if self.memory_limit is None or rss is None or self.monitor is None:
            why.append("no memory_limit: the whole population is one chunk")
            return remaining
        bpc = self.sizer.bpc
        if bpc is None:
            why.append(
                f"no estimate of memory per candidate yet: a probe chunk of "
                f"{PROBE_CHUNK} calibrates it"
            )
            return min(PROBE_CHUNK, remaining)
        # Aim between warn_at and act_at: a chunk that lands exactly on act_at would be
        # halved by the slightest overshoot and chunk sizes would oscillate.
        aim = (self.monitor.warn_at + self.monitor.act_at) / 2
        room = aim * self.memory_limit - rss
        size = int(room // bpc) if room > 0 else 1
        why.append(
            f"room under {aim:.0%} of the budget: "
            f"{format_size(max(room, 0))} / {format_size(bpc)} per candidate"
        )
        small = size < min(SMALL_CHUNK, remaining)
        if small and reasons is None and self.small_chunk_note is None:  # evaluating, not plan()
            self._note_small_chunks(size, rss, aim, bpc)
        cap = self.sizer.cap
        if cap is not None and size > cap:
            size = cap
            why.append(f"capped at {cap} after memory pressure")
        return max(1, min(size, remaining))

    def _note_small_chunks(self, size: int, rss: int, aim: float, bpc: float) -> None:
        """Say once that the budget leaves room for only a few candidates at a time."""
        assert self.memory_limit is not None
        hint = self.hint()
        self.small_chunk_note = (
            f"the memory budget leaves room for only {size} candidate(s) per chunk: the "
            f"process holds {format_size(rss)} of {format_size(self.memory_limit)} (aiming at "
            f"{aim:.0%}) and one candidate needs about {format_size(bpc)}, so evaluation "
            f"will be slow; raise memory_limit for larger chunks." + (f" {hint}" if hint else "")
        )
        log.warning(self.small_chunk_note)

    def after_chunk(
        self,
        size: int,
        rss_before: int,
        peak: int,
        generation: int,
        usage: Callable[[], dict[str, int]],
    ) -> None:
        """Learn from the measured peak of a chunk; shrink under pressure, grow when calm.

        Raises :class:`~genepool.errors.MemoryBudgetExceeded` when a single candidate is
        already over the budget (``usage`` says who holds what).
        """
        monitor = self.monitor
        assert monitor is not None and self.memory_limit is not None
        self.sizer.calibrate(max(0, peak - rss_before) / size, size)
        level = monitor.level(peak)
        if level == "over" and size <= 1:  # one candidate at a time is already too much
            raise monitor.budget_exceeded(generation, usage(), rss=peak, hint=self.hint())
        halved = self.sizer.adjust(size, pressed=level in ("act", "over"))
        if halved is not None:
            monitor.note(
                generation,
                "chunk_halved",
                f"peak anonymous memory {format_size(peak)} above {monitor.act_at:.0%} of "
                f"the budget: chunk size {size} -> {halved}",
            )
        if level == "over":
            monitor.cleanup(generation, "budget exceeded during a chunk")


class WorkerChunks:
    """Sizes the chunks shipped to workers from each worker's share of the budget.

    Parameters
    ----------
    chunk_size : "auto" or int
        A fixed size, or ``"auto"``.
    parent : ChunkSizer
        This process's estimate, used until the workers have been measured.
    """

    def __init__(self, chunk_size: int | str, parent: ChunkSizer) -> None:
        self.chunk_size = chunk_size
        self.parent = parent
        self.sizer = ChunkSizer(floor=0.0)

    def next_size(self, remaining: int, balance: int, room: int | None) -> int:
        """Rows of the next chunk: ``balance`` rows, fewer when a worker's ``room`` needs it."""
        if self.chunk_size != "auto":
            return min(int(self.chunk_size), remaining)
        size = balance
        if room is not None:
            bpc = self.sizer.bpc if self.sizer.bpc is not None else self.parent.bpc
            size = min(size, PROBE_CHUNK if bpc is None else max(1, int(AIM * room / bpc)))
            if self.sizer.cap is not None:
                size = min(size, self.sizer.cap)
        return max(1, min(size, remaining))

    def after_chunk(
        self,
        size: int,
        peak: int,
        room: int | None,
        monitor: MemoryMonitor | None,
        generation: int,
    ) -> None:
        """Learn from a worker's measured ``peak`` for a chunk of ``size`` (0: not measured)."""
        if room is None or peak <= 0:
            return
        halved = self.sizer.learn(size, peak / size, pressed=peak > room and size > 1)
        if halved is not None and monitor is not None:
            monitor.note(
                generation,
                "chunk_halved",
                f"a worker's chunk of {size} peaked at {format_size(peak)} above its "
                f"{format_size(room)} of working memory: chunk size {size} -> {halved}",
            )
