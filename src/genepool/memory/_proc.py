"""What the kernel says about this process's memory (Linux ``/proc``), and a sampler thread.

:func:`read_status` splits the resident set into anonymous (``RssAnon``), file-backed
(``RssFile``: program text, libraries, memory-mapped data files) and shared-memory
(``RssShmem``) pages, with the kernel's peak-RSS counter (``VmHWM``). :class:`AnonSampler` is
a daemon thread that reads ``/proc/self/statm`` every few milliseconds while an interval is
measured, to find the peak of anonymous memory: ``VmHWM`` counts file-backed pages too, so it
cannot give that peak once memory-mapped data is read.
"""

from __future__ import annotations

import os
import threading
import time
from typing import NamedTuple

__all__ = ["AnonSampler", "IntervalMeter", "Residency", "read_status", "reset_peak"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_FIELDS = {b"VmRSS:": 0, b"RssAnon:": 1, b"RssFile:": 2, b"RssShmem:": 3, b"VmHWM:": 4}


class Residency(NamedTuple):
    """Resident memory of this process by kind (bytes), from ``/proc/self/status``."""

    rss: int
    anon: int  # RssAnon: heap, numpy arrays, stacks
    file: int  # RssFile: file-backed pages (libraries, memory-mapped data); reclaimable
    shmem: int  # RssShmem: shared memory (multiprocessing.shared_memory, tmpfs mappings)
    hwm: int  # VmHWM: peak RSS since the last reset

    @property
    def budgeted(self) -> int:
        """The memory a budget bounds: anonymous plus shared memory (not reclaimable)."""
        return self.anon + self.shmem


def read_status(pid: int | str = "self") -> Residency | None:
    """The :class:`Residency` of this process (or ``pid``), None where ``/proc`` lacks it."""
    values = [-1] * 5
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            data = f.read()
    except OSError:
        return None
    for line in data.split(b"\n"):
        head, _, rest = line.partition(b"\t")
        i = _FIELDS.get(head)
        if i is not None:
            values[i] = int(rest.split()[0]) * 1024
    if min(values) < 0:
        return None
    return Residency(*values)


def reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (``/proc/self/clear_refs``); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Statm:
    """``/proc/self/statm`` kept open (a read is ~2 us): (resident, shared) in bytes."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.fd = os.open("/proc/self/statm", os.O_RDONLY)

    def read(self) -> tuple[int, int]:
        fields = os.pread(self.fd, 128, 0).split()
        return int(fields[1]) * _PAGE, int(fields[2]) * _PAGE


class AnonSampler:
    """Samples anonymous memory (``RssAnon``) every ``period`` seconds while started.

    The thread is made by :meth:`start`, sleeps on an event between intervals (costing
    nothing), and exits after :attr:`IDLE_EXIT_S` without one (so that a process that makes
    many monitors keeps no idle threads); the next :meth:`start` makes it again (~0.1 ms).
    Reading ``statm`` needs the GIL for a few microseconds: kernels that release it (numpy,
    numba ``nogil=True``) are sampled on time; pure Python code hands the GIL over within its
    switch interval (5 ms).

    Parameters
    ----------
    period : float
        Seconds between samples.
    """

    IDLE_EXIT_S = 2.0

    def __init__(self, period: float) -> None:
        self.period = period
        self._active = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = -1
        self._statm: _Statm | None = None
        self._round = 0
        self.anon_peak = 0  # largest RssAnon seen in this interval
        self.shared_low = 0  # least and largest RssFile + RssShmem seen
        self.shared_high = 0
        self.count = 0  # samples taken in this interval

    @property
    def available(self) -> bool:
        """``/proc/self/statm`` can be read here (Linux)."""
        try:
            self._reader()
            return True
        except OSError:
            return False

    def _reader(self) -> _Statm:
        if self._statm is None or self._statm.pid != os.getpid():
            self._statm = _Statm()
        return self._statm

    def start(self) -> None:
        """Begin an interval: forget the last one's figures, sample until :meth:`stop`."""
        self._round += 1
        self.anon_peak, self.shared_low, self.shared_high, self.count = 0, 2**62, 0, 0
        with self._lock:
            if self._thread is None or self._pid != os.getpid():  # none, or forked: make one
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="genepool-memory-sampler", daemon=True
                )
                self._thread.start()
            self._active.set()

    def stop(self) -> None:
        """End the interval (no join: a sample in flight is dropped by its round number)."""
        self._active.clear()
        self._round += 1

    def _run(self) -> None:
        reader = self._reader()
        while True:
            if not self._active.wait(self.IDLE_EXIT_S):
                with self._lock:
                    if not self._active.is_set():  # idle: exit (start() makes a new one)
                        self._thread = None
                        return
                continue
            round_ = self._round
            try:
                resident, shared = reader.read()
            except (OSError, ValueError, IndexError):  # pragma: no cover - /proc vanished
                return
            if round_ == self._round:  # still the same interval
                self.anon_peak = max(self.anon_peak, resident - shared)
                self.shared_low = min(self.shared_low, shared)
                self.shared_high = max(self.shared_high, shared)
                self.count += 1
            time.sleep(self.period)


class _Interval:
    """An interval being measured: the peak of budgeted memory, the range of the rest."""

    __slots__ = ("high", "low", "peak", "shmem")

    def __init__(self, budgeted: int, shmem: int, unbudgeted: int) -> None:
        self.peak = budgeted
        self.shmem = shmem  # shared memory at the start (the sampler's statm lacks it)
        self.low = self.high = unbudgeted


class IntervalMeter:
    """The peak of budgeted memory over intervals (a chunk), exact where ``VmHWM`` allows.

    Budgeted memory is ``RssAnon`` (+ ``RssShmem`` with ``count_shmem``); the rest of the RSS
    (file-backed pages, and shared memory without ``count_shmem``) is not. ``VmHWM`` is reset
    at :meth:`begin`. At :meth:`end`, when the rest stayed within :data:`STEADY` over the
    interval (as the sampler and the readings saw it), the peak is ``VmHWM`` minus its least
    value: exact, as the kernel's counter is (a spike of file-backed memory that came and went
    between two samples only makes it larger). When it moved (memory-mapped data read), the
    peak is the largest budgeted reading: the sampler's, :meth:`observe`'s, the ends'.

    Parameters
    ----------
    sample_period : float or None
        Seconds between the sampler thread's readings; None: no thread.
    count_shmem : bool
        Count shared memory as budgeted (the process that created the segments does; worker
        processes that only map them do not, so a segment is counted once).
    """

    STEADY = 16 * 2**20

    def __init__(self, sample_period: float | None, *, count_shmem: bool = True) -> None:
        self.count_shmem = count_shmem
        sampler = AnonSampler(sample_period) if sample_period else None
        self.sampler = sampler if sampler is not None and sampler.available else None
        self._iv: _Interval | None = None
        self.method = ""  # how the last interval's peak was found: "hwm" or "sampled"
        self.rest_high = 0  # the largest unbudgeted memory seen in the last interval

    def budgeted(self, r: Residency) -> int:
        """The budgeted part of a reading."""
        return r.anon + (r.shmem if self.count_shmem else 0)

    def _rest(self, r: Residency) -> int:
        return r.file + (0 if self.count_shmem else r.shmem)

    def begin(self) -> Residency | None:
        """Start an interval (resets ``VmHWM``); the reading at its start, None without /proc."""
        reset_peak()
        r = read_status()
        self._iv = None if r is None else _Interval(self.budgeted(r), r.shmem, self._rest(r))
        if r is not None and self.sampler is not None:
            self.sampler.start()
        return r

    def observe(self, r: Residency) -> None:
        """Fold a reading taken during the interval into it."""
        iv = self._iv
        if iv is not None:
            iv.peak = max(iv.peak, self.budgeted(r))
            rest = self._rest(r)
            iv.low, iv.high = min(iv.low, rest), max(iv.high, rest)

    def end(self) -> tuple[int, Residency] | None:
        """End the interval: (its budgeted peak, the reading at its end); None without one."""
        if self.sampler is not None:
            self.sampler.stop()
        r = read_status()
        if r is None or self._iv is None:
            self._iv = None
            return None
        self.observe(r)
        iv, self._iv = self._iv, None
        s = self.sampler
        if s is not None and s.count:  # statm: RssAnon and RssFile + RssShmem
            shm = max(iv.shmem, r.shmem)
            iv.peak = max(iv.peak, s.anon_peak + (shm if self.count_shmem else 0))
            off = iv.shmem if self.count_shmem else 0
            iv.low = min(iv.low, s.shared_low - off)
            iv.high = max(iv.high, s.shared_high - off)
        self.rest_high = iv.high
        if iv.high - iv.low <= self.STEADY:
            self.method = "hwm"
            return max(iv.peak, r.hwm - iv.low), r
        self.method = "sampled"
        return iv.peak, r
