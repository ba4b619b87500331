"""The Dask executor: same values and runs as serial, dead workers retried, errors located."""

from __future__ import annotations

import logging
import os
import signal
import time

import numpy as np
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool.errors import FitnessError
from support import MIXED_SPACE, mixed_fitness

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

from genepool.evaluation import DaskExecutor  # noqa: E402

BOX = gp.Space.box(-5.12, 5.12, 4)
HISTORY_COLS = ["best", "generation_best", "mean", "std", "diversity", "evaluations"]


@pytest.fixture(scope="module")
def client():
    # allowed-failures=0: a task whose worker dies comes back to genepool, which retries it.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def dask_ex(client):
    with DaskExecutor(client, retries=2, min_seconds=0) as ex:
        yield ex


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**31 - 1),
    chunk=st.one_of(st.just("auto"), st.integers(1, 40)),
    cache=st.sampled_from([None, True, False]),
    n=st.integers(2, 40),
)
def test_dask_runs_equal_serial_runs(dask_ex, seed, chunk, cache, n):
    kw = {"generations": 4, "chunk_size": chunk, "cache": cache, "progress": False}
    ref = gp.minimize(mixed_fitness, gp.GA(MIXED_SPACE, n, seed=seed), **kw)
    res = gp.minimize(mixed_fitness, gp.GA(MIXED_SPACE, n, seed=seed), executor=dask_ex, **kw)
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    np.testing.assert_array_equal(
        res.history[HISTORY_COLS].to_numpy(), ref.history[HISTORY_COLS].to_numpy()
    )


def test_dask_executor_conformance(dask_ex):
    from test_executors import check_executor_contract

    check_executor_contract(dask_ex)


def test_strategy_problem_on_dask_is_bit_identical(dask_ex):
    from genepool.backtest import StrategyProblem

    rng = np.random.default_rng(7)
    prob = StrategyProblem(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 5000))), "macd", freq="1h")
    X = prob.space.sample(120, np.random.default_rng(2))
    ev = gp.Evaluator(prob, cache=False, chunk_size=30, executor=dask_ex)
    np.testing.assert_array_equal(ev.evaluate(X), prob.evaluate(X))
    assert "placed once per worker (rebuild)" in dask_ex.plan_note
    assert max(list(dask_ex.task_bytes)[-4:]) == 30 * 3 * 8  # tasks carry the chunk ...
    name = dask_ex._plugin  # ... the prices live in each worker's plugin, placed once
    bars = dask_ex.client.run(lambda dask_worker: dask_worker.plugins[name].problem.n_bars)
    assert sorted(bars.values()) == [5000, 5000]


def test_store_universe_on_dask_maps_the_store_in_each_worker(dask_ex, tmp_path):
    """Workers open the store from its path (a filesystem they share): no prices travel."""
    from genepool.backtest import StrategyProblem, import_store
    from genepool.backtest.data import synthetic_ohlcv

    files = []
    for k, name in enumerate(["AAA", "BBB", "CCC"]):
        files.append(tmp_path / f"{name}.csv")
        synthetic_ohlcv(2000, "1h", seed=k).to_csv(files[-1])
    store = import_store(files, tmp_path / "store")
    for how in ("median", "portfolio"):
        prob = StrategyProblem(store, "rsi", symbols="all", aggregate=how, block_bars=300)
        X = prob.space.sample(90, np.random.default_rng(3))
        ev = gp.Evaluator(prob, cache=False, chunk_size=30, executor=dask_ex)
        np.testing.assert_array_equal(ev.evaluate(X), prob.evaluate(X))
        name = dask_ex._plugin
        held = dask_ex.client.run(
            lambda dask_worker, name=name: dask_worker.plugins[name].problem.symbols
        )
        assert all(v == ("AAA", "BBB", "CCC") for v in held.values())
        assert max(list(dask_ex.task_bytes)[-3:]) == 30 * 3 * 8  # the chunk, never prices


def _in_worker() -> bool:
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


def _dies_once(marker):
    def fitness(X):
        if _in_worker():
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return mixed_fitness(X)
            time.sleep(0.05)  # mid-chunk
            os.kill(os.getpid(), signal.SIGKILL)
        return mixed_fitness(X)

    return fitness


def test_dask_worker_killed_mid_chunk_the_run_completes_with_the_same_result(client, tmp_path):
    kw = {"generations": 3, "chunk_size": 6, "cache": False, "progress": False}
    ref = gp.minimize(mixed_fitness, gp.GA(MIXED_SPACE, 24, seed=5), **kw)
    with DaskExecutor(client, retries=2, min_seconds=0) as ex:
        res = gp.minimize(
            _dies_once(str(tmp_path / "died")), gp.GA(MIXED_SPACE, 24, seed=5), executor=ex, **kw
        )
        assert ex.stats()["retried"] >= 1 and ex.stats()["lost"] == 0
    assert (tmp_path / "died").exists()
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    cols = ["best", "generation_best", "mean", "std", "evaluations"]
    np.testing.assert_array_equal(res.history[cols].to_numpy(), ref.history[cols].to_numpy())


def _boom(X):
    if (X[:, 1] > 4.5).any():
        raise ValueError("boom on dask")
    return gp.problems.sphere(X)


def test_fitness_exception_on_dask_names_the_individual_with_the_worker_traceback(client):
    X = BOX.sample(40, np.random.default_rng(1))
    X[:, 1] = np.minimum(X[:, 1], 4.0)
    X[29, 1] = 5.0
    with DaskExecutor(client, min_seconds=0) as ex:
        ev = gp.Evaluator(_boom, BOX, chunk_size=8, executor=ex)
        with pytest.raises(FitnessError, match="individual 29 with params") as err:
            ev.evaluate(X)
    assert err.value.index == 29 and "Traceback in worker process" in str(err.value)
    assert 'raise ValueError("boom on dask")' in str(err.value)


def test_a_client_is_accepted_and_left_open(client):
    X = MIXED_SPACE.sample(30, np.random.default_rng(0))
    ev = gp.Evaluator(mixed_fitness, MIXED_SPACE, cache=False, executor=client)
    ev.executor.min_seconds = 0
    np.testing.assert_array_equal(ev.evaluate(X), mixed_fitness(X))
    ev.close()
    assert client.status == "running"


@pytest.mark.slow  # starts and stops a LocalCluster of its own
def test_executor_dask_starts_a_local_cluster_and_leaves_no_process():
    def slow(X):
        time.sleep(0.005 * len(X))
        return gp.problems.sphere(X)

    me = psutil.Process()
    before = {c.pid for c in me.children(recursive=True)}
    seen: set[int] = set()

    def spy(info):
        seen.update(c.pid for c in me.children(recursive=True) if c.pid not in before)

    res = gp.minimize(
        slow,
        gp.GA(BOX, 20, seed=0),
        generations=2,
        executor="dask",
        workers=2,
        cache=False,
        callbacks=[spy],
        progress=False,
    )
    ref = gp.minimize(slow, gp.GA(BOX, 20, seed=0), generations=2, cache=False, progress=False)
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    assert len(seen) >= 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in seen):
        time.sleep(0.1)
    assert not [p for p in seen if psutil.pid_exists(p)]
