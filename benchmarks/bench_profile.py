"""Profiling benchmark: ``gp.profile``'s projections against measured runs (issue 20).

For each configuration of ``tests/helpers/profile_child.py`` (``cheap``: Rastrigin D=30;
``allocating``: a fitness building 64 KiB of scratch per candidate; ``backtest``: the fused
RSI backtest on 50,000 synthetic bars) and three target populations, ``--repeats`` ``profile``
children probe at sizes well below the target (rule: target/100, target/25, target/6, each at
least 16) and project the run (the one with the median projected time per generation is
compared; every profile's ratio is shown too); then ``--repeats`` ``run`` children run it. Every child is a fresh
interpreter; a run child's peak RSS is its ``VmHWM`` read from ``/proc`` by this process while
the child waits at its end (measured from outside, the whole process life; not ``os.wait4``'s
``ru_maxrss``, which keeps the peak of the parent's memory the child had before ``exec``), its time per generation the median generation after the first
(``per_generation``), and the medians over the repeats are compared with the projection:
peak RSS within 25 %, seconds per generation within a factor of 1.5. The whole run's projected
seconds are compared with the run's elapsed time (first generation, with JIT loading, included).

Also timed: ``genepool evolve --demo --dry-run`` once with a cold numba cache (a fresh
``NUMBA_CACHE_DIR``) and ``--repeats`` times warm (the median is reported).

Other jobs may share the machine (the load average at start and end is recorded): timings are
medians, RSS is per process.

Usage::

    python benchmarks/bench_profile.py [--quick] [--repeats 3] [--json PATH] [--configs cheap,...]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine, selected_parts

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "helpers" / "profile_child.py"
_SPEC = importlib.util.spec_from_file_location("profile_child", CHILD)
assert _SPEC is not None and _SPEC.loader is not None
CHILD_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(CHILD_MODULE)
RESULTS = Path(__file__).resolve().parent / "results" / "bench_profile.json"
MIB = 2**20
RSS_TOLERANCE = 0.25  # projected peak RSS within 25 % of the measured
TIME_FACTOR = 1.5  # projected seconds per generation within a factor of 1.5
CHILD_TIMEOUT_S = 900
MIN_PROBE = 16

# configuration -> (target populations, generations of the run)
FULL = {
    "cheap": ([20_000, 100_000, 300_000], 10),
    "allocating": ([5_000, 10_000, 20_000], 10),
    "backtest": ([10_000, 50_000, 100_000], 6),
}
QUICK = {
    "cheap": ([20_000], 6),
    "allocating": ([5_000], 6),
    "backtest": ([10_000], 4),
}


def probe_sizes(target: int) -> list[int]:
    """The rule: target/100, target/25, target/6 (each at least MIN_PROBE)."""
    return sorted({max(MIN_PROBE, target // d) for d in (100, 25, 6)})


def run_child(args: list[str]) -> dict[str, Any]:
    """``profile_child.py args`` in a fresh interpreter: its JSON line, plus ``peak_rss_outside``
    (its ``VmHWM`` read from outside, bytes) and ``wall_s``; ``error`` when it failed."""
    t0 = time.perf_counter()
    row, peak, stderr, code = CHILD_MODULE.run_held(args, cwd=str(ROOT))
    if code != 0 or not row:
        row["error"] = f"exit {code}: " + " | ".join(stderr.strip().splitlines()[-3:])
    row["peak_rss_outside"] = peak
    row["wall_s"] = time.perf_counter() - t0
    return row


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None and "error" not in r]
    return statistics.median(vals) if vals else None


def measure_point(config: str, target: int, generations: int, repeats: int) -> dict[str, Any]:
    sizes = probe_sizes(target)
    common = [str(target), str(generations)]
    profiles = [
        run_child([config, "profile", *common, ",".join(map(str, sizes))]) for _ in range(repeats)
    ]
    good = [p for p in profiles if "error" not in p]
    # the profile whose projected time per generation is the median one (all are kept)
    good.sort(key=lambda p: p["seconds_per_generation"]["value"])
    prof = good[len(good) // 2] if good else profiles[0]
    runs = [run_child([config, "run", *common]) for _ in range(repeats)]
    point: dict[str, Any] = {
        "config": config,
        "population": target,
        "generations": generations,
        "probe_sizes": sizes,
        "profile_wall_s": statistics.median(p["wall_s"] for p in profiles),
        "profile_peak_rss_outside": prof["peak_rss_outside"],
        "projection": {k: v for k, v in prof.items() if k not in ("wall_s",)},
        "profiles": profiles,
        "runs": runs,
        "measured": {
            "peak_rss": _median(runs, "peak_rss_outside"),
            "peak_rss_inside": _median(runs, "peak_rss"),
            "per_generation": _median(runs, "per_generation"),
            "first_generation": _median(runs, "first_generation"),
            "elapsed": _median(runs, "elapsed"),
            "wall_s": _median(runs, "wall_s"),
        },
    }
    if "error" in prof:
        point["error"] = prof["error"]
        return point
    m = point["measured"]
    rss, spg, tot = prof["peak_rss"], prof["seconds_per_generation"], prof["seconds"]
    point["rss_ratio"] = rss["value"] / m["peak_rss"] if m["peak_rss"] else None
    point["rss_within"] = (
        point["rss_ratio"] is not None and abs(point["rss_ratio"] - 1) <= RSS_TOLERANCE
    )
    point["time_ratio"] = spg["value"] / m["per_generation"] if m["per_generation"] else None
    point["time_within"] = point["time_ratio"] is not None and (
        1 / TIME_FACTOR <= point["time_ratio"] <= TIME_FACTOR
    )
    point["total_ratio"] = tot["value"] / m["elapsed"] if m["elapsed"] else None
    if m["per_generation"] and m["peak_rss"]:
        point["time_ratios_all"] = [
            p["seconds_per_generation"]["value"] / m["per_generation"] for p in good
        ]
        point["rss_ratios_all"] = [p["peak_rss"]["value"] / m["peak_rss"] for p in good]
    return point


def time_dry_run(repeats: int) -> dict[str, Any]:
    """Wall seconds of ``genepool evolve --demo --dry-run``: once cold, ``repeats`` warm."""
    cmd = [sys.executable, "-c", "import sys; from genepool.cli import main; sys.exit(main())"]
    cmd += ["evolve", "--demo", "--dry-run"]

    def once(env: dict[str, str]) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            cwd=tempfile.gettempdir(),
        )
        return time.perf_counter() - t0, proc.returncode, proc.stdout

    cold_dir = tempfile.mkdtemp(prefix="bench_profile_numba_")
    try:
        cold, rc_cold, _ = once({"NUMBA_CACHE_DIR": cold_dir})
        warm = [once({"NUMBA_CACHE_DIR": cold_dir}) for _ in range(repeats)]
    finally:
        shutil.rmtree(cold_dir, ignore_errors=True)
    return {
        "cold_s": cold,
        "cold_rc": rc_cold,
        "warm_s": [w[0] for w in warm],
        "warm_median_s": statistics.median(w[0] for w in warm),
        "warm_rc": [w[1] for w in warm],
        "plan": warm[-1][2],
    }


def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / MIB:,.0f} MiB"


def _s(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:,.0f} ms" if x < 1 else f"{x:,.2f} s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(points: list[dict[str, Any]]) -> str:
    head = [
        "config", "population", "probe sizes", "projected peak RSS", "measured peak RSS",
        "ratio", "within 25 %", "projected s/gen", "measured s/gen", "ratio", "within 1.5x",
        "s/gen ratio, each profile", "profile wall",
    ]  # fmt: skip
    rows, whole = [], []
    for p in points:
        if "error" in p:
            rows.append([p["config"], f"{p['population']:,}", p["error"], *["-"] * 10])
            continue
        pr, m = p["projection"], p["measured"]
        rows.append([
            p["config"],
            f"{p['population']:,}",
            ", ".join(f"{s:,}" for s in p["probe_sizes"]),
            f"{_mib(pr['peak_rss']['value'])} +- {pr['peak_rss']['band']:.0%}",
            _mib(m["peak_rss"]),
            f"{p['rss_ratio']:.2f}",
            "yes" if p["rss_within"] else "NO",
            f"{_s(pr['seconds_per_generation']['value'])} +- "
            f"{pr['seconds_per_generation']['band']:.0%}",
            _s(m["per_generation"]),
            f"{p['time_ratio']:.2f}",
            "yes" if p["time_within"] else "NO",
            ", ".join(f"{r:.2f}" for r in p.get("time_ratios_all", [])),
            _s(p["profile_wall_s"]),
        ])  # fmt: skip
        whole.append([
            p["config"],
            f"{p['population']:,}",
            str(p["generations"]),
            f"{_s(pr['seconds']['value'])} +- {pr['seconds']['band']:.0%}",
            _s(m["elapsed"]),
            f"{p['total_ratio']:.2f}",
            _s(m["first_generation"]),
        ])  # fmt: skip
    whole_head = [
        "config", "population", "generations", "projected run", "measured elapsed", "ratio",
        "measured 1st generation",
    ]  # fmt: skip
    return _table(head, rows) + "\n\nWhole run:\n\n" + _table(whole_head, whole)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one size per configuration (~2 min)")
    ap.add_argument("--repeats", type=int, default=3, help="run children per point (median)")
    ap.add_argument("--configs", default=",".join(FULL), help="comma-separated configurations")
    ap.add_argument("--no-dry-run", action="store_true", help="skip timing evolve --dry-run")
    ap.add_argument("--json", type=Path, default=None, help=f"output (default {RESULTS})")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    configs = selected_parts(args.configs, list(plan))
    out_path = args.json or (
        RESULTS.with_name("bench_profile_quick.json") if args.quick else RESULTS
    )
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    points = []
    for config in configs:
        targets, generations = plan[config]
        for target in targets:
            print(f"{config} P={target:,} ...", file=sys.stderr, flush=True)
            points.append(measure_point(config, target, generations, args.repeats))
    dry = None if args.no_dry_run else time_dry_run(args.repeats)
    load_end = os.getloadavg()
    table = report(points)
    print(table)
    if dry is not None:
        print(
            f"\ngenepool evolve --demo --dry-run: {dry['warm_median_s']:.1f} s "
            f"(median of {args.repeats}, warm numba cache); {dry['cold_s']:.1f} s cold"
        )
    print(f"\nload average: start {load_start}, end {load_end}")
    result = {
        "benchmark": "bench_profile",
        "started": started,
        "wall_s": time.perf_counter() - t0,
        "machine": {**machine(), "load_start": load_start, "load_end": load_end},
        "rule": f"probe sizes target/100, target/25, target/6 (each >= {MIN_PROBE})",
        "repeats": args.repeats,
        "tolerances": {"rss": RSS_TOLERANCE, "time_factor": TIME_FACTOR},
        "points": points,
        "dry_run": dry,
        "table": table,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
