"""Pieces the benchmark scripts share: an outside RSS poller and provenance of a run."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

POLL_S = 0.002  # seconds between RSS samples of a child process


class Poller(threading.Thread):
    """Polls a process's RSS every ``interval`` seconds and keeps the peak."""

    def __init__(self, pid: int, interval: float = POLL_S) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = self.samples = 0
        self.first = self.last = 0.0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        self.first = time.perf_counter()
        while not self._halt.is_set():
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                break
            self.peak = max(self.peak, rss)
            self.samples += 1
            self.last = time.perf_counter()
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        self.join()

    @property
    def mean_interval_ms(self) -> float | None:
        if self.samples < 2:
            return None
        return 1000 * (self.last - self.first) / (self.samples - 1)


class TreePoller(threading.Thread):
    """Peaks of memory summed over a process and all its descendants, polled from outside.

    ``peak["rss"]`` always; with ``full=True`` also ``uss``, ``pss`` (``memory_full_info``,
    slower: it reads smaps), the root's USS and the largest worker's USS. While the file
    ``pause`` exists, nothing is polled: reading smaps costs CPU, which timed sections on
    every core must not share (the process under test creates and removes the file).
    """

    def __init__(
        self, pid: int, interval: float = POLL_S, full: bool = False, pause: Path | None = None
    ) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.full, self.pause = pid, interval, full, pause
        self.peak = {"rss": 0, "uss": 0, "pss": 0, "root_uss": 0, "worker_uss": 0}
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            if self.pause is not None and self.pause.exists():
                self._halt.wait(self.interval)
                continue
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                break
            tot = {"rss": 0, "uss": 0, "pss": 0}
            worker = 0
            for p in procs:
                try:
                    m = p.memory_full_info() if self.full else p.memory_info()
                except psutil.Error:
                    continue
                tot["rss"] += m.rss
                if not self.full:
                    continue
                tot["uss"] += m.uss
                tot["pss"] += m.pss
                if p.pid == self.pid:
                    self.peak["root_uss"] = max(self.peak["root_uss"], m.uss)
                elif m.uss > 50 * 2**20:  # a worker, not the resource tracker or a nanny
                    worker = max(worker, m.uss)
            for k, v in tot.items():
                self.peak[k] = max(self.peak[k], v)
            self.peak["worker_uss"] = max(self.peak["worker_uss"], worker)
            self.samples += 1
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        self.join()


def _status_kib(pid: int, keys: tuple[str, ...]) -> dict[str, int]:
    """Fields of /proc/PID/status in bytes (Linux; zeros elsewhere or for a gone process)."""
    out = dict.fromkeys(keys, 0)
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name = line.split(":", 1)[0]
                if name in out:
                    out[name] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


class AnonTreePoller(threading.Thread):
    """Peaks of anonymous memory (RssAnon + RssShmem) and of file-backed residency (RssFile)
    summed over a process and all its descendants, read from /proc/PID/status from outside:
    what a memory budget must bound versus the page cache's mapped pages (reclaimable)."""

    KEYS = ("RssAnon", "RssFile", "RssShmem")

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak = {"anon": 0, "file": 0, "rss": 0}
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            try:
                pids = [self.pid, *(c.pid for c in root.children(recursive=True))]
            except psutil.Error:
                break
            anon = file = 0
            for pid in pids:
                st = _status_kib(pid, self.KEYS)
                anon += st["RssAnon"] + st["RssShmem"]
                file += st["RssFile"]
            self.peak["anon"] = max(self.peak["anon"], anon)
            self.peak["file"] = max(self.peak["file"], file)
            self.peak["rss"] = max(self.peak["rss"], anon + file)
            self.samples += 1
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        self.join()


def dist_version(dist: str) -> str | None:
    """Installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_revision() -> str | None:
    """HEAD of the checkout the benchmarks sit in, with ``+dirty`` for local changes to src/."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return None
    return (head + ("+dirty" if dirty else "")) or None


def run_polled(
    script: str, cfg: dict[str, Any], mark: str, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``script --child <cfg json>`` in a fresh interpreter, polling its RSS from here.

    The child prints one line ``mark + json``: that dict, plus ``error`` (time-out or non-zero
    exit with the end of stderr), ``config``, ``peak_rss_outside``, ``poll_samples``,
    ``poll_mean_interval_ms`` and ``child_wall_s``, is returned.
    """
    cmd = [sys.executable, str(Path(script).resolve()), "--child", json.dumps(cfg)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=None if env is None else {**os.environ, **env},
    )
    poller = Poller(proc.pid)
    poller.start()
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        timed_out = True
    poller.halt()
    row: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(mark):
            row = json.loads(line[len(mark) :])
    if timed_out:
        row["error"] = f"timed out after {timeout:.0f} s"
    elif proc.returncode != 0 or not row:
        row["error"] = f"exit {proc.returncode}: " + " | ".join(stderr.strip().splitlines()[-3:])
    row.update(
        config=cfg,
        peak_rss_outside=poller.peak,
        poll_samples=poller.samples,
        poll_mean_interval_ms=poller.mean_interval_ms,
        child_wall_s=time.perf_counter() - t0,
    )
    return row


def selected_parts(spec: str, known: tuple[str, ...] | list[str]) -> list[str]:
    """The parts named in ``spec`` (comma-separated); SystemExit naming unknown ones."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(known))
    if unknown:
        raise SystemExit(f"unknown parts {unknown}; parts are {list(known)}")
    return parts


def machine() -> dict[str, Any]:
    """Where a benchmark ran: CPUs, Python, numpy, numba, genepool's git revision."""
    import platform

    import numpy as np

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": dist_version("numba"),
        "genepool": git_revision(),
    }


def workdir_with_room(workdir: str | None, prefix: str, need: int, hint: str) -> tuple[Path, int]:
    """``workdir`` (made) or a new temporary folder, with room for ``need`` bytes (10 % kept
    free), and its free bytes: else SystemExit naming the sizes and ``hint`` (a temporary
    folder is removed)."""
    import shutil
    import tempfile

    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    if need > 0.9 * free:
        if not workdir:
            shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(
            f"needs about {need / 2**30:.1f} GiB on disk under {work}, "
            f"{free / 2**30:.1f} GiB free: {hint}"
        )
    return work, free


def run_anon_polled(
    script: str,
    cfg: dict[str, Any],
    mark: str,
    timeout: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``script --child <cfg json>`` in a fresh interpreter while an
    :class:`AnonTreePoller` (every 50 ms: 10 ms cost 14 % of a core) and the ``extra`` pollers
    (threads with ``start``, ``halt`` and ``peak``) watch it; the child's one ``mark + json``
    line as a dict, plus ``error``, ``tree_peak``, each extra poller's peak under its key and
    ``child_wall_s``."""
    cmd = [sys.executable, str(Path(script).resolve()), "--child", json.dumps(cfg)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pollers = {"tree_peak": AnonTreePoller(proc.pid, interval=0.05), **(extra or {})}
    for poller in pollers.values():
        poller.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\ntimed out after {timeout:.0f} s"
    for poller in pollers.values():
        poller.halt()
    row: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith(mark):
            row = json.loads(line[len(mark) :])
    if proc.returncode != 0 or not row:
        row["error"] = f"exit {proc.returncode}: " + " | ".join(err.strip().splitlines()[-4:])
    row.update({key: dict(poller.peak) for key, poller in pollers.items()})
    row["child_wall_s"] = time.perf_counter() - t0
    return row
