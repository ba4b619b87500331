"""GPU backtest benchmark: the CUDA kernel (genepool.backtest.gpu) against the CPU kernel.

Two parts, in one process on a machine with a CUDA device:

1. Correctness: every family, with and without stops (and the SMA RSI), ``N_CHECK``
   strategies over ``T_CHECK`` bars of ``synthetic_ohlcv(T_CHECK, freq="1h", seed=SEED)``,
   fees 0.2 % and slippage 0.1 %: ``DeviceBacktest.metrics`` against
   ``StrategyProblem.metrics_array`` (the CPU kernel). Counts must be equal, every other
   metric equal within 1e-12 relative (``gpu.metrics_mismatches``); the kernels are written
   to give the same bits (no fused multiply-adds, the CPU's ``pow``), so the table also says
   how many rows are bit-identical.
2. Timing, the issue's workload: ``N`` = 10^5 RSI strategies (``rsi_method="sma"``, fees 0.1 %,
   sampled from the default space with ``default_rng(SEED + 1)``, as benchmarks/bench_backtest.py)
   on ``T`` = 10^6 one-minute closes from ``synthetic_ohlcv(T, freq="1min", seed=SEED)``. The
   prices are uploaded once (``DeviceBacktest(...)``, timed apart); one warm-up call compiles
   the kernels; then ``--repeats`` (3) timed ``metrics()`` calls, of which the median is
   reported: each builds the indicator tables on the device, runs one launch over all
   strategies, copies the metrics back and annualizes them on the host. The tables alone are
   timed too (median of as many builds). The CPU kernel (``prob.metrics_array``) runs the first
   ``--cpu-n`` (10^4) of the same strategies over the same bars (10^11 strategy-bars would take
   about a minute on 16 cores): its strategy-bars/s against the GPU's gives the ratio, and its
   metrics are compared with the GPU's rows of the same strategies (the correctness check at
   full length). The same workload is also timed with the launch settings of ``VARIANTS``
   (a cap of 80 registers per thread lets 24 warps of the RSI kernel share an SM instead of
   20; 64-thread blocks), so that the defaults (``gpu.MAX_REGISTERS``, ``gpu.THREADS``) can
   be chosen by measurement.

3. A whole evolution on the device (:func:`generation`): ``gp.maximize`` of a GA of ``N``
   strategies on the ``T`` bars with ``StrategyProblem(device="cuda")``, and the share of each
   generation spent in the backtest (the issue: a generation at population 10^5 dominated by
   the kernel, not by host work).

Throughput: strategy-bars/s = N * T / median s. The CPU figure uses every core this process
may use (numba's threads); per core divides by them. Target (issue 19): 10^11 strategy-bars
in <= 1 s on an H200, tables included.

``--simulate`` runs everything tiny (a few hundred bars, tens of strategies) under numba's CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``, set here before numba is imported), so the script is
checked on a machine without a GPU; its timings mean nothing.

Usage::

    python benchmarks/bench_backtest_gpu.py [--simulate] [--repeats 3] [--cpu-n 10000]
        [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _common import dist_version, git_revision

RESULTS = Path(__file__).resolve().parent / "results" / "bench_backtest_gpu.json"
SEED = 12345
FAMILIES = ("rsi", "ma_cross", "bollinger", "macd", "breakout")
FULL = {"t_check": 20_000, "n_check": 2_000, "T": 1_000_000, "N": 100_000, "cpu_n": 10_000}
TINY = {"t_check": 300, "n_check": 20, "T": 500, "N": 64, "cpu_n": 32}
TARGET_S = 1.0  # 10^5 strategies x 10^6 bars on an H200, tables included
#: A GPU call slower than this (s) is not repeated, and the variants are skipped.
SLOW_S = 20.0
#: Other launch settings timed on the same workload: (registers per thread, threads per block).
VARIANTS = ((80, 128), (None, 64))
#: Generations of the timed evolution (part 3).
GENERATIONS = 2


def _device_backtest(prob: Any) -> Any:
    from genepool.backtest.gpu import DeviceBacktest

    return DeviceBacktest(
        prob.data, fees=prob.fees, slippage=prob.slippage, init_cash=prob.init_cash,
        ann_factor=prob.ann_factor, rsi_method=prob.options["rsi_method"],
    )  # fmt: skip


def correctness(sizes: dict[str, int]) -> list[dict[str, Any]]:
    """GPU against CPU kernel: every family, stops off and on, and the SMA RSI."""
    import numpy as np

    from genepool.backtest import StrategyProblem
    from genepool.backtest.data import synthetic_ohlcv
    from genepool.backtest.gpu import metrics_mismatches

    data = synthetic_ohlcv(sizes["t_check"], freq="1h", seed=SEED)
    cases = [(f, s, "wilder") for f in FAMILIES for s in (False, True)]
    cases += [("rsi", False, "sma"), ("rsi", True, "sma")]
    rows = []
    for family, stops, method in cases:
        prob = StrategyProblem(
            data, family, fees=0.002, slippage=0.001, stops=stops, rsi_method=method,
            bars_per_year=252 * 24,
        )  # fmt: skip
        n = sizes["n_check"]
        X = prob.space.sample(n, np.random.default_rng(SEED + 2))
        t0 = time.perf_counter()
        cpu = prob.metrics_array(X)
        cpu_s = time.perf_counter() - t0
        params = prob.space.decode(X)
        dev = _device_backtest(prob)
        t0 = time.perf_counter()
        got = dev.metrics(family, params, *prob._stops(params, n))
        gpu_s = time.perf_counter() - t0
        bad = metrics_mismatches(got, cpu)
        same_rows = int(np.sum(np.all((got == cpu) | (np.isnan(got) & np.isnan(cpu)), axis=1)))
        rows.append(
            {
                "family": family,
                "stops": stops,
                "rsi_method": method,
                "n": n,
                "bars": sizes["t_check"],
                "trades": int(cpu[:, 8].sum()),
                "mismatches": len(bad),
                "first_mismatches": bad[:5],
                "bit_identical_rows": same_rows,
                "cpu_s": cpu_s,
                "gpu_s_first_call": gpu_s,
            }
        )
        mark = "ok" if not bad else f"{len(bad)} MISMATCHES"
        print(
            f"check {family:9s} stops={stops!s:5s} {method:6s}: {mark}, "
            f"{same_rows}/{n} rows bit-identical, {int(cpu[:, 8].sum())} trades",
            flush=True,
        )
        for line in bad[:5]:
            print(f"    {line}")
    return rows


def timing(sizes: dict[str, int], repeats: int) -> dict[str, Any]:
    """The issue's workload on the GPU, and the CPU kernel on its first cpu_n strategies."""
    import numba
    import numpy as np

    from genepool.backtest import StrategyProblem, gpu
    from genepool.backtest.data import synthetic_ohlcv
    from genepool.backtest.gpu import metrics_mismatches
    from genepool.backtest.stream import table_stream

    T, N, cpu_n = sizes["T"], sizes["N"], min(sizes["cpu_n"], sizes["N"])
    t0 = time.perf_counter()
    close = synthetic_ohlcv(T, freq="1min", seed=SEED)["close"]
    prob = StrategyProblem(close, "rsi", fees=0.001, rsi_method="sma")
    X = prob.space.sample(N, np.random.default_rng(SEED + 1))
    params = prob.space.decode(X)
    sl, tp = prob._stops(params, N)
    data_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    dev = _device_backtest(prob)
    upload_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = min(N, 1000)
    dev.metrics("rsi", {k: v[:warm] for k, v in params.items()}, sl[:warm], tp[:warm])
    warm_s = time.perf_counter() - t0  # compiles the kernels (and uploads the running sums)

    gpu_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        got = dev.metrics("rsi", params, sl, tp)
        gpu_times.append(time.perf_counter() - t0)
        if gpu_times[-1] > SLOW_S:  # far off target: keep the run inside its budget
            break
    stream = table_stream("rsi", params, dev.options)
    table_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        dev._tables("rsi", stream)
        dev._cuda.synchronize()
        table_times.append(time.perf_counter() - t0)
    gpu_s = statistics.median(gpu_times)
    print(
        f"gpu: {N:,} strategies x {T:,} bars: {gpu_s:.3f} s median of {gpu_times} "
        f"(tables {statistics.median(table_times):.3f} s; upload {upload_s:.3f} s, warm-up "
        f"{warm_s:.1f} s)",
        flush=True,
    )

    variants = []  # launch settings to choose from: registers per thread, threads per block
    for max_registers, threads in VARIANTS if max(gpu_times) <= SLOW_S else ():
        saved = gpu.MAX_REGISTERS, gpu.THREADS
        gpu.MAX_REGISTERS, gpu.THREADS = max_registers, threads
        try:
            dev.metrics("rsi", {k: v[:warm] for k, v in params.items()}, sl[:warm], tp[:warm])
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                again = dev.metrics("rsi", params, sl, tp)
                times.append(time.perf_counter() - t0)
        finally:
            gpu.MAX_REGISTERS, gpu.THREADS = saved
        same = bool(np.array_equal(again, got, equal_nan=True))
        variants.append(
            {"max_registers": max_registers, "threads": threads, "times_s": times,
             "median_s": statistics.median(times), "same_metrics": same}
        )  # fmt: skip
        print(
            f"gpu variant max_registers={max_registers} threads={threads}: "
            f"{statistics.median(times):.3f} s median{'' if same else ', METRICS DIFFER'}",
            flush=True,
        )

    small = prob.space.sample(8, np.random.default_rng(0))
    t0 = time.perf_counter()
    prob.metrics_array(small)  # loads or compiles the CPU kernels
    cpu_warm_s = time.perf_counter() - t0
    cpu_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        cpu = prob.metrics_array(X[:cpu_n])
        cpu_times.append(time.perf_counter() - t0)
        if cpu_times[-1] * repeats > 90:  # keep the run inside its budget
            break
    cpu_s = statistics.median(cpu_times)
    bad = metrics_mismatches(got[:cpu_n], cpu)
    threads = numba.get_num_threads()
    gpu_rate = N * T / gpu_s
    cpu_rate = cpu_n * T / cpu_s
    print(
        f"cpu: {cpu_n:,} strategies x {T:,} bars: {cpu_s:.3f} s median of {cpu_times} on "
        f"{threads} threads; GPU vs CPU on those strategies: "
        f"{'equal' if not bad else f'{len(bad)} MISMATCHES'}",
        flush=True,
    )
    return {
        "bars": T,
        "strategies": N,
        "trades": int(got[:, 8].sum()),
        "data_s": data_s,
        "upload_s": upload_s,
        "uploaded_bytes": dev.uploaded,
        "gpu_warmup_s": warm_s,
        "gpu_times_s": gpu_times,
        "gpu_s": gpu_s,
        "gpu_tables_times_s": table_times,
        "gpu_tables_s": statistics.median(table_times),
        "gpu_strategy_bars_per_s": gpu_rate,
        "gpu_max_registers": gpu.MAX_REGISTERS,
        "gpu_threads": gpu.THREADS,
        "gpu_variants": variants,
        "cpu_strategies": cpu_n,
        "cpu_threads": threads,
        "cpu_warmup_s": cpu_warm_s,
        "cpu_times_s": cpu_times,
        "cpu_s": cpu_s,
        "cpu_strategy_bars_per_s": cpu_rate,
        "cpu_strategy_bars_per_s_per_core": cpu_rate / threads,
        "gpu_over_cpu": gpu_rate / cpu_rate,
        "cpu_vs_gpu_mismatches": len(bad),
        "cpu_vs_gpu_first_mismatches": bad[:5],
        "target_met": None if gpu_s is None else gpu_s * (1e11 / (N * T)) <= TARGET_S,
    }


def generation(sizes: dict[str, int]) -> dict[str, Any]:
    """A whole evolution on the device, as ``genepool evolve --device cuda`` runs it: a GA of
    ``N`` strategies on ``T`` bars, ``gp.maximize`` with ``StrategyProblem(device="cuda")``.
    One generation first (compiles, uploads), then a timed run of ``GENERATIONS``; the time
    inside ``problem.evaluate`` (the device backtest) against the whole run says whether a
    generation is dominated by the kernel or by host work (the GA's selection, variation,
    decoding, the run loop's bookkeeping)."""
    import numpy as np

    import genepool as gp
    from genepool.backtest import StrategyProblem
    from genepool.backtest.data import synthetic_ohlcv

    close = synthetic_ohlcv(sizes["T"], freq="1min", seed=SEED)["close"]
    prob = StrategyProblem(close, "rsi", fees=0.001, rsi_method="sma", device="cuda")
    inside = [0.0]
    evaluate = prob.evaluate

    def timed_evaluate(X: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        y = evaluate(X)
        inside[0] += time.perf_counter() - t0
        return y

    prob.evaluate = timed_evaluate  # type: ignore[method-assign]
    gp.maximize(prob, gp.GA(prob.space, sizes["N"], seed=1), generations=1, progress=False)
    inside[0] = 0.0
    t0 = time.perf_counter()
    gp.maximize(prob, gp.GA(prob.space, sizes["N"], seed=2), generations=GENERATIONS,
                progress=False)  # fmt: skip
    total = time.perf_counter() - t0
    evaluations = GENERATIONS + 1  # the first population and one per generation
    return {
        "population": sizes["N"],
        "bars": sizes["T"],
        "generations": GENERATIONS,
        "total_s": total,
        "evaluate_s": inside[0],
        "s_per_evaluation": total / evaluations,
        "evaluate_share": inside[0] / total,
    }


def environment(simulate: bool) -> dict[str, Any]:
    from numba import cuda

    env: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "simulated": simulate,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
        "numba": dist_version("numba"),
        "numba_cuda": dist_version("numba-cuda"),
        "numpy": dist_version("numpy"),
        "genepool_revision": git_revision(),
    }
    if not simulate:
        dev = cuda.get_current_device()
        _free, total = cuda.current_context().get_memory_info()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        env.update(
            gpu=name, compute_capability=list(dev.compute_capability), gpu_memory_bytes=total
        )
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--simulate", action="store_true", help="tiny sizes, numba's CUDA simulator")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls (median reported)")
    ap.add_argument("--cpu-n", type=int, default=None, help="strategies the CPU kernel runs")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"output (default {RESULTS})")
    args = ap.parse_args(argv)
    if args.simulate:
        if "numba" in sys.modules:
            raise SystemExit("--simulate must be chosen before numba is imported")
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    import warnings

    from genepool.backtest.gpu import cuda_status

    ok, why = cuda_status()
    if not ok:
        print(f"no CUDA device: {why}; run with --simulate to check the script", file=sys.stderr)
        return 2
    if args.simulate:
        warnings.simplefilter("ignore")  # numpy scalars' warnings in the simulator
    sizes = dict(TINY if args.simulate else FULL)
    if args.cpu_n is not None:
        sizes["cpu_n"] = args.cpu_n
    start = time.perf_counter()
    env = environment(args.simulate)
    print(f"# {json.dumps(env)}", flush=True)
    checks = correctness(sizes)
    timed = timing(sizes, args.repeats)
    evolved = generation(sizes)
    total = time.perf_counter() - start
    n_bad = sum(r["mismatches"] for r in checks) + timed["cpu_vs_gpu_mismatches"]

    T, N = timed["bars"], timed["strategies"]
    print("\n| engine | strategies | bars | seconds | strategy-bars/s | ratio |")
    print("|---|---|---|---|---|---|")
    print(
        f"| GPU (tables + kernel + copy) | {N:,} | {T:,} | {timed['gpu_s']:.3f} | "
        f"{timed['gpu_strategy_bars_per_s']:.3g} | {timed['gpu_over_cpu']:.1f}x |"
    )
    print(
        f"| CPU kernel, {timed['cpu_threads']} threads | {timed['cpu_strategies']:,} | {T:,} | "
        f"{timed['cpu_s']:.3f} | {timed['cpu_strategy_bars_per_s']:.3g} "
        f"({timed['cpu_strategy_bars_per_s_per_core']:.3g}/core) | 1x |"
    )
    print(
        f"\n# GPU tables alone {timed['gpu_tables_s']:.3f} s; prices uploaded once in "
        f"{timed['upload_s']:.3f} s; target 10^11 strategy-bars <= {TARGET_S} s: "
        f"{'met' if timed['target_met'] else 'NOT met'}"
        f"{' (simulated: meaningless)' if args.simulate else ''}"
    )
    print(
        f"# evolution on the device: population {evolved['population']:,} on "
        f"{evolved['bars']:,} bars, {evolved['s_per_evaluation']:.3f} s per generation, "
        f"{100 * evolved['evaluate_share']:.0f} % of it in the backtest (the rest: host work)"
    )
    print(f"# correctness: {'all equal' if n_bad == 0 else f'{n_bad} MISMATCHES'}")
    print(f"# total {total:.0f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "bench_backtest_gpu",
                "environment": env,
                "total_s": total,
                "correctness": checks,
                "timing": timed,
                "generation": evolved,
            },
            indent=1,
            default=str,
        )
        + "\n"
    )
    print(f"# wrote {args.json}")
    return 0 if n_bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
