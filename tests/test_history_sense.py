"""The history of a run is stored in the user's sign, with its direction recorded.

Oracle: a maximizing run of ``-f`` is the minimizing run of ``f`` with the fitness negated, so
its history (in memory and in ``history.parquet``) is the minimizing run's with ``best``,
``generation_best`` and ``mean`` times -1 and every other deterministic column equal. Run
directories written before the direction was recorded (negated, no record) still read and
resume correctly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genepool as gp
import genepool.run.loop as loop_module
from genepool.checkpoint import latest_checkpoint
from genepool.evolve.report_data import _history as report_history
from genepool.memory.history import SENSE_KEY, read_metadata
from support import DETERMINISTIC, MIXED_SPACE, CrashAt, mixed_fitness

SIGNED = ["best", "generation_best", "mean"]
BOX = gp.Space.box(-5.12, 5.12, 5)


def _pair(tmp_path, **kw):
    def go(fn, problem, name):
        return fn(
            problem,
            gp.GA(BOX, 24, seed=5),
            generations=12,
            run_dir=tmp_path / name,
            history_capacity=5,  # most rows come back from Parquet
            progress=False,
            **kw,
        )

    lo = go(gp.minimize, gp.problems.rastrigin, "lo")
    hi = go(gp.maximize, lambda X: -gp.problems.rastrigin(X), "hi")
    return lo, hi


def _disk(run_dir):
    df = pd.read_parquet(run_dir / "history.parquet")
    return df.sort_values("generation").reset_index(drop=True)[DETERMINISTIC]


def test_maximize_history_on_disk_is_minus_the_minimize_history(tmp_path):
    _, hi = _pair(tmp_path)
    d_lo, d_hi = _disk(tmp_path / "lo"), _disk(tmp_path / "hi")
    assert len(d_hi) == 12
    for col in DETERMINISTIC:
        expected = -d_lo[col] if col in SIGNED else d_lo[col]
        np.testing.assert_array_equal(d_hi[col].to_numpy(), expected.to_numpy(), err_msg=col)
    assert (np.diff(d_hi["best"]) >= 0).all()  # larger is better, as the user asked
    # memory and disk agree, and the direction is recorded
    pd.testing.assert_frame_equal(hi.history[DETERMINISTIC], d_hi, check_exact=True)
    assert read_metadata(tmp_path / "hi" / "history.parquet")[SENSE_KEY] == "maximize"
    assert read_metadata(tmp_path / "lo" / "history.parquet")[SENSE_KEY] == "minimize"
    assert hi.history["best"].iloc[-1] == hi.best_fitness


def test_checkpoint_records_the_direction(tmp_path):
    _pair(tmp_path, checkpoint_every=4)
    assert latest_checkpoint(tmp_path / "hi" / "checkpoint").meta["history"]["sense"] == (
        "maximize"
    )


def test_report_reads_the_recorded_direction_and_negates_only_old_runs(tmp_path):
    _, hi = _pair(tmp_path)
    folder = tmp_path / "hi" / "history.parquet"
    h = report_history(tmp_path / "hi")
    np.testing.assert_array_equal(h["best"].to_numpy(), hi.history["best"].to_numpy())
    # an old run directory: the same rows negated, without the record
    old = tmp_path / "old" / "history.parquet"
    old.mkdir(parents=True)
    table = pd.read_parquet(folder)
    table[SIGNED] = -table[SIGNED]
    table.to_parquet(old / "part-000000.parquet", index=False)
    assert SENSE_KEY not in read_metadata(old)
    pd.testing.assert_frame_equal(report_history(tmp_path / "old")[DETERMINISTIC],
                                  h[DETERMINISTIC])  # fmt: skip


class _OldRecorder(loop_module.Recorder):
    """The recorder before the direction was recorded: minimized scale, no sense anywhere."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if kwargs.get("resume_from") is None:
            self.stored, self.recorded = self.stored.internal(), False
            self.history.metadata = {}


def test_resume_of_an_old_negated_run_directory_does_not_mix_signs(tmp_path, monkeypatch):
    def go(run_dir, **kw):
        return gp.maximize(
            lambda X: -mixed_fitness(X),
            gp.GA(MIXED_SPACE, 24, seed=11),
            generations=15,
            progress=False,
            run_dir=run_dir,
            history_capacity=4,
            **kw,
        )

    whole = go(tmp_path / "whole")
    with monkeypatch.context() as m:  # written by the old code, crashed after generation 10
        m.setattr(loop_module, "Recorder", _OldRecorder)
        with pytest.raises(RuntimeError):
            go(tmp_path / "old", checkpoint_every=4, callbacks=[CrashAt(10)])
    assert latest_checkpoint(tmp_path / "old" / "checkpoint").meta["history"].get("sense") is None
    resumed = go(tmp_path / "old", checkpoint_every=4, resume=True)
    pd.testing.assert_frame_equal(
        resumed.history[DETERMINISTIC], whole.history[DETERMINISTIC], check_exact=True
    )
    # the directory stays in its old convention throughout: negated, no record
    folder = tmp_path / "old" / "history.parquet"
    assert SENSE_KEY not in read_metadata(folder)
    disk = _disk(tmp_path / "old")
    assert len(disk) == 15
    np.testing.assert_array_equal(disk["best"].to_numpy(), -whole.history["best"].to_numpy())
