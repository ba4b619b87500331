"""Market data larger than memory: the store, the time-blocked kernel and universes, measured.

Parts (each measured step runs in a fresh interpreter whose process tree is polled from here
for anonymous memory, RssAnon + RssShmem, and file-backed residency, RssFile, every 50 ms):

- ``gen``: a synthetic universe of ``--symbols`` x ``--bars`` 1-minute OHLCV bars (geometric
  Brownian motion, one 24/7 calendar, seeded), one Parquet file per symbol, and one series of
  ``--long-bars`` bars as a long table with a ``symbol`` column, under ``--workdir``.
- ``import``: ``genepool.backtest.import_store`` of the universe (bars/s, MB/s, store size).
- ``long_import``: the same for the long series (read in chunks: bounded memory).
- ``reference``: ``--strategies`` RSI strategies on one symbol with its closes in RAM (the
  in-memory fused kernel), on the same symbol memory-mapped from the store, and on the whole
  universe (every symbol, mean aggregate) once the store is in the page cache: strategy-bars/s
  of each; the target is universe >= 0.75 x in-memory.
- ``evolve``: ``gp.maximize`` of those strategies on the universe for ``--generations`` under
  ``memory_limit=--memory-limit``: wall time, strategy-bars/s, peak anonymous memory of the
  process tree (target <= the limit), the run's own ``MemoryReport``.
- ``dask``: the evolution on ``--dask-symbols`` symbols, serially and on ``executor="dask"``
  (a LocalCluster of 2 single-threaded worker processes mapping the store themselves), in one
  child: identical results (best, history) required.
- ``long``: ``--long-strategies`` strategies on the long series under ``--long-budget``
  (an Evaluator with that memory_limit): wall, rate, peak anonymous memory of the tree.

Free disk space is checked first; ``--workdir`` defaults to a temporary directory removed at
the end (``--keep`` keeps it; pass the same ``--workdir`` to rerun parts on existing data).

Usage::

    python benchmarks/bench_outofcore.py [--parts gen,import,long_import,reference,evolve,dask,long]
        [--symbols 200] [--bars 1000000] [--strategies 2000] [--generations 3]
        [--memory-limit 1GB] [--evolve-symbols K] [--dask-symbols K] [--reference-symbols K]
        [--long-bars 100000000] [--long-strategies 1000]
        [--long-budget 512MB] [--workdir DIR] [--keep]
        [--json benchmarks/results/bench_outofcore.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
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

RESULTS = Path(__file__).resolve().parent / "results" / "bench_outofcore.json"
MARK = "@@BENCH "
MiB = 2**20
START = np.datetime64("2020-01-01T00:00", "ns")
MINUTE = np.int64(60 * 10**9)
PARTS = ("gen", "import", "long_import", "reference", "evolve", "dask", "long")


# -- data ---------------------------------------------------------------------------------------
def _gbm_ohlcv(n: int, rng: np.random.Generator, start_price: float) -> dict[str, np.ndarray]:
    """OHLCV bars of a geometric Brownian motion (0.05 % per-minute volatility)."""
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, 5e-4, n)))
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(rng.normal(0.0, 2e-4, n))
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick)
    volume = rng.integers(1, 10_000, n).astype(np.float64)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def generate(work: Path, n_symbols: int, n_bars: int, long_bars: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = work / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    times = START + np.arange(n_bars, dtype=np.int64) * MINUTE
    for k in range(n_symbols):
        path = raw / f"S{k:03d}.parquet"
        if path.exists():
            continue
        bars = _gbm_ohlcv(n_bars, np.random.default_rng(k), 50.0 + k)
        table = pa.table({"time": times, **bars})
        pq.write_table(table, path.with_suffix(".tmp"), compression="none")
        path.with_suffix(".tmp").rename(path)
    universe_s = time.perf_counter() - t
    t = time.perf_counter()
    long_path = work / "long.parquet"
    if long_bars and not long_path.exists():
        rng = np.random.default_rng(10_000)
        chunk = 10_000_000
        price = 100.0
        with pq.ParquetWriter(long_path.with_suffix(".tmp"), _long_schema(pa)) as writer:
            for lo in range(0, long_bars, chunk):
                m = min(chunk, long_bars - lo)
                bars = _gbm_ohlcv(m, rng, price)
                price = float(bars["close"][-1])
                tt = START + (lo + np.arange(m, dtype=np.int64)) * MINUTE
                writer.write_table(
                    pa.table({"symbol": pa.array(["LONG"] * m), "time": tt, **bars}),
                    row_group_size=1_000_000,
                )
        long_path.with_suffix(".tmp").rename(long_path)
    return {
        "universe_gen_s": universe_s,
        "long_gen_s": time.perf_counter() - t,
        "raw_bytes": sum(p.stat().st_size for p in raw.glob("*.parquet")),
        "long_raw_bytes": long_path.stat().st_size if long_path.exists() else 0,
    }


def _long_schema(pa: Any) -> Any:
    return pa.schema(
        [("symbol", pa.string()), ("time", pa.timestamp("ns"))]
        + [(f, pa.float64()) for f in ("open", "high", "low", "close", "volume")]
    )


# -- children (run in a fresh interpreter) ------------------------------------------------------
def _strategies(problem: Any, n: int) -> np.ndarray:
    return problem.space.sample(n, np.random.default_rng(0))


def _touch(store: Any, symbols: list[str]) -> float:
    """Read every close once (page cache warm, as after an import); seconds taken."""
    t = time.perf_counter()
    for s in symbols:
        float(np.asarray(store.array(s, "close")).sum())
    return time.perf_counter() - t


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    import genepool as gp
    from genepool.backtest import StrategyProblem, import_store, open_store

    work = Path(cfg["workdir"])
    part = cfg["part"]
    if part == "import":
        files = sorted((work / "raw").glob("*.parquet"))
        t = time.perf_counter()
        store = import_store(files, work / "store")
        wall = time.perf_counter() - t
        bars = sum(store.n_bars(s) for s in store.symbols)
        return {"wall_s": wall, "bars": bars, "bars_per_s": bars / wall,
                "store_bytes": store.nbytes, "mb_per_s": store.nbytes / MiB / wall}  # fmt: skip
    if part == "long_import":
        t = time.perf_counter()
        store = import_store(work / "long.parquet", work / "long_store", symbol_column="symbol")
        wall = time.perf_counter() - t
        bars = store.n_bars("LONG")
        return {"wall_s": wall, "bars": bars, "bars_per_s": bars / wall,
                "store_bytes": store.nbytes, "mb_per_s": store.nbytes / MiB / wall}  # fmt: skip
    store = open_store(work / "store")
    symbols = list(store.symbols)
    n = cfg["strategies"]
    if part == "reference":
        one = symbols[0]
        _touch(store, symbols)
        ram = np.array(store.array(one, "close"))  # a copy in anonymous memory
        bpy = store.bars_per_year(one).value
        in_ram = StrategyProblem(ram, "rsi", bars_per_year=bpy)
        X = _strategies(in_ram, n)
        in_ram.evaluate(X[:4])  # compile/load the kernels
        problems = {
            "ram_one_symbol": in_ram,
            "store_one_symbol": StrategyProblem(store, "rsi", symbols=[one]),
        }
        times: dict[str, list[float]] = {name: [] for name in problems}
        for r in range(cfg.get("repeat", 3)):  # interleaved, so that load drift hits both
            for name in problems if r % 2 == 0 else reversed(problems):
                t = time.perf_counter()
                problems[name].evaluate(X)
                times[name].append(time.perf_counter() - t)
        k = cfg.get("reference_symbols") or len(symbols)
        universe = StrategyProblem(store, "rsi", symbols=symbols[:k])
        t = time.perf_counter()
        universe.evaluate(X)
        times["store_universe"] = [time.perf_counter() - t]
        problems["store_universe"] = universe
        t = time.perf_counter()
        in_ram.evaluate(X)  # once more after the universe: the load it ran under
        times["ram_one_symbol"].append(time.perf_counter() - t)
        rows: dict[str, Any] = {}
        for name, prob in problems.items():
            wall = float(np.median(times[name]))
            bars = sum(s.n_bars for s in prob.universe) if prob.universe else prob.n_bars
            rows[name] = {"wall_s": wall, "times_s": times[name],
                          "strategy_bars_per_s": n * bars / wall}  # fmt: skip
        rows["store_universe"]["symbols"] = k
        return rows
    if part == "evolve":
        chosen = symbols[: cfg.get("evolve_symbols") or len(symbols)]
        _touch(store, chosen)
        return _evolve(store, chosen, cfg, None)
    if part == "dask":
        import distributed

        chosen = symbols[: cfg.get("dask_symbols") or len(symbols)]
        _touch(store, chosen)
        serial = _evolve(store, chosen, cfg, None)
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
        try:
            on_dask = _evolve(store, chosen, cfg, gp.evaluation.DaskExecutor(client))
        finally:
            client.close()
            cluster.close()
        same = all(
            np.array_equal(serial.pop(k), on_dask.pop(k)) for k in ("best_x", "best", "mean")
        )
        return {"symbols": len(chosen), "serial": serial, "dask": on_dask, "identical": same}
    if part == "long":
        long_store = open_store(work / "long_store")
        prob = StrategyProblem(long_store, "rsi", symbols=["LONG"])
        X = _strategies(prob, n)
        ev = gp.Evaluator(prob, memory_limit=cfg["budget"], cache=False)
        t = time.perf_counter()
        fit = ev.evaluate(X)
        wall = time.perf_counter() - t
        return {
            "wall_s": wall,
            "strategy_bars_per_s": n * prob.n_bars / wall,
            "finite": int(np.isfinite(fit).sum()),
        }
    raise SystemExit(f"unknown part {part!r}")


def _evolve(store: Any, symbols: list[str], cfg: dict[str, Any], executor: Any) -> dict[str, Any]:
    """``gp.maximize`` of ``cfg["strategies"]`` RSI strategies on ``symbols``."""
    import genepool as gp
    from genepool.backtest import StrategyProblem

    prob = StrategyProblem(store, "rsi", symbols=symbols)
    kw: dict[str, Any] = {"memory_limit": cfg["memory_limit"], "generations": cfg["generations"]}
    if executor is not None:
        kw["executor"] = executor
    t = time.perf_counter()
    res = gp.maximize(prob, gp.GA(prob.space, cfg["strategies"], seed=0), **kw)
    wall = time.perf_counter() - t
    hist = res.history
    bars = sum(s.n_bars for s in prob.universe or ())
    evals = int(np.asarray(hist["evaluations"])[-1])
    mem = res.memory
    return {
        "symbols": len(symbols),
        "wall_s": wall,
        "evaluations": evals,
        "strategy_bars_per_s": evals * bars / wall,
        "best_fitness": float(np.asarray(res.best_fitness).ravel()[0]),
        "memory_report": {
            k: getattr(mem, k, None) for k in ("peak_rss", "peak_anon", "peak_file")
        },
        "best_x": np.asarray(res.best_x).tolist(),
        "best": np.asarray(hist["best"]).tolist(),
        "mean": np.asarray(hist["mean"]).tolist(),
    }


def run_child(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    return run_anon_polled(__file__, cfg, MARK, timeout)


# -- main ---------------------------------------------------------------------------------------
def _needed_bytes(args: argparse.Namespace) -> int:
    per_bar = 6 * 8  # five float64 fields and the time
    universe = args.symbols * args.bars * per_bar
    long = args.long_bars * (per_bar + 8)
    return 2 * (universe + long)  # the raw files and the store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--symbols", type=int, default=200)
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--strategies", type=int, default=2000)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument(
        "--evolve-symbols", type=int, default=None,
        help="symbols of the evolve/dask parts (default: all; fewer on a small machine)",
    )  # fmt: skip
    ap.add_argument(
        "--dask-symbols", type=int, default=None,
        help="symbols of the dask part, run serially and on Dask (default: all)",
    )  # fmt: skip
    ap.add_argument(
        "--reference-symbols", type=int, default=None,
        help="symbols of the reference part's universe pass (default: all)",
    )  # fmt: skip
    ap.add_argument("--long-bars", type=int, default=100_000_000)
    ap.add_argument("--long-strategies", type=int, default=1000)
    ap.add_argument("--long-budget", default="512MB")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--timeout", type=float, default=4 * 3600)
    ap.add_argument("--json", default=str(RESULTS))
    args = ap.parse_args()
    if args.child:
        print(MARK + json.dumps(child(json.loads(args.child))), flush=True)
        return
    parts = selected_parts(args.parts, PARTS)
    need = _needed_bytes(args) if "gen" in parts else 0
    work, free = workdir_with_room(
        args.workdir, "gp_ooc_", need, "lower --symbols/--bars/--long-bars"
    )
    report: dict[str, Any] = {
        "config": {k: v for k, v in vars(args).items() if k not in ("child", "json")},
        "machine": machine(),
        "disk_free_gib": free / 2**30,
    }
    base = {"workdir": str(work), "strategies": args.strategies}
    try:
        base["reference_symbols"] = args.reference_symbols
        for part in parts:
            print(f"-- {part} ...", flush=True)
            t = time.perf_counter()
            if part == "gen":
                report["gen"] = generate(work, args.symbols, args.bars, args.long_bars)
            elif part == "long":
                cfg = {**base, "part": part, "strategies": args.long_strategies,
                       "budget": args.long_budget}  # fmt: skip
                report[part] = run_child(cfg, args.timeout)
            else:
                cfg = {**base, "part": part, "generations": args.generations,
                       "memory_limit": args.memory_limit,
                       "evolve_symbols": args.evolve_symbols,
                       "dask_symbols": args.dask_symbols}  # fmt: skip
                report[part] = run_child(cfg, args.timeout)
            print(f"   {time.perf_counter() - t:.1f} s: {json.dumps(report[part])[:600]}")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    _table(report)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(report)  # parts run separately accumulate
    out.write_text(json.dumps(previous, indent=2, default=str))
    print(f"wrote {out}")


def _table(r: dict[str, Any]) -> None:
    def gib(x: Any) -> str:
        return "-" if not x else f"{x / 2**30:.2f} GiB"

    def mib(x: Any) -> str:
        return "-" if not x else f"{x / MiB:.0f} MiB"

    print()
    print(f"{'step':<28} {'wall':>9} {'rate':>22} {'peak anon (tree)':>17} {'peak file':>10}")
    for part in ("import", "long_import"):
        if part in r:
            x = r[part]
            rate = f"{x.get('bars_per_s', 0):,.0f} bars/s"
            print(f"{part:<28} {x.get('wall_s', 0):>8.1f}s {rate:>22} "
                  f"{mib(x['tree_peak']['anon']):>17} {mib(x['tree_peak']['file']):>10}  "
                  f"store {gib(x.get('store_bytes'))}")  # fmt: skip
    if "reference" in r:
        ref = r["reference"]
        for name in ("ram_one_symbol", "store_one_symbol", "store_universe"):
            if name in ref:
                x = ref[name]
                print(
                    f"{name:<28} {x['wall_s']:>8.2f}s {x['strategy_bars_per_s']:>13.3e} s-bars/s"
                )
        if "ram_one_symbol" in ref and "store_universe" in ref:
            ratio = (
                ref["store_universe"]["strategy_bars_per_s"]
                / ref["ram_one_symbol"]["strategy_bars_per_s"]
            )
            print(f"{'universe / in-memory':<28} {ratio:>9.2f}  (target >= 0.75)")
    rows = [(p, r[p], r[p]["tree_peak"]) for p in ("evolve", "long") if p in r]
    if "dask" in r:  # two runs in one child: the tree's peak is that of both
        d = r["dask"]
        runs = [(f"dask part: {k}", d[k], d["tree_peak"]) for k in ("serial", "dask") if k in d]
        rows[1:1] = runs or [("dask part", d, d["tree_peak"])]
    for part, x, peak in rows:
        rate = x.get("strategy_bars_per_s")
        rate_s = "-" if rate is None else f"{rate:.3e} s-bars/s"
        print(f"{part:<28} {x.get('wall_s', 0):>8.1f}s {rate_s:>22} "
              f"{mib(peak['anon']):>17} {mib(peak['file']):>10}"
              + (f"  ERROR {x['error']}" if "error" in x else ""))  # fmt: skip
    if "dask" in r and "identical" in r["dask"]:
        print(f"dask results identical to serial: {r['dask']['identical']}")


if __name__ == "__main__":
    main()
