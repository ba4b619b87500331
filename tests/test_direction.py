"""The objective direction: the one place that knows the sign (genepool.run.direction)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import genepool as gp
from genepool.errors import ConfigError
from genepool.memory.history import SENSE_KEY, read_metadata
from genepool.run import Direction, Objective
from genepool.run.direction import DIRECTION_KEY, direction_metadata

MIN, MAX = Direction.minimize(), Direction.maximize()
VALUES = np.array([3.5, -0.0, 0.0, -2.25, np.inf, -np.inf, 1e-308, np.nan])


def _bits(a):
    return np.asarray(a, dtype=np.float64).view(np.uint64)


@pytest.mark.parametrize("d", [MIN, MAX], ids=["minimize", "maximize"])
def test_round_trip_is_exact_bit_for_bit(d):
    np.testing.assert_array_equal(_bits(d.to_user(d.to_internal(VALUES))), _bits(VALUES))
    np.testing.assert_array_equal(_bits(d.to_internal(d.to_user(VALUES))), _bits(VALUES))
    for v in VALUES:
        assert _bits(d.to_user(d.to_internal(float(v)))) == _bits(float(v))


def test_internal_scale_is_minimized():
    np.testing.assert_array_equal(MAX.to_internal(np.array([1.0, -2.0])), [-1.0, 2.0])
    y = np.array([1.0, 2.0])
    assert MIN.to_internal(y) is y  # minimizing: no copy, as the loop always did
    assert MAX.to_internal(2.5) == -2.5 and MIN.to_user(2.5) == 2.5
    assert MAX.internal() == MIN  # every objective minimized


def test_a_maximized_column_of_two_objectives_alone_is_negated():
    d = Direction((Objective("return", "maximize"), Objective("risk", "minimize")))
    y = np.array([[1.0, 2.0], [-3.0, 4.0]])
    np.testing.assert_array_equal(d.to_internal(y), [[-1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(d.to_user(d.to_internal(y)), y)
    assert d.m == 2 and d.names == ("return", "risk")
    with pytest.raises(ConfigError, match="do not share one sense"):
        d.sense  # noqa: B018
    assert SENSE_KEY not in direction_metadata(d)  # only the direction record


def test_worst_is_the_default_penalty():
    assert MIN.worst == math.inf and MAX.worst == -math.inf
    res = gp.maximize(
        lambda X: np.where(X[:, 0] > 0, np.nan, X.sum(axis=1)),
        gp.GA(gp.Space.box(-1, 1, 2), 10, seed=0),
        generations=2,
        on_error="penalize",
        progress=False,
    )
    assert res.n_errors > 0 and res.best_fitness > -math.inf


@pytest.mark.parametrize(
    ("d", "best", "target", "reached"),
    [
        (MIN, 1.0, 1.0, True),
        (MIN, 0.5, 1.0, True),
        (MIN, 1.5, 1.0, False),
        (MAX, 1.0, 1.0, True),
        (MAX, 1.5, 1.0, True),
        (MAX, 0.5, 1.0, False),
        (MIN, math.inf, 1e300, False),
        (MAX, -math.inf, -1e300, False),
    ],
)
def test_target_comparison_in_the_users_sense(d, best, target, reached):
    assert d.reached(best, target) is reached
    assert d.comparison == ("<=" if d is MIN else ">=")


def test_best_of():
    v = np.array([2.0, -1.0, 5.0])
    assert MIN.best_of(v) == -1.0 and MAX.best_of(v) == 5.0


def test_to_dict_from_dict_round_trip_and_json():
    d = Direction((Objective("sharpe", "maximize"), Objective("drawdown", "minimize")))
    record = json.loads(json.dumps(d.to_dict()))
    assert record == {
        "objectives": [
            {"name": "sharpe", "sense": "maximize"},
            {"name": "drawdown", "sense": "minimize"},
        ]
    }
    assert Direction.from_dict(record) == d
    for one in (MIN, MAX):
        assert Direction.from_dict(one.to_dict()) == one


def test_metadata_round_trip_and_old_histories():
    assert direction_metadata(MAX)[SENSE_KEY] == "maximize"
    assert Direction.from_metadata(direction_metadata(MAX)) == MAX
    assert Direction.from_metadata({SENSE_KEY: "minimize"}) == MIN  # sense only
    assert Direction.from_metadata({}) is None  # written before either record


@pytest.mark.parametrize("bad", ["maximise", "max", "", None, 1])
def test_bad_sense_raises_naming_the_value(bad):
    with pytest.raises(ConfigError, match=f"got {bad!r}".replace("(", r"\(")):
        Objective("fitness", bad)
    with pytest.raises(ConfigError, match="fitness"):
        Direction.from_dict({"objectives": [{"name": "fitness", "sense": bad}]})


def test_malformed_directions_are_refused():
    with pytest.raises(ConfigError, match="at least one objective"):
        Direction(())
    with pytest.raises(ConfigError, match="distinct"):
        Direction((Objective("f", "minimize"), Objective("f", "maximize")))
    with pytest.raises(ConfigError, match="malformed"):
        Direction.from_dict({"senses": ["minimize"]})
    with pytest.raises(ConfigError, match="non-empty string"):
        Objective("", "minimize")


def test_run_records_the_direction_with_history_checkpoint_result_and_callbacks(tmp_path):
    seen = []
    res = gp.maximize(
        lambda X: -(X**2).sum(axis=1),
        gp.GA(gp.Space.box(-1, 1, 3), 12, seed=1),
        generations=4,
        run_dir=tmp_path / "run",
        checkpoint_every=2,
        callbacks=[lambda g: seen.append(g.direction)],
        progress=False,
    )
    assert res.direction == MAX and seen == [MAX] * 4
    meta = read_metadata(tmp_path / "run" / "history.parquet")
    assert meta[SENSE_KEY] == "maximize"
    assert Direction.from_dict(json.loads(meta[DIRECTION_KEY])) == MAX
    ckpt = gp.checkpoint.latest_checkpoint(tmp_path / "run" / "checkpoint")
    assert ckpt.meta["sign"] == -1.0 and ckpt.meta["history"]["sense"] == "maximize"
    assert Direction.from_dict(ckpt.meta["direction"]) == MAX


def test_a_checkpoint_without_the_direction_record_resumes_identically(tmp_path):
    from support import DETERMINISTIC, CrashAt

    def go(run_dir, **kw):
        return gp.maximize(
            lambda X: -(X**2).sum(axis=1),
            gp.GA(gp.Space.box(-1, 1, 3), 12, seed=2),
            generations=8,
            run_dir=run_dir,
            progress=False,
            **kw,
        )

    whole = go(tmp_path / "whole")
    with pytest.raises(RuntimeError, match="simulated crash"):
        go(tmp_path / "old", checkpoint_every=2, callbacks=[CrashAt(5)])
    for path in (tmp_path / "old" / "checkpoint").glob("ckpt-*.json"):
        doc = json.loads(path.read_text())
        del doc["meta"]["direction"]  # as written before the record existed
        path.write_text(json.dumps(doc))
    resumed = go(tmp_path / "old", checkpoint_every=2, resume=True)
    assert resumed.best_fitness == whole.best_fitness
    assert resumed.history[DETERMINISTIC].equals(whole.history[DETERMINISTIC])
    with pytest.raises(ConfigError, match="written by maximize"):
        gp.minimize(
            lambda X: (X**2).sum(axis=1),
            gp.GA(gp.Space.box(-1, 1, 3), 12, seed=2),
            generations=9,
            run_dir=tmp_path / "old",
            resume=True,
            progress=False,
        )
