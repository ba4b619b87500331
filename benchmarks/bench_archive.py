"""Thinning benchmark of the bounded Pareto archive: which members to keep when it is over cap.

For each front and size, every method of :func:`genepool.algorithms.archive.thin_indices`
thins ``n`` mutually non-dominated points to ``k``:

- ``grid+fps``: epsilon-grid to 2-4 k representatives, then greedy farthest-point (k-center)
  selection seeded by the extremes (the default);
- ``fps``: farthest-point selection on all ``n`` points;
- ``grid``: one point per box of the finest grid with at most ``k`` boxes occupied;
- ``crowding``: remove the point of least crowding distance, update its neighbours, repeat
  (NSGA-II's truncation, iterated).

Fronts: ``zdt1`` (f2 = 1 - sqrt(f1), f1 uniform), ``zdt3`` (the five disconnected pieces of
f2 = 1 - sqrt(f1) - f1 sin(10 pi f1)), ``sphere3`` (3 objectives, the positive octant of the unit
sphere, uniform directions), ``simplex3`` (a random non-dominated set: 3 objectives on the plane
f1 + f2 + f3 = 1 drawn from Dirichlet(0.3), dense near the edges and corners). The points come
from a seeded generator; the methods use no randomness.

Measures, on each kept set:

- ``hv_ratio``: hypervolume kept over the full set's (``moocore.hypervolume``, reference point
  the full set's nadir + 10% of its range);
- ``coverage``: the largest distance from a dropped point to its nearest kept point, objectives
  normalized to [0, 1] by the full set's ideal and nadir (the k-center objective: smaller is
  better spread); ``coverage_mean`` the mean of those distances;
- ``extremes``: whether the best point of each objective is kept;
- ``time_s``: median of ``--repeat`` runs (after a warm-up that compiles the kernels).

Also ``ParetoArchive.update`` timings: a 10^6-row 2-objective front (30 genes) into an empty
archive of capacity 10^4, and a generation's 1,000-row front into a full archive (2 and 3
objectives).

The machine has 2 cores shared with other jobs: times are indicative (compare ratios within a run).

Usage::

    python benchmarks/bench_archive.py [--sizes 10000,100000] [--k 1000] [--big]
        [--repeat 3] [--json benchmarks/results/bench_archive.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import dist_version, git_revision
from scipy.spatial import cKDTree

from genepool.algorithms._mo_nb import nondominated_rank
from genepool.algorithms.archive import THIN_METHODS, ParetoArchive, extremes, thin_indices

RESULTS = Path(__file__).resolve().parent / "results" / "bench_archive.json"


def zdt1(n: int, rng: np.random.Generator) -> np.ndarray:
    t = rng.random(n)
    return np.c_[t, 1.0 - np.sqrt(t)]


def zdt3(n: int, rng: np.random.Generator) -> np.ndarray:
    t = rng.random(6 * n)
    F = np.c_[t, 1.0 - np.sqrt(t) - t * np.sin(10 * np.pi * t)]
    front = F[nondominated_rank(F) == 0]
    assert front.shape[0] >= n, front.shape
    return front[rng.permutation(front.shape[0])[:n]]


def sphere3(n: int, rng: np.random.Generator) -> np.ndarray:
    v = np.abs(rng.normal(size=(n, 3)))
    return v / np.linalg.norm(v, axis=1)[:, None]


def simplex3(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.dirichlet([0.3, 0.3, 0.3], size=n)


FRONTS = {"zdt1": zdt1, "zdt3": zdt3, "sphere3": sphere3, "simplex3": simplex3}


def measure(F: np.ndarray, kept: np.ndarray) -> dict[str, Any]:
    import moocore

    low, high = F.min(axis=0), F.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    ref = high + 0.1 * span
    hv_full = float(moocore.hypervolume(F, ref=ref))
    hv_kept = float(moocore.hypervolume(F[kept], ref=ref))
    Z = (F - low) / span
    dropped = np.setdiff1d(np.arange(F.shape[0]), kept)
    dist, _ = cKDTree(Z[kept]).query(Z[dropped]) if dropped.size else (np.zeros(1), None)
    return {
        "kept": int(kept.size),
        "hv_ratio": hv_kept / hv_full,
        "coverage": float(dist.max()),
        "coverage_mean": float(dist.mean()),
        "extremes": bool(np.isin(extremes(F), kept).all()),
    }


def timed(fn: Any, repeat: int) -> tuple[Any, float]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def bench_thinning(sizes: list[int], k: int, repeat: int, big: bool) -> list[dict[str, Any]]:
    rows = []
    cases = [(name, n, k) for name in FRONTS for n in sizes]
    if big:
        cases += [(name, 1_000_000, 10_000) for name in ("zdt1", "sphere3")]
    for name, n, target in cases:
        F = FRONTS[name](n, np.random.default_rng(12345))
        for method in THIN_METHODS:
            if n >= 1_000_000 and method != "grid+fps":
                reps = 1
            else:
                reps = repeat
            kept, secs = timed(lambda F=F, t=target, m=method: thin_indices(F, t, m), reps)
            row = {"front": name, "n": n, "k": target, "method": method, "time_s": secs}
            row.update(measure(F, kept))
            rows.append(row)
            print(
                f"{name:9s} {n:>9,d} -> {target:>6,d}  {method:9s} kept {row['kept']:>6,d}  "
                f"hv {row['hv_ratio']:.5f}  cover {row['coverage']:.4f}  "
                f"(mean {row['coverage_mean']:.4f})  ext {'yes' if row['extremes'] else 'NO '}  "
                f"{secs:8.3f} s",
                flush=True,
            )
    return rows


def bench_update(repeat: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    rows = []
    F = zdt1(1_000_000, rng)
    X = rng.random((1_000_000, 30))
    _, secs = timed(lambda: ParetoArchive(capacity=10_000).update(X, F), max(1, repeat - 1))
    rows.append({"case": "empty <- 1e6-row front, m=2, d=30, capacity 1e4", "time_s": secs})
    for m, gen in ((2, zdt1), (3, sphere3)):
        full = ParetoArchive(capacity=10_000)
        full.update(rng.random((20_000, 30)), gen(20_000, rng))
        steps = [(rng.random((1000, 30)), gen(1000, rng) - 1e-4) for _ in range(repeat)]
        times = []
        for Xs, Fs in steps:
            t0 = time.perf_counter()
            full.update(Xs, Fs)
            times.append(time.perf_counter() - t0)
        rows.append(
            {
                "case": f"full (1e4) <- 1e3-row front, m={m}, d=30 (thins when over)",
                "time_s": statistics.median(times),
            }
        )
    for r in rows:
        print(f"update: {r['case']:60s} {r['time_s']:.3f} s")
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| front | n -> k | method | kept | HV ratio | coverage (max / mean) | extremes | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['front']} | {r['n']:,} -> {r['k']:,} | {r['method']} | {r['kept']:,} | "
            f"{r['hv_ratio']:.5f} | {r['coverage']:.4f} / {r['coverage_mean']:.4f} | "
            f"{'yes' if r['extremes'] else 'no'} | {r['time_s']:.3f} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="also 1e6 -> 1e4 (zdt1, sphere3)")
    ap.add_argument("--no-update", action="store_true")
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # warm-up: compile every kernel before timing
    for method in THIN_METHODS:
        thin_indices(sphere3(3000, np.random.default_rng(0)), 100, method)
        thin_indices(zdt1(3000, np.random.default_rng(0)), 100, method)
    ParetoArchive(capacity=10).update(np.zeros((30, 1)), sphere3(30, np.random.default_rng(0)))
    rows = bench_thinning(sizes, args.k, args.repeat, args.big)
    updates = [] if args.no_update else bench_update(args.repeat)
    print()
    print(table(rows))
    record = {
        "benchmark": "bench_archive",
        "git": git_revision(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "moocore": dist_version("moocore"),
        "machine": f"{platform.machine()}, shared 2-core machine (times indicative)",
        "repeat": args.repeat,
        "thinning": rows,
        "update": updates,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
