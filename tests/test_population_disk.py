"""Populations on disk (``storage="disk"``): identity with in-memory runs for any chunk size,
survival without concatenation, files and their lifetime, checkpoints, resume, disk space."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool import GA, PSO, Space
from genepool.algorithms import _survival_nb as sv
from genepool.algorithms._storage import PopulationFiles
from genepool.errors import CheckpointError, ConfigError, WriteError
from genepool.operators import replacement as rpl
from genepool.run.checkpoint import list_checkpoints
from genepool.space import Bool, Categorical, Integer, Real


def rastrigin(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return 10 * X.shape[1] + (X**2 - 10 * np.cos(2 * np.pi * X)).sum(axis=1)


def drive(opt, generations: int = 5, nan_every: int = 0) -> None:
    """ask/tell ``generations`` times on Rastrigin, some fitness NaN when ``nan_every``."""
    for g in range(generations):
        X = opt.ask()
        f = rastrigin(X)
        if nan_every and g % 2:
            f[::nan_every] = np.nan
        opt.tell(X, f)


def ga_state(ga: GA) -> tuple[np.ndarray, np.ndarray, dict]:
    return np.array(ga.state.X), ga.state.fitness.copy(), ga.state.rng.bit_generator.state


def same(a, b) -> bool:
    return (
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1], equal_nan=True) and a[2] == b[2]
    )


# -- survival without concatenation ------------------------------------------------------------
fitness_values = st.sampled_from([0.0, 1.0, 1.0, 2.5, -3.0, np.inf, -np.inf, np.nan])


@settings(max_examples=150, deadline=None)
@given(
    parents=st.lists(fitness_values, min_size=2, max_size=30),
    offspring=st.lists(fitness_values, min_size=1, max_size=40),
    replacement=st.sampled_from(["plus", "generational", "comma"]),
    elitism=st.integers(0, 5),
)
def test_merge_equals_the_replacement_operators(parents, offspring, replacement, elitism):
    """The in-place merge picks the same survivors, in the same order, with the same fitness
    as ``operators.replacement`` (ties, NaN and infinities included)."""
    n, lam = len(parents), len(offspring)
    pf = np.asarray(parents, dtype=np.float64)
    pf = pf[sv.sorted_order(pf)]  # a GA population is sorted best first
    of = np.asarray(offspring, dtype=np.float64)
    P = np.arange(n, dtype=np.float64)[:, None]  # parents' genes: their index
    Q = (1000 + np.arange(lam, dtype=np.float64))[:, None]  # offspring's: 1000 + index
    if replacement == "plus":
        want_X, want_f = rpl.mu_plus_lambda(P, pf, Q, of, mu=n)
    elif replacement == "generational":
        elitism = min(elitism, n - 1)
        if lam < n - elitism:
            return
        want_X, want_f = rpl.generational(P, pf, Q, of, elitism=elitism)
    else:
        if lam < n:
            return
        want_X, want_f = rpl.mu_comma_lambda(Q, of, mu=n)
    order = sv.sorted_order(of)
    take_a = (
        sv.plus_split(pf, of, order, n)
        if replacement == "plus"
        else elitism
        if replacement == "generational"
        else 0
    )
    src = order if lam >= n else np.empty(n, dtype=np.int64)  # in place, as the GA does
    fa = pf.copy()
    sv.merge_survivors(fa, take_a, of, order, n - take_a, src, n)
    got_X = np.where(src[:n] < n, src[:n], 1000 + src[:n] - n).astype(np.float64)
    np.testing.assert_array_equal(got_X, want_X[:, 0])
    np.testing.assert_array_equal(fa, want_f)


@given(st.lists(fitness_values, min_size=1, max_size=60))
def test_sorted_order_is_the_stable_sort_with_nan_as_inf(values):
    f = np.asarray(values, dtype=np.float64)
    want = np.argsort(np.where(np.isnan(f), np.inf, f), kind="stable")
    np.testing.assert_array_equal(sv.sorted_order(f), want)


# -- the same run in memory and on disk -----------------------------------------------------------
MIXED = Space(
    [
        Real("a", -5, 5),
        Integer("b", -3, 7),
        Categorical("c", ["x", "y", "z"]),
        Bool("d"),
        Real("e", 0, 1),
    ]
)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 60),
    block=st.integers(1, 25),
    chunk=st.integers(1, 80),
    replacement=st.sampled_from(["plus", "generational", "comma"]),
    selection=st.sampled_from(["tournament", "rank", "sus", "truncation", "roulette"]),
    crossover=st.sampled_from(["uniform", "sbx", "blend", "one_point"]),
    dtype=st.sampled_from([np.float64, np.float32]),
    mixed=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_disk_equals_memory_for_any_chunk(
    tmp_path_factory, n, block, chunk, replacement, selection, crossover, dtype, mixed, seed
):
    """Bit-identical populations, fitness and RNG state after 5 generations (NaN fitness in
    some), for any chunk size, block size, operator, dtype and gene types."""
    space = MIXED if mixed else Space.box(-5, 5, 6)
    kw = dict(
        population_size=n,
        replacement=replacement,
        selection=selection,
        crossover=crossover,
        dtype=dtype,
        block_rows=block,
        seed=seed,
    )
    if replacement == "comma":
        kw["offspring_size"] = n + 3
    mem = GA(space, **kw)
    drive(mem, nan_every=3)
    disk = GA(space, storage="disk", path=tmp_path_factory.mktemp("pop"), chunk_rows=chunk, **kw)
    drive(disk, nan_every=3)
    assert isinstance(disk.state.X, np.memmap)
    assert same(ga_state(mem), ga_state(disk))


def test_one_block_breeds_as_the_ga_always_has():
    """A population of at most one block takes the single-stream path: block_rows beyond the
    offspring count changes nothing, and the multi-block path differs from it."""
    runs = []
    for block in (40, 10**6, 10):
        ga = GA(Space.box(-5, 5, 4), population_size=40, seed=9, block_rows=block)
        drive(ga)
        runs.append(ga_state(ga))
    assert same(runs[0], runs[1])
    assert not same(runs[0], runs[2])


def test_chunk_sizes_and_an_explicit_path(tmp_path):
    """One configuration on disk with chunks of 1 row, 1 block, 3 blocks and everything."""
    runs = []
    for chunk in (1, 8, 24, 10**6):
        ga = GA(Space.box(-5, 5, 5), 100, seed=2, block_rows=8, chunk_rows=chunk,
                storage="disk", path=tmp_path / f"c{chunk}")  # fmt: skip
        drive(ga, 6)
        runs.append(ga_state(ga))
    assert all(same(runs[0], r) for r in runs[1:])


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"topology": "ring"},
        {"topology": ("ring", {"k": 4}), "boundary": "random"},
        {"topology": "von_neumann", "boundary": "clip"},
        {"boundary": "periodic", "velocity_clamp": None},
    ],
)
def test_pso_disk_equals_memory(tmp_path, kw):
    runs = []
    for storage in ("memory", "disk"):
        pso = PSO(Space.box(-5, 5, 7), swarm_size=2500, seed=4, storage=storage, **kw)
        drive(pso, 5, nan_every=11)
        s = pso.state
        runs.append([np.array(a) for a in (s.X, s.V, s.pbest_X, s.pbest_f)] + [s.max_velocity])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_pso_hands_out_a_read_only_file():
    pso = PSO(Space.box(-1, 1, 3), swarm_size=10, seed=0, storage="disk")
    X = pso.ask()
    assert isinstance(X, np.memmap) and not X.flags.writeable
    with pytest.raises(ValueError):
        X[0, 0] = 0.5


# -- files and their lifetime -----------------------------------------------------------------
def npy_files(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("*.npy"))


def test_files_in_ram_per_individual_and_on_disk(tmp_path):
    """The state's genes are files; what stays in RAM is the fitness (8 bytes each)."""
    ga = GA(Space.box(-5, 5, 6), 500, seed=1, storage="disk", path=tmp_path, block_rows=64)
    drive(ga, 3)
    arrays, meta = ga.state_dict()
    assert sorted(arrays) == ["fitness"] and arrays["fitness"].nbytes == 8 * 500
    assert meta["X"] == {"__file__": PopulationFiles.name_of(ga.state.X)}
    # no run dir, no checkpoint: only the current population is left
    assert npy_files(tmp_path) == [meta["X"]["__file__"]]
    assert ga.disk_footprint() == 2 * (500 * 6 * 8 + 128) + 500 * 6 * 8


def test_temporary_folder_removed_at_the_end_of_minimize():
    prob = gp.problems.get("sphere", 4)
    ga = GA(prob.space, 64, seed=0, storage="disk")
    result = gp.minimize(prob, ga, generations=3)
    assert ga._files is not None and ga._files.folder is None  # closed: removed
    assert np.isfinite(result.best_fitness)
    assert ga.best() is not None  # the mapped state stays readable
    ga2 = GA(prob.space, 64, seed=0)
    assert gp.minimize(prob, ga2, generations=3).best_fitness == result.best_fitness


def test_users_folder_keeps_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "data.npy").write_bytes(b"not ours")
    prob = gp.problems.get("sphere", 4)
    gp.minimize(prob, GA(prob.space, 64, seed=0, storage="disk", path=tmp_path), generations=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "notes.txt"]


def test_run_dir_keeps_the_files_its_checkpoints_refer_to(tmp_path):
    prob = gp.problems.get("rastrigin", 5)
    run = tmp_path / "run"
    gp.minimize(prob, GA(prob.space, 80, seed=3, storage="disk", block_rows=16),
                generations=5, run_dir=run, checkpoint_every=2)  # fmt: skip
    referenced = set()
    for meta in (run / "checkpoint").glob("ckpt-*.json"):
        referenced.add(json.loads(meta.read_text())["meta"]["optimizer"]["meta"]["X"]["__file__"])
    assert len(referenced) == 2  # the two checkpoints kept
    assert set(npy_files(run / "population")) == referenced


def test_resume_equals_the_uninterrupted_run(tmp_path):
    prob = gp.problems.get("rastrigin", 5)

    def ga():
        return GA(prob.space, 90, seed=11, storage="disk", block_rows=16, chunk_rows=32)

    whole = gp.minimize(prob, GA(prob.space, 90, seed=11, block_rows=16), generations=8)
    run = tmp_path / "run"
    gp.minimize(prob, ga(), generations=3, run_dir=run, checkpoint_every=1)
    again = gp.minimize(prob, ga(), generations=8, run_dir=run, checkpoint_every=1, resume=True)
    assert again.best_fitness == whole.best_fitness
    np.testing.assert_array_equal(again.best_x, whole.best_x)


def test_a_disk_state_needs_a_disk_optimizer(tmp_path):
    ga = GA(Space.box(-1, 1, 3), 20, seed=0, storage="disk", path=tmp_path)
    drive(ga, 2)
    with pytest.raises(ConfigError, match="storage='disk'"):
        GA(Space.box(-1, 1, 3), 20).load_state_dict(ga.state_dict())
    other = GA(Space.box(-1, 1, 3), 20, storage="disk", path=tmp_path / "elsewhere")
    with pytest.raises(CheckpointError, match="is missing"):
        other.load_state_dict(ga.state_dict())


def test_bad_storage_arguments():
    with pytest.raises(ConfigError, match="storage must be one of"):
        GA(Space.box(-1, 1, 3), 20, storage="dsk")
    with pytest.raises(ConfigError, match="needs storage='disk'"):
        PSO(Space.box(-1, 1, 3), 20, path="/tmp/x")
    with pytest.raises(ConfigError, match="block_rows"):
        GA(Space.box(-1, 1, 3), 20, block_rows=0)


# -- disk space, read-only and vanished folders ---------------------------------------------------
def test_preflight_names_the_folder_and_the_bytes(tmp_path, monkeypatch):
    free = 10_000
    usage = shutil.disk_usage(tmp_path)._replace(free=free)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    prob = gp.problems.get("sphere", 10)
    ga = GA(prob.space, 1000, seed=0, storage="disk", path=tmp_path)
    with pytest.raises(WriteError) as info:
        gp.minimize(prob, ga, generations=2)
    text = str(info.value)
    need = ga.disk_footprint()
    assert str(tmp_path) in text and f"{need:,} bytes" in text and f"{free:,} bytes" in text
    assert info.value.errno == errno.ENOSPC
    assert npy_files(tmp_path) == []


def test_a_disk_that_fills_stops_the_run_with_its_checkpoint_intact(tmp_path, monkeypatch):
    prob = gp.problems.get("rastrigin", 4)
    run = tmp_path / "run"

    def ga():
        return GA(prob.space, 60, seed=5, storage="disk", block_rows=16)

    real = os.posix_fallocate
    calls = {"n": 0}

    def fallocate(fd, offset, length):
        calls["n"] += 1
        if calls["n"] == 8:  # the 4th generation's offspring
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, offset, length)

    monkeypatch.setattr(os, "posix_fallocate", fallocate)
    with pytest.raises(WriteError, match="No space left") as info:
        gp.minimize(prob, ga(), generations=8, run_dir=run, checkpoint_every=1)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.setattr(os, "posix_fallocate", real)  # space freed
    again = gp.minimize(prob, ga(), generations=8, run_dir=run, checkpoint_every=1, resume=True)
    whole = gp.minimize(prob, ga(), generations=8)
    assert again.best_fitness == whole.best_fitness


def test_read_only_folder(tmp_path):
    target = Path("/proc/genepool-population")  # a file system nobody can write, not even root
    prob = gp.problems.get("sphere", 3)
    with pytest.raises(WriteError, match="genepool-population"):
        gp.minimize(prob, GA(prob.space, 20, storage="disk", path=target), generations=1)


def test_vanished_folder_stops_the_run(tmp_path):
    prob = gp.problems.get("sphere", 3)
    folder = tmp_path / "pop"

    def remove(info):
        if info.generation == 2:
            shutil.rmtree(folder)

    with pytest.raises(WriteError, match="vanished"):
        gp.minimize(prob, GA(prob.space, 20, storage="disk", path=folder), generations=5,
                    callbacks=[remove])  # fmt: skip


def test_evaluator_does_not_count_a_file_as_held_memory(tmp_path):
    from genepool.evaluation.evaluator import Evaluator

    ga = GA(Space.box(-1, 1, 3), 50, storage="disk", path=tmp_path)
    ev = Evaluator(rastrigin, ga.space)
    X = ga.ask()
    ev.evaluate(X)
    assert ev.current_batch_bytes == 0
    ev.evaluate(np.array(X))
    assert ev.current_batch_bytes == np.array(X).nbytes


# -- kill -9 at random moments -------------------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import sys, genepool as gp
    from genepool import GA
    prob = gp.problems.get("rastrigin", 8)
    ga = GA(prob.space, 6000, seed=21, storage="disk", block_rows=256, chunk_rows=512)
    gp.minimize(prob, ga, generations=int(sys.argv[2]), run_dir=sys.argv[1],
                checkpoint_every=1, resume=sys.argv[3] == "1")
    """
)


def test_kill_9_at_random_moments_then_resume(tmp_path):
    """kill -9 at random moments of a disk-backed run (each after its next checkpoint, at a
    random delay: within a generation, a file write or a checkpoint), six times; resume gives
    the uninterrupted result."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    generations = 60
    prob = gp.problems.get("rastrigin", 8)
    ga = GA(prob.space, 6000, seed=21, block_rows=256)
    whole = gp.minimize(prob, ga, generations=generations)
    rng = np.random.default_rng(0)
    run = tmp_path / "run"
    killed_mid_run = 0

    def newest() -> int:
        return max((g for g, _ in list_checkpoints(run / "checkpoint")), default=0)

    for _ in range(6):
        before = newest()
        proc = subprocess.Popen(
            [sys.executable, str(script), str(run), str(generations), "1" if before else "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and newest() == before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_mid_run += proc.returncode == -signal.SIGKILL and newest() < generations
    assert killed_mid_run >= 5  # the test did what it says
    final = gp.minimize(
        prob,
        GA(prob.space, 6000, seed=21, storage="disk", block_rows=256),
        generations=generations,
        run_dir=run,
        checkpoint_every=1,
        resume=(run / "checkpoint").exists(),
    )
    assert final.best_fitness == whole.best_fitness
    np.testing.assert_array_equal(final.best_x, whole.best_x)
    # only the files of the two checkpoints kept are left
    assert len(npy_files(run / "population")) <= 2


# -- the command line ----------------------------------------------------------------------------
_BENCH = ["evolve", "--problem", "rastrigin", "--dims", "4", "--population", "600",
          "--no-progress", "--seed", "9"]  # fmt: skip


def test_cli_storage_disk_resumes_to_the_in_memory_result(tmp_path, capsys):
    from genepool.cli import main

    out = tmp_path / "run"
    assert main([*_BENCH, "--generations", "3", "--storage", "disk", "--out", str(out)]) == 0
    capsys.readouterr()
    assert json.loads((out / "config.json").read_text())["config"]["storage"] == "disk"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the disk check left nothing
    assert len(npy_files(out / "population")) == 2
    assert main(["resume", str(out), "--generations", "6", "--no-progress", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert main([*_BENCH, "--generations", "6", "--json"]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    assert resumed["best_x"] == in_memory["best_x"]


def test_cli_storage_errors_are_one_line(tmp_path, capsys, monkeypatch):
    from genepool.cli import main

    assert main([*_BENCH, "--storage", "dsk"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--storage" in err[0] and "dsk" in err[0]
    usage = shutil.disk_usage(tmp_path)._replace(free=1000)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    out = tmp_path / "run"
    assert main([*_BENCH, "--storage", "disk", "--out", str(out)]) == 74
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not enough disk space" in err[0] and "1,000 bytes" in err[0]
    assert err[0].count("free some space") == 1  # the CLI's advice, said once
    assert not out.exists()  # refused before the run directory was made


def test_process_executor_reads_chunks_of_the_file(tmp_path):
    """Workers get chunks sliced from the map; the run equals the serial in-memory one."""
    prob = gp.problems.get("rastrigin", 5)
    kw = dict(population_size=400, seed=8, block_rows=64)
    serial = gp.minimize(prob, GA(prob.space, **kw), generations=4)
    pooled = gp.minimize(prob, GA(prob.space, storage="disk", **kw), generations=4,
                         executor="processes", workers=2, chunk_size=50)  # fmt: skip
    assert pooled.best_fitness == serial.best_fitness
    np.testing.assert_array_equal(pooled.best_x, serial.best_x)


def test_strategy_runs_take_storage_and_refuse_it_with_objectives(tmp_path, capsys):
    from genepool.cli import main
    from genepool.evolve import EvolveConfig

    out = tmp_path / "demo"
    args = ["evolve", "--demo", "--population", "300", "--generations", "2", "--seed", "3",
            "--no-progress", "--no-report", "--json"]  # fmt: skip
    assert main([*args, "--storage", "disk", "--out", str(out)]) == 0
    on_disk = json.loads(capsys.readouterr().out)
    assert main([*args, "--out", str(tmp_path / "mem")]) == 0
    in_memory = json.loads(capsys.readouterr().out)
    assert on_disk["params"] == in_memory["params"]
    assert on_disk["fitness"] == in_memory["fitness"]
    assert npy_files(out / "population")  # the final population, for resume
    with pytest.raises(ConfigError, match="storage 'disk' is for single-objective"):
        EvolveConfig(demo=True, objectives="sharpe_ratio,max_drawdown", storage="disk").validate()


def test_nsga2_says_its_population_stays_in_memory():
    with pytest.raises(ConfigError, match="NSGA2 keeps its population in memory"):
        gp.NSGA2(Space.box(0, 1, 3), 10, storage="disk")
    assert gp.NSGA2(Space.box(0, 1, 3), 10, storage="memory").storage == "memory"


def test_two_optimizers_cannot_share_a_folder(tmp_path):
    """The second would remove the first one's files as unused: refused while in use."""
    first = GA(Space.box(-1, 1, 3), 20, seed=0, storage="disk", path=tmp_path)
    drive(first, 1)
    second = GA(Space.box(-1, 1, 3), 20, seed=0, storage="disk", path=tmp_path)
    with pytest.raises(ConfigError, match="in use by another optimizer"):
        second.ask()
    first.close_storage()
    drive(second, 1)  # free again
    assert isinstance(second.state.X, np.memmap)


def test_a_failing_run_keeps_the_files_of_its_checkpoint(tmp_path):
    """With a run directory the files stay, in the user's path too, when the run fails."""
    prob = gp.problems.get("sphere", 3)
    folder, run = tmp_path / "pop", tmp_path / "run"

    def fail(info):
        if info.generation == 3:
            raise RuntimeError("boom")

    def ga():
        return GA(prob.space, 30, seed=1, storage="disk", path=folder)

    with pytest.raises(RuntimeError, match="boom"):
        gp.minimize(prob, ga(), generations=6, run_dir=run, checkpoint_every=1,
                    callbacks=[fail])  # fmt: skip
    assert npy_files(folder)
    resumed = gp.minimize(prob, ga(), generations=6, run_dir=run, checkpoint_every=1,
                          resume=True)  # fmt: skip
    whole = gp.minimize(prob, GA(prob.space, 30, seed=1), generations=6)
    assert resumed.best_fitness == whole.best_fitness


def test_pso_on_disk_resumes_to_the_uninterrupted_run(tmp_path):
    prob = gp.problems.get("ackley", 6)

    def pso():
        return PSO(prob.space, 500, seed=2, topology="ring", storage="disk")

    run = tmp_path / "run"
    gp.minimize(prob, pso(), generations=4, run_dir=run, checkpoint_every=1)
    assert len(npy_files(run / "population")) == 6  # 3 arrays x the 2 checkpoints kept
    again = gp.minimize(prob, pso(), generations=9, run_dir=run, checkpoint_every=1, resume=True)
    whole = gp.minimize(prob, PSO(prob.space, 500, seed=2, topology="ring"), generations=9)
    assert again.best_fitness == whole.best_fitness


def test_home_folder_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    ga = GA(Space.box(-1, 1, 3), 20, seed=0, storage="disk", path="~/pop")
    drive(ga, 1)
    assert npy_files(tmp_path / "pop")
