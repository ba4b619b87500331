"""NSGA-II benchmark: genepool against pymoo 0.6.2, speed, memory and quality, in the same run.

Four measurements, each a function returning rows (``benchmarks/bench_mo.py`` calls them):

- :func:`generation_times`: seconds per generation on ZDT1 (30 variables) at populations
  10^4, 10^5, 10^6, each configuration in a fresh subprocess (so memory peaks do not mix):

  - ``genepool``: ``gp.NSGA2(space, P, archive_size=None)`` driven by ask -> ZDT1 -> tell;
  - ``genepool.archive``: the same with the default Pareto archive (10,000 members);
  - ``genepool.minimize``: ``gp.minimize(zdt1, NSGA2(..., archive_size=None))``, timed per
    generation with a callback: the run loop's overhead (validation, history, the front's
    hypervolume recorded every generation) shows against ``genepool``;
  - ``pymoo``: ``pymoo.algorithms.moo.nsga2.NSGA2(pop_size=P, eliminate_duplicates=False)``
    stepped with ``next()`` (its default duplicate elimination builds a P x P distance matrix:
    80 GB at 10^5), only at P <= 10^5 (about 8 s per generation there).

  Method: the initial population and ``WARMUP`` generation(s) untimed, then the median of
  ``--repeats`` timed generations (3 at P = 10^6 and for pymoo at 10^5), fixed seed. Memory, read
  in the child from ``/proc/self/status``: ``peak RSS`` is ``VmHWM`` of the whole process at the
  end (imports, numba's kernels, everything); ``live B/ind`` is ``(VmHWM - VmRSS before the
  optimizer existed) / P``, where the baseline is taken after imports, the problem's setup and a
  tiny NSGA-II run that loads every numba kernel (so the JIT does not count): the memory one
  more individual costs at the peak of a generation (population, offspring, objectives,
  ranking temporaries, the fitness' temporaries).
- :func:`profile`: where the time of one genepool generation goes (tournament, uniforms,
  SBX + mutation kernel, parent gathers, evaluation, sort, crowding, survival, archive update,
  hypervolume, the rest of ask/tell), by wrapping the functions NSGA2 calls (so the real code
  path runs), at 10^5 and 10^6; each size in a fresh subprocess.
- :func:`quality`: median hypervolume and IGD over 10 seeds at equal evaluations, genepool
  against pymoo's NSGA-II with its defaults (SBX eta 15 prob 0.9, PM eta 20,
  ``eliminate_duplicates=True``) on ZDT1, ZDT2, ZDT3 (30 variables) and DTLZ2 (3 objectives, 12
  variables), population 100, 250 generations, of the final population's first front, against
  the reference point (1.1, ..., 1.1). Both libraries evaluate the same vectorized functions
  (defined here). IGD: mean distance from points of the true front to the nearest point found.
- :func:`flat_rss`: RSS every 1,000 generations of a 10,000-generation ``gp.minimize`` run at
  population 100 on ZDT1 with the archive capped (1,000 members); the slope of a least-squares
  line through generations 1k..10k (KiB per 1,000 generations). ``main`` runs it twice, with
  ``history_capacity`` 10,000 (the default: the in-memory history ring grows to that many
  generations by design) and 100 (what remains is growth outside the history).

The machine these were first run on has 2 cores shared with other work: compare rows of the
same run (ratios), and re-run on a quiet machine for absolute numbers.

Usage::

    python benchmarks/bench_mo_nsga2.py [--parts times,profile,quality,flat]
        [--sizes 10000,100000,1000000] [--repeats 5] [--seeds 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import dist_version, git_revision

SEED = 12345
WARMUP = 1  # untimed generations after the initial population
SIZES = (10_000, 100_000, 1_000_000)
PYMOO_MAX_P = 100_000
LIBS = ("genepool", "genepool.archive", "genepool.minimize", "pymoo")
PARTS = ("times", "profile", "quality", "flat")
RESULTS = Path(__file__).resolve().parent / "results" / "bench_mo_nsga2.json"
MARK = "RESULT "

# targets of issue 16
TARGET_1E5_S = 0.3
TARGET_1E5_RATIO = 25.0
TARGET_1E6_S = 4.0
TARGET_1E6_RSS_MIB = 1.5 * 1024
TARGET_LIVE_BYTES = 700


# -- problems: vectorized, the same functions for both libraries ------------------------------
def zdt1(X: np.ndarray) -> np.ndarray:
    """ZDT1: ``f1 = x1``, ``g = 1 + 9 mean(x2..xn)``, ``f2 = g (1 - sqrt(f1 / g))``."""
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.column_stack([f1, g * (1.0 - np.sqrt(f1 / g))])


def zdt2(X: np.ndarray) -> np.ndarray:
    """ZDT2: as ZDT1 with ``f2 = g (1 - (f1 / g)^2)`` (a concave front)."""
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    return np.column_stack([f1, g * (1.0 - (f1 / g) ** 2)])


def zdt3(X: np.ndarray) -> np.ndarray:
    """ZDT3: as ZDT1 with ``f2 = g (1 - sqrt(f1 / g) - f1 / g sin(10 pi f1))`` (5 pieces)."""
    f1 = X[:, 0]
    g = 1.0 + 9.0 * X[:, 1:].mean(axis=1)
    h = 1.0 - np.sqrt(f1 / g) - (f1 / g) * np.sin(10.0 * np.pi * f1)
    return np.column_stack([f1, g * h])


def dtlz2(X: np.ndarray, m: int = 3) -> np.ndarray:
    """DTLZ2 with ``m`` objectives: the positive orthant of the unit sphere, scaled by
    ``1 + g``, ``g = sum((x_i - 0.5)^2)`` over the last ``d - m + 1`` variables."""
    g = ((X[:, m - 1 :] - 0.5) ** 2).sum(axis=1)
    theta = X[:, : m - 1] * (np.pi / 2)
    F = np.empty((X.shape[0], m))
    for j in range(m):
        f = 1.0 + g
        for i in range(m - 1 - j):
            f = f * np.cos(theta[:, i])
        if j > 0:
            f = f * np.sin(theta[:, m - 1 - j])
        F[:, j] = f
    return F


def true_front(name: str, points: int = 2000) -> np.ndarray:
    """Points of the true Pareto front (for IGD): ``points`` on a ZDT front (ZDT3's
    non-dominated pieces from a dense sample), about ``points`` on DTLZ2's sphere octant."""
    if name == "dtlz2":
        k = int(np.ceil((np.sqrt(8 * points + 1) - 3) / 2))  # (k+1)(k+2)/2 >= points
        a, b = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
        ok = a + b <= k
        W = np.column_stack([a[ok], b[ok], k - a[ok] - b[ok]]) / k
        return W / np.linalg.norm(W, axis=1, keepdims=True)
    f1 = np.linspace(0.0, 1.0, points if name != "zdt3" else 50 * points)
    if name == "zdt1":
        return np.column_stack([f1, 1.0 - np.sqrt(f1)])
    if name == "zdt2":
        return np.column_stack([f1, 1.0 - f1**2])
    f2 = 1.0 - np.sqrt(f1) - f1 * np.sin(10.0 * np.pi * f1)
    keep = f2 < np.minimum.accumulate(np.concatenate([[np.inf], f2[:-1]]))  # sweep: f1 sorted
    return np.column_stack([f1[keep], f2[keep]])


PROBLEMS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int, int]] = {
    # name: (function, variables, objectives)
    "zdt1": (zdt1, 30, 2),
    "zdt2": (zdt2, 30, 2),
    "zdt3": (zdt3, 30, 2),
    "dtlz2": (dtlz2, 12, 3),
}


def igd(F: np.ndarray, front: np.ndarray) -> float:
    """Inverted generational distance: mean over ``front`` of the Euclidean distance to the
    nearest row of ``F`` (blocks of 256 front points: memory 256 x len(F))."""
    F = np.asarray(F, dtype=np.float64)
    out = np.empty(front.shape[0])
    for s in range(0, front.shape[0], 256):
        blk = front[s : s + 256]
        out[s : s + 256] = np.sqrt(((blk[:, None, :] - F[None, :, :]) ** 2).sum(-1)).min(1)
    return float(out.mean())


def hypervolume(F: np.ndarray, reference: np.ndarray) -> float:
    """moocore's exact hypervolume of the rows of ``F`` that dominate ``reference``."""
    import moocore

    F = np.asarray(F, dtype=np.float64)
    F = F[np.all(F < reference, axis=1)]
    return float(moocore.hypervolume(F, ref=reference)) if F.shape[0] else 0.0


def _pymoo_problem(name: str) -> Any:
    from pymoo.core.problem import Problem

    fn, d, m = PROBLEMS[name]

    class Wrapped(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=d, n_obj=m, xl=0.0, xu=1.0)

        def _evaluate(self, x: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
            out["F"] = fn(x)

    return Wrapped()


# -- measuring in a child process -------------------------------------------------------------
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover


def _warm_genepool() -> None:
    """Load every numba kernel NSGA2 calls (tiny run), so the JIT is not counted as memory."""
    import genepool as gp

    opt = gp.NSGA2(gp.Space.box(0.0, 1.0, 30), 64, seed=0, reference_point=(1.1, 1.1))
    for _ in range(3):
        X = opt.ask()
        opt.tell(X, zdt1(X))
    opt.hypervolume()
    gp.minimize(
        zdt1,
        gp.NSGA2(gp.Space.box(0.0, 1.0, 30), 64, seed=0, archive_size=None),
        generations=2,
        objectives=["f1", "f2"],
        progress=False,
    )


def _stepper(lib: str, n: int) -> tuple[Callable[[], int], Callable[[], dict[str, Any]]]:
    """(one generation returning its evaluations, final facts) for an ask/tell library."""
    if lib.startswith("genepool"):
        import genepool as gp

        archive = 10_000 if lib == "genepool.archive" else None
        opt = gp.NSGA2(
            gp.Space.box(0.0, 1.0, 30),
            n,
            seed=SEED,
            archive_size=archive,
            reference_point=(1.1, 1.1),
        )

        def step() -> int:
            X = opt.ask()
            opt.tell(X, zdt1(X))
            return X.shape[0]

        def facts() -> dict[str, Any]:
            return {"front": int(opt.front()[1].shape[0]), "hypervolume": opt.hypervolume()}

        return step, facts

    from pymoo.algorithms.moo.nsga2 import NSGA2

    algo = NSGA2(pop_size=n, eliminate_duplicates=False)
    algo.setup(_pymoo_problem("zdt1"), termination=("n_gen", 10**9), seed=SEED, verbose=False)

    def pstep() -> int:
        before = algo.evaluator.n_eval
        algo.next()
        return algo.evaluator.n_eval - before

    def pfacts() -> dict[str, Any]:
        F = algo.opt.get("F")
        return {"front": int(F.shape[0]), "hypervolume": hypervolume(F, np.array([1.1, 1.1]))}

    return pstep, pfacts


def _child_times(cfg: dict[str, Any]) -> dict[str, Any]:
    lib, n, repeats = cfg["lib"], cfg["n"], cfg["repeats"]
    if lib.startswith("genepool"):
        _warm_genepool()
    else:
        import pymoo.algorithms.moo.nsga2  # noqa: F401  (imports before the baseline)
    gc.collect()
    base_kib = _status_kib("VmRSS")
    times: list[float] = []
    evals: list[int] = []
    if lib == "genepool.minimize":
        import genepool as gp

        stamps: list[tuple[float, int]] = []
        res = gp.minimize(
            zdt1,
            gp.NSGA2(
                gp.Space.box(0.0, 1.0, 30),
                n,
                seed=SEED,
                archive_size=None,
                reference_point=(1.1, 1.1),
            ),
            generations=1 + WARMUP + repeats,
            objectives=["f1", "f2"],
            progress=False,
            callbacks=[lambda g: stamps.append((time.perf_counter(), g.n_evaluations))],
        )
        marks = stamps[WARMUP:]
        times = [b[0] - a[0] for a, b in itertools.pairwise(marks)]
        evals = [b[1] - a[1] for a, b in itertools.pairwise(marks)]
        facts = {"hypervolume": float(res.hypervolume)}
    else:
        step, final = _stepper(lib, n)
        step()  # the initial population
        for g in range(WARMUP + repeats):
            t0 = time.perf_counter()
            k = step()
            if g >= WARMUP:
                times.append(time.perf_counter() - t0)
                evals.append(k)
        facts = final()
    peak_kib = _status_kib("VmHWM")
    return {
        "times": times,
        "evals": evals,
        "rss_base_kib": base_kib,
        "rss_peak_kib": peak_kib,
        **facts,
    }


class _Timer:
    """Seconds spent in named parts, summed."""

    def __init__(self) -> None:
        self.s: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.s[name] = self.s.get(name, 0.0) + time.perf_counter() - t0

        return timed


class _TimedRng:
    """A Generator whose ``random`` (the variation's uniforms) is timed; the rest forwards."""

    def __init__(self, rng: np.random.Generator, timer: _Timer) -> None:
        self._rng = rng
        self.random = timer.wrap("uniforms (rng.random)", rng.random)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rng, name)


def _child_profile(cfg: dict[str, Any]) -> dict[str, Any]:
    """Per-generation seconds of each part of a genepool generation (archive on, hypervolume
    computed once per generation as the run loop does)."""
    import genepool as gp
    from genepool.algorithms import nsga2 as module

    _warm_genepool()
    n, repeats = cfg["n"], cfg["repeats"]
    opt = gp.NSGA2(gp.Space.box(0.0, 1.0, 30), n, seed=SEED, reference_point=(1.1, 1.1))
    timer = _Timer()
    evaluate = timer.wrap("evaluation (ZDT1)", zdt1)
    X = opt.ask()
    opt.tell(X, evaluate(X))
    for _ in range(WARMUP):
        X = opt.ask()
        opt.tell(X, evaluate(X))
    saved = {k: getattr(module, k) for k in ("constrained_rank", "crowding_distance", "survivors")}
    saved["vary_pairs_nb"] = module.vary_pairs_nb
    names = {
        "constrained_rank": "non-dominated sort",
        "crowding_distance": "crowding distance",
        "survivors": "survivor pick",
        "vary_pairs_nb": "SBX + mutation kernel",
    }
    for k, label in names.items():
        setattr(module, k, timer.wrap(label, saved[k]))
    opt._tournament = timer.wrap("tournament", opt._tournament)  # type: ignore[method-assign]
    opt._archive_update = timer.wrap("archive update", opt._archive_update)  # type: ignore[method-assign]
    opt.state.rng = _TimedRng(opt.state.rng, timer)  # type: ignore[assignment]
    ask, tell = timer.wrap("ask", opt.ask), timer.wrap("tell", opt.tell)
    hv = timer.wrap("hypervolume (front)", opt.hypervolume)
    t0 = time.perf_counter()
    for _ in range(repeats):
        X = ask()
        tell(X, evaluate(X))
        hv()
    total = time.perf_counter() - t0
    for k, fn in saved.items():
        setattr(module, k, fn)
    s = {k: v / repeats for k, v in timer.s.items()}
    inner_ask = sum(
        s.get(k, 0.0) for k in ("tournament", "uniforms (rng.random)", "SBX + mutation kernel")
    )
    inner_tell = sum(
        s.get(k, 0.0)
        for k in ("non-dominated sort", "crowding distance", "survivor pick", "archive update")
    )
    s["ask: rest (parent gathers, offspring array)"] = s["ask"] - inner_ask
    s["tell: rest (concatenate, copy survivors, permute)"] = s["tell"] - inner_tell
    s["generation (ask + evaluation + tell + hypervolume)"] = total / repeats
    return {"seconds": s, "archive_size": int(opt.archive.size) if opt.archive else 0}


def _child_flat(cfg: dict[str, Any]) -> dict[str, Any]:
    import genepool as gp

    generations, n, every = cfg["generations"], cfg["n"], cfg["every"]
    marks: list[tuple[int, int, float]] = []
    t0 = time.perf_counter()

    def record(g: Any) -> None:
        if g.generation % every == 0:
            gc.collect()
            marks.append((int(g.generation), _status_kib("VmRSS"), time.perf_counter() - t0))

    res = gp.minimize(
        zdt1,
        gp.NSGA2(
            gp.Space.box(0.0, 1.0, 30),
            n,
            seed=SEED,
            archive_size=cfg["archive"],
            reference_point=(1.1, 1.1),
        ),
        generations=generations,
        objectives=["f1", "f2"],
        progress=False,
        callbacks=[record],
        history_capacity=cfg.get("history_capacity", 10_000),
    )
    return {
        "marks": marks,
        "hypervolume": float(res.hypervolume),
        "pareto_rows": len(res.pareto),
        "elapsed_s": float(res.elapsed),
        "rss_peak_kib": _status_kib("VmHWM"),
    }


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "times": _child_times,
    "profile": _child_profile,
    "flat": _child_flat,
}


def _run_child(cfg: dict[str, Any], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed: {tail[:160]}"}
    out: dict[str, Any] = json.loads(lines[-1][len(MARK) :])
    out["child_wall_s"] = time.perf_counter() - t0
    return out


# -- the four measurements --------------------------------------------------------------------
def generation_times(
    sizes: tuple[int, ...] = SIZES,
    libs: tuple[str, ...] = LIBS,
    repeats: int = 5,
    timeout: float = 900.0,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Seconds per generation and memory on ZDT1 (30 variables): one row per (library, P),
    each measured in a fresh subprocess; ``ratio_pymoo`` on genepool rows where pymoo ran."""
    rows: list[dict[str, Any]] = []
    for n in sizes:  # every library at one P close in time: load drift hits them alike
        for lib in libs:
            if lib == "pymoo" and (n > PYMOO_MAX_P or not dist_version("pymoo")):
                continue
            reps = 3 if n >= 1_000_000 or (lib == "pymoo" and n >= 100_000) else repeats
            t0 = time.perf_counter()
            r = _run_child({"part": "times", "lib": lib, "n": n, "repeats": reps}, timeout)
            row: dict[str, Any] = {"library": lib, "P": n, **r}
            if "skipped" not in r:
                row["median_s"] = float(np.median(r["times"]))
                row["evals_per_s"] = float(np.median(r["evals"]) / row["median_s"])
                row["peak_rss_mib"] = r["rss_peak_kib"] / 1024
                row["live_bytes_per_ind"] = (r["rss_peak_kib"] - r["rss_base_kib"]) * 1024 / n
            note = r.get("skipped") or f"{row['median_s']:.3g} s/gen"
            log(f"#   {lib:18s} P={n:>9,}: {note}  [{time.perf_counter() - t0:.0f} s]")
            rows.append(row)
    peer = {r["P"]: r["median_s"] for r in rows if r["library"] == "pymoo" and "median_s" in r}
    for r in rows:
        if r["library"] != "pymoo" and "median_s" in r and r["P"] in peer:
            r["ratio_pymoo"] = peer[r["P"]] / r["median_s"]
    return rows


def profile(
    sizes: tuple[int, ...] = (100_000, 1_000_000),
    repeats: int = 3,
    timeout: float = 900.0,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Where a genepool generation's time goes: one row per P, ``seconds`` per part."""
    rows = []
    for n in sizes:
        r = _run_child({"part": "profile", "n": n, "repeats": repeats}, timeout)
        log(f"#   profile P={n:,}: " + (r.get("skipped") or "done"))
        rows.append({"P": n, **r})
    return rows


def _run_genepool(name: str, seed: int, population: int, generations: int) -> np.ndarray:
    import genepool as gp

    fn, d, m = PROBLEMS[name]
    opt = gp.NSGA2(
        gp.Space.box(0.0, 1.0, d),
        population,
        seed=seed,
        archive_size=None,
        reference_point=np.full(m, 1.1),
    )
    for _ in range(generations):
        X = opt.ask()
        opt.tell(X, fn(X))
    assert opt.state.n_evaluations == population * generations
    return opt.front()[1]


def _run_pymoo(name: str, seed: int, population: int, generations: int) -> np.ndarray:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    res = minimize(
        _pymoo_problem(name),
        NSGA2(pop_size=population),
        ("n_gen", generations),
        seed=seed,
        verbose=False,
    )
    assert res.algorithm.evaluator.n_eval == population * generations
    return np.asarray(res.F)


def quality_runs(
    name: str, library: str, seeds: int = 10, population: int = 100, generations: int = 250
) -> dict[str, Any]:
    """Hypervolume (reference 1.1 per objective) and IGD of the final population's first front
    of ``library`` (``genepool`` or ``pymoo``) on ``name`` for seeds 0..seeds-1."""
    m = PROBLEMS[name][2]
    ref = np.full(m, 1.1)
    front = true_front(name)
    run = _run_genepool if library == "genepool" else _run_pymoo
    hv, ig = [], []
    t0 = time.perf_counter()
    for seed in range(seeds):
        F = run(name, seed, population, generations)
        hv.append(hypervolume(F, ref))
        ig.append(igd(F, front))
    return {
        "problem": name,
        "library": library,
        "population": population,
        "generations": generations,
        "evaluations": population * generations,
        "seeds": seeds,
        "hv": hv,
        "igd": ig,
        "hv_median": float(np.median(hv)),
        "igd_median": float(np.median(ig)),
        "hv_true_front": hypervolume(front, ref),
        "seconds": time.perf_counter() - t0,
    }


def quality(
    problems: tuple[str, ...] = ("zdt1", "zdt2", "zdt3", "dtlz2"),
    seeds: int = 10,
    population: int = 100,
    generations: int = 250,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """One row per (problem, library): median hypervolume and IGD over ``seeds`` seeds."""
    libs = ["genepool"] + (["pymoo"] if dist_version("pymoo") else [])
    rows = []
    for name in problems:
        for lib in libs:
            r = quality_runs(name, lib, seeds, population, generations)
            log(
                f"#   quality {name} {lib}: HV {r['hv_median']:.5f} IGD {r['igd_median']:.5f}"
                f"  [{r['seconds']:.0f} s]"
            )
            rows.append(r)
    return rows


def flat_rss(
    generations: int = 10_000,
    population: int = 100,
    archive: int = 1_000,
    every: int = 1_000,
    timeout: float = 1800.0,
    history_capacity: int = 10_000,
) -> list[dict[str, Any]]:
    """RSS every ``every`` generations of a long ``gp.minimize`` run (fresh subprocess): one
    row per mark, the last with ``slope_kib_per_1000_gen`` (least squares over the marks).
    ``history_capacity`` is passed to ``minimize``: its in-memory history ring grows until
    it holds that many generations, by design."""
    cfg = {
        "part": "flat",
        "generations": generations,
        "n": population,
        "archive": archive,
        "every": every,
        "history_capacity": history_capacity,
    }
    r = _run_child(cfg, timeout)
    if "skipped" in r:
        return [{"skipped": r["skipped"], **cfg}]
    g = np.array([mk[0] for mk in r["marks"]], dtype=float)
    rss = np.array([mk[1] for mk in r["marks"]], dtype=float)
    slope = float(np.polyfit(g, rss, 1)[0] * 1000) if g.size >= 2 else float("nan")
    rows: list[dict[str, Any]] = [
        {
            "generation": int(a),
            "rss_mib": b / 1024,
            "elapsed_s": c,
            "history_capacity": history_capacity,
        }
        for a, b, c in r["marks"]
    ]
    rows[-1].update(
        slope_kib_per_1000_gen=slope,
        rss_growth_mib=float(rss[-1] - rss[0]) / 1024,
        hypervolume=r["hypervolume"],
        pareto_rows=r["pareto_rows"],
        population=population,
        archive=archive,
    )
    return rows


# -- tables -----------------------------------------------------------------------------------
def _s(x: float) -> str:
    return f"{x:.3g}"


def times_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| library | P | s/gen (median) | evals/s | pymoo / this | peak RSS MiB | live B/ind |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['library']} | {r['P']:,} | {r['skipped']} | | | | |")
            continue
        ratio = f"{r['ratio_pymoo']:.1f}x" if "ratio_pymoo" in r else "-"
        lines.append(
            f"| {r['library']} | {r['P']:,} | {_s(r['median_s'])} | {r['evals_per_s']:.3g} "
            f"| {ratio} | {r['peak_rss_mib']:.0f} | {r['live_bytes_per_ind']:.0f} |"
        )
    return "\n".join(lines)


def profile_table(rows: list[dict[str, Any]]) -> str:
    ok = [r for r in rows if "seconds" in r]
    if not ok:
        return "(no profile)"
    parts = list(ok[0]["seconds"])
    lines = [
        "| part | " + " | ".join(f"s at P={r['P']:,} (share)" for r in ok) + " |",
        "|---|" + "---|" * len(ok),
    ]
    for p in parts:
        cells = []
        for r in ok:
            s = r["seconds"].get(p, 0.0)
            share = s / r["seconds"]["generation (ask + evaluation + tell + hypervolume)"]
            cells.append(f"{s:.3f} ({100 * share:.0f} %)")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quality_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| problem | library | evals | HV median (true front) | HV min..max | IGD median |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['problem']} | {r['library']} | {r['evaluations']:,} | {r['hv_median']:.5f} "
            f"({r['hv_true_front']:.5f}) | {min(r['hv']):.5f}..{max(r['hv']):.5f} "
            f"| {r['igd_median']:.5f} |"
        )
    return "\n".join(lines)


def flat_table(rows: list[dict[str, Any]]) -> str:
    if "skipped" in rows[0]:
        return f"flat RSS: {rows[0]['skipped']}"
    caps = list(dict.fromkeys(r["history_capacity"] for r in rows))
    by = {c: [r for r in rows if r["history_capacity"] == c] for c in caps}
    lines = ["| generation | " + " | ".join(f"RSS MiB (history {c:,})" for c in caps) + " |"]
    lines.append("|---|" + "---|" * len(caps))
    for i, r in enumerate(by[caps[0]]):
        cells = [f"{by[c][i]['rss_mib']:.1f}" if i < len(by[c]) else "" for c in caps]
        lines.append(f"| {r['generation']:,} | " + " | ".join(cells) + " |")
    for c in caps:
        last = by[c][-1]
        lines.append(
            f"\nhistory {c:,}: slope {last['slope_kib_per_1000_gen']:.1f} KiB per 1,000 "
            f"generations (growth {last['rss_growth_mib']:.2f} MiB from generation "
            f"{by[c][0]['generation']:,} to {last['generation']:,}; population "
            f"{last['population']}, archive cap {last['archive']}, final archive "
            f"{last['pareto_rows']} rows, {last['elapsed_s']:.0f} s)"
        )
    return "\n".join(lines)


def targets(times: list[dict[str, Any]], qual: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 16's targets against what was measured."""
    out: list[dict[str, Any]] = []

    def row(lib: str, n: int) -> dict[str, Any] | None:
        hit = [r for r in times if r["library"] == lib and r["P"] == n and "median_s" in r]
        return hit[0] if hit else None

    r5, r6 = row("genepool", 100_000), row("genepool", 1_000_000)
    if r5:
        ratio = r5.get("ratio_pymoo")
        out.append(
            {
                "target": f"P=1e5: <= {TARGET_1E5_S} s/gen and >= {TARGET_1E5_RATIO:.0f}x pymoo",
                "measured": f"{r5['median_s']:.3f} s" + (f", {ratio:.1f}x" if ratio else ""),
                "met": r5["median_s"] <= TARGET_1E5_S and (ratio or 0) >= TARGET_1E5_RATIO,
            }
        )
    if r6:
        out.append(
            {
                "target": f"P=1e6: <= {TARGET_1E6_S} s/gen",
                "measured": f"{r6['median_s']:.2f} s",
                "met": r6["median_s"] <= TARGET_1E6_S,
            }
        )
        out.append(
            {
                "target": f"P=1e6: peak RSS <= {TARGET_1E6_RSS_MIB:.0f} MiB (whole process)",
                "measured": f"{r6['peak_rss_mib']:.0f} MiB",
                "met": r6["peak_rss_mib"] <= TARGET_1E6_RSS_MIB,
            }
        )
        out.append(
            {
                "target": f"live memory <= {TARGET_LIVE_BYTES} B/ind (P=1e6)",
                "measured": f"{r6['live_bytes_per_ind']:.0f} B/ind",
                "met": r6["live_bytes_per_ind"] <= TARGET_LIVE_BYTES,
            }
        )
    by = {(r["problem"], r["library"]): r for r in qual}
    for name in dict.fromkeys(r["problem"] for r in qual):
        ours, peer = by.get((name, "genepool")), by.get((name, "pymoo"))
        if ours and peer:
            out.append(
                {
                    "target": f"{name}: median HV >= pymoo's",
                    "measured": f"{ours['hv_median']:.5f} vs {peer['hv_median']:.5f}",
                    "met": ours["hv_median"] >= peer["hv_median"],
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default=",".join(PARTS), help="times,profile,quality,flat")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="populations (times)")
    ap.add_argument("--libs", default=",".join(LIBS), help="rows of the times part")
    ap.add_argument("--repeats", type=int, default=5, help="timed generations per row")
    ap.add_argument("--profile-sizes", default="100000,1000000")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per quality row")
    ap.add_argument("--generations", type=int, default=250, help="generations per quality run")
    ap.add_argument("--flat-generations", type=int, default=10_000)
    ap.add_argument("--json", type=Path, default=RESULTS, help="where to write the results")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        cfg = json.loads(args.child)
        print(MARK + json.dumps(CHILDREN[cfg["part"]](cfg)), flush=True)
        return 0

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts {sorted(unknown)}; choose from {list(PARTS)}")

    def ints(text: str) -> tuple[int, ...]:
        return tuple(sorted(int(s.replace("_", "")) for s in text.split(",") if s))

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        **{name: dist_version(name) for name in ("genepool", "pymoo", "moocore", "numba")},
        "genepool_git": git_revision(),
        "loadavg_1min_before": os.getloadavg()[0],
        "seed": SEED,
        "warmup_generations": WARMUP,
    }
    print(
        f"# bench_mo_nsga2: {env['cpus']} CPUs, python {env['python']}, numpy {env['numpy']}, "
        f"genepool {env['genepool']} ({env['genepool_git']}), pymoo {env['pymoo']}, "
        f"moocore {env['moocore']}"
    )
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    out: dict[str, Any] = {"benchmark": "bench_mo_nsga2", "environment": env}
    if "times" in parts:
        libs = tuple(s.strip() for s in args.libs.split(",") if s.strip())
        out["times"] = generation_times(ints(args.sizes), libs, args.repeats, log=log)
        print("\n## seconds per generation, ZDT1 (30 variables)\n")
        print(times_table(out["times"]))
        print(
            "\nlive B/ind: (VmHWM at the end - VmRSS before the optimizer existed, after imports "
            "and numba's kernels) / P. peak RSS: VmHWM of the whole process. genepool rows: no "
            "archive except genepool.archive (10,000 members); pymoo: eliminate_duplicates=False."
        )
    if "profile" in parts:
        out["profile"] = profile(ints(args.profile_sizes), log=log)
        print("\n## where a genepool generation's time goes (archive on, s per generation)\n")
        print(profile_table(out["profile"]))
    if "quality" in parts:
        out["quality"] = quality(seeds=args.seeds, generations=args.generations, log=log)
        print(f"\n## quality at equal evaluations ({args.seeds} seeds, population 100)\n")
        print(quality_table(out["quality"]))
    if "flat" in parts:
        out["flat"] = [
            row
            for cap in (10_000, 100)
            for row in flat_rss(
                generations=args.flat_generations,
                every=max(1, args.flat_generations // 10),
                history_capacity=cap,
            )
        ]
        print("\n## RSS of a long run (gp.minimize, ZDT1)\n")
        print(flat_table(out["flat"]))
    out["targets"] = targets(out.get("times", []), out.get("quality", []))
    if out["targets"]:
        print("\n| target | measured | met |\n|---|---|---|")
        for t in out["targets"]:
            print(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")
    out["total_s"] = time.perf_counter() - started
    env["loadavg_1min_after"] = os.getloadavg()[0]
    print(
        f"\n# total {out['total_s']:.0f} s; 1-min load average "
        f"{env['loadavg_1min_before']:.2f} before, {env['loadavg_1min_after']:.2f} after "
        f"(a 2-core machine shared with other work skews timings)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(f"# wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
