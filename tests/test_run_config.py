"""RunConfig: the keywords of minimize/maximize, validated once and frozen."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

import genepool as gp
from genepool.errors import ConfigError
from genepool.run import Direction, RunConfig
from genepool.run.loop import Run

BOX = gp.Space.box(-1.0, 1.0, 3)


@pytest.mark.parametrize("fn", [gp.minimize, gp.maximize])
def test_every_keyword_is_a_config_field_and_back(fn):
    params = inspect.signature(fn).parameters
    assert list(params)[:2] == ["problem", "optimizer"]
    keywords = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keywords == list(params)[2:]
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    assert fields == ["direction", *keywords]  # same names, same order
    assert RunConfig.keywords() == tuple(keywords)
    for f in dataclasses.fields(RunConfig)[1:]:  # same defaults
        assert params[f.name].default == f.default, f.name


def test_minimize_passes_every_keyword_through(monkeypatch, tmp_path):
    seen = {}

    def capture(self, problem, optimizer, config):
        seen["config"] = config
        raise RuntimeError("captured")

    monkeypatch.setattr(Run, "__init__", capture)
    cb = [lambda g: None]
    given = {
        "objectives": ("fitness",),  # one objective: the direction stays that of the function
        "generations": 7,
        "max_evaluations": 500,
        "target": 0.5,
        "time_limit": 9.0,
        "stagnation": 4,
        "memory_limit": "2GB",
        "chunk_size": 16,
        "cache": 1 << 20,
        "on_error": "penalize",
        "penalty": 99.0,
        "executor": "processes",
        "workers": 2,
        "retries": 5,
        "run_dir": tmp_path,
        "history_capacity": 30,
        "snapshot_every": 3,
        "checkpoint_every": 2,
        "resume": True,
        "callbacks": cb,
        "progress": "lines",
    }
    assert set(given) == set(RunConfig.keywords())
    runs = ((gp.minimize, Direction.minimize()), (gp.maximize, Direction.maximize()))
    for fn, direction in runs:
        with pytest.raises(RuntimeError, match="captured"):
            fn(gp.problems.sphere, gp.GA(BOX, 10, seed=0), **given)
        config = seen["config"]
        assert config.direction == direction
        for name, value in given.items():
            expected = tuple(value) if name == "callbacks" else value
            assert getattr(config, name) == expected, name


def test_config_is_frozen():
    cfg = RunConfig(generations=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.generations = 6  # type: ignore[misc]
    assert cfg.generations == 5


def test_values_are_normalized_once():
    import numpy as np

    cfg = RunConfig(
        generations=np.int64(3), target=np.float32(0.5), callbacks=iter([print]), run_dir="x"
    )
    assert type(cfg.generations) is int and type(cfg.target) is float
    assert cfg.callbacks == (print,) and cfg.run_path == Path("x")
    assert RunConfig().generations == 100  # no budget: 100 generations, as documented
    assert RunConfig(time_limit=1.0).generations is None
    assert RunConfig().penalty_value == float("inf")
    assert RunConfig(direction=Direction.maximize()).penalty_value == float("-inf")
    assert RunConfig(penalty=3).penalty_value == 3.0
    terms = RunConfig(target=1.0, direction=Direction.maximize()).terminators
    assert terms.target == 1.0 and terms.direction == Direction.maximize()


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"generations": 0}, "generations must be >= 1, got 0"),
        ({"generations": 2.5}, "generations must be an integer, got 2.5"),
        ({"max_evaluations": -1}, "max_evaluations must be >= 1, got -1"),
        ({"time_limit": 0}, "time_limit must be > 0"),
        ({"target": float("nan")}, "target must be a finite number"),
        ({"stagnation": 0}, "stagnation must be >= 1, got 0"),
        ({"callbacks": [print, 3]}, "callbacks[1] must be callable, got 3"),
        ({"snapshot_every": 2}, "snapshot_every needs run_dir (where the snapshots go)"),
        ({"snapshot_every": 0, "run_dir": "r"}, "snapshot_every must be >= 1, got 0"),
        ({"checkpoint_every": 2}, "checkpoint_every needs run_dir (where the checkpoints go)"),
        ({"resume": True}, "resume needs run_dir (the run to continue)"),
        ({"memory_limit": "lots"}, "memory_limit must be a size like '2GB'"),
        ({"chunk_size": 0}, "chunk_size must be >= 1, got 0"),
        ({"on_error": "ignore"}, "on_error must be 'raise' or 'penalize', got 'ignore'"),
        ({"penalty": float("nan")}, "penalty must not be NaN"),
        ({"workers": 0}, "workers must be >= 1, got 0"),
        ({"retries": -1}, "retries must be >= 0, got -1"),
        ({"history_capacity": 0}, "history_capacity must be >= 1, got 0"),
        ({"progress": "fancy"}, "progress must be True, False, 'bar' or 'lines', got 'fancy'"),
        ({"direction": "maximize"}, "direction must be a Direction, got 'maximize'"),
    ],
)
def test_each_field_is_validated_naming_it(kw, message):
    with pytest.raises(ConfigError) as info:
        RunConfig(**kw)
    assert message in str(info.value)


def test_a_bad_keyword_is_refused_before_the_run_starts(tmp_path):
    calls = []

    def f(X):
        calls.append(len(X))
        return X.sum(axis=1)

    with pytest.raises(ConfigError, match="history_capacity"):
        gp.minimize(f, gp.GA(BOX, 10, seed=0), history_capacity=0, run_dir=tmp_path / "r")
    assert calls == [] and not (tmp_path / "r").exists()


def test_type_hints_of_the_entry_points_resolve_at_run_time():
    """Tools that read annotations (typing.get_type_hints: sphinx, pydantic, typer) see real
    types: no name left only for the type checker (distributed's Client has a stand-in)."""
    import typing

    from genepool.evaluation import Evaluator

    for fn in (gp.minimize, gp.maximize, RunConfig, Evaluator.__init__):
        hints = typing.get_type_hints(fn)
        assert "executor" in hints and "cache" in hints, fn
