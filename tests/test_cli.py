from __future__ import annotations

import json
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
