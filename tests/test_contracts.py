"""The executor and problem contracts (genepool.testing) on every built-in executor and problem,
and the one parser of executor specs (genepool.evaluation.registry)."""

import numpy as np
import pytest

import genepool as gp
from genepool.errors import ConfigError
from genepool.evaluation import Executor, ExecutorBase, ProcessExecutor, SerialExecutor
from genepool.evaluation.registry import (
    executor_kind,
    is_executor_name,
    names_text,
    parse_executor,
    register_executor,
)
from genepool.testing import check_executor, check_problem
from support import MIXED_SPACE, mixed_fitness


# -- executors ------------------------------------------------------------------------------------
def test_serial_executor_keeps_the_contract():
    check_executor(SerialExecutor)


def test_process_executor_keeps_the_contract_and_reports_a_dead_worker():
    check_executor(lambda: ProcessExecutor(workers=2, min_seconds=0), worker_death=True)


@pytest.mark.slow  # starts a LocalCluster of its own (~10 s)
def test_dask_executor_keeps_the_contract():
    pytest.importorskip("distributed")
    from genepool.evaluation import DaskExecutor

    check_executor(lambda: DaskExecutor(workers=1), restart=False)


class _Minimal:
    """A third-party executor with only what the evaluator needed before the contract."""

    name = "minimal"
    workers = 1
    min_seconds = 0.0

    def start(self, problem, budget=None):
        self.problem = problem

    def map(self, fn, chunks, retries=None):
        for X in chunks:
            yield fn(self.problem, X)

    def close(self):
        pass


class _Based(ExecutorBase):
    """A third-party executor built on ExecutorBase (defaults for the optional members)."""

    name = "based"

    def start(self, problem, budget=None):
        self.problem = problem

    def map(self, fn, chunks, retries=None):
        for X in chunks:
            yield fn(self.problem, X)


def test_a_minimal_executor_gets_the_defaults_of_the_contract():
    assert not isinstance(_Minimal(), Executor)
    check_executor(lambda: parse_executor(_Minimal())[0])
    check_executor(_Based)
    ex, owned = parse_executor(_Minimal())
    assert not owned and ex.stats() == {"executor": "minimal"} and ex.started
    assert ex.task_overhead is None and ex.worker_room is None


def test_a_broken_executor_fails_the_check():
    class Reversed(SerialExecutor):
        def map(self, fn, chunks, retries=None):
            return reversed([fn(self._problem, X) for X in chunks])

    with pytest.raises(AssertionError, match="chunk order"):
        check_executor(Reversed)


# -- the parser of executor specs ---------------------------------------------------------------
def test_executor_specs_are_parsed_in_one_place():
    ex, owned = parse_executor("serial")
    assert isinstance(ex, SerialExecutor) and owned
    mine = SerialExecutor()
    assert parse_executor(mine) == (mine, False)  # kept, the caller's
    assert isinstance(parse_executor(None)[0], SerialExecutor)
    ex, owned = parse_executor("processes", workers=2)
    assert isinstance(ex, ProcessExecutor) and ex.requested == 2 and owned
    assert executor_kind("tcp://127.0.0.1:8786") == "address"
    assert executor_kind("threads") == "unknown" and executor_kind(object()) == "object"
    assert is_executor_name("dask") and not is_executor_name("tcp://h:1")
    assert names_text("or") == "'serial', 'processes' or 'dask'"
    with pytest.raises(ConfigError, match="executor must be 'serial', 'processes', 'dask', a"):
        parse_executor("threads")
    with pytest.raises(ConfigError, match="retries must be >= 0"):
        parse_executor("serial", retries=-1)


def test_a_registered_executor_is_usable_by_name(monkeypatch):
    from genepool.evaluation import registry

    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    made = []

    def factory(*, workers, retries, max_tasks_per_child):
        made.append((workers, retries))
        return _Based()

    register_executor("based", factory)
    X = MIXED_SPACE.sample(30, np.random.default_rng(1))
    ev = gp.Evaluator(mixed_fitness, MIXED_SPACE, executor="based", workers=3, cache=False)
    np.testing.assert_array_equal(ev.evaluate(X), mixed_fitness(X))
    assert made == [(3, 2)] and ev.stats["executor"]["executor"] == "based"
    with pytest.raises(ConfigError, match="without '://'"):
        register_executor("tcp://x", factory)


def test_a_serial_executor_passed_in_is_the_one_that_evaluates():
    class Counting(SerialExecutor):
        chunks = 0

        def map(self, fn, chunks, retries=None):
            for X in chunks:
                self.chunks += 1
                yield fn(self._problem, X)

    mine = Counting()
    ev = gp.Evaluator(mixed_fitness, MIXED_SPACE, executor=mine, chunk_size=10, cache=False)
    X = MIXED_SPACE.sample(30, np.random.default_rng(2))
    np.testing.assert_array_equal(ev.evaluate(X), mixed_fitness(X))
    assert mine.chunks == 3 and ev.executor is None and ev.stats["executor"] is None
    ev.close()
    assert mine.started  # the caller's: not closed by the evaluator


# -- problems ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", gp.problems.names())
def test_benchmark_problems_keep_the_contract(name):
    check_problem(gp.problems.get(name, 5))
    fn = getattr(gp.problems, name)
    check_problem(fn, gp.Space.box(-2.0, 2.0, 3))  # the plain function, wrapped


def test_strategy_problem_keeps_the_contract():
    from genepool.backtest import StrategyProblem
    from genepool.backtest.data import demo_data

    prob = StrategyProblem(demo_data().iloc[:2000], "rsi", ["sharpe_ratio", "-max_drawdown"])
    check_problem(prob, n=12)
    assert prob.invalid_fitness is not None


@pytest.mark.parametrize("controller", ["pid", "state_feedback"])
def test_control_problems_keep_the_contract(controller):
    from genepool.problems.control import CartPole

    check_problem(CartPole(controller, duration=2.0), n=8)


def test_elementwise_and_duck_problems_keep_the_contract():
    space = gp.Space([gp.Integer("n", 0, 10), gp.Categorical("op", ["add", "mul"])])

    @gp.elementwise(space=space)
    def score(p):
        return p["n"] + 1.0 if p["op"] == "add" else p["n"] * 2.0

    check_problem(score)

    class Duck:  # not a Problem: as_problem adapts it
        invalid_fitness = -1.0

        def evaluate(self, X):
            return gp.problems.sphere(X)

        def memory_hint(self):
            return "smaller batches"

    check_problem(Duck(), gp.Space.box(-1.0, 1.0, 3))
    adapted = gp.problem.as_problem(Duck(), gp.Space.box(-1.0, 1.0, 3))
    assert adapted.invalid_fitness == -1.0 and adapted.memory_hint() == "smaller batches"
    assert adapted.bytes_per_candidate() is None and adapted.shared_config() is None


def test_a_broken_problem_fails_the_check():
    box = gp.Space.box(-1.0, 1.0, 2)
    with pytest.raises(AssertionError, match="float64"):
        check_problem(lambda X: gp.problems.sphere(X).astype(np.float32), box)
    with pytest.raises(AssertionError, match="split"):
        check_problem(lambda X: gp.problems.sphere(X) - gp.problems.sphere(X).mean(), box)
    rng = np.random.default_rng(0)
    with pytest.raises(AssertionError, match="again"):
        check_problem(lambda X: rng.random(X.shape[0]), box, n=1)
