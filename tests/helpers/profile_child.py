"""Child process of tests/test_profile.py and benchmarks/bench_profile.py: one configuration,
either profiled (prints the projection as JSON) or run (prints what the run measured).

    python profile_child.py CONFIG profile|run POPULATION GENERATIONS [SIZES]

The parent measures the peak RSS of a ``run`` child from outside with :func:`run_held`: the
child prints its line and waits for its standard input to close, and the parent reads the
kernel's ``VmHWM`` of the child from ``/proc`` meanwhile. (``os.wait4``'s ``ru_maxrss`` would
not do: Linux keeps in it the peak of the memory the child had before ``exec``, which is the
parent's, forked or vforked: a child of a 1.4 GB pytest process reads 1.4 GB.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

import genepool as gp


def allocating(X: np.ndarray) -> np.ndarray:
    """A fitness that allocates 64 KiB of scratch per candidate (a simulation's buffers)."""
    scratch = np.repeat(X[:, :1], 8192, axis=1)  # n x 8192 float64
    return (scratch * scratch).mean(axis=1) + (X**2).sum(axis=1)


def configuration(name: str, population: int) -> tuple[object, gp.Optimizer, dict]:
    if name == "cheap":
        space = gp.Space.box(-5.12, 5.12, 30)
        return gp.problems.rastrigin, gp.GA(space, population, seed=0), {}
    if name == "allocating":
        space = gp.Space.box(-1.0, 1.0, 8)
        return allocating, gp.GA(space, population, seed=0), {}
    if name == "backtest":
        from genepool.backtest import StrategyProblem, synthetic_ohlcv

        problem = StrategyProblem(
            synthetic_ohlcv(50_000, seed=1), "rsi", "sharpe_ratio", min_trades=1
        )
        return problem, gp.GA(problem.space, population, seed=0), {}
    raise SystemExit(f"unknown configuration {name}")


def main() -> None:
    name, mode, population, generations = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:5])
    problem, ga, extra = configuration(name, population)
    if os.environ.get("PROFILE_CHILD_LIMIT"):  # a memory limit: the run evaluates in chunks
        extra["memory_limit"] = os.environ["PROFILE_CHILD_LIMIT"]
    if os.environ.get("PROFILE_CHILD_CACHE") == "on":  # kept on: no decision made on timings
        extra["cache"] = True
    if mode == "profile":
        sizes = [int(s) for s in sys.argv[5].split(",")] if len(sys.argv) > 5 else None
        prof = gp.profile(problem, ga, sizes, generations=generations, **extra)
        print(json.dumps(prof.to_dict()["projection"]), flush=True)
        _hold()
        return
    stamps = [time.perf_counter()]

    def stamp(_: object) -> None:
        stamps.append(time.perf_counter())

    res = gp.minimize(problem, ga, generations=generations, progress=False, callbacks=[stamp],
                      **extra)  # fmt: skip
    gens = np.diff(stamps)
    print(json.dumps({
        "elapsed": stamps[-1] - stamps[0],
        "first_generation": float(gens[0]),
        # the steady state: the median generation after the first (which loads the kernels)
        "per_generation": float(np.median(gens[1:])) if len(gens) > 1 else float(gens[0]),
        "peak_rss": res.memory.peak_rss if res.memory else None,
    }), flush=True)  # fmt: skip
    _hold()


def _hold() -> None:
    if os.environ.get("PROFILE_CHILD_HOLD"):
        sys.stdin.read()  # the parent reads our VmHWM, then closes our stdin


def _hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def run_polled(args: list[str], env: dict[str, str]) -> tuple[dict[str, Any], int]:
    """Run ``profile_child.py args`` with ``env``: its JSON line and its peak RSS polled from
    outside every 2 ms (a run under a memory limit resets ``VmHWM`` around its chunks, so the
    counter cannot be read at the end)."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    peak, done = [0], threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            peak[0] = max(peak[0], int(line.split()[1]) * 1024)
            except OSError:
                return
            time.sleep(0.002)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    out, err = proc.communicate(timeout=600)
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise RuntimeError(err)
    return json.loads(out.strip().splitlines()[-1]), peak[0]


def run_held(
    args: list[str], cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], int, str, int]:
    """Run ``profile_child.py args`` (a ``run``): its JSON line, its peak RSS read from outside
    (``VmHWM`` while it waits), its standard error and its exit code."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {}), "PROFILE_CHILD_HOLD": "1"},
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    peak = _hwm(proc.pid) if line else 0
    proc.stdin.close()
    proc.stdin = None  # closed: communicate() only drains the outputs
    _, err = proc.communicate(timeout=600)
    row = json.loads(line) if line.startswith("{") else {}
    return row, peak, err, proc.returncode


if __name__ == "__main__":
    main()
