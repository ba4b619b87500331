"""One line, never a traceback (issue 14, item 5): the six inputs that ended in a Python
traceback, each as a ``genepool.errors`` exception or one CLI line naming the field and value."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genepool as gp
from genepool.cli import EXIT_WRITE, main
from genepool.errors import ConfigError, MemoryBudgetExceeded, SpaceError, WriteError
from genepool.evolve import _files as F
from genepool.memory.history import write_parquet_atomic
from genepool.run import checkpoint as ckpt  # where _write_npz_atomic is patched


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("genepool: error: "), err
    assert "Traceback" not in err and "np.float64(" not in err, err
    return err


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    """300 hourly bars of a seeded random walk, in the layout genepool writes itself."""
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    idx = pd.date_range("2024-01-01", periods=300, freq="h", name="time")
    df = pd.DataFrame(
        {"open": close, "high": close * 1.002, "low": close * 0.998, "close": close},
        index=idx,
    )
    df["volume"] = 1000.0
    path = tmp_path / "prices.csv"
    df.to_csv(path)
    return path


# -- 1. a population that cannot fit in memory -------------------------------------------------
@pytest.mark.parametrize("optimizer", ["GA", "PSO"])
def test_population_beyond_available_memory_is_refused_before_allocation(monkeypatch, optimizer):
    import psutil

    class Small:
        available = 1 << 20  # 1 MiB: a population of 10,000 x 30 floats cannot fit

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Small)
    calls = []

    def f(X):
        calls.append(len(X))
        return (X**2).sum(axis=1)

    space = gp.Space.box(-1, 1, 30)
    opt = gp.GA(space, 10_000, seed=0) if optimizer == "GA" else gp.PSO(space, 10_000, seed=0)
    with pytest.raises(MemoryBudgetExceeded) as info:
        gp.minimize(f, opt, generations=1, progress=False)
    msg = str(info.value)
    name = "population_size" if optimizer == "GA" else "swarm_size"
    assert f"{name} 10,000" in msg and f"{Small.available:,} bytes" in msg
    assert f"{opt.memory_footprint():,} bytes" in msg
    assert calls == [] and opt.state.X is None  # nothing was sampled, nothing evaluated
    with pytest.raises(MemoryBudgetExceeded):  # the optimizer's own first ask refuses too
        opt.ask()


def test_footprint_that_fits_is_accepted(monkeypatch):
    import psutil

    space = gp.Space.box(-1, 1, 3)
    ga = gp.GA(space, 50, seed=0)

    class Exactly:
        available = ga.memory_footprint()

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Exactly)
    assert ga.ask().shape == (50, 3)


def test_cli_population_of_1e11_is_one_line(capsys, tmp_path):
    assert main(["evolve", "--problem", "rastrigin", "--population", "100000000000"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "--population 100,000,000,000 cannot fit in memory" in err  # in the flag's name
    assert "lower --population" in err and "population_size" not in err
    for args in (["--problem", "rastrigin"], ["--demo"]):
        run = tmp_path / args[-1]
        assert main(["evolve", *args, "--population", "100000000000", "--out", str(run)]) == 2
        assert "cannot fit in memory" in _one_line(capsys.readouterr().err)
        assert not run.exists()  # refused before anything was written: nothing to resume


# -- 2. --params of the wrong type --------------------------------------------------------------
BAD_PARAMS = [
    ({"window": "fourteen", "lower": 30, "upper": 70}, "window", "'fourteen'"),
    ({"window": None, "lower": 30, "upper": 70}, "window", "None"),
    ({"window": True, "lower": 30, "upper": 70}, "window", "True"),
    ({"window": 14.5, "lower": 30, "upper": 70}, "window", "14.5"),
    ({"window": -3, "lower": 30, "upper": 70}, "window", "-3"),
    ({"window": 14, "lower": {}, "upper": 70}, "lower", "{}"),
    ({"window": 14, "lower": "30", "upper": 70}, "lower", "'30'"),
    ({"window": 14, "lower": float("nan"), "upper": 70}, "lower", "nan"),
    ({"window": [14, 15], "lower": 30, "upper": 70}, "window", "[14, 15]"),
    ({"window": 14, "lower": 30}, "upper", "missing"),
    ({"window": 14, "lower": 30, "upper": 70, "speed": 1}, "speed", "unknown"),
]


@pytest.mark.parametrize(("params", "name", "shown"), BAD_PARAMS)
def test_backtest_params_of_wrong_type_are_one_line(capsys, tmp_path, params, name, shown):
    out = tmp_path / "bt"
    code = main(["backtest", "--demo", "--params", json.dumps(params), "--out", str(out)])
    assert code == 2
    err = _one_line(capsys.readouterr().err)
    assert name in err and shown in err
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize(
    "value",
    ["14", None, True, {}, [[14]], b"14", object()],
    ids=["text", "none", "bool", "dict", "nested", "bytes", "object"],
)
def test_space_encode_refuses_non_numbers_naming_the_gene(value):
    space = gp.Space([gp.Integer("window", 5, 50), gp.Real("level", 0.0, 1.0)])
    with pytest.raises(SpaceError, match="gene 'window'"):
        space.encode({"window": value, "level": 0.5})
    with pytest.raises(SpaceError, match="gene 'level'"):
        space.encode({"window": 14, "level": value})


def test_space_encode_messages_show_plain_numbers():
    space = gp.Space([gp.Integer("window", 5, 50)])
    with pytest.raises(SpaceError) as info:
        space.encode({"window": float("nan")})
    assert "np.float64" not in str(info.value) and "nan" in str(info.value)
    assert space.encode({"window": [5, 50.0]}).tolist() == [[5.0], [50.0]]  # still accepted


# -- 3. a full disk ------------------------------------------------------------------------------
def _full(path: Path) -> None:
    """Make the temporary file of ``path`` a link to /dev/full: writing it fails with ENOSPC."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("/dev/full", path)


needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


@needs_dev_full
@pytest.mark.parametrize("writer", ["checkpoint", "parquet", "json"])
def test_writers_name_the_file_on_a_full_disk_and_leave_no_half_file(tmp_path, writer):
    import pyarrow as pa

    if writer == "checkpoint":
        _full(tmp_path / ".ckpt-000001.npz.tmp")
        target = tmp_path / "ckpt-000001.npz"
        call = lambda: ckpt.write_checkpoint(tmp_path, 1, {"x": np.ones(3)}, {})  # noqa: E731
    elif writer == "parquet":
        _full(tmp_path / "part.parquet.tmp")
        target = tmp_path / "part.parquet"
        call = lambda: write_parquet_atomic(pa.table({"a": [1.0]}), target)  # noqa: E731
    else:
        target = tmp_path / "best.json"
        target.write_text('{"old": 1}\n')
        _full(tmp_path / ".best.json.tmp")
        call = lambda: F.write_json(target, {"new": 2})  # noqa: E731
    with pytest.raises(WriteError) as info:
        call()
    assert info.value.errno == errno.ENOSPC and info.value.path == str(target)
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert isinstance(info.value, OSError)
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    if writer == "json":
        assert target.read_text() == '{"old": 1}\n'
    else:
        assert not target.exists()


@needs_dev_full
def test_full_disk_mid_run_keeps_last_checkpoint_and_resume_is_identical(
    capsys, monkeypatch, tmp_path, prices
):
    args = ["--data", str(prices), "--population", "20", "--generations", "4", "--seed", "3"]
    args += ["--no-report", "--no-progress", "--train-frac", "0.7", "--min-trades", "0"]
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main(["evolve", *args, "--out", str(ref)]) == 0
    real = ckpt._write_npz_atomic
    calls = []

    def fill_disk_at_generation_3(path: Path, arrays: dict) -> tuple[str, int]:
        calls.append(path.name)
        if path.name == "ckpt-000003.npz":  # the disk fills up while checkpoint 3 is written
            _full(path.with_name(f".{path.name}.tmp"))
        return real(path, arrays)

    monkeypatch.setattr(ckpt, "_write_npz_atomic", fill_disk_at_generation_3)
    capsys.readouterr()
    assert main(["evolve", *args, "--out", str(run)]) == EXIT_WRITE
    err = _one_line(capsys.readouterr().err)
    assert f"cannot write {run / 'checkpoint' / 'ckpt-000003.npz'}" in err
    assert "No space left on device" in err
    assert "last checkpoint (generation 2) is intact" in err
    assert f"genepool resume {run}" in err
    assert ckpt.latest_checkpoint(run / "checkpoint").generation == 2
    assert not list((run / "checkpoint").glob(".*tmp"))
    monkeypatch.setattr(ckpt, "_write_npz_atomic", real)  # space freed
    assert main(["resume", str(run), "--no-report", "--no-progress"]) == 0
    a, b = F.read_json(ref / F.BEST), F.read_json(run / F.BEST)
    for key in ("params", "fitness", "in_sample", "out_of_sample", "verdict", "n_evaluations"):
        assert a[key] == b[key], key
    for name in (F.HALL_OF_FAME, F.POPULATION):
        pd.testing.assert_frame_equal(pd.read_parquet(ref / name), pd.read_parquet(run / name))
    hist = [pd.read_parquet(d / F.HISTORY)[["generation", "best"]] for d in (ref, run)]
    pd.testing.assert_frame_equal(*hist)


@needs_dev_full
def test_full_disk_outside_a_run_says_run_again(capsys, monkeypatch, tmp_path):
    real = F.write_json

    def fill_disk_at_best_json(path: Path, doc: dict) -> None:
        if path.name == "best.json":
            _full(path.with_name(f".{path.name}.tmp"))
        real(path, doc)

    monkeypatch.setattr(F, "write_json", fill_disk_at_best_json)
    out = tmp_path / "bt"
    params = json.dumps({"window": 14, "lower": 30, "upper": 70})
    code = main(["backtest", "--demo", "--params", params, "--out", str(out)])
    assert code == EXIT_WRITE
    err = _one_line(capsys.readouterr().err)
    assert f"cannot write {out / 'best.json'}" in err and "run the command again" in err


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), EXIT_WRITE, "free some space"),
        (PermissionError(errno.EACCES, "Permission denied", "/x/y"), 2, "/x/y: Permission denied"),
    ],
    ids=["enospc-unnamed", "eacces"],
)
def test_raw_os_errors_are_one_line(capsys, monkeypatch, error, code, expected):
    import genepool.cli as cli

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(cli, "resume_evolution", fail)
    assert main(["resume", "somewhere"]) == code
    assert expected in _one_line(capsys.readouterr().err)


# -- 4. --debug anywhere ------------------------------------------------------------------------
def test_debug_is_accepted_after_the_subcommand(capsys):
    args = ["evolve", "--problem", "sphere", "--dims", "2", "--population", "10"]
    args += ["--generations", "1", "--seed", "0", "--json"]
    assert main([*args, "--debug"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert main(["--debug", *args]) == 0
    assert json.loads(capsys.readouterr().out)["best_fitness"] == after["best_fitness"]


def test_debug_after_the_subcommand_shows_the_traceback():
    with pytest.raises(ConfigError, match="nothing to evolve"):
        main(["evolve", "--debug"])


# -- 5. resume of a directory whose config.json is not an evolve run's ------------------------
def _run_dir(tmp_path: Path, doc: object) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(doc))
    return run


GOOD = {
    "config": {
        "demo": True,
        "data": None,
        "strategy": "rsi",
        "objective": "sharpe_ratio",
        "population": 10,
        "generations": 1,
        "seed": 1,
    },
    "data": {"sha256": "0" * 64, "source": "demo"},
}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({**GOOD, "config": {**GOOD["config"], "command": "backtest"}}, "genepool backtest"),
        ({**GOOD, "config": {**GOOD["config"], "params": {}}}, "unknown key(s) ['params']"),
        ({**GOOD, "config": {"demo": True}}, "missing key(s) ['data', 'strategy'"),
        ({**GOOD, "config": {**GOOD["config"], "population": "ten"}}, "population must be"),
        ({**GOOD, "config": {**GOOD["config"], "stops": "no"}}, "stops must be true or false"),
        ({**GOOD, "config": {**GOOD["config"], "population": 1}}, "population must be >= 2"),
        ({**GOOD, "config": None}, "no 'config' object"),
        ([1, 2], "no 'config' object"),
        ({"config": GOOD["config"]}, "lacks the data's identity"),
    ],
    ids=["backtest", "unknown", "missing", "type", "bool", "range", "null", "list", "nodata"],
)
def test_resume_validates_config_json(capsys, tmp_path, doc, expected):
    run = _run_dir(tmp_path, doc)
    before = (run / "config.json").read_bytes()
    assert main(["resume", str(run), "--no-progress"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert str(run / "config.json") in err and expected in err
    assert (run / "config.json").read_bytes() == before


def test_toml_values_of_the_wrong_type_name_file_and_key(capsys, tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('demo = true\nstops = "no"\n')
    assert main(["evolve", "--config", str(toml), "--out", str(tmp_path / "r")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert f"{toml}: stops must be true or false, got 'no'" in err


# -- 6. operator options and state dicts ---------------------------------------------------------
SPACE = gp.Space.box(-1, 1, 3)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"selection": ("tournament", {"kk": 3})},
            "selection 'tournament' has no option(s) ['kk']",
        ),
        ({"selection": ("roulette", {"k": 3})}, "its options are none"),
        ({"crossover": ("sbx", {"etaa": 3})}, "its options are ['lower', 'upper', 'eta',"),
        ({"mutation": ("gaussian", {"rate": 0.1})}, "has no option(s) ['rate']"),
        ({"selection": ("tournament", {"k": 0})}, "tournament size k must be"),
        ({"mutation": ("polynomial", {"eta": -1})}, "polynomial eta must be >= 0"),
        ({"selection": ("tournament", 3)}, "selection must be a name, (name, {options})"),
        ({"crossover": 7}, "crossover must be a name"),
    ],
)
def test_ga_validates_operator_options_at_construction(kwargs, expected):
    with pytest.raises(ConfigError) as info:
        gp.GA(SPACE, 10, **kwargs)
    assert expected in str(info.value)


def test_ga_operator_options_that_exist_are_accepted():
    options = {"selection": ("tournament", {"k": 3}), "mutation": ("gaussian", {"sigma": 0.2})}
    ga = gp.GA(SPACE, 10, seed=0, **options)
    # the trial run at construction draws nothing from the GA's own stream
    np.testing.assert_array_equal(ga.ask(), SPACE.sample(10, np.random.default_rng(0)))


def _told(opt):
    X = opt.ask()
    opt.tell(X, (X**2).sum(axis=1))
    return opt


@pytest.mark.parametrize("kind", ["GA", "PSO"])
def test_load_state_dict_names_missing_and_unexpected_keys(kind):
    make = (
        (lambda n: gp.GA(SPACE, n, seed=1))
        if kind == "GA"
        else (lambda n: gp.PSO(SPACE, n, seed=1))
    )
    fresh = make(10)
    with pytest.raises(ConfigError) as info:
        fresh.load_state_dict({"foo": 1})
    msg = str(info.value)
    assert (
        f"{kind} state" in msg and "unexpected key(s) ['foo']" in msg and "missing key(s)" in msg
    )
    arrays, meta = _told(make(10)).state_dict()
    with pytest.raises(ConfigError, match=r"X must have shape \(12, 3\), got \(10, 3\)"):
        make(12).load_state_dict(arrays, meta)
    with pytest.raises(ConfigError, match="rng must be a random generator"):
        fresh.load_state_dict(arrays, {**meta, "rng": 3})
    counter = "generation" if kind == "GA" else "iteration"
    with pytest.raises(ConfigError, match=f"{counter} must be int"):
        fresh.load_state_dict(arrays, {**meta, counter: "x"})
    assert fresh.state.X is None  # a refused state changes nothing
    # the accepted forms continue identically
    for form in ((arrays, meta), ((arrays, meta),), ({**arrays, **meta},)):
        a, b = make(10), make(10)
        _told(a)
        b.load_state_dict(*form)
        np.testing.assert_array_equal(a.ask(), b.ask())
