"""`genepool evolve` on the real thing: 100k bars, population 10k, 20 generations, 1 GB budget.

Workload: ``synthetic_ohlcv(100_000, freq="1h", seed=11)`` written to a CSV file, then the
command a user runs::

    genepool evolve --data prices.csv --strategy rsi --population 10000 --generations 20 \\
        --memory-limit 1GB --seed S --out <tmp> --no-progress --json

(RSI family, Sharpe ratio, fees 0.1 %, train 70 % / test 30 %, hall of fame re-evaluated out of
sample, deflated Sharpe + PBO, checkpoint every generation, report.html) in a fresh process per
repeat, timed from the outside (wall time includes interpreter start, imports, loading the
numba kernels from their on-disk cache, the CSV, the run and the report). The parent polls
the RSS of the command's whole process tree with psutil every ~2 ms; the peak is the largest sum.
Before the timed repeats one small run makes sure numba's cache is warm (its time is reported
apart). Evaluations/s and the cache hit rate come from the run's ``best.json``.

Targets (issue 6): peak RSS under the 1 GB limit, total wall time < 60 s on 2 cores.

    python benchmarks/bench_evolve.py [--repeats 3] [--bars 100000] [--population 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import TreePoller, dist_version, git_revision

RESULTS = Path(__file__).resolve().parent / "results" / "bench_evolve.json"
LIMIT = "1GB"


def genepool_cmd() -> list[str]:
    return [sys.executable, "-m", "genepool.cli"]


def run(args: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*genepool_cmd(), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    poller = TreePoller(proc.pid)
    poller.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    poller.halt()
    if proc.returncode != 0:
        raise SystemExit(f"genepool evolve failed ({proc.returncode}):\n{err[-2000:]}")
    doc = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_outside": poller.peak["rss"], "best": doc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--population", type=int, default=10_000)
    ap.add_argument("--generations", type=int, default=20)
    opts = ap.parse_args()

    from genepool.backtest import synthetic_ohlcv

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "prices.csv"
        synthetic_ohlcv(opts.bars, freq="1h", seed=11).to_csv(data)
        common = ["--data", str(data), "--strategy", "rsi", "--no-progress", "--json"]
        t0 = time.perf_counter()
        run(["evolve", *common, "--population", "50", "--generations", "1",
             "--out", str(Path(tmp) / "warm"), "--no-report"])  # fmt: skip
        warm_s = time.perf_counter() - t0
        rows = []
        for i in range(opts.repeats):
            r = run(
                ["evolve", *common, "--population", str(opts.population),
                 "--generations", str(opts.generations), "--memory-limit", LIMIT,
                 "--seed", str(100 + i), "--out", str(Path(tmp) / f"run-{i}")]
            )  # fmt: skip
            best = r["best"]
            rows.append(
                {
                    "seed": 100 + i,
                    "wall_s": r["wall_s"],
                    "run_s": best["elapsed"],
                    "peak_rss_outside": r["peak_rss_outside"],
                    "peak_rss_inside": best["peak_rss"],
                    "evaluations": best["n_evaluations"],
                    "evals_per_s": best["n_evaluations"] / best["elapsed"],
                    "cache_hit_rate": (best.get("cache") or {}).get("hit_rate"),
                    "n_distinct": best["trials"]["n_distinct"],
                    "verdict": best["verdict"]["text"],
                }
            )
            print(
                f"repeat {i}: wall {r['wall_s']:.1f} s (run {best['elapsed']:.1f} s), "
                f"peak RSS {r['peak_rss_outside'] / 2**20:.0f} MiB, "
                f"{rows[-1]['evals_per_s']:,.0f} evals/s",
                flush=True,
            )
    med = {k: statistics.median(r[k] for r in rows)
           for k in ("wall_s", "run_s", "peak_rss_outside", "evals_per_s")}  # fmt: skip
    hit = statistics.median(r["cache_hit_rate"] or 0.0 for r in rows)
    limit = 10**9
    print()
    print(f"genepool evolve: {opts.bars:,} bars, population {opts.population:,}, "
          f"{opts.generations} generations, --memory-limit {LIMIT}, {os.cpu_count()} cores")  # fmt: skip
    print(f"| metric | median of {opts.repeats} | target |")
    print("|---|---|---|")
    print(f"| wall time (whole command) | {med['wall_s']:.1f} s | < 60 s |")
    print(f"| run time (generations) | {med['run_s']:.1f} s | |")
    print(f"| peak RSS, process tree (outside) | {med['peak_rss_outside'] / 2**20:.0f} MiB | "
          f"< {limit / 2**20:.0f} MiB (1 GB) |")  # fmt: skip
    print(f"| evaluations/s | {med['evals_per_s']:,.0f} | |")
    print(f"| cache hit rate | {hit:.1%} | |")
    print(f"| warm-up run (numba cache check) | {warm_s:.1f} s | |")
    doc = {
        "benchmark": "bench_evolve",
        "config": vars(opts) | {"memory_limit": LIMIT},
        "cores": os.cpu_count(),
        "git": git_revision(),
        "versions": {d: dist_version(d) for d in ("genepool", "numpy", "numba", "pandas")},
        "warmup_s": warm_s,
        "median": med | {"cache_hit_rate": hit},
        "targets_met": {
            "wall_under_60s": med["wall_s"] < 60,
            "peak_rss_under_limit": med["peak_rss_outside"] < limit,
        },
        "runs": rows,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
