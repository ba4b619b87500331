"""Backtest benchmark: N RSI strategies on T one-minute bars, genepool's fused kernels vs vectorbt.

The workload (the seed's): closes from ``synthetic_ohlcv(T, freq="1min", seed=SEED)``, N
strategies of the ``rsi`` family (window in [5, 50], lower in [10, 30], upper in [70, 90])
sampled from ``StrategyProblem(close, "rsi", fees=0.001, rsi_method="sma").space`` with a fixed
seed, so both libraries evaluate the same strategies:

- ``genepool``: ``prob.evaluate(X)`` (Sharpe ratio as fitness), the fused path: the RSI of each
  unique window once (a (U, T) table, U <= 46), then one numba kernel streaming over the bars
  with O(1) state per strategy. All N strategies in one call. One row per CPU kernel
  (``StrategyProblem(..., kernel=...)``, issue 19): ``simd`` (the lanes kernel, strategies of
  one indicator row advancing together bar by bar in SIMD lanes) and ``scalar`` (the older
  kernel, one strategy at a time, parallel over strategies; the oracle twin). After its timed
  runs, the first genepool child of each configuration checks that the two kernels' metrics
  (``prob.metrics_array``, every column) are bit-identical on the first min(N, 2000) strategies.
- ``vectorbt``: ``vbt.RSI.run(close, window=unique_windows, ewm=False)``, then per strategy
  column entries where the RSI crosses below ``lower`` (``prev >= lower and cur < lower``) and
  exits where it crosses above ``upper`` (``prev <= upper and cur > upper``), the rule of
  genepool's kernel and of ``strategies._cross_below/_cross_above``, then
  ``vbt.Portfolio.from_signals(close, entries, exits, init_cash=10_000, fees=0.001,
  freq="1min").sharpe_ratio()``, in chunks of 500 columns as users do (unchunked, N=10k at
  T=100k would need ~100 GiB of (T, N) arrays), with a ``gc.collect()`` after each chunk
  (vectorbt's Portfolio sits in reference cycles; without it chunks pile up until the cyclic
  GC runs and chunking does not bound memory).

Grid: T in {10k, 100k} x N in {100, 1k, 10k} (``--quick``: T=10k, N in {100, 1k}), for each
kernel of ``--kernels`` (default ``simd,scalar``) and vectorbt. Each
configuration of each library (and kernel) runs in a fresh interpreter (``sys.executable``), so its peak RSS is
its own; the parent polls the child's RSS with psutil every ~2 ms (it can miss spikes shorter
than that; the peak covers the whole child: imports, data, warm-up and the timed evaluations).
In the child, the numba kernels are first warmed up on a tiny problem (300 bars, 8 strategies):
that time is reported apart as JIT (genepool's kernels are ``cache=True``, so in a fresh child
this is mostly loading them from numba's on-disk cache; one extra genepool child with an empty
``NUMBA_CACHE_DIR`` measures a cold compile). Then ``--repeats`` (3) timed evaluations of the
real workload, of which the median is reported; vectorbt runs a single timed evaluation where it
is predicted to take more than 10 s. vectorbt is skipped where its estimated peak RSS (~106 bytes
per strategy-bar of a chunk, plus 2 for the signals, plus the RSI table and the interpreter)
exceeds 8 GiB or its estimated time exceeds 120 s, both extrapolated from the largest
configuration it ran (configurations run in increasing T x N). On the first chunk of each
vectorbt row, the child compares vectorbt's Sharpe ratios with genepool's
(``prob.metrics_array``, i.e. before the fitness replaces a strategy without trades by
-1e12): non-finite values must coincide and finite ones agree within 1e-9 relative.
When the grid skips vectorbt at T=100k x N=1k (its guard), that row is run anyway after the
grid: it is the denominator of the issue's ratio.

Throughput: strategies/s = N / median s; strategy-bars/s = N * T / median s; per core divides by
the cores this process may use (``os.sched_getaffinity``), for every row; "cores busy" is the
child's CPU time over wall time during the timed evaluations (vectorbt's simulation is serial).
Cycles per strategy-bar = CPU seconds of all the timed evaluations (every thread) x clock Hz /
(N * T * runs). The clock is the *nominal* frequency (``cpu MHz`` of /proc/cpuinfo, else
``psutil.cpu_freq().current``), recorded in the JSON: this VM exposes neither the turbo clock
nor hardware cycle counters, so the figure is CPU time in units of nominal cycles, not counted
cycles.

The issue's ratio (issue 19): throughput at T=100k of genepool on N=10k strategies over
vectorbt's on N=1k, (N_g / s_g) / (N_v / s_v), for each kernel; target >= 600x for ``simd``,
with >= 5e8 strategy-bars/s per core at T=100k x N=10k. simd/scalar: the scalar row's s/eval
over the simd row's, per configuration. GPU: read from benchmarks/results/bench_backtest_gpu.json
when benchmarks/bench_backtest_gpu.py has written it on a CUDA machine (another machine: its
figures are not from this run), else said to be not measured.
Seeds are fixed; other jobs on the machine skew timings (the 1-min load average is printed),
and so, by ~3-5 % on 2 cores, does the 2 ms RSS poller itself (measured: 1.96-2.01 s vs 1.92 s
with a 50 ms poll at T=100k x N=10k; peak RSS unchanged).

Usage::

    python benchmarks/bench_backtest.py [--quick] [--no-vectorbt] [--kernels simd,scalar]
        [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _common import POLL_S, dist_version, git_revision, run_polled

RESULTS = Path(__file__).resolve().parent / "results" / "bench_backtest.json"
GPU_RESULTS = RESULTS.parent / "bench_backtest_gpu.json"  # from bench_backtest_gpu.py
MARK = "@@bench_backtest "
SEED = 12345  # prices: synthetic_ohlcv(seed=SEED); strategies: default_rng(SEED + 1)
MIB = 2**20
GIB = 2**30
CHILD_TIMEOUT_S = 420
FEES = 0.001
INIT_CASH = 10_000.0
FREQ = "1min"
CHUNK = 500  # vectorbt columns per from_signals call
GRID_T = (10_000, 100_000)
GRID_N = (100, 1_000, 10_000)
QUICK_T = (10_000,)
QUICK_N = (100, 1_000)
WARM_T, WARM_N = 300, 8  # the tiny warm-up problem
VBT_BYTES_PER_SB = 106  # vectorbt peak per strategy-bar of a chunk (seed: 5.4 GiB at 100k x 500)
SIGNAL_BYTES_PER_SB = 2  # entries + exits, one bool each
MAX_UNIQUE_WINDOWS = 46  # window in [5, 50]
VBT_BASE_BYTES = 400 * MIB  # interpreter + pandas + numba + vectorbt, before the first chunk
VBT_MAX_BYTES = 8 * GIB
VBT_MAX_S = 120.0
VBT_ONE_RUN_S = 10.0  # a single timed vectorbt evaluation above this (predicted)
SHARPE_RTOL = 1e-9
TARGET_S = 1.5  # genepool at T=100k x N=10k, s per evaluation
TARGET_RSS_MIB = 300  # genepool peak RSS (whole process, from outside)
TARGET_SB_PER_CORE = 5e8  # genepool simd strategy-bars/s per core at T=100k x N=10k
TARGET_CONFIG = (100_000, 10_000)
KERNELS = ("simd", "scalar")  # StrategyProblem(kernel=...)
TARGET_KERNEL = "simd"  # issue 19's targets are for the lanes kernel
RATIO_T, RATIO_N_GENEPOOL, RATIO_N_VBT = 100_000, 10_000, 1_000  # the issue's ratio
TARGET_RATIO = 600.0  # x vectorbt's throughput (issue 19: twice the scalar kernel's ~300x)
KERNEL_CHECK_N = 2_000  # strategies compared bit for bit between the kernels


# -- in the child ------------------------------------------------------------------------------
def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _max_rss() -> int:
    """Peak RSS of this process so far, in bytes (Linux: ru_maxrss is in KiB)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _problem(T: int, N: int, seed: int = SEED, kernel: str = "simd") -> tuple[Any, Any, Any]:
    """(close Series, StrategyProblem, X of shape (N, 3)): the same in every child."""
    import numpy as np

    from genepool.backtest import StrategyProblem
    from genepool.backtest.data import synthetic_ohlcv

    close = synthetic_ohlcv(T, freq=FREQ, seed=seed)["close"]
    prob = StrategyProblem(close, "rsi", fees=FEES, rsi_method="sma", kernel=kernel)
    X = prob.space.sample(N, np.random.default_rng(seed + 1))
    return close, prob, X


def _timed(fn: Any, repeats: int) -> tuple[list[float], float]:
    """Wall times of ``repeats`` calls and the CPU seconds (all threads) they used."""
    times = []
    cpu0 = time.process_time()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times, time.process_time() - cpu0


def kernels_bit_identical(close: Any, X: Any, n: int) -> dict[str, Any]:
    """Metrics of the simd and the scalar kernel on ``X[:n]``, compared bit for bit (every
    column; a NaN equals a NaN only with the same bits)."""
    import numpy as np

    from genepool.backtest import StrategyProblem

    got = {
        k: StrategyProblem(close, "rsi", fees=FEES, rsi_method="sma", kernel=k).metrics_array(
            X[:n]
        )
        for k in KERNELS
    }
    a, b = got["simd"], got["scalar"]
    same = a.view(np.int64) == b.view(np.int64)
    rows_differ = int((~same.all(axis=1)).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        both = np.isfinite(a) & np.isfinite(b)
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(both & (scale > 0), np.abs(a - b) / np.where(scale > 0, scale, 1.0), 0.0)
    from genepool.backtest._sim_nb import METRICS

    cols = [METRICS[j] for j in np.flatnonzero(~same.all(axis=0))]
    return {
        "compared": int(n),
        "bit_identical": rows_differ == 0,
        "rows_differ": rows_differ,
        "columns_differ": cols,
        "max_rel_diff": float(rel.max()) if rel.size else 0.0,
    }


def child_genepool(cfg: dict[str, Any]) -> dict[str, Any]:
    kernel = cfg["kernel"]
    t0 = time.perf_counter()
    _, warm, Xw = _problem(WARM_T, WARM_N, kernel=kernel)
    warm.evaluate(Xw)  # loads (or compiles) the RSI table and the fused kernel
    jit_s = time.perf_counter() - t0
    close, prob, X = _problem(cfg["T"], cfg["N"], kernel=kernel)
    rss_setup = _rss()
    times, cpu_s = _timed(lambda: prob.evaluate(X), cfg["repeats"])
    out: dict[str, Any] = {
        "jit_s": jit_s,
        "rss_setup": rss_setup,
        "times": times,
        "cpu_s": cpu_s,
        "numba_threads": _numba_threads(),
    }
    if cfg.get("check_kernels"):  # untimed: simd against scalar, bit for bit
        before = _max_rss()
        check = kernels_bit_identical(close, X, min(cfg["N"], KERNEL_CHECK_N))
        # the check must not raise the child's peak RSS (the row's memory figure)
        check.update(max_rss_before=before, max_rss_after=_max_rss())
        out["kernel_check"] = check
    # Diagnostic, after the timed runs: the indicator tables alone (decode + unique RSI rows).
    try:
        params = prob.space.decode(X)
        from genepool.backtest.stream import table_stream

        def one_pass():  # every bar in one block
            stream = table_stream(prob.family.name, params, prob.options)
            return stream.tables(prob.data, 0, 0, prob.n_bars)

        tt, _ = _timed(one_pass, 3)
        # distinct arrays only (A and B are one array for rsi)
        arrays = {id(a): a for a in one_pass()}
        out.update(
            tables_s=statistics.median(tt),
            tables_bytes=int(sum(a.nbytes for a in arrays.values())),
        )
    except Exception as exc:  # private API: a diagnostic only
        out["tables_error"] = repr(exc)
    return out


def _numba_threads() -> int | None:
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:
        return None


def vbt_sharpe(vbt: Any, close: Any, params: dict[str, Any], chunk: int = CHUNK) -> Any:
    """Sharpe ratio of each strategy with vectorbt: RSI per unique window, then signals and
    ``Portfolio.from_signals`` per chunk of ``chunk`` strategy columns."""
    import numpy as np

    window = np.asarray(params["window"], dtype=np.int64)
    lower = np.asarray(params["lower"], dtype=np.float64)
    upper = np.asarray(params["upper"], dtype=np.float64)
    rsi = vbt.RSI.run(close, window=np.unique(window).tolist(), ewm=False).rsi
    table = rsi.to_numpy()
    cols = rsi.columns.get_level_values("rsi_window").to_numpy().astype(np.int64)
    order = np.argsort(cols)
    row = order[np.searchsorted(cols[order], window)]  # column of each strategy's window
    out = np.empty(window.shape[0])
    for s in range(0, window.shape[0], chunk):
        r = table[:, row[s : s + chunk]]
        prev, cur = r[:-1], r[1:]
        lo, up = lower[s : s + chunk], upper[s : s + chunk]
        entries = np.zeros(r.shape, dtype=bool)
        exits = np.zeros(r.shape, dtype=bool)
        with np.errstate(invalid="ignore"):  # NaN warm-up: every comparison is False
            entries[1:] = (prev >= lo) & (cur < lo)
            exits[1:] = (prev <= up) & (cur > up)
        pf = vbt.Portfolio.from_signals(
            close, entries, exits, init_cash=INIT_CASH, fees=FEES, freq=FREQ
        )
        out[s : s + chunk] = pf.sharpe_ratio().to_numpy()
        # vectorbt's Portfolio sits in reference cycles: without a collection each chunk's
        # arrays live on until the cyclic GC happens to run (2.5 GiB instead of 1.0 GiB at
        # T=10k, N=1k), and chunking would not bound memory.
        del r, prev, cur, entries, exits, pf
        gc.collect()
    return out


def _compare(ours: Any, theirs: Any) -> dict[str, Any]:
    """Max relative difference over finite pairs; non-finite values must coincide."""
    import numpy as np

    fin_a, fin_b = np.isfinite(ours), np.isfinite(theirs)
    same_nonfinite = bool(
        np.array_equal(fin_a, fin_b)
        and np.array_equal(np.isnan(ours), np.isnan(theirs))
        and np.array_equal(ours[np.isinf(ours)], theirs[np.isinf(theirs)])
    )
    both = fin_a & fin_b
    diff = np.abs(ours[both] - theirs[both])
    scale = np.maximum(np.abs(ours[both]), np.abs(theirs[both]))
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
    max_rel = float(rel.max()) if rel.size else 0.0
    return {
        "compared": int(ours.size),
        "finite": int(both.sum()),
        "nonfinite": int((~fin_a).sum()),
        "nonfinite_coincide": same_nonfinite,
        "max_rel_diff": max_rel,
        "ok": same_nonfinite and max_rel <= SHARPE_RTOL,
    }


def child_vectorbt(cfg: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import vectorbt as vbt

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    close_w, warm, Xw = _problem(WARM_T, WARM_N)
    vbt_sharpe(vbt, close_w, warm.space.decode(Xw))  # compiles vectorbt's kernels
    jit_s = time.perf_counter() - t0
    close, prob, X = _problem(cfg["T"], cfg["N"])
    params = prob.space.decode(X)
    rss_setup = _rss()
    result: list[Any] = []
    times, cpu_s = _timed(lambda: result.append(vbt_sharpe(vbt, close, params)), cfg["repeats"])
    # Untimed: genepool's Sharpe on the first chunk's strategies (the raw metric, not fitness).
    from genepool.backtest._sim_nb import METRICS

    n = min(CHUNK, cfg["N"])
    ours = prob.metrics_array(X[:n])[:, METRICS.index("sharpe_ratio")]
    return {
        "import_s": import_s,
        "jit_s": jit_s,
        "rss_setup": rss_setup,
        "times": times,
        "cpu_s": cpu_s,
        "check": _compare(ours, result[-1][:n]),
    }


CHILDREN = {"genepool": child_genepool, "vectorbt": child_vectorbt}


def child_main(raw: str) -> None:
    cfg = json.loads(raw)
    out = CHILDREN[cfg["library"]](cfg)
    print(MARK + json.dumps(out, default=str), flush=True)


# -- in the parent -----------------------------------------------------------------------------
def run_child(
    cfg: dict[str, Any], env: dict[str, str] | None = None, timeout: float = CHILD_TIMEOUT_S
) -> dict[str, Any]:
    """Run one configuration in a fresh interpreter, polling its RSS from here."""
    load = os.getloadavg()[0]
    row = run_polled(__file__, cfg, MARK, timeout, env={"PYTHONWARNINGS": "ignore", **(env or {})})
    row.update(library=cfg["library"], T=cfg["T"], N=cfg["N"], loadavg_1min_at_start=load)
    if "kernel" in cfg:
        row["kernel"] = cfg["kernel"]
    if row.get("times"):
        row["median_s"] = statistics.median(row["times"])
        row["cores_busy"] = row["cpu_s"] / sum(row["times"])
    return row


def _cores() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def nominal_clock() -> tuple[float | None, str]:
    """(Hz, where it came from): the mean ``cpu MHz`` of /proc/cpuinfo, else psutil's
    ``cpu_freq().current``. Nominal: this VM shows neither turbo nor cycle counters."""
    try:
        mhz = [
            float(line.split(":", 1)[1])
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("cpu MHz")
        ]
        if mhz:
            return statistics.mean(mhz) * 1e6, "/proc/cpuinfo cpu MHz (nominal)"
    except (OSError, ValueError):
        pass
    try:
        freq = psutil.cpu_freq()
        if freq is not None and freq.current > 0:
            return freq.current * 1e6, "psutil.cpu_freq().current (nominal)"
    except (OSError, NotImplementedError):
        pass
    return None, "unknown"


def add_rates(row: dict[str, Any], cores: int, hz: float | None) -> None:
    """Throughputs and cycles per strategy-bar of a row that ran."""
    if not row.get("median_s"):
        return
    s, sb = row["median_s"], row["N"] * row["T"]
    row["strategies_per_s"] = row["N"] / s
    row["strategy_bars_per_s"] = sb / s
    row["strategy_bars_per_s_per_core"] = sb / s / cores
    if hz is not None:
        row["cycles_per_strategy_bar"] = row["cpu_s"] * hz / (sb * len(row["times"]))


def _find(
    rows: list[dict[str, Any]], library: str, T: int, N: int, kernel: str | None = None
) -> dict[str, Any] | None:
    for r in rows:
        if (r["library"], r["T"], r["N"], r.get("kernel")) == (library, T, N, kernel):
            return r
    return None


def cross_ratios(rows: list[dict[str, Any]]) -> None:
    """Per configuration: simd/scalar speed-up (on the simd row) and vectorbt's seconds over
    each kernel's (on the vectorbt row; estimated where vectorbt was skipped)."""
    for r in rows:
        T, N = r["T"], r["N"]
        if r["library"] == "genepool" and r.get("kernel") == "simd" and r.get("median_s"):
            scalar = _find(rows, "genepool", T, N, "scalar")
            if scalar is not None and scalar.get("median_s"):
                r["simd_speedup_over_scalar"] = scalar["median_s"] / r["median_s"]
        if r["library"] != "vectorbt":
            continue
        v_s, key = r.get("median_s"), "ratio"
        if not v_s:
            v_s, key = r.get("estimated_s"), "ratio_estimated"
        if not v_s:
            continue
        r[key] = {
            g["kernel"]: v_s / g["median_s"]
            for g in rows
            if g["library"] == "genepool" and (g["T"], g["N"]) == (T, N) and g.get("median_s")
        }


def issue_ratio(rows: list[dict[str, Any]], kernels: list[str]) -> dict[str, Any]:
    """Issue 19's ratio: at T=100k, genepool's throughput on N=10k strategies over vectorbt's on
    N=1k, (N_g / s_g) / (N_v / s_v), for each kernel (None where a row did not run)."""
    v = _find(rows, "vectorbt", RATIO_T, RATIO_N_VBT)
    v_s = v.get("median_s") if v else None
    out: dict[str, Any] = {"vectorbt_s": v_s, "vectorbt_runs": len(v["times"]) if v and v_s else 0}
    for k in kernels:
        g = _find(rows, "genepool", RATIO_T, RATIO_N_GENEPOOL, k)
        g_s = g.get("median_s") if g else None
        ratio = (RATIO_N_GENEPOOL / g_s) / (RATIO_N_VBT / v_s) if g_s and v_s else None
        out[k] = {"genepool_s": g_s, "ratio": ratio}
    return out


def vbt_estimate(T: int, N: int, done: list[dict[str, Any]]) -> tuple[float | None, int]:
    """Predicted seconds (linear in strategy-bars from the largest vectorbt row that ran) and
    peak bytes (per-chunk working set + RSI table + interpreter; bytes per strategy-bar: 108, or
    what the largest row measured if more) of one vectorbt evaluation."""
    chunk = min(N, CHUNK)
    per_sb = float(VBT_BYTES_PER_SB + SIGNAL_BYTES_PER_SB)
    ran = [r for r in done if r.get("median_s")]
    ref = max(ran, key=lambda r: r["T"] * r["N"]) if ran else None
    if ref is not None:  # calibrate with what the largest row measured, if it was more
        measured = (ref["peak_rss_outside"] - ref["rss_setup"]) / (ref["T"] * min(ref["N"], CHUNK))
        per_sb = max(per_sb, measured)
    nbytes = int(VBT_BASE_BYTES + per_sb * T * chunk + 8 * MAX_UNIQUE_WINDOWS * T)
    if ref is None:
        return None, nbytes
    return ref["median_s"] * (T * N) / (ref["T"] * ref["N"]), nbytes


def gpu_summary(path: Path = GPU_RESULTS) -> dict[str, Any]:
    """What benchmarks/bench_backtest_gpu.py measured on a CUDA machine, if it wrote ``path``."""
    if not path.exists():
        return {
            "measured": False,
            "line": "GPU: not measured on this machine (no CUDA device); run "
            "benchmarks/bench_backtest_gpu.py on one",
        }
    try:
        data = json.loads(path.read_text())
        t, env = data["timing"], data.get("environment", {})
        rate, over_cpu = float(t["gpu_strategy_bars_per_s"]), float(t["gpu_over_cpu"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return {"measured": False, "line": f"GPU: {path} unreadable ({exc!r})"}
    simulated = bool(env.get("simulated"))
    line = (
        f"GPU ({env.get('gpu', 'CUDA simulator' if simulated else '?')}, "
        f"{env.get('when', '?')}, from {path.name}; another run, not this one): "
        f"{t['strategies']:,} strategies x {t['bars']:,} bars in {t['gpu_s']:.3f} s = "
        f"{rate:.3g} strategy-bars/s, {over_cpu:.1f}x the CPU kernel on that machine "
        f"({t['cpu_threads']} threads, {t['cpu_strategy_bars_per_s']:.3g} strategy-bars/s)"
        + (" -- SIMULATED: timings meaningless" if simulated else "")
    )
    return {
        "measured": not simulated,
        "simulated": simulated,
        "path": str(path),
        "strategy_bars_per_s": rate,
        "gpu_over_cpu": over_cpu,
        "line": line,
    }


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fmt_s(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"


def _engine(r: dict[str, Any]) -> str:
    return f"genepool {r['kernel']}" if r["library"] == "genepool" else r["library"]


def _ratios(d: dict[str, float] | None, prefix: str = "") -> str:
    if not d:
        return "-"
    return ", ".join(f"{prefix}{v:,.0f}x {k}" for k, v in d.items())


def _check_cell(r: dict[str, Any]) -> str:
    if "check" in r:  # vectorbt's Sharpe against genepool's
        c = r["check"]
        return (
            f"Sharpe {c['max_rel_diff']:.1e} ({'ok' if c['ok'] else 'FAIL'}; "
            f"{c['finite']}/{c['compared']} finite"
            + ("" if c["nonfinite_coincide"] else ", non-finite differ")
            + ")"
        )
    if "kernel_check" in r:  # simd against scalar
        c = r["kernel_check"]
        if c["bit_identical"]:
            return f"simd == scalar bit for bit ({c['compared']:,})"
        return (
            f"simd != scalar: {c['rows_differ']}/{c['compared']} rows "
            f"({', '.join(c['columns_differ'])}; max rel {c['max_rel_diff']:.1e})"
        )
    return "-"


HEADER = (
    "engine",
    "T",
    "N",
    "s/eval",
    "runs",
    "strategies/s",
    "strategy-bars/s",
    "per core",
    "cores busy",
    "cycles/strategy-bar",
    "peak RSS MiB (outside)",
    "RSS after setup MiB",
    "JIT s (apart)",
    "simd/scalar",
    "vectorbt s / genepool s",
    "check",
)


def _row_cells(r: dict[str, Any]) -> list[str]:
    T, N = r["T"], r["N"]
    first = [_engine(r), f"{T:,}", f"{N:,}"]
    if r.get("skipped"):
        est = _ratios(r.get("ratio_estimated"), "~")
        return [*first, r["skipped"], *["-"] * 10, est + (" (est.)" if est != "-" else ""), "-"]
    if r.get("error") or not r.get("median_s"):
        return [*first, "error: " + r.get("error", "?")[:100], *["-"] * 12]
    runs = len(r["times"])
    cyc = r.get("cycles_per_strategy_bar")
    speedup = r.get("simd_speedup_over_scalar")
    return [
        *first,
        _fmt_s(r["median_s"]),
        f"{runs} ({'median' if runs > 1 else 'single run'})"
        + (" (run despite the guard)" if r.get("despite_guard") else ""),
        f"{r['strategies_per_s']:,.0f}",
        f"{r['strategy_bars_per_s']:.3g}",
        f"{r['strategy_bars_per_s_per_core']:.3g}",
        f"{r['cores_busy']:.2f}",
        "-" if cyc is None else f"{cyc:.3g}",
        f"{r['peak_rss_outside'] / MIB:,.0f}",
        f"{r['rss_setup'] / MIB:,.0f}",
        f"{r['jit_s']:.2f}",
        "-" if speedup is None else f"{speedup:.2f}x",
        _ratios(r.get("ratio")),
        _check_cell(r),
    ]


def table(rows: list[dict[str, Any]], cores: int) -> str:
    header = [h if h != "per core" else f"per core ({cores})" for h in HEADER]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_row_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def targets(
    rows: list[dict[str, Any]], cores: int, kernels: list[str], ratio: dict[str, Any]
) -> list[dict[str, Any]]:
    """Issue 19's targets (simd kernel), then the older ones (every kernel that ran)."""
    where = f"T={TARGET_CONFIG[0]:,} x N={TARGET_CONFIG[1]:,}"
    out: list[dict[str, Any]] = []
    k = TARGET_KERNEL
    if k in kernels:
        r = ratio.get(k, {}).get("ratio")
        out.append(
            {
                "target": f"genepool {k} >= {TARGET_RATIO:.0f}x vectorbt's throughput "
                f"(T={RATIO_T:,}, genepool N={RATIO_N_GENEPOOL:,}, vectorbt N={RATIO_N_VBT:,})",
                "measured": "not run" if r is None else f"{r:,.0f}x",
                "met": None if r is None else r >= TARGET_RATIO,
            }
        )
        big = _find(rows, "genepool", *TARGET_CONFIG, k)
        pc = big.get("strategy_bars_per_s_per_core") if big else None
        out.append(
            {
                "target": f"genepool {k} >= {TARGET_SB_PER_CORE:.0e} strategy-bars/s per core "
                f"({where}, {cores} cores)",
                "measured": "not run" if pc is None else f"{pc:.3g}",
                "met": None if pc is None else pc >= TARGET_SB_PER_CORE,
            }
        )
    for k in kernels:
        big = _find(rows, "genepool", *TARGET_CONFIG, k)
        s = big.get("median_s") if big else None
        out.append(
            {
                "target": f"genepool {k} {where} <= {TARGET_S} s per evaluation",
                "measured": "not run" if s is None else f"{s:.3f} s",
                "met": None if s is None else s <= TARGET_S,
            }
        )
        ours = [
            r
            for r in rows
            if r["library"] == "genepool" and r.get("kernel") == k and r.get("times")
        ]
        if ours:
            worst = max(ours, key=lambda r: r["peak_rss_outside"])
            mib = worst["peak_rss_outside"] / MIB
            out.append(
                {
                    "target": f"genepool {k} peak RSS <= {TARGET_RSS_MIB} MiB (whole child, "
                    "every row)",
                    "measured": f"{mib:,.0f} MiB max (T={worst['T']:,}, N={worst['N']:,})",
                    "met": mib <= TARGET_RSS_MIB,
                }
            )
    return out


def _parse_kernels(text: str) -> list[str]:
    names = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in names if k not in KERNELS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"--kernels: expected a comma-separated subset of {','.join(KERNELS)}, got {text!r}"
        )
    return list(dict.fromkeys(names))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="T=10k, N in {100, 1k} only")
    ap.add_argument("--no-vectorbt", action="store_true", help="genepool rows only")
    ap.add_argument(
        "--kernels",
        type=_parse_kernels,
        default=list(KERNELS),
        help="genepool CPU kernels to time, comma-separated (default simd,scalar)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="timed evaluations per row")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"output (default {RESULTS})")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0

    kernels: list[str] = args.kernels
    grid_t, grid_n = (QUICK_T, QUICK_N) if args.quick else (GRID_T, GRID_N)
    configs = sorted(((T, N) for T in grid_t for N in grid_n), key=lambda c: (c[0] * c[1], c))
    with_vbt = not args.no_vectorbt and dist_version("vectorbt") is not None
    cores = _cores()
    hz, clock_source = nominal_clock()
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": cores,
        "clock_hz_nominal": hz,
        "clock_source": clock_source,
        "memory_total": psutil.virtual_memory().total,
        **{
            name: dist_version(name)
            for name in ("genepool", "numpy", "numba", "pandas", "vectorbt")
        },
        "genepool_git": git_revision(),
        "loadavg_1min_before": os.getloadavg()[0],
        "seed": SEED,
        "repeats": args.repeats,
        "kernels": kernels,
        "chunk": CHUNK,
        "poll_interval_ms": POLL_S * 1000,
    }
    clock = "clock unknown" if hz is None else f"{hz / 1e9:.3f} GHz nominal"
    print(
        f"# bench_backtest: rsi family (sma RSI), fees {FEES}, {FREQ} bars, seed {SEED}, "
        f"{cores} cores ({clock}), kernels {','.join(kernels)}, python {env['python']}, "
        f"numpy {env['numpy']}, numba {env['numba']}, genepool {env['genepool']} "
        f"({env['genepool_git']}), vectorbt {env['vectorbt']}"
    )
    if not args.no_vectorbt and not with_vbt:
        print("# vectorbt not installed: its rows are skipped")

    started = time.perf_counter()
    # Prime numba's on-disk cache (a fresh checkout compiles here, not in the first row): a child
    # per kernel on the warm-up problem only, not reported in the table.
    primed: dict[str, Any] = {}
    for kernel in kernels:
        _log(f"genepool {kernel}: priming numba's cache ...")
        c = run_child(
            {"library": "genepool", "kernel": kernel, "T": WARM_T, "N": WARM_N, "repeats": 1}
        )
        primed[kernel] = c.get("jit_s", c.get("error"))
    env["cache_prime_jit_s"] = primed
    rows: list[dict[str, Any]] = []
    vbt_done: list[dict[str, Any]] = []
    for T, N in configs:  # both libraries at one configuration close in time
        for i, kernel in enumerate(kernels):
            _log(f"genepool {kernel} T={T:,} N={N:,} ...")
            cfg = {"library": "genepool", "kernel": kernel, "T": T, "N": N}
            g = run_child({**cfg, "repeats": args.repeats, "check_kernels": i == 0})
            _log(f"  {g.get('median_s', g.get('error'))}")
            rows.append(g)
        if not with_vbt:
            continue
        est_s, est_bytes = vbt_estimate(T, N, vbt_done)
        base = {"library": "vectorbt", "T": T, "N": N}
        if (est_s is not None and est_s > VBT_MAX_S) or est_bytes > VBT_MAX_BYTES:
            shown = "?" if est_s is None else f"{est_s:,.0f}"
            r = {
                **base,
                "skipped": f"skipped (estimated {shown} s / {est_bytes / GIB:.1f} GiB)",
                "estimated_s": est_s,
                "estimated_bytes": est_bytes,
            }
            _log(f"vectorbt T={T:,} N={N:,}: {r['skipped']}")
            rows.append(r)
            continue
        reps = 1 if est_s is not None and est_s > VBT_ONE_RUN_S else args.repeats
        _log(f"vectorbt T={T:,} N={N:,} ({reps} timed, estimated {est_s} s) ...")
        v = run_child({**base, "repeats": reps})
        v.update(estimated_s=est_s, estimated_bytes=est_bytes)
        _log(f"  {v.get('median_s', v.get('error'))}")
        rows.append(v)
        vbt_done.append(v)

    # The issue's ratio needs vectorbt at T=100k x N=1k: run it once even if the guard skipped it.
    ratio_row = _find(rows, "vectorbt", RATIO_T, RATIO_N_VBT)
    if with_vbt and ratio_row is not None and ratio_row.get("skipped"):
        _log(f"vectorbt T={RATIO_T:,} N={RATIO_N_VBT:,} (1 timed, for the issue's ratio) ...")
        v = run_child({"library": "vectorbt", "T": RATIO_T, "N": RATIO_N_VBT, "repeats": 1})
        v.update(
            estimated_s=ratio_row.get("estimated_s"),
            estimated_bytes=ratio_row.get("estimated_bytes"),
            despite_guard=ratio_row["skipped"],
        )
        _log(f"  {v.get('median_s', v.get('error'))}")
        rows[rows.index(ratio_row)] = v

    # A cold compile: genepool's kernels with an empty numba cache (what a first install pays).
    T0, N0 = configs[0]
    cold: dict[str, dict[str, Any]] = {}
    for kernel in kernels:
        with tempfile.TemporaryDirectory(prefix="bench_backtest_numba_") as cache_dir:
            _log(f"genepool {kernel} cold compile (empty NUMBA_CACHE_DIR) ...")
            cold[kernel] = run_child(
                {"library": "genepool", "kernel": kernel, "T": T0, "N": N0, "repeats": 1},
                env={"NUMBA_CACHE_DIR": cache_dir},
            )
    total = time.perf_counter() - started
    env["loadavg_1min_after"] = os.getloadavg()[0]

    for r in rows:
        add_rates(r, cores, hz)
    cross_ratios(rows)
    ratio = issue_ratio(rows, kernels)
    gpu = gpu_summary()

    print()
    print(table(rows, cores))
    print()
    print(
        "s/eval: median wall seconds of one evaluation of all N strategies (runs: how many timed "
        "evaluations; vectorbt predicted above "
        f"{VBT_ONE_RUN_S:.0f} s gets a single run). per core: strategy-bars/s / {cores} for "
        "every row. cores busy: CPU s / wall s of the timed runs. cycles/strategy-bar: CPU s of "
        f"the timed runs x {clock} / (N x T x runs) (nominal clock: no turbo, no hardware "
        "counters in this VM). peak RSS: the whole child "
        "(interpreter, imports, data, warm-up, evaluations) polled from outside every "
        f"~{POLL_S * 1000:.0f} ms. JIT: warm-up on {WARM_T} bars x {WARM_N} strategies, not "
        f"timed (genepool: numba cache load). simd/scalar: the scalar row's s/eval over the "
        f"simd row's. vectorbt: chunks of {CHUNK} columns; Sharpe "
        f"compared with genepool's on the first {CHUNK} strategies (tolerance {SHARPE_RTOL:g}); "
        f"genepool: simd metrics against scalar, bit for bit, on the first "
        f"min(N, {KERNEL_CHECK_N:,}) strategies."
    )
    diag = [r for r in rows if r.get("tables_s") is not None and r.get("kernel") == kernels[0]]
    if diag:
        print(
            "genepool indicator tables (decode + unique RSI rows) within an evaluation "
            f"({kernels[0]} rows): "
            + ", ".join(
                f"T={r['T']:,} N={r['N']:,}: {r['tables_s'] * 1e3:.1f} ms of "
                f"{r['median_s'] * 1e3:.1f} ms ({r['tables_bytes'] / MIB:.1f} MiB)"
                for r in diag
            )
        )
    for kernel in kernels:
        warm_jit = [
            r["jit_s"] for r in rows if r.get("kernel") == kernel and r.get("jit_s") is not None
        ]
        c = cold[kernel]
        if c.get("jit_s") is not None and warm_jit:
            print(
                f"genepool {kernel} cold compile (empty NUMBA_CACHE_DIR): {c['jit_s']:.1f} s; "
                f"warm (numba cache load) median {statistics.median(warm_jit):.2f} s"
            )
        else:
            print(f"genepool {kernel} cold compile: {c.get('error', '?')}")
    loads = [r["loadavg_1min_at_start"] for r in rows if "loadavg_1min_at_start" in r]
    if loads:
        print(
            f"1-min load average at the start of each child: {min(loads):.2f} .. {max(loads):.2f}"
        )

    print()
    where = f"T={RATIO_T:,}: genepool N={RATIO_N_GENEPOOL:,} vs vectorbt N={RATIO_N_VBT:,}"
    if ratio["vectorbt_s"] is None:
        why = "--quick" if RATIO_T not in grid_t else "vectorbt did not run"
        print(f"issue 19 ratio ({where}): not measured ({why})")
    else:
        for kernel in kernels:
            g_s, r = ratio[kernel]["genepool_s"], ratio[kernel]["ratio"]
            if r is None:
                print(f"issue 19 ratio, {kernel} ({where}): not measured")
                continue
            print(
                f"issue 19 ratio, {kernel} ({where}): ({RATIO_N_GENEPOOL:,} / {g_s:.3f} s) / "
                f"({RATIO_N_VBT:,} / {ratio['vectorbt_s']:.2f} s) = {r:,.0f}x"
            )
    print(gpu["line"])
    print()
    tg = targets(rows, cores, kernels, ratio)
    print("| target | measured | met |")
    print("|---|---|---|")
    for t in tg:
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "NO")
        print(f"| {t['target']} | {t['measured']} | {met} |")
    print(
        f"\n# total {total:.0f} s; 1-min load average {env['loadavg_1min_before']:.2f} before, "
        f"{env['loadavg_1min_after']:.2f} after (other processes on the machine skew timings)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "bench_backtest",
                "environment": env,
                "total_s": total,
                "rows": rows,
                "cold_compile": cold,
                "issue_ratio": ratio,
                "gpu": gpu,
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
