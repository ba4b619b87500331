"""Golden runs: seeded runs whose outputs must stay bit for bit what ``tests/golden/`` recorded.

They pin down what a user sees (best, population, history, stop reason, error messages, the
files of ``genepool evolve``/``backtest``, ``GASearchCV``'s results) across the GA with every
selection and replacement, PSO, the cache, each executor, memory budgets with small chunks,
checkpoint/resume, ``minimize``/``maximize``, so that a redesign of the run loop, the evaluator
or the evolve runner can show that nothing changed. Values that are measured, not computed
(wall times, RSS, timestamps, versions, absolute paths, the automatic cache's on/off decision
and chunk sizes chosen from measured memory) are not recorded. See ``tests/golden/README.md``.

Regenerating is explicit and fails on purpose, so that CI can never rewrite them silently::

    GENEPOOL_GOLDEN_WRITE=1 python -m pytest tests/test_golden.py -p no:cacheprovider

rewrites ``tests/golden/<run>.json`` for every run and then fails each test with "golden file
... rewritten"; run it again without the variable to see them pass. Rewrite only for an
intended behaviour change, and name the change in the commit message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import genepool as gp
import golden_record as golden
from genepool.errors import FitnessError
from support import DETERMINISTIC, MIXED_SPACE, CrashAt, mixed_fitness

BOX = gp.Space.box(-5.12, 5.12, 5)
#: best.json sections that a seed fixes (elapsed, peak_rss and cache statistics are measured).
BEST_KEYS = [
    "strategy", "objective", "valid", "invalid_reason", "warnings", "verdict_reason", "params",
    "fitness", "in_sample", "out_of_sample", "train", "test", "annualization", "trials",
    "deflated_sharpe", "pbo", "verdict", "min_trades", "min_trades_rule", "status",
    "stop_reason", "n_generations", "n_evaluations", "walk_forward",
]  # fmt: skip


# -- what a run is recorded as ------------------------------------------------------------------
def result_record(res: gp.Result, opt: gp.Optimizer | None = None) -> dict[str, Any]:
    """Result, history (deterministic columns) and the optimizer's final population."""
    rec: dict[str, Any] = {
        "best_x": res.best_x,
        "best_params": res.best_params,
        "best_fitness": res.best_fitness,
        "n_evaluations": res.n_evaluations,
        "n_generations": res.n_generations,
        "stop_reason": res.stop_reason,
        "n_errors": res.n_errors,
        "first_error": res.first_error,
        "history": res.history[DETERMINISTIC],
        "evaluations.requested": res.memory.evaluations["requested"],
    }
    st = getattr(opt, "state", None)
    if isinstance(st, gp.GAState):
        rec["state"] = {"X": st.X, "fitness": st.fitness, "generation": st.generation}
    elif isinstance(st, gp.PSOState):
        rec["state"] = {
            "X": st.X,
            "V": st.V,
            "pbest_X": st.pbest_X,
            "pbest_f": st.pbest_f,
            "iteration": st.iteration,
            "max_velocity": st.max_velocity,
        }
    if st is not None:
        rec["state"]["rng"] = str(st.rng.bit_generator.state["state"])  # the stream's position
    return golden.flatten(rec)


def check(
    name: str, record: dict[str, Any], same_as: str | None = None, ignore: tuple[str, ...] = ()
) -> None:
    """Compare ``record`` with ``golden/<name>.json`` (or write it, then fail on purpose).

    ``same_as``: compare with another run's file instead (never written from here), leaving
    out the keys ``ignore``.
    """
    record = golden.canonical(record)
    target = same_as or name
    if golden.writing() and same_as is None:
        path = golden.write(name, record)
        pytest.fail(
            f"golden file {path.relative_to(Path(__file__).parent.parent)} rewritten "
            f"({golden.WRITE_ENV}=1); this run fails on purpose: unset it, rerun, and name the "
            "behaviour change in the commit message"
        )
    if not golden.path_of(target).exists():
        pytest.fail(
            f"no golden file for {target!r}: record it with "
            f"{golden.WRITE_ENV}=1 python -m pytest tests/test_golden.py"
        )
    want = {k: v for k, v in golden.read(target).items() if k not in ignore}
    diffs = golden.differences(want, {k: v for k, v in record.items() if k not in ignore})
    if diffs:
        shown = "\n  ".join(diffs[:25])
        more = f"\n  ... and {len(diffs) - 25} more" if len(diffs) > 25 else ""
        pytest.fail(
            f"run {name!r} differs from golden/{target}.json in {len(diffs)} value(s):\n"
            f"  {shown}{more}"
        )


def _minimize(problem, opt, sense="min", **kw) -> dict[str, Any]:
    run = gp.minimize if sense == "min" else gp.maximize
    res = run(problem, opt, progress=False, **kw)
    return result_record(res, opt)


def neg_mixed(X: np.ndarray) -> np.ndarray:
    return -mixed_fitness(X)


# -- GA: every selection and replacement, other operators on the way ------------------------------
GA_RUNS = {
    "ga_default_rastrigin": ({}, BOX, "min"),
    "ga_tournament_generational": (
        {"selection": ("tournament", {"k": 3}), "replacement": "generational", "elitism": 2,
         "crossover": "sbx"},
        MIXED_SPACE, "min",
    ),
    "ga_rank_plus": (
        {"selection": "rank", "crossover": "blend", "mutation": "gaussian", "repair": "clip"},
        MIXED_SPACE, "min",
    ),
    "ga_roulette_comma": (
        {"selection": "roulette", "replacement": "comma", "offspring_size": 60,
         "crossover": "one_point", "mutation": "uniform_reset"},
        MIXED_SPACE, "min",
    ),
    "ga_sus_generational_maximize": (
        {"selection": "sus", "replacement": "generational", "crossover": "two_point",
         "mutation": "integer_step"},
        MIXED_SPACE, "max",
    ),
    "ga_truncation_plus": (
        {"selection": "truncation", "crossover": "arithmetic", "repair": "resample"},
        MIXED_SPACE, "min",
    ),
    "ga_float32": ({"dtype": np.float32, "mutation_rate": 0.3}, BOX, "min"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(GA_RUNS))
def test_ga(name):
    options, space, sense = GA_RUNS[name]
    if space is BOX:
        problem = gp.problems.rastrigin
    else:
        problem = mixed_fitness if sense == "min" else neg_mixed
    opt = gp.GA(space, 40, seed=7, **options)
    check(name, _minimize(problem, opt, sense, generations=8))


# -- PSO ----------------------------------------------------------------------------------------
PSO_RUNS = {
    "pso_global": ({}, BOX, "min", {"generations": 12}),
    # the optimizer's own stop (max_iterations) ends this one
    "pso_ring_linear_periodic": (
        {"topology": ("ring", {"k": 4}), "inertia": ("linear", 0.9, 0.4), "max_iterations": 10,
         "boundary": "periodic", "velocity_clamp": 0.3},
        BOX, "min", {},
    ),
    "pso_von_neumann_mixed_maximize": (
        {"topology": "von_neumann", "boundary": "random"}, MIXED_SPACE, "max",
        {"max_evaluations": 300},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PSO_RUNS))
def test_pso(name):
    options, space, sense, stops = PSO_RUNS[name]
    problem = gp.problems.rastrigin if space is BOX else neg_mixed
    opt = gp.PSO(space, 30, seed=3, **options)
    check(name, _minimize(problem, opt, sense, **stops))


# -- stops, callbacks, errors -------------------------------------------------------------------
class Seen:
    """A callback keeping what it was shown (the user's sign) and stopping at generation 9."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def __call__(self, info: gp.Generation) -> bool:
        self.rows.append(
            (info.generation, info.n_evaluations, info.best_fitness, float(np.sum(info.fitness)))
        )
        return info.generation == 9


def test_stops_and_callbacks():
    """maximize with a target in the user's sign, stagnation, max_evaluations, a callback."""
    rec: dict[str, Any] = {}
    seen = Seen()
    opt = gp.GA(MIXED_SPACE, 30, seed=11)
    rec["target"] = _minimize(neg_mixed, opt, "max", generations=40, target=-1.5, callbacks=[seen])
    rec["target.callback"] = np.array(seen.rows)
    opt = gp.GA(MIXED_SPACE, 20, seed=12)
    rec["stagnation"] = _minimize(mixed_fitness, opt, generations=60, stagnation=3)
    opt = gp.GA(BOX, 30, seed=13)
    rec["max_evaluations"] = _minimize(gp.problems.sphere, opt, max_evaluations=100)
    seen = Seen()
    opt = gp.GA(BOX, 30, seed=14)
    rec["callback_stop"] = _minimize(gp.problems.sphere, opt, generations=30, callbacks=[seen])
    check("stops_and_callbacks", golden.flatten(rec))


def _flaky(X: np.ndarray) -> np.ndarray:
    """mixed_fitness, NaN where the categorical gene is 'x' and the flag is on."""
    p = MIXED_SPACE.decode(X)
    y = mixed_fitness(X)
    y[(p["c"] == "x") & p["flag"]] = np.nan
    return y


def test_errors_penalized_and_raised():
    rec: dict[str, Any] = {}
    opt = gp.GA(MIXED_SPACE, 30, seed=5)
    rec["penalize_min"] = _minimize(_flaky, opt, generations=5, on_error="penalize", penalty=1e6)
    opt = gp.GA(MIXED_SPACE, 30, seed=5)
    rec["penalize_max"] = _minimize(
        lambda X: -_flaky(X), opt, "max", generations=5, on_error="penalize"
    )
    with pytest.raises(FitnessError) as exc:
        gp.minimize(_flaky, gp.GA(MIXED_SPACE, 30, seed=5), generations=5, progress=False)
    rec["raise.message"] = str(exc.value)
    check("errors", golden.flatten(rec))


# -- cache and evaluator ------------------------------------------------------------------------
def test_cache_on_fixed_chunks():
    """A forced cache and fixed chunks: hits, misses and chunk sizes are deterministic too."""
    opt = gp.GA(MIXED_SPACE, 40, seed=21)
    res = gp.minimize(mixed_fitness, opt, generations=10, cache=True, chunk_size=7, progress=False)
    rec = result_record(res, opt)
    ev = res.memory.evaluations
    rec.update(
        golden.flatten(
            {
                "evaluations": {k: ev[k] for k in ("requested", "evaluated", "duplicates")},
                "cache": {k: res.memory.cache[k] for k in ("hits", "misses", "entries")},
                "chunk_sizes": {str(k): v for k, v in sorted(res.memory.chunk_sizes.items())},
            }
        )
    )
    check("cache_on_chunk7", rec)


def test_cache_off():
    opt = gp.GA(MIXED_SPACE, 40, seed=21)
    res = gp.minimize(mixed_fitness, opt, generations=10, cache=False, progress=False)
    rec = result_record(res, opt)
    rec.update(
        golden.flatten({"chunk_sizes": {str(k): v for k, v in res.memory.chunk_sizes.items()}})
    )
    check("cache_off", rec)


def test_evaluator_batches():
    """The Evaluator alone: three batches with duplicates through a cache, fixed chunks."""
    rng = np.random.default_rng(4)
    ev = gp.Evaluator(mixed_fitness, MIXED_SPACE, cache=True, chunk_size=7)
    rec: dict[str, Any] = {}
    X = MIXED_SPACE.sample(30, rng)
    for i, batch in enumerate((X, np.concatenate([X[:10], MIXED_SPACE.sample(15, rng)]), X[::-1])):
        rec[f"y{i}"] = ev.evaluate(batch)
    stats = ev.stats
    rec["stats"] = {k: stats[k] for k in ("requested", "evaluated", "duplicates", "errors")}
    rec["chunk_sizes"] = {str(k): v for k, v in stats["chunk_sizes"].items()}
    rec["cache"] = {k: stats["cache"][k] for k in ("hits", "misses", "entries")}
    check("evaluator_batches", golden.flatten(rec))


# -- memory budget: small chunks from the budget ------------------------------------------------
class Heavy(gp.Problem):
    """mixed_fitness that says a candidate needs 256 MiB: a 4 GB budget gives chunks of ~10."""

    space = MIXED_SPACE

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return mixed_fitness(X)

    def bytes_per_candidate(self) -> int:
        return 256 * 2**20


def test_memory_budget_small_chunks():
    # Chunk sizes follow the measured RSS, so they are not recorded; the values must not care.
    opt = gp.GA(MIXED_SPACE, 60, seed=31)
    res = gp.minimize(Heavy(), opt, generations=6, memory_limit="4GB", progress=False)
    assert max(res.memory.chunk_sizes) < 60, res.memory.chunk_sizes  # it did chunk
    check("memory_budget_small_chunks", result_record(res, opt))


# -- executors: one run, the same golden --------------------------------------------------------
def _executor_run(executor: Any, **kw) -> dict[str, Any]:
    opt = gp.GA(MIXED_SPACE, 40, seed=41)
    return _minimize(mixed_fitness, opt, generations=6, executor=executor, cache=False, **kw)


def test_executor_serial():
    check("executor", _executor_run("serial"))


def test_executor_serial_object():
    from genepool.evaluation import SerialExecutor

    check("executor_serial_object", _executor_run(SerialExecutor()), same_as="executor")


def test_executor_processes():
    """A pool of 2 that ships every generation, and the "processes" spec (decides by cost)."""
    from genepool.evaluation import ProcessExecutor

    with ProcessExecutor(workers=2, min_seconds=0) as ex:
        check("executor_processes_pool", _executor_run(ex), same_as="executor")
    check("executor_processes", _executor_run("processes", workers=2), same_as="executor")


def test_executor_dask():
    distributed = pytest.importorskip("distributed")
    from genepool.evaluation import DaskExecutor

    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as client, DaskExecutor(client, min_seconds=0) as ex:  # fmt: skip
        check("executor_dask", _executor_run(ex), same_as="executor")


# -- checkpoint / resume ------------------------------------------------------------------------


def _checkpointed(make: Callable[[], gp.Optimizer], run_dir: Path, **kw) -> dict[str, Any]:
    args = {"generations": 10, "checkpoint_every": 2, "history_capacity": 3, "run_dir": run_dir}
    with pytest.raises(RuntimeError, match="simulated crash"):
        gp.maximize(neg_mixed, make(), progress=False, callbacks=[CrashAt(7)], **args, **kw)
    opt = make()
    res = gp.maximize(neg_mixed, opt, progress=False, resume=True, **args, **kw)
    return result_record(res, opt)  # history: 3 rows in memory, the rest read from Parquet


@pytest.mark.parametrize("algo", ["ga", "pso"])
def test_checkpoint_resume(algo, tmp_path):
    if algo == "ga":
        make = lambda: gp.GA(MIXED_SPACE, 30, seed=51)  # noqa: E731
    else:
        make = lambda: gp.PSO(MIXED_SPACE, 30, seed=52)  # noqa: E731
    whole = make()
    res = gp.maximize(neg_mixed, whole, generations=10, progress=False)
    check(f"resume_{algo}", _checkpointed(make, tmp_path / "run"))
    # The memory report counts the evaluations of this process only: since the resume.
    check(
        f"resume_{algo}_uninterrupted",
        result_record(res, whole),
        same_as=f"resume_{algo}",
        ignore=("evaluations.requested",),
    )


# -- the CLI: genepool evolve / resume / backtest -----------------------------------------------
@pytest.fixture(scope="module")
def prices(tmp_path_factory) -> Path:
    from genepool.backtest import synthetic_ohlcv

    path = tmp_path_factory.mktemp("golden") / "prices.csv"
    synthetic_ohlcv(1500, freq="1h", seed=21).to_csv(path)
    return path


def _evolve(prices: Path, out: Path, *extra: str) -> None:
    from genepool.cli import main

    args = [
        "evolve", "--data", str(prices), "--strategy", "rsi", "--population", "40",
        "--generations", "4", "--seed", "4", "--out", str(out), "--no-progress", "--no-report",
        "--min-trades", "3", *extra,
    ]  # fmt: skip
    assert main(args) == 0


def run_dir_record(out: Path) -> dict[str, Any]:
    """The deterministic content of a run directory (no paths, times, versions, RSS).

    best.json: the ``BEST_KEYS`` it has (a key added later is not compared; one that goes
    missing is a difference). Parquet files: every column, in order.
    """
    rec: dict[str, Any] = {}
    if (out / "best.json").exists():
        best = json.loads((out / "best.json").read_text())
        rec["best"] = {k: best[k] for k in BEST_KEYS if k in best}
    if (out / "result.json").exists():  # evolve --problem
        rec["result"] = json.loads((out / "result.json").read_text())
    config = json.loads((out / "config.json").read_text())
    rec["config"] = {k: v for k, v in config["config"].items() if k not in ("data", "out")}
    if "data" in config:
        rec["data"] = {k: v for k, v in config["data"].items() if k != "source"}
    for name in ("hall_of_fame", "population", "trades", "equity", "walk_forward"):
        if (out / f"{name}.parquet").exists():
            rec[name] = pd.read_parquet(out / f"{name}.parquet")
    if (out / "history.parquet").exists():
        hist = pd.read_parquet(out / "history.parquet").sort_values("generation")
        rec["history"] = hist[DETERMINISTIC].reset_index(drop=True)
    return golden.flatten(rec)


def test_evolve_single(prices, tmp_path):
    _evolve(prices, tmp_path / "run")
    check("evolve_single", run_dir_record(tmp_path / "run"))


def test_evolve_resumed_equals_single(prices, tmp_path):
    from genepool.cli import main

    out = tmp_path / "run"
    _evolve(prices, out, "--generations", "2")
    assert main(["resume", str(out), "--generations", "4", "--no-progress", "--no-report"]) == 0
    check("evolve_resumed", run_dir_record(out), same_as="evolve_single")


def test_evolve_processes_equals_single(prices, tmp_path):
    out = tmp_path / "run"
    _evolve(prices, out, "--executor", "processes", "--workers", "2")
    rec = run_dir_record(out)
    assert rec["config.executor"] == "processes"
    check(
        "evolve_processes",
        rec,
        same_as="evolve_single",
        ignore=("config.executor", "config.workers"),
    )


def test_evolve_walk_forward(prices, tmp_path):
    out = tmp_path / "wf"
    _evolve(prices, out, "--walk-forward", "3", "--population", "30", "--generations", "3")
    rec = run_dir_record(out)
    for fold in sorted((out / "folds").iterdir()):
        rec.update(
            {f"{fold.name}.{k}": v for k, v in run_dir_record(fold).items() if "equity" not in k}
        )
    check("evolve_walk_forward", rec)


def test_evolve_problem(tmp_path):
    from genepool.cli import main

    out = tmp_path / "p"
    args = ["evolve", "--problem", "rastrigin", "--dims", "4", "--population", "30",
            "--generations", "5", "--seed", "2", "--out", str(out), "--no-progress",
            "--no-report"]  # fmt: skip
    assert main(args) == 0
    check("evolve_problem", run_dir_record(out))


def test_backtest(prices, tmp_path, capsys):
    from genepool.cli import main

    out = tmp_path / "bt"
    params = '{"window": 7, "lower": 28.3, "upper": 85.4}'
    args = ["backtest", "--data", str(prices), "--strategy", "rsi", "--params", params,
            "--out", str(out), "--json"]  # fmt: skip
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rec = run_dir_record(out)
    rec.update(
        golden.flatten({"json": {k: v for k, v in doc.items() if k not in ("run_dir", "report")}})
    )
    check("backtest", rec)


# -- GASearchCV ---------------------------------------------------------------------------------
def _search(**kw) -> dict[str, Any]:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from genepool.ml import GASearchCV

    X, y = load_iris(return_X_y=True)
    space = {
        "max_depth": gp.Integer("max_depth", 1, 8),
        "min_samples_leaf": gp.Integer("min_samples_leaf", 1, 20),
        "criterion": ["gini", "entropy"],
    }
    search = GASearchCV(
        DecisionTreeClassifier(random_state=0), space, population_size=6, n_iter=8, cv=2,
        seed=3, **kw,
    ).fit(X, y)  # fmt: skip
    timing = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")
    results = {k: np.asarray(v) for k, v in search.cv_results_.items() if k not in timing}
    results["params"] = np.array([json.dumps(p, sort_keys=True) for p in results["params"]])
    return golden.flatten(
        {
            "best_params": search.best_params_,
            "best_score": search.best_score_,
            "best_index": search.best_index_,
            "n_splits": search.n_splits_,
            "cv_results": results,
            "predict": search.predict(X),
        }
    )


def test_gasearchcv():
    check("gasearchcv", _search())


def test_gasearchcv_threads():
    check("gasearchcv_threads", _search(executor="threads", workers=2), same_as="gasearchcv")


# -- the folder itself --------------------------------------------------------------------------
OTHERS = [
    "stops_and_callbacks", "errors", "cache_on_chunk7", "cache_off", "evaluator_batches",
    "memory_budget_small_chunks", "executor", "resume_ga", "resume_pso", "evolve_single",
    "evolve_walk_forward", "evolve_problem", "backtest", "gasearchcv",
]  # fmt: skip


def test_every_golden_file_has_a_run():
    """A golden file left behind by a removed run would silently stop being checked."""
    files = {p.stem for p in golden.GOLDEN_DIR.glob("*.json")}
    assert files == set(GA_RUNS) | set(PSO_RUNS) | set(OTHERS)
