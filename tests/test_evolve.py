"""`genepool evolve / resume / report / backtest` end to end, kill -9 included."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genepool as gp
from genepool.backtest import StrategyProblem, synthetic_ohlcv
from genepool.checkpoint import list_checkpoints
from genepool.cli import main
from genepool.evolve import EvolveConfig, run_evolution
from genepool.evolve.records import INTERRUPTED, read_best_or_none
from support import DETERMINISTIC

VOLATILE = {"elapsed", "peak_rss", "cache"}  # measured, not computed: differ between runs
RUN_FILES = [
    "config.json",
    "best.json",
    "hall_of_fame.parquet",
    "population.parquet",
    "equity.parquet",
    "trades.parquet",
    "memory.parquet",
    "report.html",
]


@pytest.fixture(scope="module")
def prices(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "prices.csv"
    synthetic_ohlcv(4000, freq="1h", seed=21).to_csv(path)
    return path


@pytest.fixture(scope="module")
def long_prices(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "long.csv"
    synthetic_ohlcv(20_000, freq="1h", seed=22).to_csv(path)
    return path


def _args(prices, out, *extra):
    return [
        "evolve", "--data", str(prices), "--strategy", "rsi", "--population", "120",
        "--generations", "5", "--seed", "4", "--out", str(out), "--no-progress",
        "--min-trades", "3", "--no-report", *extra,
    ]  # fmt: skip


def _best(run_dir: Path) -> dict:
    doc = json.loads((run_dir / "best.json").read_text())
    return {k: v for k, v in doc.items() if k not in VOLATILE}


def _history(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "history.parquet").sort_values("generation")[DETERMINISTIC]


def _same_run(a: Path, b: Path) -> None:
    assert _best(a) == _best(b)
    pd.testing.assert_frame_equal(_history(a).reset_index(drop=True),
                                  _history(b).reset_index(drop=True))  # fmt: skip
    for name in ("hall_of_fame.parquet", "population.parquet", "trades.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / name), pd.read_parquet(b / name))


def test_evolve_writes_a_complete_run_directory(prices, tmp_path, capsys):
    out = tmp_path / "run"
    assert main([a for a in _args(prices, out) if a != "--no-report"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed and "verdict:" in printed
    for name in RUN_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert list_checkpoints(out / "checkpoint")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["seed"] == 4 and cfg["config"]["population"] == 120
    assert len(cfg["data"]["sha256"]) == 64 and cfg["data"]["n_bars"] == 4000
    assert {"genepool", "numpy", "numba", "pandas", "python"} <= set(cfg["versions"])
    best = json.loads((out / "best.json").read_text())
    assert best["status"] == "complete" and best["n_generations"] == 5
    # the best is the hall of fame's first row, and its metrics are the problem's
    hof = pd.read_parquet(out / "hall_of_fame.parquet")
    assert list(hof["rank"]) == list(range(1, len(hof) + 1))
    assert hof["fitness"].is_monotonic_decreasing
    params = list(best["params"])
    assert not hof.duplicated(params).any()
    assert best["fitness"] == hof["fitness"].iloc[0] == best["in_sample"]["sharpe_ratio"]
    data = gp.backtest.load_ohlcv(prices)
    cut = round(len(data) * 0.7)
    train = StrategyProblem(data.iloc[:cut], "rsi", min_trades=3)
    test = StrategyProblem(data.iloc[cut:], "rsi", min_trades=3)
    x = train.space.encode(best["params"])
    assert train.metrics(x)["sharpe_ratio"].iloc[0] == best["in_sample"]["sharpe_ratio"]
    assert test.metrics(x)["total_return"].iloc[0] == pytest.approx(
        best["out_of_sample"]["total_return"], rel=1e-12
    )
    assert hof["oos_sharpe_ratio"].iloc[0] == pytest.approx(best["out_of_sample"]["sharpe_ratio"])
    # honesty statistics are there, in range
    assert 0.0 <= best["deflated_sharpe"]["dsr"] <= 1.0
    assert 0.0 <= best["pbo"]["pbo"] <= 1.0
    assert best["trials"]["n_distinct"] <= 5 * 120
    assert isinstance(best["verdict"]["text"], str) and best["verdict"]["text"]
    # the trades and the equity split at the train/test boundary
    eq = pd.read_parquet(out / "equity.parquet")
    assert (eq["sample"] == "in").sum() == cut and (eq["sample"] == "out").sum() == 4000 - cut
    html = (out / "report.html").read_text()
    assert "http://" not in html and "data:image/png;base64," in html
    # no pickle anywhere in the run directory
    for path in out.rglob("*"):
        assert path.suffix not in {".pkl", ".pickle"}
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                assert all(not z[k].dtype.hasobject for k in z.files)


def test_same_seed_same_run(prices, tmp_path):
    assert main(_args(prices, tmp_path / "a")) == 0
    assert main(_args(prices, tmp_path / "b")) == 0
    _same_run(tmp_path / "a", tmp_path / "b")


def test_toml_config_and_flags_override_it(prices, tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text(
        f'data = "{prices}"\nstrategy = "bollinger"\npopulation = 60\ngenerations = 3\n'
        f"seed = 9\ntrain-frac = 0.6\nmin_trades = 2\n"
    )
    out = tmp_path / "run"
    args = ["evolve", "--config", str(toml), "--generations", "2", "--out", str(out), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["strategy"] == "bollinger" and doc["n_generations"] == 2
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["train_frac"] == 0.6 and cfg["population"] == 60 and cfg["seed"] == 9


def test_walk_forward(prices, tmp_path):
    out = tmp_path / "wf"
    assert main(_args(prices, out, "--walk-forward", "3", "--anchored")) == 0
    wf = pd.read_parquet(out / "walk_forward.parquet")
    assert list(wf["fold"]) == [0, 1, 2]
    assert (pd.to_datetime(wf["test_start"]) > pd.to_datetime(wf["train_end"])).all()
    assert (wf["train_start"] == wf["train_start"].iloc[0]).all()  # anchored
    for i in range(3):
        assert (
            json.loads((out / "folds" / f"fold-{i:02d}" / "best.json").read_text())["status"]
            == "complete"
        )
    best = json.loads((out / "best.json").read_text())
    assert best["walk_forward"] == {"folds": 3, "done": 3, "mode": "anchored",
                                    "fold_status": ["complete"] * 3,
                                    "valid_folds": [0, 1, 2], "invalid_folds": []}  # fmt: skip
    eq = pd.read_parquet(out / "equity.parquet")
    stitched = eq[eq["sample"] == "out"]
    assert len(stitched) == 4000 - 4000 // 4  # every test segment, one after the other
    assert stitched["value"].iloc[-1] == pytest.approx(
        10_000 * (1 + best["out_of_sample"]["total_return"])
    )
    assert not (out / "report.html").exists()  # --no-report


def test_report_command_rewrites_the_report(prices, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(prices, out)) == 0
    assert not (out / "report.html").exists()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out / "report.html")
    assert (out / "report.html").stat().st_size > 10_000


def test_backtest_command_matches_the_problem(prices, tmp_path, capsys):
    params = {"window": 14, "lower": 30.0, "upper": 70.0}
    out = tmp_path / "bt"
    argv = ["backtest", "--data", str(prices), "--strategy", "rsi", "--params",
            json.dumps(params), "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    prob = StrategyProblem(gp.backtest.load_ohlcv(prices), "rsi")
    m = prob.metrics(prob.space.encode(params)).iloc[0]
    assert doc["in_sample"]["sharpe_ratio"] == m["sharpe_ratio"]
    assert doc["in_sample"]["n_trades"] == m["n_trades"]
    assert (out / "report.html").is_file()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["evolve"], "nothing to evolve"),
        (["evolve", "--data", "/no/such/file.csv"], "/no/such/file.csv"),
        (["evolve", "--demo", "--strategy", "martingale"], "unknown strategy 'martingale'"),
        (["evolve", "--demo", "--train-frac", "2"], "--train-frac"),
        (["evolve", "--demo", "--walk-forward", "1"], "--walk-forward"),
        (["evolve", "--demo", "--out", "/proc/genepool-run"], "/proc/genepool-run"),
        (["evolve", "--demo", "--config", "/no/run.toml"], "/no/run.toml"),
        (["resume", "/no/such/run"], "/no/such/run"),
        (["report", "/no/such/run"], "/no/such/run"),
        (["backtest", "--demo", "--params", "{window: 3}"], "--params is not valid JSON"),
        (["backtest", "--demo", "--params", '{"window": 3}'], "missing gene(s)"),
        (["evolve", "--problem", "sphere", "--demo"], "--problem cannot be combined"),
    ],
)
def test_errors_are_one_line_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genepool: error:"), err
    assert fragment in err[0]


def test_bad_data_names_the_row(tmp_path, capsys):
    df = synthetic_ohlcv(500, freq="1h", seed=1)
    df.iloc[100, df.columns.get_loc("close")] = -5.0
    path = tmp_path / "bad.csv"
    df.to_csv(path)
    assert main(["evolve", "--data", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "close" in err and "100" in err and "Traceback" not in err


def test_debug_shows_the_traceback():
    with pytest.raises(gp.errors.ConfigError):
        main(["--debug", "evolve", "--demo", "--strategy", "martingale"])


def test_existing_run_is_not_overwritten(prices, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_args(prices, out)) == 0
    assert main(_args(prices, out)) == 2
    assert f"genepool resume {out}" in capsys.readouterr().err


def test_resume_extends_a_finished_run(prices, tmp_path):
    ref = tmp_path / "ref"
    args = _args(prices, ref)
    args[args.index("--generations") + 1] = "8"
    assert main(args) == 0
    short = tmp_path / "short"
    assert main(_args(prices, short)) == 0
    assert main(["resume", str(short), "--generations", "8", "--no-progress", "--no-report"]) == 0
    _same_run(ref, short)


def test_changed_data_is_refused_on_resume(tmp_path, capsys):
    path = tmp_path / "p.csv"
    synthetic_ohlcv(3000, freq="1h", seed=3).to_csv(path)
    out = tmp_path / "run"
    assert main(_args(path, out)) == 0
    synthetic_ohlcv(3000, freq="1h", seed=4).to_csv(path)
    assert main(["resume", str(out), "--generations", "8"]) == 2  # a finished run: extend it
    assert "changed since the run started" in capsys.readouterr().err


def _genepool_cmd() -> list[str]:
    return [sys.executable, "-m", "genepool.cli"]


def test_kill_9_at_random_points_then_resume_equals_an_uninterrupted_run(long_prices, tmp_path):
    base = ["--data", str(long_prices), "--strategy", "rsi", "--population", "300",
            "--generations", "40", "--seed", "13", "--no-progress",
            "--min-trades", "3", "--no-report"]  # fmt: skip
    ref = tmp_path / "ref"
    cfg = EvolveConfig(data=str(long_prices), strategy="rsi", population=300, generations=40,
                       seed=13, min_trades=3, out=str(ref))  # fmt: skip
    run_evolution(cfg, report=False)
    rng = np.random.default_rng(2024)
    killed_mid_run = 0
    for i, delay in enumerate(rng.uniform(0.0, 1.5, size=3)):
        out = tmp_path / f"killed-{i}"
        proc = subprocess.Popen(
            [*_genepool_cmd(), "evolve", *base, "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not list_checkpoints(out / "checkpoint") and proc.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint was written"
            time.sleep(0.02)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed_mid_run += 1
        proc.wait(timeout=60)
        record = read_best_or_none(out)
        if record is not None and record.status != INTERRUPTED:
            # the kill landed after the results were written (the process was exiting): the
            # run is finished and `resume` rightly says there is nothing to resume
            assert main(["resume", str(out), "--no-progress", "--no-report"]) == 2
        else:
            assert main(["resume", str(out), "--no-progress", "--no-report"]) == 0
        _same_run(ref, out)
    assert killed_mid_run >= 1  # at least one kill landed while it ran


def test_sigint_checkpoints_and_says_how_to_resume(long_prices, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*_genepool_cmd(), "evolve", "--data", str(long_prices), "--population", "300",
         "--generations", "400", "--seed", "1", "--no-progress", "--no-report",
         "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list_checkpoints(out / "checkpoint"):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"genepool resume {out}" in err
    best = json.loads((out / "best.json").read_text())
    assert best["status"] == "interrupted" and best["n_generations"] < 400
    gen = list_checkpoints(out / "checkpoint")[0][0]
    assert gen == best["n_generations"]  # the checkpoint is the generation it stopped at


def test_demo_preset_with_overrides(tmp_path):
    out = tmp_path / "demo"
    argv = ["evolve", "--demo", "--population", "100", "--generations", "2", "--out", str(out),
            "--no-progress", "--no-report"]  # fmt: skip
    assert main(argv) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["strategy"] == "rsi" and cfg["config"]["seed"] == 7  # the preset
    assert cfg["config"]["population"] == 100  # flags override it
    assert cfg["data"]["source"] == "demo" and cfg["data"]["n_bars"] == 20_000


def test_readme_first_commands_and_ci():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text().split("```bash\n", 1)[1].split("```", 1)[0]
    lines = readme.strip().splitlines()
    assert lines[0] == "pip install -e . && genepool evolve --demo"
    assert lines[1] == "pip install -e '.[test]' && pytest"
    assert lines[1] in (root / ".ci" / "run").read_text()


def test_processes_executor_gives_the_same_run(prices, tmp_path):
    assert main(_args(prices, tmp_path / "serial")) == 0
    par = _args(prices, tmp_path / "processes", "--executor", "processes", "--workers", "2")
    assert main(par) == 0
    _same_run(tmp_path / "serial", tmp_path / "processes")
    cfg = json.loads((tmp_path / "processes" / "config.json").read_text())["config"]
    assert cfg["executor"] == "processes" and cfg["workers"] == 2


def test_run_evolution_leaves_the_callers_config_as_it_was(prices, tmp_path, monkeypatch):
    """The seed it draws, the run directory it names, the bars per year and the minimum
    trades it resolves belong to the run, not to the caller's object (which may start more)."""
    monkeypatch.chdir(tmp_path)  # no --out: the run directory is named under ./runs
    cfg = EvolveConfig(data=str(prices), strategy="rsi", population=12, generations=1,
                       ranges={"window": (5, 9)})  # fmt: skip
    before = dataclasses.replace(cfg, ranges=dict(cfg.ranges))  # type: ignore[arg-type]
    outcome = run_evolution(cfg, report=False)
    assert cfg == before and cfg.ranges == {"window": (5, 9)}  # not made a list
    assert cfg.seed is None and cfg.out is None and cfg.bars_per_year is None
    assert cfg.min_trades is None
    recorded = json.loads((outcome.run_dir / "config.json").read_text())["config"]
    assert recorded["seed"] is not None and recorded["out"] == str(outcome.run_dir)
    assert outcome.run_dir.parent == Path("runs") and outcome.status == outcome.best["status"]
