"""Faults with worker processes: dead workers, fitness errors, Ctrl-C, no orphan processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

import genepool as gp
from genepool.errors import FitnessError, SpaceError
from genepool.evaluation import ProcessExecutor
from support import MIXED_SPACE, mixed_fitness

BOX = gp.Space.box(-5.12, 5.12, 4)


def _in_worker() -> bool:
    return multiprocessing.parent_process() is not None


@pytest.fixture(scope="module")
def pool():
    with ProcessExecutor(workers=2, retries=1, min_seconds=0) as ex:
        yield ex


def _dies_once(marker: Path, how: int):
    def fitness(X):
        if _in_worker():
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))  # one worker wins
            except FileExistsError:
                return mixed_fitness(X)
            time.sleep(0.05)  # mid-chunk
            os.kill(os.getpid(), how)
        return mixed_fitness(X)

    return fitness


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSEGV], ids=["killed", "segfault"])
def test_worker_killed_mid_chunk_the_run_completes_with_the_same_result(tmp_path, how):
    pytest.importorskip("cloudpickle")  # its fitness is a closure, sent by value
    fitness = _dies_once(tmp_path / "died", how)
    kw = {"generations": 4, "chunk_size": 5, "cache": False, "progress": False}
    ref = gp.minimize(mixed_fitness, gp.GA(MIXED_SPACE, 30, seed=3), **kw)
    with ProcessExecutor(workers=2, min_seconds=0) as ex:
        res = gp.minimize(fitness, gp.GA(MIXED_SPACE, 30, seed=3), executor=ex, **kw)
        stats = ex.stats()
    assert (tmp_path / "died").exists()
    assert stats["worker_deaths"] == 1 and stats["retried"] == 1 and stats["lost"] == 0
    np.testing.assert_array_equal(res.best_x, ref.best_x)
    cols = ["best", "generation_best", "mean", "std", "evaluations"]
    np.testing.assert_array_equal(res.history[cols].to_numpy(), ref.history[cols].to_numpy())


def _faulty(X):
    """Sphere, except: x0 > 4.5 kills the worker, x1 > 4.5 raises, x2 > 4.5 a genepool error."""
    if _in_worker() and (X[:, 0] > 4.5).any():
        os.kill(os.getpid(), signal.SIGKILL)
    if (X[:, 1] > 4.5).any():
        raise ValueError("boom: x1 too large")
    if (X[:, 2] > 4.5).any():
        raise SpaceError("the fitness's own genepool error")
    return gp.problems.sphere(X)


def _population(n: int, row: int, gene: int) -> np.ndarray:
    X = BOX.sample(n, np.random.default_rng(6))
    X[:, :3] = np.minimum(X[:, :3], 4.0)
    X[row, gene] = 5.0
    return X


@pytest.mark.slow  # five worker deaths and respawns: ~10 s on 2 busy cores
def test_an_individual_that_always_kills_its_worker_is_named(pool):
    ev = gp.Evaluator(_faulty, BOX, cache=False, chunk_size=4, executor=pool)
    with pytest.raises(FitnessError, match="worker process died evaluating individual 13") as err:
        ev.evaluate(_population(16, 13, 0))
    assert err.value.index == 13 and err.value.params["x0"] == 5.0
    assert "killed by SIGKILL" in str(err.value)


@pytest.mark.slow
def test_an_individual_that_always_kills_its_worker_is_penalized_on_request(pool):
    X = _population(24, 13, 0)
    ev = gp.Evaluator(
        _faulty, BOX, cache=True, chunk_size=8, executor=pool, on_error="penalize", penalty=1e9
    )
    y = ev.evaluate(X)
    ok = np.arange(24) != 13
    assert y[13] == 1e9
    np.testing.assert_array_equal(y[ok], gp.problems.sphere(X[ok]))
    assert ev.stats["errors"] == 1 and "individual 13" in ev.stats["first_error"]


def test_fitness_exception_in_a_worker_has_its_traceback_index_and_params(pool):
    X = _population(100, 77, 1)
    ev = gp.Evaluator(_faulty, BOX, chunk_size=10, cache=True, executor=pool)
    with pytest.raises(FitnessError, match="ValueError: boom: x1 too large") as err:
        ev.evaluate(X)
    msg = str(err.value)
    assert err.value.index == 77 and err.value.params["x1"] == 5.0
    assert "individual 77 with params" in msg and "Traceback in worker process" in msg
    assert "in _faulty" in msg and 'raise ValueError("boom: x1 too large")' in msg
    # the pool is still usable, and penalize mode gives only that row the penalty
    ev = gp.Evaluator(
        _faulty, BOX, chunk_size=10, cache=False, executor=pool, on_error="penalize", penalty=1e9
    )
    y = ev.evaluate(X)
    assert y[77] == 1e9 and ev.stats["errors"] == 1
    np.testing.assert_array_equal(np.delete(y, 77), gp.problems.sphere(np.delete(X, 77, 0)))
    first = ev.stats["first_error"]
    assert "ValueError: boom" in first and "individual 77" in first


def test_a_genepool_error_raised_by_the_fitness_in_a_worker_keeps_its_type(pool):
    ev = gp.Evaluator(_faulty, BOX, cache=False, executor=pool)
    with pytest.raises(SpaceError, match="the fitness's own genepool error"):
        ev.evaluate(_population(4, 2, 2))


def _alive(pids):
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.Error:
            pass
    return out


def _gone(pids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pids)


@pytest.mark.slow  # the Ctrl-C case of test_no_orphan_processes_after_the_parent_ends, in-process
def test_keyboard_interrupt_in_the_run_stops_the_workers():
    def slow(X):
        time.sleep(0.005 * len(X))
        return gp.problems.sphere(X)

    me = psutil.Process()
    before = {c.pid for c in me.children()}
    seen: list[int] = []

    def ctrl_c(info):
        seen.extend(c.pid for c in me.children() if c.pid not in before)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        gp.minimize(
            slow,
            gp.GA(BOX, 20, seed=0),
            generations=50,
            executor="processes",
            workers=2,
            cache=False,
            callbacks=[ctrl_c],
            progress=False,
        )
    assert len(seen) >= 2
    assert _gone(seen)


CHILD = textwrap.dedent(
    """
    import signal, sys, time, psutil, genepool as gp

    # A foreground program in a terminal: Python's Ctrl-C handler. (Started from a background
    # job, e.g. `pytest &` in a script, SIGINT arrives ignored and Python keeps it ignored.)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def slow(X):
        time.sleep(0.02 * len(X))
        return gp.problems.sphere(X)

    def report(info):
        if info.generation == 1:
            pids = [c.pid for c in psutil.Process().children(recursive=True)]
            print("PIDS", *pids, flush=True)

    gp.minimize(slow, gp.GA(gp.Space.box(-1, 1, 2), 20, seed=0),
                generations=int(sys.argv[1]), executor="processes", workers=2, cache=False,
                callbacks=[report], progress=False)
    print("DONE", flush=True)
    """
)


@pytest.mark.parametrize("how", [pytest.param("normal exit", marks=pytest.mark.slow), "ctrl-c"])
def test_no_orphan_processes_after_the_parent_ends(how):
    gens = 2 if how == "normal exit" else 10_000
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(gens)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: Ctrl-C reaches all of it
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("PIDS"), line + proc.stderr.read()
        pids = [int(p) for p in line.split()[1:]]
        assert len(pids) >= 2  # two workers (and the shared-memory resource tracker)
        if how == "ctrl-c":
            time.sleep(0.3)
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if how == "normal exit":
        assert proc.returncode == 0 and "DONE" in out, err
    else:
        assert "KeyboardInterrupt" in err
    assert _gone(pids), f"left behind: {_alive(pids)}"


# -- starting workers from scripts that cannot be re-imported ------------------------------------
_SCRIPT = textwrap.dedent(
    """
    import time
    import genepool as gp

    def f(X):
        time.sleep(0.1)  # slow enough that the evaluator ships generations to the workers
        return (X ** 2).sum(axis=1)

    prob = gp.FunctionProblem(f, gp.Space.box(-1, 1, 3))
    res = gp.minimize(prob, gp.GA(prob.space, 16, seed=1), generations=2,
                      executor="processes", workers=1, progress=False)
    print("best", res.best_fitness, res.n_evaluations)
    """
)


def _python(args, tmp_path, stdin=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, timeout=240,
        cwd=tmp_path, env=env,
    )  # fmt: skip


def test_process_pool_works_from_a_script_piped_on_stdin(tmp_path):
    # Its __main__ is '<stdin>', no file: a spawned child died re-running it (exit code 1).
    pytest.importorskip("cloudpickle")  # sends the script's function by value
    out = _python(["-"], tmp_path, stdin=_SCRIPT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("best ") and out.stdout.split()[2] == "32"
    assert "Traceback" not in out.stderr


@pytest.mark.slow  # three children each import genepool and die: ~20 s on 2 busy cores
def test_workers_dying_at_start_say_why_and_what_to_do(tmp_path):
    # The classic: no `if __name__ == "__main__":`, so each child re-runs the script and
    # multiprocessing refuses to start workers from there; the child's own error is shown.
    script = tmp_path / "no_guard.py"
    script.write_text(_SCRIPT)
    out = _python([str(script)], tmp_path)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert "worker processes die while starting (exit code 1: RuntimeError:" in last, last
    assert "bootstrapping phase" in last and 'if __name__ == "__main__":' in last
    # the three children's tracebacks are not dumped on the terminal
    assert out.stderr.count("bootstrapping phase") == 1, out.stderr


def test_start_hints():
    from genepool.evaluation._spawn import error_line, start_hint

    text = "Traceback (most recent call last):\n  File x\nFileNotFoundError: [Errno 2] '<stdin>'\n"
    assert error_line(text) == "FileNotFoundError: [Errno 2] '<stdin>'"
    assert 'executor="serial"' in start_hint(
        "AttributeError: Can't get attribute 'f' on <module '__main__' (built-in)>"
    )
    assert start_hint("ValueError: bad") == ""
