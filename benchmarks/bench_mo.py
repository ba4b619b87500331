"""Multi-objective benchmark: genepool beside moocore and pymoo, one part at a time.

Parts (``--part``):

- ``sort``: non-dominated sorting and crowding distance.

  * Ranks: genepool's ``nondominated_rank`` (``genepool.algorithms._mo_nb``), moocore's
    ``pareto_rank`` and pymoo's ``NonDominatedSorting().do`` (its default
    ``fast_non_dominated_sort``; its list of fronts converted to ranks, inside the timing) on
    n in {1e4, 1e5, 1e6} (``--quick``: 1e4, 1e5) points, m in {2, 3, 5}, two sets: ``uniform``
    (``default_rng(SEED).random((n, m))``) and ``plane`` (uniform points divided by their sum:
    one front on the simplex ``f1 + ... + fm = 1``, what a late NSGA-II population looks like),
    and for m = 3 ``ridge`` (uniform ``(x, t, 1 - t)``: one degenerate front on which genepool's
    staircase sweep would be quadratic and gives way to divide and conquer).
  * Crowding: genepool's ``crowding_distance`` beside pymoo's ``calc_crowding_distance`` (which
    takes one front: it runs on each front of the genepool ranks, the loop inside the timing) on
    uniform points with 2 objectives, n in {1e5, 1e6, 2e6} (2e6: NSGA-II's 2N at N = 1e6).

  Each (library, m, set) runs in a fresh interpreter (``sys.executable``) that takes the sizes
  in increasing order: one untimed warm-up on 200 points (numba's cache load), then
  ``--repeats`` (3) timed calls per size, of which the median is reported (a single call where
  the size is predicted above 10 s). A size is skipped where its predicted time exceeds
  ``MAX_S`` (30 s), predicted from the previous size as time x (n ratio)^2 for pymoo's
  O(m n^2) sort and x (n ratio)^1.2 for the others. "peak RSS" is the child's
  ``ru_maxrss`` after the size (the sizes increase, so it is that size's peak, interpreter and
  imports included). "agree" compares a hash of each library's ranks with genepool's on the
  same points. Wall times; other jobs on the machine skew them (the 1-min load average is
  printed): compare libraries within a run.

- ``nsga2``: NSGA-II against pymoo on ZDT1 (seconds per generation, peak RSS, live bytes per
  individual, where a generation's time goes), quality at equal evaluations (hypervolume and
  IGD over 10 seeds on ZDT1-3 and DTLZ2) and RSS over 10,000 generations: ``--part nsga2``
  hands the remaining flags to ``benchmarks/bench_mo_nsga2.py`` (see its ``--help``).

Usage::

    python benchmarks/bench_mo.py --part sort [--quick] [--repeats 3] [--json PATH]
    python benchmarks/bench_mo.py --part nsga2 [--parts times,profile,quality,flat] [...]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import dist_version, git_revision

RESULTS = Path(__file__).resolve().parent / "results"
MARK = "@@bench_mo "
SEED = 12345
MAX_S = 30.0  # skip a size predicted to take longer (one call)
ONE_RUN_S = 10.0  # a single timed call above this prediction
CHILD_TIMEOUT_S = 900
SORT_SIZES = (10_000, 100_000, 1_000_000)
SORT_QUICK = (10_000, 100_000)
SORT_M = (2, 3, 5)
SORT_SETS = {2: ("uniform", "plane"), 3: ("uniform", "plane", "ridge"), 5: ("uniform", "plane")}
CROWD_SIZES = (100_000, 1_000_000, 2_000_000)
CROWD_QUICK = (100_000,)
SORT_TARGETS = {(2, "uniform"): 0.5, (3, "uniform"): 2.0}  # seconds at 1e6 (issue 16)


def _log(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)


def points(kind: str, n: int, m: int) -> np.ndarray:
    F = np.random.default_rng(SEED).random((n, m))
    if kind == "plane":
        F /= F.sum(axis=1, keepdims=True)
    elif kind == "ridge":  # (x, t, 1 - t, ...): one front, the staircase sweep's worst case
        F[:, 2:] = 1.0 - F[:, 1:2]
    return F


def _ranks_hash(r: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(r, dtype=np.int64).tobytes()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# children


def _sorter(library: str) -> Callable[[np.ndarray], np.ndarray]:
    if library == "genepool":
        from genepool.algorithms._mo_nb import nondominated_rank

        return nondominated_rank
    if library == "moocore":
        import moocore

        return moocore.pareto_rank
    if library == "pymoo":
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        def pymoo_rank(F: np.ndarray) -> np.ndarray:
            out = np.empty(len(F), dtype=np.int64)
            for k, front in enumerate(NonDominatedSorting().do(F)):
                out[front] = k
            return out

        return pymoo_rank
    raise ValueError(library)


def _crowder(library: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if library == "genepool":
        from genepool.algorithms._mo_nb import crowding_distance

        return crowding_distance
    if library == "pymoo":
        from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

        def pymoo_crowding(F: np.ndarray, rank: np.ndarray) -> np.ndarray:
            out = np.empty(len(F))
            order = np.argsort(rank, kind="stable")
            bounds = np.flatnonzero(np.diff(rank[order])) + 1
            for rows in np.split(order, bounds):
                out[rows] = calc_crowding_distance(F[rows])
            return out

        return pymoo_crowding
    raise ValueError(library)


def _predict(done: list[tuple[int, float]], n: int, power: float) -> float | None:
    if not done:
        return None
    n0, s0 = done[-1]
    return s0 * (n / n0) ** power


def child_main(raw: str) -> None:
    cfg = json.loads(raw)
    lib, what, m, kind = cfg["library"], cfg["what"], cfg["m"], cfg["kind"]
    power = 2.0 if lib == "pymoo" and what == "rank" else 1.2
    if what == "rank":
        fn = _sorter(lib)
        fn(points(kind, 200, m))  # warm-up: numba cache load, imports
    else:
        from genepool.algorithms._mo_nb import nondominated_rank

        fn = _crowder(lib)
        F0 = points(kind, 200, m)
        fn(F0, nondominated_rank(F0))
    done: list[tuple[int, float]] = []
    for n in cfg["sizes"]:
        row: dict[str, Any] = {"library": lib, "what": what, "m": m, "set": kind, "n": n}
        est = _predict(done, n, power)
        row["estimated_s"] = est
        if est is not None and est > MAX_S:
            row["skipped"] = f"skipped (estimated {est:,.0f} s)"
            print(MARK + json.dumps(row), flush=True)
            continue
        F = points(kind, n, m)
        args: tuple[Any, ...] = (F,)
        if what == "crowding":
            from genepool.algorithms._mo_nb import nondominated_rank

            args = (F, nondominated_rank(F))
        reps = 1 if est is not None and est > ONE_RUN_S else cfg["repeats"]
        times = []
        out = None
        for _ in range(reps):
            t0 = time.perf_counter()
            out = fn(*args)
            times.append(time.perf_counter() - t0)
        assert out is not None
        row.update(
            median_s=statistics.median(times),
            runs=times,
            peak_rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        )
        if what == "rank":
            row.update(fronts=int(np.max(out)) + 1, hash=_ranks_hash(out))
        done.append((n, row["median_s"]))
        print(MARK + json.dumps(row), flush=True)


def run_child(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return [{**cfg, "set": cfg["kind"], "error": f"timeout after {CHILD_TIMEOUT_S} s"}]
    rows = [json.loads(line[len(MARK) :]) for line in proc.stdout.splitlines() if MARK in line]
    if proc.returncode != 0:
        error = (proc.stderr.strip().splitlines() or ["?"])[-1]
        rows.append({**cfg, "set": cfg["kind"], "error": error})
    return rows


# --------------------------------------------------------------------------------------------
# part: sort


def _cell_s(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    if r.get("skipped"):
        return r["skipped"]
    if r.get("error"):
        return f"error: {r['error']}"
    runs = len(r.get("runs", []))
    return f"{r['median_s']:.3f}" + ("" if runs != 1 else " (1 run)")


def _ratio(r: dict[str, Any] | None, g: dict[str, Any] | None) -> str:
    if r and g and r.get("median_s") and g.get("median_s"):
        return f"{r['median_s'] / g['median_s']:.1f}x"
    if r and r.get("estimated_s") and g and g.get("median_s"):
        return f">{r['estimated_s'] / g['median_s']:.0f}x (est.)"
    return "-"


def _agree(g: dict[str, Any] | None, *others: dict[str, Any] | None) -> str:
    if not g or not g.get("hash"):
        return "-"
    seen = [o for o in others if o and o.get("hash")]
    if not seen:
        return "-"
    return "yes" if all(o["hash"] == g["hash"] for o in seen) else "NO"


def sort_table(rows: list[dict[str, Any]]) -> str:
    def find(lib: str, what: str, m: int, kind: str, n: int) -> dict[str, Any] | None:
        for r in rows:
            if (r["library"], r["what"], r["m"], r["set"], r.get("n")) == (lib, what, m, kind, n):
                return r
        return None

    keys = sorted(
        {(r["what"], r["m"], r["set"], r["n"]) for r in rows if "n" in r},
        key=lambda k: (k[0] != "rank", k[1], k[2], k[3]),
    )
    header = [
        "kernel",
        "m",
        "set",
        "n",
        "genepool s",
        "moocore s",
        "pymoo s",
        "moocore/genepool",
        "pymoo/genepool",
        "fronts",
        "same ranks",
        "genepool peak RSS MiB",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for what, m, kind, n in keys:
        g = find("genepool", what, m, kind, n)
        mo = find("moocore", what, m, kind, n)
        py = find("pymoo", what, m, kind, n)
        cells = [
            "rank" if what == "rank" else "crowding",
            str(m),
            kind,
            f"{n:,}",
            _cell_s(g),
            _cell_s(mo) if what == "rank" else "n/a",
            _cell_s(py),
            _ratio(mo, g) if what == "rank" else "n/a",
            _ratio(py, g),
            str(g.get("fronts", "-")) if g else "-",
            _agree(g, mo, py) if what == "rank" else "n/a",
            f"{g['peak_rss'] / 2**20:,.0f}" if g and g.get("peak_rss") else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sort_targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for (m, kind), limit in SORT_TARGETS.items():
        g = [
            r
            for r in rows
            if (r["library"], r["what"], r["m"], r["set"], r.get("n"))
            == ("genepool", "rank", m, kind, 1_000_000)
        ]
        s = g[0].get("median_s") if g else None
        out.append(
            {
                "target": f"sort of 1e6 {kind} points, {m} objectives <= {limit} s",
                "measured": "not measured" if s is None else f"{s:.3f} s",
                "met": None if s is None else s <= limit,
            }
        )
    return out


def part_sort(args: argparse.Namespace) -> dict[str, Any]:
    sizes = SORT_QUICK if args.quick else SORT_SIZES
    rows: list[dict[str, Any]] = []
    for m in SORT_M:
        for kind in SORT_SETS[m]:
            for lib in ("genepool", "moocore", "pymoo"):
                _log(f"rank {lib} m={m} {kind} ...")
                cfg = {
                    "library": lib,
                    "what": "rank",
                    "m": m,
                    "kind": kind,
                    "sizes": list(sizes),
                    "repeats": args.repeats,
                }
                got = run_child(cfg)
                for r in got:
                    _log(
                        f"  n={r.get('n')}: {r.get('median_s', r.get('skipped', r.get('error')))}"
                    )
                rows += got
    for lib in ("genepool", "pymoo"):
        _log(f"crowding {lib} ...")
        cfg = {
            "library": lib,
            "what": "crowding",
            "m": 2,
            "kind": "uniform",
            "sizes": list(CROWD_QUICK if args.quick else CROWD_SIZES),
            "repeats": args.repeats,
        }
        rows += run_child(cfg)
    print()
    print(sort_table(rows))
    print()
    print(
        "s: median wall seconds of one call over the timed runs (1 run: predicted above "
        f"{ONE_RUN_S:.0f} s); skipped: predicted above {MAX_S:.0f} s from the previous size "
        "(pymoo: quadratic, others: n^1.2). same ranks: the ranks of every library "
        "that ran equal genepool's. pymoo's crowding takes one "
        "front at a time: it runs on each front of genepool's ranks. peak RSS: the child's "
        "ru_maxrss after the size (interpreter and imports included)."
    )
    tg = sort_targets(rows)
    print()
    print("| target | measured | met |")
    print("|---|---|---|")
    for t in tg:
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "NO")
        print(f"| {t['target']} | {t['measured']} | {met} |")
    return {"rows": rows, "targets": tg}


PARTS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {"sort": part_sort}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["--part", "nsga2"]:  # NSGA-II against pymoo: its own module and flags
        sys.path.insert(0, str(Path(__file__).parent))
        import bench_mo_nsga2

        return bench_mo_nsga2.main(argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=[*sorted(PARTS), "nsga2"], help="what to measure")
    ap.add_argument("--quick", action="store_true", help="the smaller sizes only")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per size (median)")
    ap.add_argument("--json", type=Path, default=None, help="output (default results/...)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    if args.part is None:
        ap.error(f"--part is required (one of {', '.join(sorted(PARTS))})")
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": len(os.sched_getaffinity(0)),
        **{n: dist_version(n) for n in ("genepool", "numpy", "numba", "moocore", "pymoo")},
        "genepool_git": git_revision(),
        "loadavg_1min_before": os.getloadavg()[0],
        "seed": SEED,
        "repeats": args.repeats,
    }
    print(
        f"# bench_mo --part {args.part}: seed {SEED}, {env['cores']} cores, python "
        f"{env['python']}, numpy {env['numpy']}, numba {env['numba']}, moocore "
        f"{env['moocore']}, pymoo {env['pymoo']}, genepool {env['genepool']} "
        f"({env['genepool_git']})"
    )
    started = time.perf_counter()
    result = PARTS[args.part](args)
    total = time.perf_counter() - started
    env["loadavg_1min_after"] = os.getloadavg()[0]
    print(
        f"\n# total {total:.0f} s; 1-min load average {env['loadavg_1min_before']:.2f} before, "
        f"{env['loadavg_1min_after']:.2f} after (other processes on the machine skew timings)"
    )
    path = args.json or RESULTS / f"bench_mo_{args.part}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"benchmark": f"bench_mo --part {args.part}", "environment": env, "total_s": total}
            | result,
            indent=1,
            default=str,
        )
        + "\n"
    )
    print(f"# wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
