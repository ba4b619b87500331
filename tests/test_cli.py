from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import genepool as gp
from genepool.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"genepool {gp.__version__}"


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("genepool")
    exe = str(script) if script.exists() else shutil.which("genepool")
    assert exe, "the genepool console script is not installed (pip install -e .)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"genepool {gp.__version__}"
    bad = subprocess.run([exe, "evolve", "--problem", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_evolve_json_is_deterministic(capsys):
    args = [
        "evolve",
        "--problem",
        "rastrigin",
        "--dims",
        "5",
        "--population",
        "50",
        "--generations",
        "10",
        "--seed",
        "3",
        "--json",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["best_fitness"] == second["best_fitness"]
    assert first["best_x"] == second["best_x"]
    assert first["n_evaluations"] == 500 and first["n_generations"] == 10
    assert first["peak_rss"] > 0
    # and it is what the library gives for the same configuration
    prob = gp.problems.get("rastrigin", 5)
    res = gp.minimize(prob, gp.GA(prob.space, 50, seed=3), generations=10, progress=False)
    assert res.best_fitness == first["best_fitness"]


def test_evolve_prints_summary_and_plain_progress_lines(capsys):
    assert (
        main(
            [
                "evolve",
                "--problem",
                "sphere",
                "--dims",
                "4",
                "--population",
                "20",
                "--generations",
                "5",
                "--seed",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "gen 5/5" in out and "evals/s" in out  # stdout is not a terminal: plain lines
    assert "best fitness" in out and "stopped by generations: reached 5" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["evolve", "--problem", "nope"], "--problem"),
        (["evolve", "--problem", "sphere", "--population", "1"], "--population"),
        (["evolve", "--problem", "sphere", "--dims", "x"], "--dims"),
        (["evolve", "--problem", "sphere", "--bogus"], "No such option: --bogus"),
        (["evolve"], "--problem"),
        (["evolve", "--problem", "rosenbrock", "--dims", "1"], "rosenbrock needs dims >= 2"),
        (["evolve", "--problem", "sphere", "--memory-limit", "lots"], "memory_limit must be"),
    ],
)
def test_bad_flags_exit_2_with_one_line(capsys, args, fragment):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("genepool: error:") and fragment in lines[0]
    assert "Traceback" not in captured.err


# -- strategy parameters: any valid --params, configurable --ranges ------------------------------
@pytest.fixture(scope="module")
def daily_prices(tmp_path_factory) -> Path:
    from genepool.backtest import synthetic_ohlcv

    path = tmp_path_factory.mktemp("data") / "daily.csv"
    synthetic_ohlcv(1500, freq="1D", seed=5).to_csv(path)
    return path


@pytest.mark.parametrize(
    ("strategy", "params", "ranges"),
    [
        # outside the GA's default search box; `ranges` is a box that holds them
        ("rsi", {"window": 60, "lower": 35, "upper": 65},
         {"window": [50, 70], "lower": [30, 40], "upper": [60, 70]}),
        ("ma_cross", {"fast": 100, "slow": 200, "ma": "sma"}, {"fast": [2, 100]}),
        ("bollinger", {"window": 20, "k": 2, "stop_loss": 0.05, "take_profit": 0.2}, None),
    ],
)  # fmt: skip
def test_backtest_accepts_any_valid_params(
    daily_prices, tmp_path, capsys, strategy, params, ranges
):
    out = tmp_path / "bt"
    argv = ["backtest", "--data", str(daily_prices), "--strategy", strategy,
            "--params", json.dumps(params), "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["params"] == params
    # the same numbers as the library on the same strategy
    prob = gp.backtest.StrategyProblem(
        gp.backtest.load_ohlcv(daily_prices), strategy, min_trades=0,
        stops="stop_loss" in params, ranges=ranges,
    )  # fmt: skip
    m = prob.metrics(prob.space.encode(params)).iloc[0]
    assert int(doc["in_sample"]["n_trades"]) == m["n_trades"]  # --json prints np.int64 as "5"
    assert float(doc["in_sample"]["total_return"]) == m["total_return"]


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--strategy", "ma_cross", "--params", '{"fast": 50, "slow": 20, "ma": "sma"}'],
         ["--params", "fast < slow", "fast 50", "slow 20"]),
        (["--params", '{"window": 14, "lower": 70, "upper": 30}'], ["lower < upper"]),
        (["--params", '{"window": 1, "lower": 30, "upper": 70}'], ["window", ">= 2", "got 1"]),
        (["--params", '{"window": 14, "lower": 30, "upper": 170}'], ["upper", "<= 100", "170"]),
        (["--params", '{"window": 5000, "lower": 30, "upper": 70}'],
         ["1,500 bars", "window 5000"]),
    ],
)  # fmt: skip
def test_backtest_invalid_params_one_line(daily_prices, tmp_path, capsys, argv, fragments):
    out = tmp_path / "bt"
    assert main(["backtest", "--data", str(daily_prices), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genepool: error:"), err
    assert all(f in err[0] for f in fragments), err[0]
    assert not out.exists()


def test_evolve_ranges_are_used_recorded_and_resumed(daily_prices, tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "run"
    ranges = {"fast": [3, 60], "slow": [5, 90]}  # overlapping on purpose
    argv = ["evolve", "--data", str(daily_prices), "--strategy", "ma_cross", "--population",
            "60", "--generations", "2", "--seed", "1", "--min-trades", "1", "--out", str(out),
            "--no-progress", "--no-report", "--ranges", json.dumps(ranges)]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["config"]["ranges"] == ranges
    pop = pd.read_parquet(out / "population.parquet")
    assert (pop["fast"] < pop["slow"]).all()
    assert pop["fast"].between(3, 60).all() and pop["slow"].between(5, 90).all()
    assert main(["resume", str(out), "--generations", "4", "--no-progress", "--no-report"]) == 0
    pop = pd.read_parquet(out / "population.parquet")
    assert (pop["fast"] < pop["slow"]).all() and pop["slow"].between(5, 90).all()


def test_evolve_ranges_from_toml(daily_prices, tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text(
        f'[evolve]\ndata = "{daily_prices}"\nstrategy = "rsi"\n[evolve.ranges]\n'
        f"window = [20, 30]\nupper = [60, 95]\n"
    )
    out = tmp_path / "run"
    argv = ["evolve", "--config", str(toml), "--population", "40", "--generations", "1",
            "--min-trades", "0", "--out", str(out), "--no-progress", "--no-report"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    doc = json.loads((out / "config.json").read_text())["config"]
    assert doc["ranges"] == {"window": [20, 30], "upper": [60, 95]}


@pytest.mark.parametrize(
    ("ranges", "fragments"),
    [
        ('{"windw": [5, 10]}', ["'windw'", "window"]),
        ('{"window": [50, 10]}', ["window", "[50, 10]"]),
        ('{"window": [1, 10]}', ["window", ">= 2"]),
        ('{"lower": [10, 95]}', ["lower", "upper"]),
        ("[5, 10]", ["--ranges", "JSON object"]),
        ("{window: [5, 10]}", ["--ranges is not valid JSON"]),
    ],
)
def test_evolve_bad_ranges_one_line(daily_prices, tmp_path, capsys, ranges, fragments):
    out = tmp_path / "run"
    argv = ["evolve", "--data", str(daily_prices), "--out", str(out), "--ranges", ranges]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genepool: error:"), err
    assert all(f in err[0] for f in fragments), err[0]
    assert not out.exists()


# -- benchmark runs: the seed is printed, --out is a run directory that resume continues ---------
_BENCH = ["evolve", "--problem", "rastrigin", "--dims", "4", "--population", "40", "--no-progress"]


def test_benchmark_prints_the_seed_it_drew_and_it_repeats_the_run(capsys):
    assert main([*_BENCH, "--generations", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("seed ")
    seed = int(lines[0].split()[1])
    best = next(ln for ln in lines if ln.startswith("best x"))
    assert main([*_BENCH, "--generations", "5", "--seed", str(seed)]) == 0
    assert best in capsys.readouterr().out.splitlines()


def test_benchmark_out_is_a_run_directory_that_resume_continues(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main([*_BENCH, "--generations", "4", "--seed", "9", "--out", str(out)]) == 0
    capsys.readouterr()
    config = json.loads((out / "config.json").read_text())["config"]
    assert {k: config[k] for k in ("problem", "dims", "population", "generations", "seed")} == {
        "problem": "rastrigin", "dims": 4, "population": 40, "generations": 4, "seed": 9,
    }  # fmt: skip
    assert (out / "history.parquet").is_dir() and (out / "checkpoint").is_dir()
    # an existing non-empty --out is refused and left as it was
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main([*_BENCH, "--generations", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and f"--out {out} already holds a run of `genepool evolve --problem`" in err[0]
    )
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # resume extends it to what an uninterrupted run with that seed gives
    assert main(["resume", str(out), "--generations", "8", "--no-progress", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert main([*_BENCH, "--generations", "8", "--seed", "9", "--json"]) == 0
    straight = json.loads(capsys.readouterr().out)
    assert resumed["best_x"] == straight["best_x"] and resumed["n_generations"] == 8
    assert json.loads((out / "result.json").read_text())["best_fitness"] == resumed["best_fitness"]
    # like every run directory: --overwrite replaces genepool's files, a foreign one is refused
    assert main([*_BENCH, "--generations", "2", "--seed", "9", "--out", str(out), "--overwrite",
                 "--json"]) == 0  # fmt: skip
    assert json.loads((out / "config.json").read_text())["config"]["generations"] == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main([*_BENCH, "--out", str(foreign), "--overwrite"]) == 2
    assert "not a genepool run directory" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [("--bars-per-year", "0", "--bars-per-year must be > 0"),
     ("--train-frac", "2", "--train-frac must be <= 1"),
     ("--walk-forward", "1", "--walk-forward must be 0 (off) or at least 2")],
)  # fmt: skip
def test_settings_errors_name_the_flag(tmp_path, capsys, flag, value, said):
    assert main(["evolve", "--demo", flag, value, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "_" not in err.split(":")[2].split()[0]
    assert not (tmp_path / "run").exists()


def test_too_small_memory_limit_speaks_in_flags(tmp_path, capsys):
    assert main(["evolve", "--demo", "--memory-limit", "50MB", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--memory-limit" in err and "--population" in err
    assert "dtype" not in err and "memory_limit" not in err


def test_problem_run_is_locked_while_written(tmp_path, capsys):
    from genepool.evolve._rundir import RunLock

    run = tmp_path / "bench"
    base = ["--population", "20", "--seed", "1", "--no-progress"]
    assert main(["evolve", "--problem", "sphere", "--dims", "3", "--generations", "2",
                 *base, "--out", str(run)]) == 0  # fmt: skip
    capsys.readouterr()
    with RunLock(run, "evolve --problem"):  # another writer holds it (this process)
        assert main(["resume", str(run), "--generations", "4", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "in use" in err and str(os.getpid()) in err
    assert main(["resume", str(run), "--generations", "4", "--no-progress"]) == 0
