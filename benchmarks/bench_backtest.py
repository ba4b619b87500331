"""Backtest benchmark: N RSI strategies on T one-minute bars, genepool's fused kernel vs vectorbt.

The workload (the seed's): closes from ``synthetic_ohlcv(T, freq="1min", seed=SEED)``, N
strategies of the ``rsi`` family (window in [5, 50], lower in [10, 30], upper in [70, 90])
sampled from ``StrategyProblem(close, "rsi", fees=0.001, rsi_method="sma").space`` with a fixed
seed, so both libraries evaluate the same strategies:

- ``genepool``: ``prob.evaluate(X)`` (Sharpe ratio as fitness), the fused path: the RSI of each
  unique window once (a (U, T) table, U <= 46), then one numba kernel, parallel over strategies,
  streaming over the bars with O(1) state per strategy. All N strategies in one call.
- ``vectorbt``: ``vbt.RSI.run(close, window=unique_windows, ewm=False)``, then per strategy
  column entries where the RSI crosses below ``lower`` (``prev >= lower and cur < lower``) and
  exits where it crosses above ``upper`` (``prev <= upper and cur > upper``), the rule of
  genepool's kernel and of ``strategies._cross_below/_cross_above``, then
  ``vbt.Portfolio.from_signals(close, entries, exits, init_cash=10_000, fees=0.001,
  freq="1min").sharpe_ratio()``, in chunks of 500 columns as users do (unchunked, N=10k at
  T=100k would need ~100 GiB of (T, N) arrays), with a ``gc.collect()`` after each chunk
  (vectorbt's Portfolio sits in reference cycles; without it chunks pile up until the cyclic
  GC runs and chunking does not bound memory).

Grid: T in {10k, 100k} x N in {100, 1k, 10k} (``--quick``: T=10k, N in {100, 1k}). Each
configuration of each library runs in a fresh interpreter (``sys.executable``), so its peak RSS is
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

Throughput: strategies/s = N / median s; strategy-bars/s = N * T / median s; per core divides by
the cores this process may use (``os.sched_getaffinity``), for every row; "cores busy" is the
child's CPU time over wall time during the timed evaluations (vectorbt's simulation is serial).
Seeds are fixed; other jobs on the machine skew timings (the 1-min load average is printed),
and so, by ~3-5 % on 2 cores, does the 2 ms RSS poller itself (measured: 1.96-2.01 s vs 1.92 s
with a 50 ms poll at T=100k x N=10k; peak RSS unchanged).

Usage::

    python benchmarks/bench_backtest.py [--quick] [--no-vectorbt] [--repeats 3] [--json PATH]
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
TARGET_SB_PER_CORE = 5e8  # genepool strategy-bars/s per core at T=100k x N=10k
TARGET_CONFIG = (100_000, 10_000)


# -- in the child ------------------------------------------------------------------------------
def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _problem(T: int, N: int, seed: int = SEED) -> tuple[Any, Any, Any]:
    """(close Series, StrategyProblem, X of shape (N, 3)): the same in every child."""
    import numpy as np

    from genepool.backtest import StrategyProblem
    from genepool.backtest.data import synthetic_ohlcv

    close = synthetic_ohlcv(T, freq=FREQ, seed=seed)["close"]
    prob = StrategyProblem(close, "rsi", fees=FEES, rsi_method="sma")
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


def child_genepool(cfg: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    _, warm, Xw = _problem(WARM_T, WARM_N)
    warm.evaluate(Xw)  # loads (or compiles) the RSI table and the fused kernel
    jit_s = time.perf_counter() - t0
    _, prob, X = _problem(cfg["T"], cfg["N"])
    rss_setup = _rss()
    times, cpu_s = _timed(lambda: prob.evaluate(X), cfg["repeats"])
    out: dict[str, Any] = {
        "jit_s": jit_s,
        "rss_setup": rss_setup,
        "times": times,
        "cpu_s": cpu_s,
        "numba_threads": _numba_threads(),
    }
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
    row = run_polled(__file__, cfg, MARK, timeout, env={"PYTHONWARNINGS": "ignore", **(env or {})})
    row.update(library=cfg["library"], T=cfg["T"], N=cfg["N"])
    if row.get("times"):
        row["median_s"] = statistics.median(row["times"])
        row["cores_busy"] = row["cpu_s"] / sum(row["times"])
    return row


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


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


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _fmt_s(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"


def _row_cells(r: dict[str, Any], cores: int) -> list[str]:
    lib, T, N = r["library"], r["T"], r["N"]
    if r.get("skipped"):
        ratio = r.get("ratio_estimated")
        return [
            lib,
            f"{T:,}",
            f"{N:,}",
            r["skipped"],
            *["-"] * 8,
            "-" if ratio is None else f"~{ratio:,.0f}x (est.)",
            "-",
        ]
    if r.get("error") or not r.get("median_s"):
        return [lib, f"{T:,}", f"{N:,}", "error: " + r.get("error", "?")[:100], *["-"] * 10]
    s = r["median_s"]
    sb = N * T / s
    runs = len(r["times"])
    check = "-"
    if "check" in r:
        c = r["check"]
        check = (
            f"{c['max_rel_diff']:.1e} ({'ok' if c['ok'] else 'FAIL'}; "
            f"{c['finite']}/{c['compared']} finite"
            + ("" if c["nonfinite_coincide"] else ", non-finite differ")
            + ")"
        )
    ratio = r.get("ratio")
    return [
        lib,
        f"{T:,}",
        f"{N:,}",
        _fmt_s(s),
        f"{runs} ({'median' if runs > 1 else 'single run'})",
        f"{N / s:,.0f}",
        f"{sb:.3g}",
        f"{sb / cores:.3g}",
        f"{r['cores_busy']:.2f}",
        f"{r['peak_rss_outside'] / MIB:,.0f}",
        f"{r['rss_setup'] / MIB:,.0f}",
        f"{r['jit_s']:.2f}",
        "-" if ratio is None else f"{ratio:,.0f}x",
        check,
    ]


def table(rows: list[dict[str, Any]], cores: int) -> str:
    header = [
        "library",
        "T",
        "N",
        "s/eval",
        "runs",
        "strategies/s",
        "strategy-bars/s",
        f"per core ({cores})",
        "cores busy",
        "peak RSS MiB (outside)",
        "RSS after setup MiB",
        "JIT s (apart)",
        "vectorbt/genepool",
        "Sharpe max rel diff (1st chunk)",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_row_cells(r, cores)) + " |" for r in rows]
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]], cores: int) -> list[dict[str, Any]]:
    ours = [r for r in rows if r["library"] == "genepool" and r.get("median_s")]
    big = [r for r in ours if (r["T"], r["N"]) == TARGET_CONFIG]
    where = f"T={TARGET_CONFIG[0]:,} x N={TARGET_CONFIG[1]:,}"
    out = []
    if big:
        s = big[0]["median_s"]
        per_core = TARGET_CONFIG[0] * TARGET_CONFIG[1] / s / cores
        out.append(
            {
                "target": f"genepool {where} <= {TARGET_S} s per evaluation",
                "measured": f"{s:.3f} s",
                "met": s <= TARGET_S,
            }
        )
        out.append(
            {
                "target": f"genepool >= {TARGET_SB_PER_CORE:.0e} strategy-bars/s per core "
                f"({where}, {cores} cores)",
                "measured": f"{per_core:.3g}",
                "met": per_core >= TARGET_SB_PER_CORE,
            }
        )
    else:
        for name in ("s per evaluation", "strategy-bars/s per core"):
            out.append({"target": f"genepool {where} {name}", "measured": "not run", "met": None})
    if ours:
        worst = max(ours, key=lambda r: r["peak_rss_outside"])
        mib = worst["peak_rss_outside"] / MIB
        out.append(
            {
                "target": f"genepool peak RSS <= {TARGET_RSS_MIB} MiB (whole child, every row)",
                "measured": f"{mib:,.0f} MiB max (T={worst['T']:,}, N={worst['N']:,})",
                "met": mib <= TARGET_RSS_MIB,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="T=10k, N in {100, 1k} only")
    ap.add_argument("--no-vectorbt", action="store_true", help="genepool rows only")
    ap.add_argument("--repeats", type=int, default=3, help="timed evaluations per row")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"output (default {RESULTS})")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0

    grid_t, grid_n = (QUICK_T, QUICK_N) if args.quick else (GRID_T, GRID_N)
    configs = sorted(((T, N) for T in grid_t for N in grid_n), key=lambda c: (c[0] * c[1], c))
    with_vbt = not args.no_vectorbt and dist_version("vectorbt") is not None
    cores = _cores()
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": cores,
        "memory_total": psutil.virtual_memory().total,
        **{
            name: dist_version(name)
            for name in ("genepool", "numpy", "numba", "pandas", "vectorbt")
        },
        "genepool_git": git_revision(),
        "loadavg_1min_before": os.getloadavg()[0],
        "seed": SEED,
        "repeats": args.repeats,
        "chunk": CHUNK,
        "poll_interval_ms": POLL_S * 1000,
    }
    print(
        f"# bench_backtest: rsi family (sma RSI), fees {FEES}, {FREQ} bars, seed {SEED}, "
        f"{cores} cores, python {env['python']}, numpy {env['numpy']}, numba {env['numba']}, "
        f"genepool {env['genepool']} ({env['genepool_git']}), vectorbt {env['vectorbt']}"
    )
    if not args.no_vectorbt and not with_vbt:
        print("# vectorbt not installed: its rows are skipped")

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    vbt_done: list[dict[str, Any]] = []
    for T, N in configs:  # both libraries at one configuration close in time
        _log(f"genepool T={T:,} N={N:,} ...")
        g = run_child({"library": "genepool", "T": T, "N": N, "repeats": args.repeats})
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
            if est_s is not None and g.get("median_s"):
                r["ratio_estimated"] = est_s / g["median_s"]
            _log(f"vectorbt T={T:,} N={N:,}: {r['skipped']}")
            rows.append(r)
            continue
        reps = 1 if est_s is not None and est_s > VBT_ONE_RUN_S else args.repeats
        _log(f"vectorbt T={T:,} N={N:,} ({reps} timed, estimated {est_s} s) ...")
        v = run_child({**base, "repeats": reps})
        v.update(estimated_s=est_s, estimated_bytes=est_bytes)
        if v.get("median_s") and g.get("median_s"):
            v["ratio"] = v["median_s"] / g["median_s"]
        _log(f"  {v.get('median_s', v.get('error'))}")
        rows.append(v)
        vbt_done.append(v)

    # A cold compile: genepool's kernels with an empty numba cache (what a first install pays).
    T0, N0 = configs[0]
    with tempfile.TemporaryDirectory(prefix="bench_backtest_numba_") as cache_dir:
        _log("genepool cold compile (empty NUMBA_CACHE_DIR) ...")
        cold = run_child(
            {"library": "genepool", "T": T0, "N": N0, "repeats": 1},
            env={"NUMBA_CACHE_DIR": cache_dir},
        )
    total = time.perf_counter() - started
    env["loadavg_1min_after"] = os.getloadavg()[0]

    print()
    print(table(rows, cores))
    print()
    print(
        "s/eval: median wall seconds of one evaluation of all N strategies (runs: how many timed "
        "evaluations; vectorbt predicted above "
        f"{VBT_ONE_RUN_S:.0f} s gets a single run). per core: strategy-bars/s / {cores} for "
        "every row. cores busy: CPU s / wall s of the timed runs. peak RSS: the whole child "
        "(interpreter, imports, data, warm-up, evaluations) polled from outside every "
        f"~{POLL_S * 1000:.0f} ms. JIT: warm-up on {WARM_T} bars x {WARM_N} strategies, not "
        f"timed (genepool: numba cache load). vectorbt: chunks of {CHUNK} columns; Sharpe "
        f"compared with genepool's on the first {CHUNK} strategies (tolerance {SHARPE_RTOL:g})."
    )
    diag = [r for r in rows if r.get("tables_s") is not None]
    if diag:
        print(
            "genepool indicator tables (decode + unique RSI rows) within an evaluation: "
            + ", ".join(
                f"T={r['T']:,} N={r['N']:,}: {r['tables_s'] * 1e3:.1f} ms of "
                f"{r['median_s'] * 1e3:.1f} ms ({r['tables_bytes'] / MIB:.1f} MiB)"
                for r in diag
            )
        )
    warm_jit = [r["jit_s"] for r in rows if r["library"] == "genepool" and r.get("jit_s")]
    if cold.get("jit_s") is not None and warm_jit:
        print(
            f"genepool cold compile (empty NUMBA_CACHE_DIR): {cold['jit_s']:.1f} s; warm "
            f"(numba cache load) median {statistics.median(warm_jit):.2f} s"
        )
    else:
        print(f"genepool cold compile: {cold.get('error', '?')}")
    print()
    tg = targets(rows, cores)
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
