"""Executors: processes give the values and runs of serial; data shared, not pickled per task."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool.backtest import StrategyProblem
from genepool.errors import ConfigError
from genepool.evaluation import ProcessExecutor, SerialExecutor
from genepool.evaluation._shared import ProblemPayload
from genepool.evaluation.executors import Executor, NoRoomForWorkers, plan_workers
from support import MIXED_SPACE, mixed_fitness

MIB = 2**20
HISTORY_COLS = ["best", "generation_best", "mean", "std", "diversity", "evaluations"]


@pytest.fixture(scope="module")
def pools():
    """Warm pools of 1 and 2 workers that ship every generation (min_seconds=0)."""
    made = {w: ProcessExecutor(workers=w, min_seconds=0) for w in (1, 2)}
    yield made
    for ex in made.values():
        ex.close()


def _closes(n: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(7)
    return 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31 - 1),
    chunk=st.one_of(st.just("auto"), st.integers(1, 40)),
    workers=st.sampled_from([1, 2]),
    cache=st.sampled_from([None, True, False]),
    n=st.integers(2, 40),
)
def test_processes_runs_equal_serial_runs(pools, seed, chunk, workers, cache, n):
    kw = {"generations": 5, "chunk_size": chunk, "cache": cache, "progress": False}
    ref = gp.minimize(mixed_fitness, gp.GA(MIXED_SPACE, n, seed=seed), **kw)
    res = gp.minimize(
        mixed_fitness, gp.GA(MIXED_SPACE, n, seed=seed), executor=pools[workers], **kw
    )
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    np.testing.assert_array_equal(
        res.history[HISTORY_COLS].to_numpy(), ref.history[HISTORY_COLS].to_numpy()
    )


def test_strategy_problem_values_are_bit_identical_and_prices_are_not_sent_per_task(pools):
    prob = StrategyProblem(_closes(20_000), "rsi", freq="1h")
    X = prob.space.sample(200, np.random.default_rng(3))
    ref = gp.Evaluator(prob, cache=False).evaluate(X)
    ex = pools[2]
    ev = gp.Evaluator(prob, cache=False, chunk_size=25, executor=ex)
    y = ev.evaluate(X)
    np.testing.assert_array_equal(y, ref)  # bit for bit
    assert "shared memory" in ex.plan_note
    sent = list(ex.pool.bytes_sent)[-8:]  # the 8 chunks (the pool's pings came before)
    prices = prob.data["close"].nbytes  # 160 kB
    assert max(sent) < 25 * 3 * 8 + 1000 < prices / 50  # the chunk and a few hundred bytes
    assert ev.stats["executor"]["workers"] == 2


def test_a_memory_budget_is_split_between_the_parent_and_the_workers():
    prob = StrategyProblem(_closes(20_000), "rsi", freq="1h")
    X = prob.space.sample(300, np.random.default_rng(4))
    limit = psutil.Process().memory_info().rss + 2048 * MIB
    with ProcessExecutor(workers=2, min_seconds=0) as ex:
        ev = gp.Evaluator(prob, memory_limit=limit, cache=False, executor=ex)
        np.testing.assert_array_equal(ev.evaluate(X), prob.evaluate(X))
        np.testing.assert_array_equal(ev.evaluate(X), prob.evaluate(X))
        assert ex.worker_room is not None and 0 < 2 * ex.worker_room < limit
        assert "of working memory per worker" in ex.plan_note
        assert ev._dispatch.chunks.sizer.bpc is not None  # calibrated on the workers' peaks


def test_strategy_problem_rebuilds_from_its_shared_arrays():
    prob = StrategyProblem(
        _closes(), "bollinger", ["sharpe_ratio", "-max_drawdown"], stops=True, freq="1h"
    )
    config = json.loads(json.dumps(prob.shared_config()))
    arrays = prob.shared_arrays()
    assert arrays["high"] is arrays["close"]  # one array, shared once
    copy = StrategyProblem.from_shared(arrays, config)
    X = prob.space.sample(50, np.random.default_rng(1))
    np.testing.assert_array_equal(copy.evaluate(X), prob.evaluate(X))
    assert copy.space == prob.space and copy.data["close"] is arrays["close"]


def test_function_problems_share_by_name_and_closures_are_pickled():
    named = ProblemPayload.of(gp.FunctionProblem(gp.problems.rastrigin, gp.Space.box(-1, 1, 3)))
    assert named.kind == "rebuild" and "rastrigin" in named.config
    np.testing.assert_array_equal(
        named.build().evaluate(np.ones((2, 3))), gp.problems.rastrigin(np.ones((2, 3)))
    )
    pytest.importorskip("cloudpickle")  # a closure travels by value only with cloudpickle
    scale = 3.0
    closure = ProblemPayload.of(
        gp.FunctionProblem(lambda X: scale * X[:, 0], gp.Space.box(0, 1, 2))
    )
    assert closure.kind == "pickle"
    np.testing.assert_array_equal(closure.build().evaluate(np.ones((2, 2))), [3.0, 3.0])


def test_cheap_fitness_stays_in_this_process_without_starting_workers(caplog):
    ex = ProcessExecutor(workers=2)  # default min_seconds
    space = gp.Space.box(-5.12, 5.12, 6)
    with caplog.at_level(logging.INFO, logger="genepool.evaluation"):
        res = gp.minimize(
            gp.problems.rastrigin,
            gp.GA(space, 500, seed=0),
            generations=5,
            executor=ex,
            progress=False,
        )
    ref = gp.minimize(
        gp.problems.rastrigin, gp.GA(space, 500, seed=0), generations=5, progress=False
    )
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    assert ex.pool is None  # never started: no process, no shared memory
    assert any("too cheap to ship" in r.getMessage() for r in caplog.records)
    ex.close()


def test_expensive_fitness_is_shipped_and_the_run_leaves_no_process(caplog):
    pytest.importorskip("cloudpickle")  # its fitness is a closure, sent by value

    def slow(X):
        time.sleep(0.004 * len(X))
        return gp.problems.sphere(X)

    space = gp.Space.box(-1, 1, 3)
    me = psutil.Process()
    before = {c.pid for c in me.children()}  # other tests' pools, the resource tracker
    seen: set[int] = set()

    def spy(info):
        seen.update(c.pid for c in me.children() if c.pid not in before)

    with caplog.at_level(logging.INFO, logger="genepool.evaluation"):
        res = gp.minimize(
            slow,
            gp.GA(space, 40, seed=1),
            generations=3,
            executor="processes",
            workers=2,
            cache=False,
            callbacks=[spy],
            progress=False,
        )
    ref = gp.minimize(slow, gp.GA(space, 40, seed=1), generations=3, cache=False, progress=False)
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    assert len(seen) >= 2 and any("2 worker(s)" in r.getMessage() for r in caplog.records)
    assert not [pid for pid in seen if psutil.pid_exists(pid) and not _zombie(pid)]


def _cmd(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def test_max_tasks_per_child_replaces_workers_without_changing_values():
    X = MIXED_SPACE.sample(24, np.random.default_rng(2))
    with ProcessExecutor(workers=2, max_tasks_per_child=2, min_seconds=0) as ex:
        ev = gp.Evaluator(mixed_fitness, MIXED_SPACE, cache=False, chunk_size=6, executor=ex)
        np.testing.assert_array_equal(ev.evaluate(X), mixed_fitness(X))
        assert ex.stats()["workers_started"] > 2


class _SlowShipping:
    """An executor (in-process) whose every task costs 50 ms more than evaluating here."""

    name = "slow"
    workers = 2
    min_seconds = 0.005

    def start(self, problem, budget=None):
        self.problem = problem

    def map(self, fn, chunks, retries=None):
        for X in chunks:
            time.sleep(0.05)
            yield fn(self.problem, X)

    def close(self):
        pass


def test_generations_stay_here_when_workers_are_slower_and_the_log_says_why(caplog):
    def fitness(X):
        time.sleep(0.0002 * len(X))
        return mixed_fitness(X)

    ex = _SlowShipping()
    with caplog.at_level(logging.INFO, logger="genepool.evaluation"):
        res = gp.minimize(
            fitness,
            gp.GA(MIXED_SPACE, 100, seed=0),
            generations=4,
            executor=ex,
            cache=False,
            progress=False,
        )
    ref = gp.minimize(
        mixed_fitness, gp.GA(MIXED_SPACE, 100, seed=0), generations=4, cache=False, progress=False
    )
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    stats = res.memory.evaluations
    assert stats["evaluated"] == 400
    text = caplog.text
    assert "evaluating on slow workers" in text and "workers took" in text


def test_plan_workers_from_cores_and_budget():
    assert plan_workers(None, None, cores=2)[:2] == (2, 1)
    assert plan_workers(1, None, cores=2)[:2] == (1, 2)
    assert plan_workers(None, None, cores=16)[:2] == (16, 1)
    n, threads, why = plan_workers(None, 500 * MIB, cores=8, worker_bytes=200 * MIB)
    assert (n, threads) == (2, 4) and "fits 2" in why
    with pytest.raises(NoRoomForWorkers, match="less than one worker needs"):
        plan_workers(None, 100 * MIB, cores=2, worker_bytes=200 * MIB)


def _budgeted_now() -> int:
    """This process's anonymous + shared memory (what memory_limit bounds), RSS elsewhere."""
    from genepool.memory._proc import read_status

    now = read_status()
    return psutil.Process().memory_info().rss if now is None else now.budgeted


def test_budget_too_small_for_a_worker_falls_back_to_serial(caplog):
    pytest.importorskip("cloudpickle")  # its fitness is a closure, sent by value

    def slow(X):
        time.sleep(0.001 * len(X))
        return gp.problems.sphere(X)

    space = gp.Space.box(-1, 1, 2)
    ev = gp.Evaluator(
        slow,
        space,
        memory_limit=_budgeted_now() + 150 * MIB,  # what the budget counts, + 150 MiB
        executor=ProcessExecutor(min_seconds=0),
        cache=False,
    )
    X = space.sample(20, np.random.default_rng(0))
    with caplog.at_level(logging.WARNING, logger="genepool.evaluation"):
        np.testing.assert_array_equal(ev.evaluate(X), gp.problems.sphere(X))
    assert ev.executor is None and "evaluating in this process" in caplog.text


def check_executor_contract(ex) -> None:
    """Conformance: what every executor must do (also run on Dask in test_dask.py)."""
    from functools import partial

    from genepool.evaluation._task import run_chunk

    prob = gp.FunctionProblem(mixed_fitness, MIXED_SPACE)
    ex.start(prob)
    ex.start(prob)  # idempotent
    assert isinstance(ex, Executor) and ex.workers >= 1
    X = MIXED_SPACE.sample(40, np.random.default_rng(9))
    sizes = [1, 7, 3, 13, 16]
    chunks = np.split(X, np.cumsum(sizes)[:-1])
    fn = partial(run_chunk, mode="raise")
    out = list(ex.map(fn, iter(chunks)))  # any iterable, consumed lazily
    assert [o.pieces[0][1] for o in out] == sizes  # in chunk order
    np.testing.assert_array_equal(np.concatenate([o.pieces[0][2] for o in out]), mixed_fitness(X))
    assert list(ex.map(fn, [])) == []
    gen = ex.map(fn, chunks)
    next(gen)
    gen.close()  # an abandoned map leaves the executor usable
    assert len(list(ex.map(fn, chunks[:2]))) == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_process_executor_conformance(pools, workers):
    check_executor_contract(pools[workers])


def test_serial_executor_conformance():
    with SerialExecutor() as ex:
        check_executor_contract(ex)


def test_executor_specs():
    assert isinstance(ProcessExecutor(), Executor) and isinstance(SerialExecutor(), Executor)
    assert gp.Evaluator(mixed_fitness, MIXED_SPACE, executor=SerialExecutor()).executor is None
    with pytest.raises(ConfigError, match="executor must be"):
        gp.Evaluator(mixed_fitness, MIXED_SPACE, executor="threads")
    with pytest.raises(ConfigError, match="lacks start/map/close"):
        gp.Evaluator(mixed_fitness, MIXED_SPACE, executor=object())
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        gp.Evaluator(mixed_fitness, MIXED_SPACE, executor="processes", workers=0)
    with pytest.raises(ConfigError, match="retries must be >= 0"):
        gp.Evaluator(mixed_fitness, MIXED_SPACE, executor="processes", retries=-1)
