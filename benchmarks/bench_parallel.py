"""Parallel benchmark: speed-up of the process and Dask executors over serial, per-task overhead,
and the memory of the whole process tree.

Workloads (fixed seeds; every configuration runs in a fresh interpreter, see below):

- ``backtest``: ``StrategyProblem(close, "rsi", rsi_method="sma")`` on
  ``synthetic_ohlcv(100_000, freq="1min", seed=SEED)`` closes (781 KiB of prices, shared with the
  workers), N = 4,000 strategies per evaluation (``--quick``: 1,000), ``cache=False``. The
  serial baseline is the fused kernel with all numba threads (``prange`` over strategies, so it
  already uses every core); ``serial-1t`` caps numba at one thread (the single-core figure).
- ``python``: a pure-Python fitness, ~2 ms of interpreter work per candidate (a loop of 20,000
  float operations), N = 400 per evaluation (``--quick``: 200), ``cache=False``; the GIL makes
  threads useless here, processes are the only way to use more cores.
- ``cheap``: ``gp.minimize(rastrigin, GA(Space.box(-5.12, 5.12, 10), 2_000, seed=SEED),
  generations=30)``: serial; ``processes`` with defaults (the evaluator measures a candidate
  and keeps such a generation in the parent, so no pool is ever started); and ``processes`` /
  ``dask`` forced to ship every generation (``min_seconds=0``), whose extra wall time per task
  over serial is the per-task overhead (next to the executor's own measurement: the median
  round trip of an empty task).

Executors: ``ProcessExecutor(workers=w, min_seconds=0)`` and ``DaskExecutor(workers=w,
min_seconds=0)`` (a ``LocalCluster`` of ``w`` processes with one thread each), w in {1, 2};
chunks: 2 per worker per evaluation (the evaluator's default). In each child: build the problem,
time the first (small) evaluation apart as ``startup`` (pool or cluster start, problem shipped
once, numba kernels loaded in every worker), then ``--repeats`` (5) timed evaluations of the
whole workload: the median is reported, and the speed-up is serial's median over this one. A
SHA-256 of the fitness values of every configuration is compared with serial's: ``identical``
must be ``yes`` everywhere (bit for bit).

Memory: the parent polls the child and all its descendants (workers, Dask nannies, the
shared-memory resource tracker) every ~50 ms with psutil and keeps the peaks of the sums of RSS,
USS (private pages: the shared price segment and shared libraries count in no one's USS) and
PSS (every shared page divided among the processes that map it: the tree's memory with shared
pages counted once), and the peak USS of the child alone (the parent of the pool). Peaks
shorter than a poll can be missed. Memory is polled during the startup and the first, untimed
evaluation; the poller pauses during the timed repeats, because reading smaps of three
processes every 50 ms takes CPU from the two workers (before this pause, the 2-worker rows
measured 1.4-1.76x where the pool alone reaches ~2x). "USS target": tree USS plus the shared segment once must stay
below parent USS + workers x (the largest worker USS + the shared data), i.e. what the same
pool would use if every worker held a private copy of the data.

The machine has 2 cores and was shared with other jobs while these ran: timings are noisy. So
that the numbers can be read, the script measures before and after the rows how many cores
concurrent CPU-bound processes actually get (the same pure-Python loop, no genepool, alone and
in 2 processes at once: "effective cores"), prints the 1-min load average, pairs every timing
with a serial one taken alternately (same background load), and reports the CPU ratio (CPU
seconds of the whole process tree over serial's): a pool that adds no work has a ratio near 1,
and its speed-up on idle cores is bounded by min(workers, effective cores) / ratio. The docs
table reports medians over several whole runs of this script.

Usage::

    python benchmarks/bench_parallel.py [--quick] [--no-dask] [--repeats 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _common import TreePoller, dist_version, git_revision

RESULTS = Path(__file__).resolve().parent / "results" / "bench_parallel.json"
MARK = "@@bench_parallel "
SEED = 12345
MIB = 2**20
POLL_S = 0.05
CHILD_TIMEOUT_S = 600
PAUSE_ENV = "GENEPOOL_BENCH_PAUSE"  # flag file: the parent's tree poller pauses while it exists
T_BARS = 100_000
N_BACKTEST, N_BACKTEST_QUICK = 4_000, 1_000
N_PYTHON, N_PYTHON_QUICK = 400, 200
PY_LOOP = 20_000  # float operations per candidate in the pure-Python fitness
CHEAP_POP, CHEAP_DIMS, CHEAP_GENS = 2_000, 10, 30
TARGET_SPEEDUP = 1.8
DATA_BYTES = 256 * MIB  # the data workload's read-only array


# -- in the child ------------------------------------------------------------------------------
def python_fitness(X: Any) -> Any:
    """~2 ms of pure-Python work per candidate (deterministic)."""
    import numpy as np

    out = np.empty(X.shape[0])
    for i in range(X.shape[0]):
        a, b, s = float(X[i, 0]), float(X[i, 1]), 0.0
        for k in range(PY_LOOP):
            s += (a * k - b) % 7.0
        out[i] = s
    return out


class DataProblem:
    """A cheap fitness over a large read-only array (the ``data`` workload's dataset)."""

    def __init__(self, data: Any, space: Any) -> None:
        self.data, self.space = data, space

    def evaluate(self, X: Any) -> Any:
        import numpy as np

        idx = (X[:, 0] * (self.data.shape[0] - 1)).astype(np.int64)
        return self.data[idx] + X[:, 1]

    def shared_arrays(self) -> dict[str, Any]:
        return {"data": self.data}

    def shared_config(self) -> dict[str, Any] | None:
        return {"space": self.space.to_dict()}

    @classmethod
    def from_shared(cls, arrays: dict[str, Any], config: dict[str, Any]) -> DataProblem:
        import genepool as gp

        return cls(arrays["data"], gp.Space.from_dict(config["space"]))


class PickledDataProblem(DataProblem):
    """The same problem without the sharing protocol: pickled once per worker."""

    def shared_config(self) -> dict[str, Any] | None:
        return None


def _executor(cfg: dict[str, Any]) -> Any:
    kind, w = cfg["executor"], cfg.get("workers")
    forced = {"min_seconds": 0} if cfg.get("forced", True) else {}
    if kind == "processes":
        from genepool.evaluation import ProcessExecutor

        return ProcessExecutor(workers=w, **forced)
    if kind == "dask":
        from genepool.evaluation import DaskExecutor

        return DaskExecutor(workers=w, **forced)
    return "serial"


def _problem(cfg: dict[str, Any]) -> tuple[Any, Any, Any]:
    import numpy as np

    import genepool as gp

    if cfg["workload"] == "backtest":
        from genepool.backtest import StrategyProblem
        from genepool.backtest.data import synthetic_ohlcv

        close = synthetic_ohlcv(T_BARS, freq="1min", seed=SEED)["close"]
        prob = StrategyProblem(close, "rsi", rsi_method="sma")
        return prob, prob.space, prob.space.sample(cfg["N"], np.random.default_rng(SEED + 1))
    space = gp.Space.box(0.0, 1.0, 2)
    X = space.sample(cfg["N"], np.random.default_rng(SEED + 1))
    if cfg["workload"] == "data":
        data = np.random.default_rng(SEED).random(DATA_BYTES // 8)
        cls = DataProblem if cfg.get("shared", True) else PickledDataProblem
        return cls(data, space), space, X
    return python_fitness, space, X


def _tree_cpu() -> float:
    """CPU seconds (user + system) used so far by this process and all its descendants."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _set_threads(n: int | None) -> None:
    import numba

    numba.set_num_threads(n or numba.config.NUMBA_NUM_THREADS)


def _timing(on: bool) -> None:
    """Tell the parent's tree poller to pause (``on``) or resume: its smaps reads cost CPU that
    a timed section using both cores would share (``PAUSE_ENV`` names the flag file)."""
    flag = os.environ.get(PAUSE_ENV)
    if flag:
        if on:
            Path(flag).touch()
        else:
            Path(flag).unlink(missing_ok=True)


def child_evaluate(cfg: dict[str, Any]) -> dict[str, Any]:
    """Phase A: the configuration alone, its process tree polled from inside (memory). Phase B:
    ``repeats`` pairs of (serial with all numba threads, this configuration) alternated, so
    both see the same background load: speed-up = median of the pairs' ratios."""
    import genepool as gp

    prob, space, X = _problem(cfg)
    ex = _executor(cfg)
    one_thread = cfg["executor"] == "serial-1t"
    ev = gp.Evaluator(prob, space, cache=False, executor=ex)
    ref = gp.Evaluator(prob, space, cache=False)
    t0 = time.perf_counter()
    ref.evaluate(X[:16])  # loads the kernels here
    _set_threads(1 if one_thread else None)
    ev.evaluate(X[:16])  # pool / cluster start, problem shipped, kernels loaded in workers
    startup = time.perf_counter() - t0
    tasks0 = (ev.stats["executor"] or {}).get("tasks", 0)
    poller = TreePoller(os.getpid(), POLL_S, full=True)
    poller.start()
    t0 = time.perf_counter()
    y = ev.evaluate(X)
    alone = time.perf_counter() - t0
    poller.halt()
    _timing(True)
    digest = hashlib.sha256(y.tobytes()).hexdigest()
    times, serial_times, cpu, serial_cpu = [], [], [], []
    for _ in range(cfg["repeats"]):
        _set_threads(None)
        c0, t0 = _tree_cpu(), time.perf_counter()
        ref.evaluate(X)
        serial_times.append(time.perf_counter() - t0)
        serial_cpu.append(_tree_cpu() - c0)
        _set_threads(1 if one_thread else None)
        c0, t0 = _tree_cpu(), time.perf_counter()
        y = ev.evaluate(X)
        times.append(time.perf_counter() - t0)
        cpu.append(_tree_cpu() - c0)
        assert hashlib.sha256(y.tobytes()).hexdigest() == digest, "values changed"
    _timing(False)
    stats = ev.stats["executor"] or {}
    out = {
        "startup_s": startup,
        "alone_s": alone,
        "times": times,
        "serial_times": serial_times,
        "median_s": statistics.median(times),
        "serial_median_s": statistics.median(serial_times),
        "speedup_paired": statistics.median(s / t for s, t in zip(serial_times, times)),
        "cpu_s": statistics.median(cpu),
        "serial_cpu_s": statistics.median(serial_cpu),
        "digest": digest,
        "executor_stats": stats,
        "tasks_per_eval": (stats.get("tasks", 0) - tasks0) / (cfg["repeats"] + 1),
        "peak_inside": poller.peak,
        "note": getattr(ex, "plan_note", None),
    }
    ev.close()
    return out


def child_cheap(cfg: dict[str, Any]) -> dict[str, Any]:
    """``repeats`` pairs of whole runs (serial, this configuration), alternated; an executor
    object is reused, so runs after the first find its pool warm."""
    import numpy as np

    import genepool as gp

    ex = _executor(cfg)
    space = gp.Space.box(-5.12, 5.12, CHEAP_DIMS)

    def run(executor: Any) -> tuple[float, Any]:
        t0 = time.perf_counter()
        res = gp.minimize(
            gp.problems.rastrigin,
            gp.GA(space, CHEAP_POP, seed=SEED),
            generations=CHEAP_GENS,
            executor=executor,
            cache=False,
            progress=False,
        )
        return time.perf_counter() - t0, res

    walls, serial_walls, tasks = [], [], []
    digest = None
    _timing(True)  # all of it is timing
    for _ in range(cfg["repeats"]):
        s, ref = run("serial")
        before = ex.stats().get("tasks", 0) if not isinstance(ex, str) else 0
        w, res = run(ex)
        after = ex.stats().get("tasks", 0) if not isinstance(ex, str) else 0
        serial_walls.append(s)
        walls.append(w)
        tasks.append(after - before)
        assert np.array_equal(res.best_x, ref.best_x), "best differs from serial"
        digest = hashlib.sha256(res.best_x.tobytes()).hexdigest()
    ex_stats = None
    if not isinstance(ex, str):
        ex_stats = ex.stats()
        ex.close()
    warm = list(zip(walls, serial_walls, tasks))[1:] or list(zip(walls, serial_walls, tasks))
    per_task = [(w - s) / t for w, s, t in warm if t]
    return {
        "wall_s": statistics.median(walls),
        "walls": walls,
        "serial_walls": serial_walls,
        "speedup_paired": statistics.median(s / w for w, s in zip(walls, serial_walls)),
        "digest": digest,
        "tasks_per_run": tasks,
        "executor_stats": ex_stats,
        "started_pool": bool(ex_stats and ex_stats.get("tasks")),
        "start_s": (ex_stats or {}).get("start_s"),
        "overhead_per_task_s": statistics.median(per_task) if per_task else None,
    }


def child_main(raw: str) -> None:
    cfg = json.loads(raw)
    out = child_cheap(cfg) if cfg["workload"] == "cheap" else child_evaluate(cfg)
    print(MARK + json.dumps(out, default=str), flush=True)


# -- in the parent -----------------------------------------------------------------------------
SPIN = "s = 0.0\nfor k in range(6_000_000):\n    s += (0.3 * k - 0.1) % 7.0"


def effective_cores(n: int = 2) -> tuple[float, float, float]:
    """(one alone s, n at once s, effective cores): the same pure-Python loop (no genepool) in
    one process, then in ``n`` processes at once. Effective cores = n x alone / together: what
    the machine gives concurrent CPU-bound processes right now (n on idle cores)."""

    def spin(k: int) -> float:
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(k)]
        for p in procs:
            p.wait()
        return time.perf_counter() - t0

    alone, together = spin(1), spin(n)
    return alone, together, n * alone / together


def run_child(cfg: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)]
    t0 = time.perf_counter()
    pause = Path(tempfile.gettempdir()) / f"bench_parallel-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, PAUSE_ENV: str(pause)}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    poller = TreePoller(proc.pid, POLL_S, full=True, pause=pause)
    poller.start()
    try:
        stdout, stderr = proc.communicate(timeout=CHILD_TIMEOUT_S)
        error = None if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        error = f"timed out after {CHILD_TIMEOUT_S} s"
    poller.halt()
    pause.unlink(missing_ok=True)
    row: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(MARK):
            row = json.loads(line[len(MARK) :])
    if error or not row:
        row["error"] = (error or "no result") + ": " + " | ".join(stderr.strip().splitlines()[-3:])
    row.update(
        config=cfg,
        peak_tree=poller.peak,
        poll_samples=poller.samples,
        child_wall_s=time.perf_counter() - t0,
    )
    return row


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _name(cfg: dict[str, Any]) -> str:
    w = cfg.get("workers")
    name = cfg["executor"] + (f" x{w}" if w else "")
    if cfg["workload"] == "cheap" and cfg["executor"] != "serial":
        name += " (forced)" if cfg.get("forced", True) else " (default)"
    if cfg["workload"] == "data":
        name += " (shared memory)" if cfg.get("shared", True) else " (pickled per worker)"
    return name


def _mib(x: float | None) -> str:
    return "-" if not x else f"{x / MIB:,.0f}"


def _peaks(r: dict[str, Any]) -> dict[str, int]:
    """Memory peaks of the configuration alone (polled inside the child), else of the child."""
    return r.get("peak_inside") or r["peak_tree"]


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| workload | executor | median s | serial s (paired) | speed-up | startup s | identical "
        "| CPU ratio | tasks/eval | tree RSS MiB | tree USS MiB | tree PSS MiB | parent USS MiB "
        "| worker USS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cfg = r["config"]
        if r.get("error"):
            out.append(
                f"| {cfg['workload']} | {_name(cfg)} | error: {r['error'][:80]} |" + " - |" * 11
            )
            continue
        s = r.get("median_s", r.get("wall_s"))
        ref = statistics.median(r.get("serial_times") or r.get("serial_walls") or [float("nan")])
        tasks = f"{r['tasks_per_eval']:g}" if r.get("tasks_per_eval") else "-"
        ratio = f"{r['cpu_s'] / r['serial_cpu_s']:.2f}" if r.get("serial_cpu_s") else "-"
        pk = _peaks(r)
        out.append(
            f"| {cfg['workload']} | {_name(cfg)} | {s:.3f} | {ref:.3f} | "
            f"{r.get('speedup', 1.0):.2f}x | {r.get('startup_s', r.get('start_s')) or 0:.1f} | "
            f"{r.get('identical', '-')} | {ratio} | {tasks} | {_mib(pk['rss'])} | "
            f"{_mib(pk['uss'])} | "
            f"{_mib(pk['pss'])} | {_mib(pk['root_uss'])} | {_mib(pk['worker_uss'])} |"
        )
    return "\n".join(out)


def _find(rows: list[dict[str, Any]], workload: str, executor: str, **more: Any) -> Any:
    """The first row of that workload and executor whose config has ``more``."""
    for r in rows:
        cfg = r["config"]
        if cfg["workload"] == workload and cfg["executor"] == executor:
            if all(cfg.get(k, True if k == "forced" else None) == v for k, v in more.items()):
                return r
    return None


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for wl in ("backtest", "python"):
        for kind in ("processes", "dask"):
            r = _find(rows, wl, kind, workers=2)
            if r is None or "speedup" not in r:
                continue
            out.append(
                {
                    "target": f">= {TARGET_SPEEDUP}x with 2 workers ({wl}, {kind}) over serial",
                    "measured": f"{r['speedup']:.2f}x",
                    "met": r["speedup"] >= TARGET_SPEEDUP,
                }
            )
    auto = _find(rows, "cheap", "processes", forced=False)
    if auto and not auto.get("error"):
        ratio = 1.0 / auto["speedup_paired"]
        out.append(
            {
                "target": "cheap fitness never slower than serial (processes, default settings)",
                "measured": f"{ratio:.2f}x serial's wall time; pool started: {auto['started_pool']}",
                "met": ratio <= 1.10 and not auto["started_pool"],
            }
        )
    shared = _find(rows, "data", "processes", shared=True)
    pickled = _find(rows, "data", "processes", shared=False)
    if shared and pickled and not shared.get("error") and not pickled.get("error"):
        tree = _peaks(shared)["uss"] + DATA_BYTES  # the segment is in no one's USS: add it once
        private = _peaks(pickled)["uss"]  # parent + 2 workers, each with its own copy
        out.append(
            {
                "target": "tree USS with shared data (+ the data once) < parent + 2 x private "
                f"working set (the same pool with the {DATA_BYTES // MIB} MiB array pickled)",
                "measured": f"{tree / MIB:,.0f} MiB vs {private / MIB:,.0f} MiB",
                "met": tree < private,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller workloads")
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask rows")
    ap.add_argument("--repeats", type=int, default=5, help="timed evaluations per row")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"output (default {RESULTS})")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    with_dask = not args.no_dask and dist_version("distributed") is not None
    nb = N_BACKTEST_QUICK if args.quick else N_BACKTEST
    npy = N_PYTHON_QUICK if args.quick else N_PYTHON
    kinds = [("processes", 1), ("processes", 2)] + (
        [("dask", 1), ("dask", 2)] if with_dask else []
    )
    configs: list[dict[str, Any]] = []
    for wl, n in (("backtest", nb), ("python", npy)):
        base = {"workload": wl, "N": n, "repeats": args.repeats}
        configs.append({**base, "executor": "serial"})
        if wl == "backtest":
            configs.append({**base, "executor": "serial-1t"})
        configs += [{**base, "executor": k, "workers": w} for k, w in kinds]
    data = {"workload": "data", "N": 10_000, "repeats": 2, "executor": "processes", "workers": 2}
    configs += [{**data, "shared": True}, {**data, "shared": False}]
    cheap = {"workload": "cheap", "repeats": 3}
    configs += [
        {**cheap, "executor": "serial"},
        {**cheap, "executor": "processes", "workers": 2, "forced": False},
        {**cheap, "executor": "processes", "workers": 2, "forced": True},
    ] + ([{**cheap, "executor": "dask", "workers": 2, "forced": True}] if with_dask else [])

    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": len(os.sched_getaffinity(0)),
        "memory_total": psutil.virtual_memory().total,
        **{n: dist_version(n) for n in ("genepool", "numpy", "numba", "dask", "distributed")},
        "genepool_git": git_revision(),
        "loadavg_1min_before": os.getloadavg()[0],
        "seed": SEED,
        "repeats": args.repeats,
        "poll_interval_ms": POLL_S * 1000,
    }
    print(
        f"# bench_parallel: {env['cores']} cores, python {env['python']}, numba {env['numba']}, "
        f"dask {env['dask']}, genepool {env['genepool']} ({env['genepool_git']}), seed {SEED}"
    )
    alone, together, eff = effective_cores(env["cores"])
    env.update(spin_alone_s=alone, spin_together_s=together, effective_cores=eff)
    print(
        f"# machine check: a pure-Python loop takes {alone:.2f} s alone and {together:.2f} s in "
        f"{env['cores']} processes at once: {eff:.2f} effective cores for concurrent work now"
    )
    started = time.perf_counter()
    rows = []
    for cfg in configs:
        _log(f"{cfg['workload']}: {_name(cfg)} ...")
        r = run_child(cfg)
        _log(f"  {r.get('median_s', r.get('wall_s', r.get('error')))}")
        rows.append(r)
    for wl in ("backtest", "python", "cheap"):
        ref = _find(rows, wl, "serial")
        for r in rows:
            if r["config"]["workload"] == wl and not r.get("error"):
                r["speedup"] = r["speedup_paired"]
                if ref is not None and not ref.get("error"):
                    r["identical"] = "yes" if r["digest"] == ref["digest"] else "NO"
    env["loadavg_1min_after"] = os.getloadavg()[0]
    print()
    print(table(rows))
    print()
    for r in rows:
        if r.get("overhead_per_task_s") is not None:
            st = r["executor_stats"]
            print(
                f"cheap, {_name(r['config'])}: {r['tasks_per_run'][-1]} tasks per run, "
                f"{r['overhead_per_task_s'] * 1e3:.2f} ms extra wall per task over serial "
                f"(paired runs with a warm pool; the pool started in {st['start_s']:.1f} s); "
                f"empty-task round trip {st['task_overhead_s'] * 1e3:.2f} ms"
            )
    print()
    tg = targets(rows)
    print("| target | measured | met |")
    print("|---|---|---|")
    for t in tg:
        print(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    total = time.perf_counter() - started
    alone, together, eff = effective_cores(env["cores"])
    env.update(spin_alone_s_after=alone, spin_together_s_after=together, effective_cores_after=eff)
    print(
        f"# machine check after: {alone:.2f} s alone, {together:.2f} s {env['cores']} at once: "
        f"{eff:.2f} effective cores"
    )
    print(
        f"\n# total {total:.0f} s; 1-min load average {env['loadavg_1min_before']:.2f} before, "
        f"{env['loadavg_1min_after']:.2f} after (other processes on the machine skew timings)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "bench_parallel",
                "environment": env,
                "total_s": total,
                "rows": rows,
                "targets": tg,
            },
            indent=1,
            default=str,
        )
        + "\n"
    )
    print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
