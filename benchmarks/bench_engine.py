"""Engine benchmark: seconds per generation and peak memory of a GA on Rastrigin D=30.

Rows, each measured in a fresh subprocess at population sizes P (default 1k, 10k, 100k, 1M):

- ``genepool``: ``gp.GA(space, P, seed=...)`` with its default operators, driven by
  ask -> ``gp.problems.rastrigin`` -> tell (what ``gp.minimize`` does inside);
- ``genepool.minimize``: ``gp.minimize(rastrigin, GA, progress=False)`` itself, timed per
  generation with a callback, so the run loop's overhead (validation, history) shows;
- ``numpy-floor``: a plain-numpy GA of the same operator family (tournament k=4, uniform
  crossover rate 0.9 / swap 0.5, bounded polynomial mutation eta=20 at 1/d per gene,
  (mu + lambda) survival), written as simply and efficiently as plain numpy allows;
- ``deap``, ``pygad``, ``pymoo`` where installed, on the closest operators each offers.

Every row uses the same vectorized fitness (``genepool.problems.rastrigin``) on the whole batch.
Method: one untimed warm-up generation after the initial population, then the median of
``--repeats`` timed generations (fewer at P >= 1M and for slow peers), fixed seeds. Peak RSS is
``ru_maxrss`` in the child minus its RSS after imports and problem setup (so it covers the initial
population, every generation and the fitness' temporaries). Peers are run at growing P only while
one generation is predicted (linearly from the previous size) to stay under ``--peer-limit``
seconds. Anything ``minimize`` JIT-compiles (numba kernels of its automatic fitness cache)
compiles in the untimed first generations; its peak RSS includes that cache, as users get it.

Usage::

    python benchmarks/bench_engine.py [--sizes 1000,10000,100000,1000000]
        [--peers deap,pygad,pymoo|none] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import dist_version, git_revision

from genepool.problems import rastrigin  # the one fitness every row evaluates, on whole batches

D = 30
LOW, HIGH = -5.12, 5.12
SEED = 12345
TOURNAMENT_K = 4
CX_RATE = 0.9
CX_SWAP = 0.5
ETA = 20.0
WARMUP = 1  # untimed generations after the initial population
SIZES = (1_000, 10_000, 100_000, 1_000_000)
PEERS = ("deap", "pygad", "pymoo")
OURS = ("genepool", "genepool.minimize", "numpy-floor")
RESULTS = Path(__file__).resolve().parent / "results" / "bench_engine.json"
TARGET_RATIO = 1.3  # genepool s/generation <= 1.3x the numpy floor
TARGET_1M_SECONDS = 2.0  # at P = 1M
TARGET_LIVE_BYTES = 500  # live bytes per individual at D = 30


# -- the numpy floor ---------------------------------------------------------------------------
def floor_breed(X: np.ndarray, f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` offspring: tournament (k=4), uniform crossover, bounded polynomial mutation."""
    n, d = X.shape
    contestants = rng.integers(0, n, size=(n, TOURNAMENT_K))
    winner = f[contestants].argmin(axis=1)
    Y = np.take(X, contestants[np.arange(n), winner], axis=0)
    # Uniform crossover on pairs (Y[i], Y[h + i]): crossed with probability CX_RATE, then each
    # gene swapped on a fair coin (CX_SWAP = 0.5); an odd last row is left as a copy.
    h = n // 2
    a, b = Y[:h], Y[h : 2 * h]
    swap = rng.integers(0, 2, size=(h, d), dtype=bool) & (rng.random((h, 1)) < CX_RATE)
    a[...], b[...] = np.where(swap, b, a), np.where(swap, a, b)
    # Polynomial mutation, each gene with probability 1/d: the mutated positions of a Bernoulli
    # process over the flat array are the cumulative sums of geometric gaps (10 sigma of slack:
    # the gaps cover all n*d genes except with negligible probability).
    m, p = n * d, 1.0 / d
    pos = np.cumsum(rng.geometric(p, size=int(m * p + 10 * math.sqrt(m * p)) + 10)) - 1
    pos = pos[pos < m]
    flat = Y.reshape(-1)
    x, u, span = flat[pos], rng.random(pos.size), HIGH - LOW
    left = u < 0.5
    # Deb's bounded form: delta_q = (w + (1 - w) xy^(eta+1))^(1/(eta+1)) - 1 with xy = 1 - delta1,
    # w = 2u for u < 0.5; 1 - (...)^(1/(eta+1)) with xy = 1 - delta2, w = 2(1 - u) otherwise.
    xy = np.where(left, HIGH - x, x - LOW) / span
    w = np.where(left, 2 * u, 2 * (1 - u))
    root = (w + (1 - w) * xy ** (ETA + 1)) ** (1 / (ETA + 1))
    flat[pos] = np.clip(x + np.where(left, root - 1, 1 - root) * span, LOW, HIGH)
    return Y


def floor_survive(
    X: np.ndarray, f: np.ndarray, Y: np.ndarray, fy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mu + lambda): the best ``n`` of parents and offspring (unsorted)."""
    n = X.shape[0]
    fall = np.concatenate([f, fy])
    keep = np.argpartition(fall, n - 1)[:n]
    from_x, from_y = keep[keep < n], keep[keep >= n] - n
    out = np.empty_like(X)
    np.take(X, from_x, axis=0, out=out[: from_x.size])
    np.take(Y, from_y, axis=0, out=out[from_x.size :])
    return out, np.concatenate([f[from_x], fy[from_y]])


# -- measuring in the child --------------------------------------------------------------------
def _rss_now_kib() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Probe:
    """RSS after imports and setup (``start``) and the peak ``ru_maxrss`` at ``stop``."""

    base_kib = peak_kib = 0

    def start(self) -> None:
        gc.collect()
        self.base_kib = _rss_now_kib()

    def stop(self) -> None:
        self.peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _timed(step: Callable[[], int], repeats: int) -> tuple[list[float], list[int]]:
    """Run ``step`` (one generation returning its evaluations) WARMUP + repeats times."""
    times, evals = [], []
    for g in range(WARMUP + repeats):
        t0 = time.perf_counter()
        n_eval = step()
        if g >= WARMUP:
            times.append(time.perf_counter() - t0)
            evals.append(n_eval)
    return times, evals


def _traced(ask: Callable[[], Any], evaluate: Callable, tell: Callable) -> dict[str, int]:
    """tracemalloc peaks (bytes newly allocated) of one generation: ask/tell and evaluation."""
    tracemalloc.start()
    X = ask()
    ask_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    y = evaluate(X)
    eval_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    tell(X, y)
    tell_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "ask_tell": max(ask_peak, tell_peak),
        "ask": ask_peak,
        "tell": tell_peak,
        "evaluate": eval_peak,
    }


def run_genepool(n: int, repeats: int, probe: Probe) -> dict[str, Any]:
    import genepool as gp

    space = gp.Space.box(LOW, HIGH, D)
    fitness = rastrigin
    probe.start()
    ga = gp.GA(space, n, seed=SEED)
    X = ga.ask()  # the initial population (untimed)
    ga.tell(X, fitness(X))
    offspring_bytes = [0]  # a size, not the array: holding it would inflate the next peak

    def step() -> int:
        X = ga.ask()
        ga.tell(X, fitness(X))
        offspring_bytes[0] = X.nbytes
        return X.shape[0]

    times, evals = _timed(step, repeats)
    probe.stop()
    st = ga.state
    live = st.X.nbytes + st.fitness.nbytes + offspring_bytes[0]
    traced = _traced(ga.ask, fitness, ga.tell)
    return {
        "times": times,
        "evals": evals,
        "live_bytes": live,
        "traced": traced,
        "best": float(st.fitness.min()),
    }


def run_minimize(n: int, repeats: int, probe: Probe) -> dict[str, Any]:
    import genepool as gp

    space = gp.Space.box(LOW, HIGH, D)
    probe.start()
    stamps: list[tuple[float, int]] = []

    def stamp(info: Any) -> None:
        stamps.append((time.perf_counter(), info.n_evaluations))

    # generation 1 is the initial population, then WARMUP untimed, then `repeats` timed
    res = gp.minimize(
        rastrigin,
        gp.GA(space, n, seed=SEED),
        generations=1 + WARMUP + repeats,
        progress=False,
        callbacks=[stamp],
    )
    probe.stop()
    marks = stamps[WARMUP:]
    times = [b[0] - a[0] for a, b in itertools.pairwise(marks)]
    evals = [b[1] - a[1] for a, b in itertools.pairwise(marks)]
    return {
        "times": times,
        "evals": evals,
        "best": float(res.best_fitness),
        "total_s": float(res.elapsed),
    }


def run_floor(n: int, repeats: int, probe: Probe) -> dict[str, Any]:
    probe.start()
    rng = np.random.default_rng(SEED)
    X = rng.uniform(LOW, HIGH, size=(n, D))
    state = [X, rastrigin(X)]
    offspring_bytes = [0]

    def step() -> int:
        Y = floor_breed(state[0], state[1], rng)
        state[:] = floor_survive(state[0], state[1], Y, rastrigin(Y))
        offspring_bytes[0] = Y.nbytes
        return Y.shape[0]

    times, evals = _timed(step, repeats)
    probe.stop()
    live = state[0].nbytes + state[1].nbytes + offspring_bytes[0]

    def tell(Y: np.ndarray, fy: np.ndarray) -> None:
        state[:] = floor_survive(state[0], state[1], Y, fy)

    traced = _traced(lambda: floor_breed(state[0], state[1], rng), rastrigin, tell)
    return {
        "times": times,
        "evals": evals,
        "live_bytes": live,
        "traced": traced,
        "best": float(state[1].min()),
    }


def run_deap(n: int, repeats: int, probe: Probe) -> dict[str, Any]:
    import random

    from deap import algorithms, base, creator, tools

    creator.create("FitnessMin", base.Fitness, weights=(-1.0,))
    creator.create("Individual", list, fitness=creator.FitnessMin)
    tb = base.Toolbox()
    tb.register("mate", tools.cxUniform, indpb=CX_SWAP)
    tb.register("mutate", tools.mutPolynomialBounded, eta=ETA, low=LOW, up=HIGH, indpb=1.0 / D)
    tb.register("select", tools.selTournament, tournsize=TOURNAMENT_K)
    random.seed(SEED)
    probe.start()

    def evaluate(pop: list) -> int:
        todo = [ind for ind in pop if not ind.fitness.valid]
        if todo:
            for ind, v in zip(todo, rastrigin(np.array(todo)).tolist()):
                ind.fitness.values = (v,)
        return len(todo)

    init = np.random.default_rng(SEED).uniform(LOW, HIGH, size=(n, D)).tolist()
    pop = [creator.Individual(row) for row in init]
    evaluate(pop)

    def step() -> int:
        nonlocal pop
        # eaMuPlusLambda with varAnd (crossover then mutation, like the others) instead of varOr
        offspring = algorithms.varAnd(tb.select(pop, n), tb, cxpb=CX_RATE, mutpb=1.0)
        n_eval = evaluate(offspring)
        pop = tools.selBest(pop + offspring, n)
        return n_eval

    times, evals = _timed(step, repeats)
    probe.stop()
    return {"times": times, "evals": evals, "best": float(pop[0].fitness.values[0])}


def run_pygad(n: int, repeats: int, probe: Probe) -> dict[str, Any]:
    import pygad

    counted = [0]

    def fitness(ga: Any, solutions: np.ndarray, idx: Any) -> np.ndarray:
        counted[0] += len(solutions)
        return -rastrigin(np.asarray(solutions, dtype=np.float64))  # PyGAD maximizes

    stamps: list[tuple[float, int]] = []

    def on_generation(ga: Any) -> None:
        stamps.append((time.perf_counter(), counted[0]))

    probe.start()
    ga = pygad.GA(
        num_generations=WARMUP + repeats,
        sol_per_pop=n,
        num_genes=D,
        num_parents_mating=n // 2,
        fitness_func=fitness,
        fitness_batch_size=n,
        init_range_low=LOW,
        init_range_high=HIGH,
        gene_type=float,
        parent_selection_type="tournament",
        K_tournament=TOURNAMENT_K,
        crossover_type="uniform",
        mutation_type="polynomial",
        mutation_probability=1.0 / D,
        polynomial_mutation_eta=ETA,
        keep_elitism=0,
        keep_parents=-1,
        random_seed=SEED,
        on_generation=on_generation,
        suppress_warnings=True,
    )
    t0 = time.perf_counter()
    ga.run()
    probe.stop()
    # stamps[0] ends the warm-up generation (run() first evaluates the initial population)
    marks = stamps[WARMUP - 1 :]
    times = [b[0] - a[0] for a, b in itertools.pairwise(marks)]
    evals = [b[1] - a[1] for a, b in itertools.pairwise(marks)]
    return {
        "times": times,
        "evals": evals,
        "best": float(-ga.last_generation_fitness.max()),
        "total_s": time.perf_counter() - t0,
    }


def run_pymoo(n: int, repeats: int, probe: Probe) -> dict[str, Any]:
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.ux import UX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.sampling.rnd import FloatRandomSampling
    from pymoo.operators.selection.tournament import TournamentSelection

    class Rastrigin(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=D, n_obj=1, xl=LOW, xu=HIGH)

        def _evaluate(self, x: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
            out["F"] = rastrigin(x)

    def best_of_k(pop: Any, P: np.ndarray, **kwargs: Any) -> np.ndarray:
        # pymoo's comp_by_cv_and_fitness compares 2 (in a Python loop); this is k-way, vectorized
        F = pop.get("F")[:, 0]
        return P[np.arange(P.shape[0]), F[P].argmin(axis=1)][:, None]

    problem = Rastrigin()
    algo = GA(
        pop_size=n,
        n_offsprings=n,
        sampling=FloatRandomSampling(),
        selection=TournamentSelection(func_comp=best_of_k, pressure=TOURNAMENT_K),
        crossover=UX(prob=CX_RATE),
        mutation=PM(eta=ETA, prob=1.0, prob_var=1.0 / D),
        eliminate_duplicates=False,
    )
    probe.start()
    algo.setup(problem, termination=("n_gen", 10**9), seed=SEED, verbose=False)
    algo.next()  # the initial population

    def step() -> int:
        before = algo.evaluator.n_eval
        algo.next()
        return algo.evaluator.n_eval - before

    times, evals = _timed(step, repeats)
    probe.stop()
    return {"times": times, "evals": evals, "best": float(algo.pop.get("F").min())}


RUNNERS: dict[str, Callable[[int, int, Probe], dict[str, Any]]] = {
    "genepool": run_genepool,
    "genepool.minimize": run_minimize,
    "numpy-floor": run_floor,
    "deap": run_deap,
    "pygad": run_pygad,
    "pymoo": run_pymoo,
}


def child(lib: str, n: int, repeats: int) -> None:
    probe = Probe()
    out = RUNNERS[lib](n, repeats, probe)
    out.update(rss_base_kib=probe.base_kib, rss_peak_kib=probe.peak_kib)
    print("RESULT " + json.dumps(out))


# -- the parent --------------------------------------------------------------------------------
def measure(lib: str, n: int, repeats: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", lib, str(n), str(repeats)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed: {tail[:120]}"}
    r = json.loads(lines[-1][len("RESULT ") :])
    t = np.asarray(r["times"])
    r["median_s"] = float(np.median(t))
    r["evals_per_s"] = float(np.median(r["evals"]) / r["median_s"])
    r["peak_rss_mib"] = r["rss_peak_kib"] / 1024
    r["delta_bytes_per_ind"] = (r["rss_peak_kib"] - r["rss_base_kib"]) * 1024 / n
    return r


def plan(
    lib: str, n: int, done: list[tuple[int, dict[str, Any]]], repeats: int, limit: float
) -> tuple[int, str | None]:
    """Timed generations for (lib, n), or a reason to skip it (peers only)."""
    reps = repeats if n < 1_000_000 else max(3, repeats // 2)
    if lib in OURS or not done:
        return reps, None
    prev_n, prev = done[-1]
    if "skipped" in prev:
        return 0, f"skipped (P={prev_n:,} was skipped)"
    guess = prev["median_s"] * n / prev_n
    if guess > limit:
        return 0, (
            f"skipped (~{guess:.0f} s/gen extrapolated linearly from P={prev_n:,} > {limit:.0f} s)"
        )
    if guess > 3.0:
        reps = 3
    return reps, None


def fmt_s(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| library | P | s/gen (median) | evals/s | peak RSS MiB | RSS delta B/ind "
        "| x floor | live B/ind | tracemalloc B/ind |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['library']} | {r['P']:,} | {r['skipped']} | | | | | | |")
            continue
        live = f"{r['live_bytes'] / r['P']:.0f}" if "live_bytes" in r else "-"
        traced = f"{r['traced']['ask_tell'] / r['P']:.0f}" if "traced" in r else "-"
        ratio = f"{r['ratio_to_floor']:.2f}" if r.get("ratio_to_floor") else "-"
        lines.append(
            f"| {r['library']} | {r['P']:,} | {fmt_s(r['median_s'])} | {r['evals_per_s']:.3g} "
            f"| {r['peak_rss_mib']:.0f} | {r['delta_bytes_per_ind']:.0f} | {ratio} | {live} "
            f"| {traced} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ours = [r for r in rows if r["library"] == "genepool" and "skipped" not in r]
    out = []
    ratios = [(r["P"], r["ratio_to_floor"]) for r in ours if r.get("ratio_to_floor")]
    if ratios:
        worst = max(ratios, key=lambda pr: pr[1])
        out.append(
            {
                "target": f"genepool s/gen <= {TARGET_RATIO}x numpy floor (every P)",
                "measured": ", ".join(f"{p:,}: {x:.2f}x" for p, x in ratios),
                "met": worst[1] <= TARGET_RATIO,
            }
        )
    big = [r for r in ours if r["P"] == 1_000_000]
    if big:
        s = big[0]["median_s"]
        via = [r for r in rows if r["library"] == "genepool.minimize" and r["P"] == 1_000_000]
        s_min = via[0].get("median_s") if via else None
        worst = max(s, s_min or 0.0)
        out.append(
            {
                "target": f"genepool P=1M <= {TARGET_1M_SECONDS} s/gen (ask/tell and minimize)",
                "measured": f"{s:.2f} s ask/tell" + (f", {s_min:.2f} s minimize" if s_min else ""),
                "met": worst <= TARGET_1M_SECONDS,
            }
        )
    live = [(r["P"], r["live_bytes"] / r["P"]) for r in ours]
    if live:
        worst = max(x for _, x in live)
        out.append(
            {
                "target": f"genepool live memory <= {TARGET_LIVE_BYTES} B/ind (D={D})",
                "measured": f"{worst:.0f} B/ind (max over P)",
                "met": worst <= TARGET_LIVE_BYTES,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="comma-separated population sizes"
    )
    ap.add_argument("--peers", default=",".join(PEERS), help="deap,pygad,pymoo or none")
    ap.add_argument("--repeats", type=int, default=7, help="timed generations per row")
    ap.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    ap.add_argument(
        "--peer-limit",
        type=float,
        default=30.0,
        help="skip a peer where one generation is predicted to take longer (s)",
    )
    ap.add_argument("--timeout", type=float, default=600.0, help="per-row timeout (s)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        lib, n, reps = args.child
        child(lib, int(n), int(reps))
        return 0

    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s)
    wanted = [] if args.peers.strip() == "none" else [p.strip() for p in args.peers.split(",")]
    unknown = set(wanted) - set(PEERS)
    if unknown:
        ap.error(f"unknown peers {sorted(unknown)}; choose from {list(PEERS)} or none")
    libs = list(OURS) + [p for p in wanted if dist_version(p)]
    missing = [p for p in wanted if not dist_version(p)]

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        **{name: dist_version(name) for name in ("genepool", *PEERS)},
        "genepool_git": git_revision(),
        "loadavg_1min_before": os.getloadavg()[0],
        "D": D,
        "seed": SEED,
        "warmup_generations": WARMUP,
        "repeats": args.repeats,
    }
    print(
        f"# bench_engine: Rastrigin D={D}, seed {SEED}, {env['cpus']} CPUs, "
        f"python {env['python']}, numpy {env['numpy']}, genepool {env['genepool']} "
        f"({env['genepool_git']}), " + ", ".join(f"{p} {env[p]}" for p in PEERS if env[p])
    )
    if missing:
        print(f"# not installed, skipped: {', '.join(missing)}")

    rows: list[dict[str, Any]] = []
    done: dict[str, list[tuple[int, dict[str, Any]]]] = {lib: [] for lib in libs}
    started = time.perf_counter()
    for n in sizes:  # all libraries at one P close in time, so load drift hits them alike
        for lib in libs:
            reps, skip = plan(lib, n, done[lib], args.repeats, args.peer_limit)
            t0 = time.perf_counter()
            r = {"skipped": skip} if skip else measure(lib, n, reps, args.timeout)
            r = {"library": lib, "P": n, **r}
            note = r["skipped"] if "skipped" in r else f"{fmt_s(r['median_s'])} s/gen"
            print(
                f"#   {lib:18s} P={n:>9,}: {note}  [{time.perf_counter() - t0:.1f} s]",
                file=sys.stderr,
                flush=True,
            )
            done[lib].append((n, r))
            rows.append(r)
    floor_s = {r["P"]: r["median_s"] for r in rows if r["library"] == "numpy-floor"}
    for r in rows:
        if "skipped" not in r and r["P"] in floor_s:
            r["ratio_to_floor"] = r["median_s"] / floor_s[r["P"]]
    order = {lib: i for i, lib in enumerate(libs)}
    rows.sort(key=lambda r: (r["P"], order[r["library"]]))

    print()
    print(table(rows))
    print()
    print(
        "x floor: median s/generation over the numpy floor's at the same P. RSS delta B/ind: "
        "(peak RSS - RSS after imports and setup) / P, fitness temporaries included. live "
        "B/ind: population + fitness + one offspring batch (held between ask and tell). "
        "tracemalloc B/ind: peak of new allocations in one ask or tell (fitness evaluation "
        "excluded) / P."
    )
    print()
    tg = targets(rows)
    print("| target | measured | met |")
    print("|---|---|---|")
    for t in tg:
        print(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    total = time.perf_counter() - started
    env["loadavg_1min_after"] = os.getloadavg()[0]
    print(
        f"\n# total {total:.0f} s; 1-min load average {env['loadavg_1min_before']:.2f} before, "
        f"{env['loadavg_1min_after']:.2f} after (other processes on the machine skew timings)"
    )

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "bench_engine",
                "environment": env,
                "total_s": total,
                "rows": rows,
                "targets": tg,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
