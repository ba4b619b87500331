"""Populations on disk (``storage="disk"``): scale under a memory budget, speed against memory.

Parts (each measured run is one ``gp.minimize`` in a fresh interpreter whose process tree is
polled from here every 50 ms for anonymous memory, RssAnon + RssShmem, and file-backed
residency, RssFile; the population folder's size on disk is polled from here too). Every child
first runs a tiny warm-up of the same optimizer and storage (numba kernels compiled), untimed.

- ``scale``: GA on Rastrigin (30 genes), ``--population`` individuals, ``--generations``
  generations, ``storage="disk"`` under ``memory_limit=--memory-limit``, files under
  ``--workdir``: wall, seconds per generation, peak anonymous memory of the tree (target <= the
  limit), the run's own ``MemoryReport`` (peak_anon, peak_rss, peak_file), disk used (the
  folder's peak, polled, against ``ga.disk_footprint()``), best fitness.
- ``speed``: the same GA at ``--speed-population``, in memory and on disk (page cache warm), and
  on disk "cold" (see below), ``--repeats`` interleaved rounds: median seconds per individual per
  generation, measured two ways: ``whole`` = the wall of ``minimize`` over G generations / (n G)
  (generation 1 is sampling + evaluating the first population), and ``breed`` = generations
  2..G (selection, variation, evaluation, survival; timed by a callback at the end of each
  generation) / (n (G-1)). Ratio
  disk / memory (target <= 2). The results must be identical (best, best_x, history).
- ``pso``: PSO at ``--pso-population`` for ``--pso-iterations`` iterations, memory vs disk,
  ``--repeats`` interleaved rounds: median wall, ratio, peak anonymous memory of each, identity.

"Cold" disk runs: as root, ``sync`` and ``echo 3 > /proc/sys/vm/drop_caches`` before the child
starts (libraries and any old files out of the page cache; machine-wide, so ``--no-drop-caches``
skips it; whether it was done is in the JSON as ``drop_caches``), and after each generation the
child fsyncs every population file and drops its pages with ``posix_fadvise(DONTNEED)`` (that time is measured and excluded). The
population files are new each generation and pages the optimizer still maps are not dropped, so
"cold" means: each generation reads its parents from files that are not in the page cache
except for pages still mapped; writes go through the page cache as usual.

Usage::

    python benchmarks/bench_population.py [--parts scale,speed,pso]
        [--population 20000000] [--generations 3] [--memory-limit 1GB]
        [--speed-population 1000000] [--pso-population 1000000] [--pso-iterations 3]
        [--repeats 3] [--no-drop-caches] [--workdir DIR] [--timeout S]
        [--json benchmarks/results/bench_population.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    machine,
    run_anon_polled,
    selected_parts,
    workdir_with_room,
)

RESULTS = Path(__file__).resolve().parent / "results" / "bench_population.json"
MARK = "@@BENCH "
MiB = 2**20
PARTS = ("scale", "speed", "pso")
PROBLEM = ("rastrigin", 30)
TARGET_RATIO = 2.0


# -- children (run in a fresh interpreter) ------------------------------------------------------
def _optimizer(cfg: dict[str, Any], n: int, path: Path | None) -> Any:
    import genepool as gp

    space = gp.problems.get(*PROBLEM).space
    storage = "disk" if cfg["storage"] == "disk" else "memory"
    if cfg["algorithm"] == "pso":
        return gp.PSO(space, n, seed=0, storage=storage, path=path)
    return gp.GA(space, n, seed=0, storage=storage, path=path)


def _drop_file_pages(folder: Path) -> None:
    """fsync and ``posix_fadvise(DONTNEED)`` every file in ``folder`` (clean, unmapped pages
    leave the page cache)."""
    for entry in os.scandir(folder):
        if not entry.is_file():
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY)
        except OSError:
            continue  # removed meanwhile
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    import genepool as gp

    problem = gp.problems.get(*PROBLEM)
    work = Path(cfg["workdir"])
    disk = cfg["storage"] == "disk"
    warm_path = work / f"{cfg['tag']}-warmup" if disk else None
    gp.minimize(problem, _optimizer(cfg, 1000, warm_path), generations=2, progress=False)
    if warm_path is not None:
        shutil.rmtree(warm_path, ignore_errors=True)
    folder = work / cfg["tag"] if disk else None
    opt = _optimizer(cfg, cfg["n"], folder)
    footprint = opt.disk_footprint()
    gens = cfg["generations"]
    dropping = {"s": 0.0}
    disk_seen = {"bytes": 0}
    ends: list[float] = []  # end of each generation on a clock that excludes the dropping

    def after_generation(_: Any) -> None:
        ends.append(time.perf_counter() - dropping["s"])
        if opt._files is not None:
            disk_seen["bytes"] = max(disk_seen["bytes"], opt._files.disk_bytes())
        if cfg.get("cold") and folder is not None:
            t = time.perf_counter()
            _drop_file_pages(folder)
            dropping["s"] += time.perf_counter() - t

    t = time.perf_counter()
    res = gp.minimize(
        problem,
        opt,
        generations=gens,
        memory_limit=cfg["memory_limit"],
        callbacks=[after_generation],
        progress=False,
    )
    wall = time.perf_counter() - t - dropping["s"]
    hist = res.history
    gen_walls = np.diff([t, *ends]).tolist()
    n = cfg["n"]
    mem = res.memory
    return {
        "n": n,
        "generations": gens,
        "storage": opt.storage,
        "wall_s": wall,
        "s_per_generation": wall / gens,
        "generation_wall_s": gen_walls,
        "s_per_ind_gen_whole": wall / (n * gens),
        "s_per_ind_gen_breed": sum(gen_walls[1:]) / (n * (gens - 1)) if gens > 1 else None,
        "cold_drop_s": dropping["s"],
        "evaluations": int(np.asarray(hist["evaluations"])[-1]),
        "best_fitness": float(np.asarray(res.best_fitness).ravel()[0]),
        "disk_footprint": footprint,
        "disk_bytes_seen": disk_seen["bytes"],
        "memory_report": {
            k: getattr(mem, k, None) for k in ("peak_anon", "peak_rss", "peak_file")
        },
        "best_x": np.asarray(res.best_x).tolist(),
        "best": np.asarray(hist["best"]).tolist(),
    }


# -- the parent ---------------------------------------------------------------------------------
class FolderPoller(threading.Thread):
    """Peak bytes of the files in a folder (sizes and allocated blocks), polled from outside."""

    def __init__(self, folder: Path | None, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.folder, self.interval = folder, interval
        self.peak = {"size": 0, "allocated": 0}
        self._halt = threading.Event()

    def run(self) -> None:
        while self.folder is not None and not self._halt.is_set():
            size = allocated = 0
            try:
                for entry in os.scandir(self.folder):
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    size += st.st_size
                    allocated += st.st_blocks * 512
            except OSError:
                pass  # not made yet, or removed
            self.peak["size"] = max(self.peak["size"], size)
            self.peak["allocated"] = max(self.peak["allocated"], allocated)
            self._halt.wait(self.interval)

    def halt(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()


def drop_caches() -> bool:
    """``sync`` and drop the page cache (root only); whether it was done."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        return False
    return True


def run_child(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    folder = Path(cfg["workdir"]) / cfg["tag"] if cfg["storage"] == "disk" else None
    row = run_anon_polled(__file__, cfg, MARK, timeout, {"folder_peak": FolderPoller(folder)})
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)  # a killed child's files
    return row


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("best_fitness", "best_x", "best")
    return all(k in a and k in b and a[k] == b[k] for k in keys)


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None and "error" not in r]
    return statistics.median(vals) if vals else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def compare(
    base: dict[str, Any], n: int, gens: int, variants: dict[str, dict[str, Any]], repeats: int,
    timeout: float,
) -> dict[str, Any]:  # fmt: skip
    """``repeats`` interleaved rounds of each variant (a config overlay); medians, ratios to
    ``memory``, identity of every run's result with the first memory run's."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    drops: list[bool] = []
    names = list(variants)
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            over = variants[name]
            if over.get("cold"):
                drops.append(base["drop_caches"] and drop_caches())
            cfg = {**base, "n": n, "generations": gens, "tag": f"{name}-{r}", **over}
            row = run_child(cfg, timeout)
            print(f"   {name} #{r}: {row.get('wall_s', float('nan')):.2f} s"
                  + (f"  ERROR {row['error']}" if "error" in row else ""), flush=True)  # fmt: skip
            runs[name].append(row)
    ref = next((x for x in runs.get("memory", []) if "error" not in x), None)
    out: dict[str, Any] = {"n": n, "generations": gens, "repeats": repeats}
    for name, rows in runs.items():
        out[name] = {
            "median_wall_s": _median(rows, "wall_s"),
            "median_s_per_ind_gen_whole": _median(rows, "s_per_ind_gen_whole"),
            "median_s_per_ind_gen_breed": _median(rows, "s_per_ind_gen_breed"),
            "max_tree_peak_anon": max((x["tree_peak"]["anon"] for x in rows), default=0),
            "max_tree_peak_file": max((x["tree_peak"]["file"] for x in rows), default=0),
            "max_folder_bytes": max((x["folder_peak"]["allocated"] for x in rows), default=0),
            "best_fitness": rows[0].get("best_fitness") if rows else None,
            "runs": [{k: v for k, v in x.items() if k not in ("best_x", "best")} for x in rows],
        }
    mem = out.get("memory", {})
    for name in names:
        if name == "memory":
            continue
        for how in ("whole", "breed"):
            key = f"median_s_per_ind_gen_{how}"
            out[name][f"ratio_{how}"] = _ratio(out[name][key], mem.get(key))
    out["identical"] = ref is not None and all(
        _same(ref, x) for rows in runs.values() for x in rows
    )
    if drops:
        out["drop_caches"] = all(drops)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--population", type=int, default=20_000_000)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--speed-population", type=int, default=1_000_000)
    ap.add_argument("--pso-population", type=int, default=1_000_000)
    ap.add_argument("--pso-iterations", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--no-drop-caches", action="store_true",
        help="cold disk runs without dropping the whole page cache first (a shared machine)",
    )  # fmt: skip
    ap.add_argument("--workdir", help="folder of the population files (default: a temporary one)")
    ap.add_argument("--timeout", type=float, default=4 * 3600)
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args()
    if args.child:
        print(MARK + json.dumps(child(json.loads(args.child))), flush=True)
        return
    parts = selected_parts(args.parts, PARTS)
    temporary = not args.workdir
    need = _needed_bytes(args, parts)
    work, free = workdir_with_room(args.workdir, "gp_popbench_", need,
                                   "lower --population or pick another --workdir")  # fmt: skip
    report: dict[str, Any] = {
        "config": {k: v for k, v in vars(args).items() if k not in ("child", "json")},
        "problem": f"{PROBLEM[0]}, {PROBLEM[1]} genes",
        "machine": machine(),
        "disk_free_gib": free / 2**30,
        "disk_needed_gib": need / 2**30,
        "measured": (
            "whole: wall of minimize over G generations / (n G), generation 1 = sampling and "
            "evaluating the first population; breed: generations 2..G (callback stamps) / "
            "(n (G-1)); tree peaks polled from outside every 50 ms"
        ),
    }
    base = {"workdir": str(work), "memory_limit": args.memory_limit,
            "drop_caches": not args.no_drop_caches}  # fmt: skip
    try:
        for part in parts:
            print(f"-- {part} ...", flush=True)
            t = time.perf_counter()
            if part == "scale":
                cfg = {**base, "algorithm": "ga", "storage": "disk", "tag": "scale",
                       "n": args.population, "generations": args.generations}  # fmt: skip
                row = run_child(cfg, args.timeout)
                row.pop("best_x", None)
                report["scale"] = row
            elif part == "speed":
                variants: dict[str, dict[str, Any]] = {
                    "memory": {"algorithm": "ga", "storage": "memory"},
                    "disk": {"algorithm": "ga", "storage": "disk"},
                    "disk_cold": {"algorithm": "ga", "storage": "disk", "cold": True},
                }
                # no budget: the in-memory GA at this size needs more than the scale's 1GB
                unbudgeted = {**base, "memory_limit": None}
                report["speed"] = compare(unbudgeted, args.speed_population, args.generations,
                                          variants, args.repeats, args.timeout)  # fmt: skip
            else:
                variants = {
                    "memory": {"algorithm": "pso", "storage": "memory"},
                    "disk": {"algorithm": "pso", "storage": "disk"},
                }
                report["pso"] = compare({**base, "memory_limit": None}, args.pso_population,
                                        args.pso_iterations, variants, args.repeats,
                                        args.timeout)  # fmt: skip
            print(f"   {time.perf_counter() - t:.1f} s", flush=True)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    _table(report, _limit_bytes(args.memory_limit))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(report)  # parts run separately accumulate
    out.write_text(json.dumps(previous, indent=2, default=str))
    print(f"wrote {out}")


def _needed_bytes(args: argparse.Namespace, parts: list[str]) -> int:
    """Peak disk bytes of the largest run of ``parts`` (``disk_footprint`` of its optimizer)."""
    import genepool as gp

    space = gp.problems.get(*PROBLEM).space
    sizes = [0]
    if "scale" in parts:
        sizes.append(gp.GA(space, args.population, storage="disk").disk_footprint())
    if "speed" in parts:
        sizes.append(gp.GA(space, args.speed_population, storage="disk").disk_footprint())
    if "pso" in parts:
        sizes.append(gp.PSO(space, args.pso_population, storage="disk").disk_footprint())
    return max(sizes)


def _limit_bytes(limit: str) -> int | None:
    try:
        from genepool.memory._size import parse_size

        return int(parse_size(limit))
    except Exception:  # an unparsable limit: no verdict in the table
        return None


def _table(r: dict[str, Any], limit: int | None) -> None:
    def mib(x: Any) -> str:
        return "-" if not x else f"{x / MiB:.0f} MiB"

    def gib(x: Any) -> str:
        return "-" if not x else f"{x / 2**30:.2f} GiB"

    def ns(x: Any) -> str:
        return "-" if x is None else f"{x * 1e9:.0f} ns"

    print()
    if "scale" in r:
        x = r["scale"]
        rep = x.get("memory_report", {})
        anon = x["tree_peak"]["anon"]
        ok = "" if limit is None else ("  (<= limit)" if anon <= limit else "  (OVER LIMIT)")
        print(f"scale: GA {x.get('n', 0):,} x 30 genes, {x.get('generations')} generations, "
              f"disk, limit {r['config']['memory_limit']}")  # fmt: skip
        if "error" in x:
            print(f"  ERROR {x['error']}")
        print(f"  wall {x.get('wall_s', 0):.1f} s, {x.get('s_per_generation', 0):.1f} s/generation "
              f"({', '.join(f'{s:.1f}' for s in x.get('generation_wall_s', []))}), "
              f"{ns(x.get('s_per_ind_gen_whole'))}/ind/gen")  # fmt: skip
        print(
            f"  peak anonymous (tree, outside) {mib(anon)}{ok}; file-backed {mib(x['tree_peak']['file'])}"
        )
        print(f"  MemoryReport: peak_anon {mib(rep.get('peak_anon'))}, peak_rss "
              f"{mib(rep.get('peak_rss'))}, peak_file {mib(rep.get('peak_file'))}")  # fmt: skip
        print(f"  disk: folder peak {gib(x['folder_peak']['allocated'])} allocated "
              f"({gib(x['folder_peak']['size'])} in sizes), disk_footprint() "
              f"{gib(x.get('disk_footprint'))}; best fitness {x.get('best_fitness')}")  # fmt: skip
    for part, title, unit in (("speed", "GA", "generations"), ("pso", "PSO", "iterations")):
        if part not in r:
            continue
        s = r[part]
        print(f"\n{part}: {title} {s['n']:,} x 30 genes, {s['generations']} {unit}, "
              f"median of {s['repeats']} (machine shared)")  # fmt: skip
        print(f"  {'storage':<10} {'wall':>8} {'whole/ind/gen':>14} {'breed/ind/gen':>14} "
              f"{'ratio whole':>11} {'ratio breed':>11} {'peak anon':>10} {'peak file':>10} {'disk':>10}")  # fmt: skip
        for name in ("memory", "disk", "disk_cold"):
            if name not in s:
                continue
            x = s[name]
            rw, rb = x.get("ratio_whole"), x.get("ratio_breed")
            print(f"  {name:<10} {x['median_wall_s'] or 0:>7.2f}s "
                  f"{ns(x['median_s_per_ind_gen_whole']):>14} {ns(x['median_s_per_ind_gen_breed']):>14} "
                  f"{'-' if rw is None else f'{rw:.2f}':>11} {'-' if rb is None else f'{rb:.2f}':>11} "
                  f"{mib(x['max_tree_peak_anon']):>10} {mib(x['max_tree_peak_file']):>10} "
                  f"{gib(x['max_folder_bytes']):>10}")  # fmt: skip
        extra = (
            f", drop_caches {'done' if s['drop_caches'] else 'not done'}"
            if "drop_caches" in s
            else ""
        )
        print(f"  identical results (best, best_x, history): {s['identical']}; "
              f"target ratio <= {TARGET_RATIO:g}{extra}")  # fmt: skip


if __name__ == "__main__":
    main()
