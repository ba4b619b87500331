"""Cost and accuracy of the anonymous-memory sampler of ``MemoryMonitor`` (Linux).

Overhead: a ~2 s workload measured inside an interval with the sampler thread (every ``--period``) and
without it (``sample_period=None``), alternated, median of ``--runs`` each; one workload of
numpy kernels (which release the GIL) and one of pure Python (which holds it).

Accuracy: the anonymous peak of an interval that reads a memory-mapped file of ``--file-mb``
fully (so file-backed memory moves and the sampled path is taken) and allocates ``np.ones`` of
300 MiB, freed before the interval ends; and the same allocation with no file read (``VmHWM``
path, exact).

Usage: python benchmarks/bench_anon_sampler.py [--runs 7] [--period 0.002] [--file-mb 400]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from genepool.memory import MemoryMonitor

MiB = 2**20


def _numpy_round(a: np.ndarray) -> np.ndarray:
    b = np.sqrt(a) * 2.0 + a  # temporaries: allocations every round
    return np.sort(b)[::-1].copy() / (b.max() + 1.0)


def _python_round(x: int) -> int:
    for i in range(10_000):
        x = (x * 31 + i) % 1_000_003
    return x


def fixed_job(kind: str, seconds: float) -> Callable[[], None]:
    """A fixed amount of ``kind`` work that takes about ``seconds`` alone."""
    step: Callable[[Any], Any] = _numpy_round if kind == "numpy" else _python_round
    init: Callable[[], Any] = (
        (lambda: np.random.default_rng(0).random(2_000_000)) if kind == "numpy" else (lambda: 0)
    )
    state, n, t = init(), 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        state = step(state)
        n += 1

    def job() -> None:
        s = init()
        for _ in range(n):
            s = step(s)

    return job


def timed(monitor: MemoryMonitor, job: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process: the sampler thread's included)."""
    t, c = time.perf_counter(), time.process_time()
    monitor.begin_interval()
    job()
    monitor.end_interval()
    return time.perf_counter() - t, time.process_time() - c


def overhead(runs: int, seconds: float, period: float) -> dict:
    out = {}
    with_sampler = MemoryMonitor(sample_period=period)
    without = MemoryMonitor(sample_period=None)
    for kind in ("numpy", "python"):
        job = fixed_job(kind, seconds)
        on, off = [], []
        for i in range(runs):  # alternated, in both orders, so that load hits both alike
            pair = (without, with_sampler) if i % 2 == 0 else (with_sampler, without)
            for mon in pair:
                (off if mon is without else on).append(timed(mon, job))
        wall_on, wall_off = (statistics.median(w for w, _ in x) for x in (on, off))
        cpu_on, cpu_off = (statistics.median(c for _, c in x) for x in (on, off))
        sampler = with_sampler._meter.sampler
        out[kind] = {
            "with_sampler_s": round(wall_on, 4),
            "without_s": round(wall_off, 4),
            "overhead_pct": round(100 * (wall_on / wall_off - 1), 2),
            "cpu_with_sampler_s": round(cpu_on, 4),
            "cpu_without_s": round(cpu_off, 4),
            "cpu_overhead_pct": round(100 * (cpu_on / cpu_off - 1), 2),
            "runs": runs,
            "samples_in_last_interval": sampler.count if sampler is not None else 0,
        }
    return out


def accuracy(file_mb: int, repeats: int, period: float) -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npy")
        np.save(path, np.arange(file_mb * MiB // 8, dtype=np.float64))
        for name, read_file in (("mmap_read_and_alloc", True), ("alloc_only", False)):
            found, rss_seen, methods = [], [], set()
            for _ in range(repeats):
                mon = MemoryMonitor(sample_period=period)
                rss0 = mon.rss()
                start = mon.begin_interval()
                if read_file:
                    data = np.load(path, mmap_mode="r")
                    assert float(data.sum()) > 0  # every page of the file read
                a = np.ones(300 * MiB // 8)
                del a
                file_backed = mon.file_backed()
                if read_file:
                    del data
                peak = mon.end_interval()
                methods.add(mon.interval_method)
                found.append((peak - start) / MiB)
                rss_seen.append((mon.peak_rss - rss0) / MiB)
            out[name] = {
                "method": sorted(methods),
                "true_mib": 300.0,
                "anon_peak_mib_min": round(min(found), 1),
                "anon_peak_mib_median": round(statistics.median(found), 1),
                "anon_peak_mib_max": round(max(found), 1),
                "rss_peak_mib_median": round(statistics.median(rss_seen), 1),
                "file_backed_in_interval_mib": round(file_backed / MiB, 1),
                "repeats": repeats,
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--file-mb", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--period", type=float, default=0.002, help="sampler period (s)")
    ap.add_argument("--json")
    args = ap.parse_args()
    result = {
        "period_s": args.period,
        "overhead": overhead(args.runs, args.seconds, args.period),
        "accuracy": accuracy(args.file_mb, args.repeats, args.period),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
