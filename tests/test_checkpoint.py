"""Checkpoints: atomic, pickle-free, verified; resumed runs equal uninterrupted ones."""

from __future__ import annotations

import json
import logging
import os
import signal
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    write_checkpoint,
)
from genepool.errors import CheckpointError, ConfigError
from support import DETERMINISTIC, MIXED_SPACE, CrashAt, mixed_fitness

BOX = gp.Space.box(-5.12, 5.12, 6)


def _run(run_dir=None, generations=12, seed=3, **kw):
    return gp.minimize(
        gp.problems.rastrigin,
        gp.GA(BOX, 30, seed=seed),
        generations=generations,
        progress=False,
        run_dir=run_dir,
        **kw,
    )


def _same_result(a, b):
    assert a.best_fitness == b.best_fitness
    np.testing.assert_array_equal(a.best_x, b.best_x)
    assert a.n_evaluations == b.n_evaluations
    assert a.n_generations == b.n_generations
    ha, hb = a.history[DETERMINISTIC], b.history[DETERMINISTIC]
    assert len(ha) == len(hb) == a.n_generations
    np.testing.assert_array_equal(ha.to_numpy(), hb.to_numpy())


# -- files ---------------------------------------------------------------------------------------
def test_write_read_round_trip_keeps_the_newest_two(tmp_path):
    for g in (1, 2, 3):
        write_checkpoint(tmp_path, g, {"x": np.arange(4.0) * g}, {"g": g, "inf": float("inf")})
    found = list_checkpoints(tmp_path)
    assert [g for g, _ in found] == [3, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ckpt-000002.json",
        "ckpt-000002.npz",
        "ckpt-000003.json",
        "ckpt-000003.npz",
    ]
    ck = latest_checkpoint(tmp_path)
    assert ck.generation == 3 and ck.meta == {"g": 3, "inf": float("inf")}
    np.testing.assert_array_equal(ck.arrays["x"], np.arange(4.0) * 3)


def test_no_pickle_on_disk(tmp_path):
    _run(tmp_path, generations=4, checkpoint_every=2)
    for _, path in list_checkpoints(tmp_path / "checkpoint"):
        json.loads(path.read_text())  # plain JSON
        npz = path.with_suffix(".npz")
        with np.load(npz, allow_pickle=False) as data:  # would raise on an object array
            for key in data.files:
                assert not data[key].dtype.hasobject
        with zipfile.ZipFile(npz) as z:
            assert all(n.endswith(".npy") for n in z.namelist())
    leftovers = [p for p in (tmp_path / "checkpoint").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_object_arrays_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="'bad'"):
        write_checkpoint(tmp_path, 1, {"bad": np.array([{"a": 1}], dtype=object)}, {})


def test_truncated_newest_checkpoint_falls_back_to_the_previous(tmp_path, caplog):
    write_checkpoint(tmp_path, 1, {"x": np.ones(100)}, {"g": 1})
    write_checkpoint(tmp_path, 2, {"x": np.zeros(100)}, {"g": 2})
    npz = tmp_path / "ckpt-000002.npz"
    npz.write_bytes(npz.read_bytes()[:200])
    with caplog.at_level(logging.WARNING, logger="genepool"):
        ck = latest_checkpoint(tmp_path)
    assert ck.generation == 1
    assert "corrupted or truncated" in caplog.text
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        read_checkpoint(tmp_path / "ckpt-000002.json")


def test_flipped_byte_is_detected(tmp_path):
    write_checkpoint(tmp_path, 1, {"x": np.ones(100)}, {})
    npz = tmp_path / "ckpt-000001.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="no valid checkpoint.*corrupted"):
        latest_checkpoint(tmp_path)


def test_truncated_json_falls_back_and_all_bad_is_an_error(tmp_path):
    write_checkpoint(tmp_path, 1, {"x": np.ones(3)}, {})
    write_checkpoint(tmp_path, 2, {"x": np.ones(3)}, {})
    (tmp_path / "ckpt-000002.json").write_text('{"format": 1, "gener')
    assert latest_checkpoint(tmp_path).generation == 1
    (tmp_path / "ckpt-000001.npz").unlink()
    with pytest.raises(CheckpointError, match="no valid checkpoint"):
        latest_checkpoint(tmp_path)


def test_empty_folder_has_no_checkpoint(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    assert latest_checkpoint(tmp_path / "missing") is None


# -- resume --------------------------------------------------------------------------------------
def test_resume_after_a_crash_equals_the_whole_run(tmp_path):
    whole = _run(generations=12)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tmp_path, generations=12, checkpoint_every=3, callbacks=[CrashAt(8)])
    # the crash flushed history up to generation 8; the checkpoint is at 6
    assert latest_checkpoint(tmp_path / "checkpoint").generation == 6
    resumed = _run(tmp_path, generations=12, checkpoint_every=3, resume=True)
    _same_result(whole, resumed)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(every=st.integers(1, 5), crash=st.integers(1, 11), seed=st.integers(0, 5))
def test_resume_from_any_point_equals_the_whole_run(tmp_path_factory, every, crash, seed):
    run_dir = tmp_path_factory.mktemp("run")
    whole = _run(generations=12, seed=seed)
    with pytest.raises(RuntimeError):
        _run(run_dir, 12, seed, checkpoint_every=every, callbacks=[CrashAt(crash)])
    if crash <= every:  # the crash comes before the first checkpoint: nothing to resume
        with pytest.raises(CheckpointError, match="nothing to resume"):
            _run(run_dir, 12, seed, checkpoint_every=every, resume=True)
        return
    resumed = _run(run_dir, 12, seed, checkpoint_every=every, resume=True)
    _same_result(whole, resumed)


def test_resume_mixed_space_maximize_with_history_spilled(tmp_path):
    def run(run_dir=None, **kw):
        return gp.maximize(
            lambda X: -mixed_fitness(X),
            gp.GA(MIXED_SPACE, 24, seed=11),
            generations=15,
            progress=False,
            run_dir=run_dir,
            history_capacity=4,
            **kw,
        )

    whole = run(tmp_path / "whole")
    with pytest.raises(RuntimeError):
        run(tmp_path / "cut", checkpoint_every=4, callbacks=[CrashAt(10)])
    resumed = run(tmp_path / "cut", checkpoint_every=4, resume=True)
    assert len(resumed.history) == 15
    assert resumed.best_fitness == whole.best_fitness
    assert resumed.best_params == whole.best_params
    np.testing.assert_array_equal(
        resumed.history["best"].to_numpy(), whole.history["best"].to_numpy()
    )


def test_finished_run_resumes_to_the_same_result_and_can_be_extended(tmp_path):
    done = _run(tmp_path, generations=6, checkpoint_every=2)
    again = _run(tmp_path, generations=6, checkpoint_every=2, resume=True)
    _same_result(done, again)
    assert again.stop_reason == "generations: reached 6"
    longer = _run(tmp_path, generations=10, checkpoint_every=2, resume=True)
    _same_result(_run(generations=10), longer)


def test_stateful_callbacks_are_checkpointed(tmp_path):
    class Counter:
        def __init__(self):
            self.seen = np.zeros(0)

        def __call__(self, info):
            self.seen = np.append(self.seen, info.best_fitness)

        def state_dict(self):
            return {"seen": self.seen}, {"n": len(self.seen)}

        def load_state_dict(self, arrays, meta):
            assert meta["n"] == len(arrays["seen"])
            self.seen = arrays["seen"]

    whole = Counter()
    _run(generations=9, callbacks=[whole])
    with pytest.raises(RuntimeError):
        _run(tmp_path, 9, checkpoint_every=2, callbacks=[Counter(), CrashAt(5)])
    resumed = Counter()
    _run(tmp_path, 9, checkpoint_every=2, resume=True, callbacks=[resumed, CrashAt(99)])
    np.testing.assert_array_equal(resumed.seen, whole.seen)


def test_sigint_finishes_the_generation_checkpoints_and_stops(tmp_path):
    def interrupt(info):
        if info.generation == 4:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    res = _run(tmp_path, generations=12, checkpoint_every=5, callbacks=[interrupt])
    assert res.stop_reason == "interrupted by SIGINT"
    assert res.n_generations == 4
    assert latest_checkpoint(tmp_path / "checkpoint").generation == 4
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored
    resumed = _run(tmp_path, generations=12, checkpoint_every=5, resume=True)
    _same_result(_run(generations=12), resumed)


def test_resume_errors_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint_every needs run_dir"):
        _run(checkpoint_every=2)
    with pytest.raises(ConfigError, match="resume needs run_dir"):
        _run(resume=True)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        _run(tmp_path / "empty", resume=True)
    _run(tmp_path / "r", generations=4, checkpoint_every=2)
    with pytest.raises(ConfigError, match="already holds a run"):
        _run(tmp_path / "r", generations=4, checkpoint_every=2)
    with pytest.raises(ConfigError, match="population_size"):
        gp.minimize(
            gp.problems.rastrigin,
            gp.GA(BOX, 31, seed=3),
            generations=6,
            progress=False,
            run_dir=tmp_path / "r",
            resume=True,
        )
    with pytest.raises(ConfigError, match="maximize|minimize"):
        gp.maximize(
            gp.problems.rastrigin,
            gp.GA(BOX, 30, seed=3),
            generations=6,
            progress=False,
            run_dir=tmp_path / "r",
            resume=True,
        )
