"""Memory benchmark: peak RSS under a budget, flat memory over generations, fitness-cache hits.

Three sweeps, every configuration in a fresh subprocess (``sys.executable``) so that its peak RSS
is its own:

1. **Peak RSS vs population size.** A GA on a D=30 Rastrigin whose fitness also materializes a
   working set of ``--kib`` KiB per candidate (default 20 KiB, like a backtest building T x N
   arrays: unchunked, P=1M would need ~20 GB), at P in {1k, 10k, 100k, 1M} with
   ``memory_limit="1GB"`` and, where the estimated working set stays under ~12 GiB, without a
   limit. Each P also gets an "optimizer floor" row: the peak RSS of ``GA.ask``/``GA.tell``
   alone (no evaluation, no genepool monitor), which no chunking of the evaluation can lower.
   At P=1M one extra row passes a no-op callback (callbacks keep a ``Generation`` alive).
2. **Peak RSS vs generations.** P=100, D=10 Rastrigin, G in {10, 100, 1k, 10k}, ``run_dir`` set
   (history spilled to Parquet) and ``history_capacity=1000``: RSS at generation 10 (read by a
   callback), at the end, the peak, and the growth per 1000 generations.
3. **Fitness-cache hit rates.** A GA (P=500, 40 generations) on 8 Integer genes in [0, 9]
   (1e8 points) with a deterministic fitness that sleeps 0.2 ms per *actual* evaluation (counted
   in the fitness), with ``cache=False``, ``True`` and ``None`` (automatic); then a mixed space
   (Integer + Categorical + Real) with ``cache=False``, ``True`` and an approximate
   ``FitnessCache(quantize=1e-2)``.

Peak RSS is measured twice: from outside (a thread of this process polling the child's RSS with
psutil every ~2 ms: it can miss spikes shorter than that) and by genepool itself
(``result.memory.peak_rss``, from the kernel's VmHWM counter, which genepool resets between
chunks, so the child's ``ru_maxrss`` is *not* usable and is not used). The numba kernels of the
fitness cache are warmed up in each child before the run and their load/compile time is reported
apart (``jit_s`` in the JSON). Seeds are fixed. Other jobs may share the machine: RSS figures are
the result, timings are indicative only.

Usage::

    python benchmarks/bench_memory.py [--quick] [--json PATH] [--kib 20]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from _common import POLL_S, run_polled

RESULTS = Path(__file__).resolve().parent / "results" / "bench_memory.json"
MARK = "@@bench_memory "
SEED = 12345
MIB = 2**20
BUDGET = "1GB"
BIG_BUDGET = "2GB"  # for P=1M, where 1GB cannot hold the GA's populations
NO_LIMIT_MAX_BYTES = 12 * 2**30  # skip an unlimited run whose estimated working set is above
CHILD_TIMEOUT_S = 300

FULL = {
    "scale": [(1_000, 20), (10_000, 20), (100_000, 10), (1_000_000, 3)],  # (P, generations)
    "callback_at": 1_000_000,
    "generations": [10, 100, 1_000, 10_000],
    "cache": {"population": 500, "generations": 40},
    "cache_rows": None,  # all of CACHE_ROWS
}
QUICK = {
    "scale": [(1_000, 10), (10_000, 5)],
    "callback_at": None,
    "generations": [10, 100, 1_000],
    "cache": {"population": 200, "generations": 15},
    "cache_rows": [("int8", "off"), ("int8", "on"), ("mixed", "on"), ("mixed", "quantize")],
}
SCALE_D = 30
GEN_P, GEN_D, GEN_CAPACITY = 100, 10, 1_000
SLEEP_PER_EVAL = 2e-4
INT_TARGET = (3, 1, 4, 1, 5, 9, 2, 6)


# -- in the child ------------------------------------------------------------------------------
def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _warm_jit() -> float:
    """Load (or compile) the fitness cache's numba kernels; returns the seconds it took."""
    import numpy as np

    import genepool as gp

    t0 = time.perf_counter()
    space = gp.Space(
        [gp.Integer("i", 0, 9), gp.Categorical("c", ["a", "b"]), gp.Real("r", 0.0, 1.0)]
    )
    X = space.sample(64, np.random.default_rng(0))
    for cache in (gp.FitnessCache("1MB"), gp.FitnessCache("1MB", quantize=1e-2)):
        cache.add(space, X, np.zeros(64))
        cache.get(space, X)
    return time.perf_counter() - t0


def _chunk_summary(chunk_sizes: dict[int, int]) -> dict[str, int | None]:
    if not chunk_sizes:
        return {"min": None, "max": None, "count": 0}
    return {
        "min": int(min(chunk_sizes)),
        "max": int(max(chunk_sizes)),
        "count": int(sum(chunk_sizes.values())),
    }


def _seconds_per_generation(times: list[float]) -> float | None:
    """Median time between generation ends (the first generation, with calibration, apart)."""
    if not times:
        return None
    if len(times) == 1:
        return times[0]
    return statistics.median(b - a for a, b in itertools.pairwise(times))


def child_scale(cfg: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    import genepool as gp
    from genepool.problems import rastrigin

    jit_s = _warm_jit()
    width = cfg["kib"] * 1024 // 8

    class Materializing(gp.Problem):
        """Rastrigin that first builds a (n, kib KiB) float64 block, written so it is resident."""

        def __init__(self) -> None:
            self.space = gp.Space.box(-5.12, 5.12, cfg["d"])

        def evaluate(self, X: np.ndarray) -> np.ndarray:
            block = np.empty((X.shape[0], width))
            block[:] = X[:, :1]
            return rastrigin(X) + 0.0 * block[:, -1]

    problem = Materializing()
    calls: list[Any] = [lambda g: None] if cfg["callback"] else []
    rss_before = _rss()
    out: dict[str, Any] = {"jit_s": jit_s, "rss_before_run": rss_before}
    t0 = time.perf_counter()
    try:
        res = gp.minimize(
            problem,
            gp.GA(problem.space, cfg["p"], seed=SEED),
            generations=cfg["generations"],
            memory_limit=cfg["limit"],
            callbacks=calls,
            progress=False,
        )
    except gp.errors.MemoryBudgetExceeded as exc:
        out.update(
            error=f"MemoryBudgetExceeded: {exc}",
            error_rss=exc.rss,
            wall_s=time.perf_counter() - t0,
        )
        return out
    mem = res.memory
    times = [float(t) for t in mem.samples["time"]]
    out.update(
        peak_rss=int(mem.peak_rss),
        start_rss=int(mem.start_rss),
        limit=mem.limit,
        chunk_sizes={str(k): int(v) for k, v in mem.chunk_sizes.items()},
        chunks=_chunk_summary(mem.chunk_sizes),
        bytes_per_candidate=mem.bytes_per_candidate,
        generations=res.n_generations,
        evaluations=res.n_evaluations,
        s_per_generation=_seconds_per_generation(times),
        first_generation_s=times[0] if times else None,
        wall_s=res.elapsed,
        best=float(res.best_fitness),
        alerts={
            kind: sum(a["kind"] == kind for a in mem.alerts)
            for kind in sorted({a["kind"] for a in mem.alerts})
        },
        cache=mem.cache,
        leak_detected=mem.leak_detected,
    )
    return out


def child_floor(cfg: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS of GA.ask / GA.tell alone (the kernel's VmHWM, reset around each call)."""
    import genepool as gp
    from genepool.memory.monitor import _PeakCounter

    peak = _PeakCounter(psutil.Process())
    ga = gp.GA(gp.Space.box(-5.12, 5.12, cfg["d"]), cfg["p"], seed=SEED)
    rss_before = _rss()
    ask = tell = 0
    for _ in range(cfg["generations"]):
        peak.reset()
        X = ga.ask()
        ask = max(ask, peak.read())
        y = gp.problems.sphere(X)  # einsum: no (n, d) temporaries outside the measured calls
        peak.reset()
        ga.tell(X, y)
        tell = max(tell, peak.read())
        del X, y
    return {
        "exact": peak.exact,
        "rss_before": rss_before,
        "ask_peak": ask,
        "tell_peak": tell,
        "peak": max(ask, tell),
    }


def child_generations(cfg: dict[str, Any]) -> dict[str, Any]:
    import tempfile

    import numpy as np

    import genepool as gp

    jit_s = _warm_jit()
    proc = psutil.Process()
    at10: list[int] = []
    every: list[tuple[int, int]] = []
    step = max(1, cfg["generations"] // 20)

    def watch(g: gp.Generation) -> None:
        if g.generation == 10:
            at10.append(int(proc.memory_info().rss))
        if g.generation % step == 0:
            every.append((g.generation, int(proc.memory_info().rss)))

    space = gp.Space.box(-5.12, 5.12, cfg["d"])
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as run_dir:
        res = gp.minimize(
            gp.problems.rastrigin,
            gp.GA(space, cfg["p"], seed=SEED),
            generations=cfg["generations"],
            run_dir=run_dir,
            history_capacity=cfg["capacity"],
            callbacks=[watch],
            progress=False,
        )
        rss_end = _rss()
        history = res.history
        parts = len(list(Path(run_dir, "history.parquet").glob("part-*.parquet")))
        rss_after_read = _rss()
    # Slope of the end-of-generation RSS over the second half of the run: one-time costs
    # (the first Parquet write loads pyarrow's writer, ~10 MiB) fall in the first half.
    samples = res.memory.samples
    late = samples[samples["generation"] > res.n_generations // 2]
    slope = None
    if len(late) >= 50:  # shorter runs: page-level noise, not a trend
        slope = float(np.polyfit(late["generation"], late["rss"], 1)[0]) * 1000 / MIB
    return {
        "jit_s": jit_s,
        "rss_gen10": at10[0] if at10 else None,
        "rss_end": rss_end,
        "rss_after_history_read": rss_after_read,
        "peak_rss": int(res.memory.peak_rss),
        "start_rss": int(res.memory.start_rss),
        "history_rows": len(history),
        "history_generations_ok": bool(
            len(history) == res.n_generations
            and history["generation"].tolist() == list(range(1, res.n_generations + 1))
        ),
        "parquet_parts": parts,
        "generations": res.n_generations,
        "fitted_mib_per_1000": slope,
        "rss_trace": every,
        "wall_s": res.elapsed,
        "leak_detected": res.memory.leak_detected,
        "cache": res.memory.cache,
    }


def _cache_space(kind: str) -> Any:
    import genepool as gp

    ints = [gp.Integer(f"g{i}", 0, 9) for i in range(8 if kind == "int8" else 4)]
    if kind == "int8":
        return gp.Space(ints)
    return gp.Space(
        [
            *ints,
            gp.Categorical("ma", ["sma", "ema", "wma"]),
            gp.Categorical("side", ["long", "short"]),
            gp.Real("x", 0.0, 1.0),
            gp.Real("y", 0.0, 1.0),
        ]
    )


def child_cache(cfg: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    import genepool as gp

    jit_s = _warm_jit()
    space = _cache_space(cfg["space"])
    target = np.asarray(INT_TARGET[: 8 if cfg["space"] == "int8" else 4], dtype=np.float64)

    def true_fitness(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic fitness and the key matrix (decoded ints/indices, reals as values)."""
        p = space.decode(X)
        ints = np.stack([p[f"g{i}"] for i in range(target.size)], axis=1).astype(np.float64)
        f = ((ints - target) ** 2).sum(axis=1) + 0.5 * ((ints[:, 0] * ints[:, 1]) % 7)
        if cfg["space"] == "int8":
            return f, ints
        ma = space["ma"].indices(X[:, 4]).astype(np.float64)
        side = space["side"].indices(X[:, 5]).astype(np.float64)
        f = f + np.array([0.0, 1.0, 2.0])[ma.astype(int)] + side
        f = f + 10.0 * (p["x"] - 0.3) ** 2 + 10.0 * (p["y"] - 0.7) ** 2
        return f, np.column_stack([ints, ma, side, p["x"], p["y"]])

    counts = {"evaluations": 0, "calls": 0, "duplicates_seen": 0}

    def fitness(X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        counts["evaluations"] += n
        counts["calls"] += 1
        f, keys = true_fitness(X)
        counts["duplicates_seen"] += n - np.unique(keys, axis=0).shape[0]
        time.sleep(n * SLEEP_PER_EVAL)
        return f

    if cfg["cache"] == "quantize":
        cache: Any = gp.FitnessCache(quantize=cfg["quantize"])
    else:
        cache = {"off": False, "on": True, "auto": None}[cfg["cache"]]
    res = gp.minimize(
        fitness,
        gp.GA(space, cfg["p"], seed=SEED),
        generations=cfg["generations"],
        cache=cache,
        progress=False,
    )
    stats = res.memory.cache
    looked = None if stats is None else stats["hits"] + stats["misses"]
    true_best = float(true_fitness(res.best_x[None, :])[0][0])
    return {
        "jit_s": jit_s,
        "requested": res.n_evaluations,
        "actual": counts["evaluations"],
        "calls": counts["calls"],
        # Rows the fitness saw that decode equal to another row of the same call: every
        # within-generation duplicate without a cache, ~0 with one (it only sees misses).
        "duplicates_seen_by_fitness": counts["duplicates_seen"],
        # With a cache, lookups are made on distinct keys only: requested - looked up.
        "duplicates_within_generations": None if looked is None else res.n_evaluations - looked,
        "cache": stats,
        "wall_s": res.elapsed,
        "sleep_s": counts["evaluations"] * SLEEP_PER_EVAL,
        "best": float(res.best_fitness),
        "true_best": true_best,
        "best_params": {
            k: (v.item() if hasattr(v, "item") else v) for k, v in res.best_params.items()
        },
        "peak_rss": int(res.memory.peak_rss),
    }


CHILDREN = {
    "scale": child_scale,
    "floor": child_floor,
    "generations": child_generations,
    "cache": child_cache,
}


def child_main(raw: str) -> None:
    cfg = json.loads(raw)
    out = CHILDREN[cfg["kind"]](cfg)
    print(MARK + json.dumps(out, default=str), flush=True)


# -- in the parent -----------------------------------------------------------------------------
def run_child(cfg: dict[str, Any], timeout: float = CHILD_TIMEOUT_S) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter, polling its RSS from here."""
    return run_polled(__file__, cfg, MARK, timeout)


def _mib(b: float | None) -> str:
    return "-" if b is None else f"{b / MIB:,.0f} MiB"


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- sweep 1 -----------------------------------------------------------------------------------
def sweep_scale(plan: dict[str, Any], kib: int) -> list[dict[str, Any]]:
    from genepool.memory._size import parse_size

    rows = []
    for p, gens in plan["scale"]:
        configs = [(BUDGET, False)]
        if plan["callback_at"] == p:
            # 1GB is refused upfront at P=1M (the GA's own populations need ~0.8 GiB), so the
            # budget that fits is shown too, with and without a callback.
            configs += [(BIG_BUDGET, False), (BIG_BUDGET, True)]
        configs.append((None, False))
        for limit, callback in configs:
            cfg = {
                "kind": "scale",
                "p": p,
                "d": SCALE_D,
                "generations": gens,
                "limit": limit,
                "kib": kib,
                "callback": callback,
            }
            estimate = p * (kib * 1024 + 6 * 8 * SCALE_D) + 200 * MIB
            if limit is None and estimate > NO_LIMIT_MAX_BYTES:
                rows.append({"config": cfg, "skipped": True, "estimated_bytes": estimate})
                _log(f"scale P={p:,} no limit: skipped (estimated {estimate / 2**30:.1f} GiB)")
                continue
            _log(f"scale P={p:,} limit={limit} callback={callback} ...")
            row = run_child(cfg)
            row["budget_bytes"] = None if limit is None else parse_size(limit)
            row["estimated_bytes"] = estimate
            rows.append(row)
        _log(f"floor P={p:,} (GA ask/tell alone) ...")
        floor = run_child({"kind": "floor", "p": p, "d": SCALE_D, "generations": 3})
        for row in rows:
            if row["config"]["p"] == p:
                row["optimizer_floor"] = floor
    return rows


def table_scale(rows: list[dict[str, Any]], kib: int) -> str:
    out = []
    for r in rows:
        c = r["config"]
        budget = "none" if c["limit"] is None else f"{c['limit']} ({_mib(r['budget_bytes'])})"
        if c["callback"]:
            budget += " + no-op callback"
        floor = r.get("optimizer_floor", {})
        floor_s = "-"
        if floor.get("peak"):
            floor_s = f"{floor['ask_peak'] / MIB:,.0f} / {floor['tell_peak'] / MIB:,.0f} MiB"
        if r.get("skipped"):
            out.append(
                [
                    f"{c['p']:,}",
                    budget,
                    "skipped",
                    "skipped",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    floor_s,
                    f"not run: estimated working set {r['estimated_bytes'] / 2**30:.1f} GiB "
                    f"> {NO_LIMIT_MAX_BYTES / 2**30:.0f} GiB",
                ]
            )
            continue
        peaks = [r.get("peak_rss_outside"), r.get("peak_rss")]
        if c["limit"] is None:
            under = "n/a"
        elif r.get("error") and "ConfigError" in r["error"] and "too small" in r["error"]:
            under = "refused upfront"
        elif r.get("error"):
            under = "no (raised)" if "MemoryBudgetExceeded" in r["error"] else "no (error)"
        else:
            under = "yes" if max(x for x in peaks if x) <= r["budget_bytes"] else "no"
        ch = r.get("chunks") or {}
        chunks = f"{ch['min']:,} / {ch['max']:,} / {ch['count']:,}" if ch.get("count") else "-"
        bpc = r.get("bytes_per_candidate")
        notes = []
        if c["limit"] is not None and floor.get("peak", 0) > r["budget_bytes"]:
            notes.append("the optimizer alone peaks above the budget")
        if under == "refused upfront":
            notes.append("ConfigError before the run: the budget cannot hold the populations")
        elif r.get("error"):
            notes.append(r["error"][:160].replace("|", "/"))
        elif r.get("alerts"):
            notes.append(", ".join(f"{v} {k}" for k, v in r["alerts"].items()))
        note = "; ".join(notes)
        out.append(
            [
                f"{c['p']:,}",
                budget,
                _mib(r.get("peak_rss_outside")),
                _mib(r.get("peak_rss")),
                under,
                chunks,
                "-" if bpc is None else f"{bpc / 1024:,.1f} KiB",
                str(r.get("generations", "-")),
                _fmt(r.get("s_per_generation"), ".3f"),
                floor_s,
                note,
            ]
        )
    header = [
        "P",
        "budget",
        "peak RSS outside",
        "peak RSS genepool",
        "under budget?",
        "chunks min / max / count",
        f"bytes/cand measured (nominal {kib} KiB)",
        "gens",
        "s/gen (indicative)",
        "optimizer floor: GA ask / tell peak alone",
        "alerts / notes",
    ]
    return _table(header, out)


# -- sweep 2 -----------------------------------------------------------------------------------
def sweep_generations(plan: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for g in plan["generations"]:
        _log(f"generations G={g:,} ...")
        rows.append(
            run_child(
                {
                    "kind": "generations",
                    "p": GEN_P,
                    "d": GEN_D,
                    "generations": g,
                    "capacity": GEN_CAPACITY,
                }
            )
        )
    return rows


def table_generations(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        c = r["config"]
        growth = None
        if r.get("rss_gen10") is not None and c["generations"] > 10:
            growth = (r["rss_end"] - r["rss_gen10"]) / MIB / (c["generations"] - 10) * 1000
        rows_read = str(r.get("history_rows", "-"))
        if r.get("history_rows") is not None and not r.get("history_generations_ok"):
            rows_read += " (generations not 1..G!)"
        out.append(
            [
                f"{c['generations']:,}",
                _mib(r.get("rss_gen10")),
                _mib(r.get("rss_end")),
                _mib(r.get("peak_rss_outside")),
                _mib(r.get("peak_rss")),
                rows_read,
                str(r.get("parquet_parts", "-")),
                _fmt(growth, "+.2f"),
                _fmt(r.get("fitted_mib_per_1000"), "+.2f"),
                _fmt(r.get("wall_s"), ".1f"),
                r.get("error", "")[:120],
            ]
        )
    header = [
        "G",
        "RSS @ gen 10",
        "RSS at end",
        "peak RSS outside",
        "peak RSS genepool",
        "history rows read back",
        "parquet parts",
        "MiB / 1000 gens (end - gen 10)",
        "MiB / 1000 gens (fit, 2nd half)",
        "wall s (indicative)",
        "notes",
    ]
    return _table(header, out)


# -- sweep 3 -----------------------------------------------------------------------------------
CACHE_ROWS = [
    ("int8", "off"),
    ("int8", "on"),
    ("int8", "auto"),
    ("mixed", "off"),
    ("mixed", "on"),
    ("mixed", "quantize"),
]


def sweep_cache(plan: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for space, cache in plan["cache_rows"] or CACHE_ROWS:
        _log(f"cache space={space} cache={cache} ...")
        rows.append(
            run_child(
                {
                    "kind": "cache",
                    "space": space,
                    "cache": cache,
                    "quantize": 1e-2,
                    "p": plan["cache"]["population"],
                    "generations": plan["cache"]["generations"],
                }
            )
        )
    return rows


def table_cache(rows: list[dict[str, Any]]) -> str:
    names = {
        "int8": "8 x Integer[0,9]",
        "mixed": "4 Integer + 2 Categorical + 2 Real",
    }
    caches = {
        "off": "cache=False",
        "on": "cache=True",
        "auto": "cache=None (auto)",
        "quantize": "FitnessCache(quantize=1e-2) (approximate)",
    }
    out = []
    for r in rows:
        c = r["config"]
        if r.get("error"):
            out.append([names[c["space"]], caches[c["cache"]], *["-"] * 9, r["error"][:120]])
            continue
        stats = r.get("cache")
        hit = (
            "-"
            if stats is None
            else f"{stats['hits'] / max(1, stats['hits'] + stats['misses']):.1%}"
        )
        if r.get("duplicates_within_generations") is not None:
            dups = f"{r['duplicates_within_generations']:,}"
        else:
            dups = f"({r['duplicates_seen_by_fitness']:,} present, not removed)"
        saved = 1 - r["actual"] / r["requested"]
        note = []
        if stats is not None and stats.get("disabled"):
            note.append("auto cache turned itself off: " + stats["disabled"][:80])
        if abs(r["best"] - r["true_best"]) > 1e-12:
            note.append(f"reported best {r['best']:.4g} vs true f(best_x) {r['true_best']:.4g}")
        out.append(
            [
                names[c["space"]],
                caches[c["cache"]],
                hit,
                dups,
                f"{r['actual']:,} / {r['requested']:,}",
                f"{saved:.1%}",
                f"{r['wall_s']:.2f}",
                "-"
                if stats is None
                else f"{stats['nbytes'] / 1024:,.0f} KiB ({stats['entries']:,} entries)",
                f"{r['best']:.4g}",
                f"{r['true_best']:.4g}",
                _mib(r.get("peak_rss_outside")),
                "; ".join(note),
            ]
        )
    header = [
        "space",
        "cache",
        "hit rate (distinct keys)",
        "duplicates within generations",
        "actual / requested evals",
        "evals saved",
        "wall s (indicative)",
        "cache bytes",
        "best f (reported)",
        "true f(best_x)",
        "peak RSS outside",
        "notes",
    ]
    return _table(header, out)


# -- main --------------------------------------------------------------------------------------
def _loadavg() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("genepool", "numpy", "numba", "pandas", "pyarrow", "psutil"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "?"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smaller sweep (< 1 minute)")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"output (default {RESULTS})")
    ap.add_argument("--kib", type=int, default=20, help="working set per candidate in sweep 1")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    plan = QUICK if args.quick else FULL
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "kib_per_candidate": args.kib,
        "budget": BUDGET,
        "seed": SEED,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_total": psutil.virtual_memory().total,
            "loadavg_at_start": _loadavg(),
        },
        "versions": _versions(),
        "poll_interval_ms": POLL_S * 1000,
    }
    t0 = time.perf_counter()
    scale = sweep_scale(plan, args.kib)
    gens = sweep_generations(plan)
    cache = sweep_cache(plan)
    meta["total_s"] = time.perf_counter() - t0
    meta["loadavg_at_end"] = _loadavg()

    print(f"## 1. Peak RSS vs population size (D={SCALE_D}, {args.kib} KiB per candidate)\n")
    print(table_scale(scale, args.kib))
    print(
        f"\n## 2. RSS vs generations (P={GEN_P}, D={GEN_D}, run_dir, "
        f"history_capacity={GEN_CAPACITY})\n"
    )
    print(table_generations(gens))
    c = plan["cache"]
    print(
        f"\n## 3. Fitness cache (GA P={c['population']}, {c['generations']} generations, "
        f"{SLEEP_PER_EVAL * 1e3:.1f} ms per actual evaluation)\n"
    )
    print(table_cache(cache))
    jit = [r["jit_s"] for r in scale + gens + cache if isinstance(r.get("jit_s"), float)]
    if jit:
        print(
            f"\nnumba kernel load/compile per child (warm-up, not in any timing): "
            f"median {statistics.median(jit):.2f} s, max {max(jit):.2f} s; "
            f"load average {meta['machine']['loadavg_at_start']} -> {meta['loadavg_at_end']}; "
            f"total {meta['total_s']:.0f} s"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"meta": meta, "scale": scale, "generations": gens, "cache": cache},
            indent=1,
            default=str,
        )
    )
    print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
