"""Run directories are never overwritten or left half-made, and one run has one writer."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from genepool.backtest import synthetic_ohlcv
from genepool.cli import main
from genepool.errors import DataError
from genepool.evolve import _rundir as R
from genepool.evolve import runner

report_data = importlib.import_module("genepool.evolve.report_data")  # not the function
PARAMS = json.dumps({"window": 14, "lower": 30, "upper": 70})
USER_NOTE = "my-notes.txt"  # a user's own file inside a run directory


def _evolve(prices: Path, out: Path, *extra: str) -> list[str]:
    return [
        "evolve", "--data", str(prices), "--population", "20", "--generations", "2",
        "--seed", "3", "--out", str(out), "--no-progress", "--no-report", "--min-trades", "1",
        *extra,
    ]  # fmt: skip


def _backtest(prices: Path, out: Path, *extra: str) -> list[str]:
    return ["backtest", "--data", str(prices), "--params", PARAMS, "--out", str(out), *extra]


def _resume(out: Path, *extra: str) -> list[str]:
    return ["resume", str(out), "--no-progress", "--no-report", *extra]


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def _write_lock(run_dir: Path, pid: int, host: str | None = None, **extra) -> None:
    doc = {
        "pid": pid,
        "host": host or socket.gethostname(),
        "command": "genepool evolve",
        "started": "2026-01-02T03:04:05Z",
        **extra,
    }
    (run_dir / R.LOCK).write_text(json.dumps(doc))


def _sums(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (or of ``root`` itself when it is a file)."""
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _stub_report(run_dir) -> Path:
    path = Path(run_dir) / "report.html"
    path.write_text("<html></html>")
    return path


def _is_user_file(relpath: str) -> bool:
    parts = Path(relpath).parts
    return parts[0] != "target" or len(parts) == 1 or not R._is_genepool_name(parts[1])


@pytest.fixture(scope="module")
def prices(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "prices.csv"
    synthetic_ohlcv(600, "1h", seed=5).to_csv(path)
    return path


@pytest.fixture(scope="module")
def templates(prices, tmp_path_factory) -> dict[str, Path]:
    """One directory of each kind a user may point a command at, made once per module."""
    root = tmp_path_factory.mktemp("kinds")
    finished = root / "finished"
    assert main(_evolve(prices, finished)) == 0
    (finished / USER_NOTE).write_text("the user's own notes\n")
    backtest = root / "backtest"
    assert main(_backtest(prices, backtest)) == 0
    # killed (kill -9) after generation 1: its checkpoint, its history, a lock of a dead PID
    crashed = root / "crashed"
    shutil.copytree(finished, crashed)
    for name in ("best.json", "hall_of_fame.parquet", "population.parquet", "equity.parquet",
                 "trades.parquet", "memory.parquet"):  # fmt: skip
        (crashed / name).unlink()
    for p in (crashed / "checkpoint").glob("ckpt-000002.*"):
        p.unlink()
    _write_lock(crashed, _dead_pid())
    in_progress = root / "in_progress"  # the same, with a live lock: this test process's own
    shutil.copytree(crashed, in_progress)
    _write_lock(in_progress, os.getpid())
    foreign = root / "foreign"
    (foreign / "data").mkdir(parents=True)
    (foreign / "notes.txt").write_text("not genepool's\n")
    (foreign / "data" / "prices.csv").write_text(prices.read_text())
    api = root / "api"  # checkpoints of a Python API run (maximize(run_dir=...)): no config.json
    for name in ("checkpoint", "history.parquet"):
        shutil.copytree(finished / name, api / name)
    empty = root / "empty"
    empty.mkdir()
    a_file = root / "file"
    a_file.write_text("a file where a directory is expected\n")
    return {
        "finished": finished,
        "in_progress": in_progress,
        "crashed": crashed,
        "foreign": foreign,
        "backtest": backtest,
        "api": api,
        "empty": empty,
        "file": a_file,
    }


# What each command does with each kind of directory: exit code, a fragment of its one line
# on stderr, and what it may change ("none": every byte stays; "run": genepool's files are
# (re)written, the user's files stay; "report": only report.html).
REFUSED_NEW = {
    "finished": "already holds a finished evolve run",
    "in_progress": f"is in use by `genepool evolve` (PID {os.getpid()} on host",
    "crashed": "already holds an unfinished evolve run",
    "foreign": "not a genepool run directory (it holds data, notes.txt)",
    "backtest": "already holds a backtest output",
    "api": "already holds genepool files without a config.json (checkpoint, history.parquet)",
    "file": "is a file, not a directory",
}
OVERWRITE = {
    "finished": (0, "", "run"),
    "in_progress": (2, REFUSED_NEW["in_progress"], "none"),
    "crashed": (0, "removing a stale lock of `genepool evolve`", "run"),
    "foreign": (2, "genepool never deletes files it did not write", "none"),
    "backtest": (0, "", "run"),
    "api": (0, "", "run"),
    "empty": (0, "", "run"),
    "file": (2, REFUSED_NEW["file"], "none"),
}
NEW = {k: (2, v, "none") for k, v in REFUSED_NEW.items()} | {"empty": (0, "", "run")}
EXPECTED = {
    "evolve": NEW,
    "evolve --overwrite": OVERWRITE,
    "backtest": NEW,
    "backtest --overwrite": OVERWRITE,
    "resume": {
        "finished": (
            2,
            "is a finished evolve run (2 generations); nothing to resume: run it "
            "longer with `genepool resume",
            "none",
        ),
        "in_progress": (2, REFUSED_NEW["in_progress"], "none"),
        "crashed": (0, "removing a stale lock", "run"),
        "foreign": (2, "is not a genepool run directory", "none"),
        "backtest": (
            2,
            "holds a backtest output of `genepool backtest` (rsi), not an evolve run",
            "none",
        ),
        "api": (2, "not a run of `genepool evolve` or `genepool backtest`; nothing", "none"),
        "empty": (2, "is an empty directory, not a genepool run; nothing to resume", "none"),
        "file": (2, "is a file, not a run directory; nothing to resume", "none"),
    },
    "report": {
        "finished": (0, "", "report"),
        "in_progress": (2, REFUSED_NEW["in_progress"], "none"),
        "crashed": (2, "with no results yet; continue it with `genepool resume", "none"),
        "foreign": (2, "is not a genepool run directory", "none"),
        "backtest": (0, "", "report"),
        "api": (2, "not a run of `genepool evolve` or `genepool backtest`; nothing", "none"),
        "empty": (2, "is an empty directory, not a genepool run; nothing to report", "none"),
        "file": (2, "is a file, not a run directory; nothing to report", "none"),
    },
}


def _argv(command: str, prices: Path, target: Path) -> list[str]:
    name, *flags = command.split()
    if name == "evolve":
        return _evolve(prices, target, *flags)
    if name == "backtest":
        return _backtest(prices, target, *flags)
    if name == "resume":
        return _resume(target)
    return ["report", str(target)]


@pytest.mark.parametrize("kind", list(OVERWRITE))
@pytest.mark.parametrize("command", list(EXPECTED))
def test_every_command_against_every_kind_of_directory(
    command, kind, prices, templates, tmp_path, capsys, caplog, monkeypatch
):
    rc_expected, fragment, may_change = EXPECTED[command][kind]
    src = templates[kind]
    target = tmp_path / "target"
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        shutil.copyfile(src, target)
    (tmp_path / "sibling.txt").write_text("next to the run directory\n")
    if command.startswith("backtest"):  # its report is tested elsewhere; spare the time
        monkeypatch.setattr(report_data, "write_run_report", _stub_report)
    before = _sums(tmp_path)
    capsys.readouterr()
    rc = main(_argv(command, prices, target))
    err = capsys.readouterr().err
    assert rc == rc_expected, err
    assert fragment in (err if rc else caplog.text), err  # warnings go through logging
    after = _sums(tmp_path)
    if rc:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("genepool: error:"), err
        assert str(target) in lines[0]
        assert after == before  # byte for byte, the lock file included
        return
    assert "Traceback" not in err
    assert not (target / R.LOCK).exists()  # released (a stale one was taken over, then too)
    user = {k: v for k, v in before.items() if _is_user_file(k)}
    assert {k: after.get(k) for k in user} == user  # the user's files, byte for byte
    if may_change == "report":
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert changed <= {"target/report.html", f"target/{R.LOCK}"}, changed
        assert "target/report.html" in after
    else:
        doc = json.loads((target / "config.json").read_text())
        made_by = "backtest" if command.startswith("backtest") else "evolve"
        assert doc["config"].get("command", "evolve") == made_by
        assert json.loads((target / "best.json").read_text())["status"] == "complete"


def test_classify_says_what_a_directory_is(templates, tmp_path):
    said = {k: R.classify(p).describe() for k, p in templates.items()}
    assert said["finished"] == "a finished evolve run (rsi, 2 generations)"
    assert said["crashed"] == (
        "an unfinished evolve run (rsi, 2 generations, last checkpoint at generation 1)"
    )
    assert R.classify(templates["crashed"]).lock.state == "stale"
    assert R.classify(templates["in_progress"]).in_use
    assert said["foreign"] == "a directory of other files (data, notes.txt)"
    assert said["empty"] == "an empty directory" and said["file"] == "a file, not a directory"
    assert R.classify(tmp_path / "nothing").kind == "missing"
    run = tmp_path / "interrupted"  # Ctrl-C: best.json says so, and resume continues it
    shutil.copytree(templates["crashed"], run)
    (run / "best.json").write_text(json.dumps({"status": "interrupted", "n_generations": 1}))
    assert R.classify(run).describe() == (
        "an interrupted evolve run (rsi, 2 generations, stopped after generation 1)"
    )
    assert main(_evolve(Path("unused.csv"), run)) == 2
    assert main(_resume(run)) == 0
    assert R.classify(run).state == "finished"


def test_resume_then_continues_a_finished_run_only_with_more_generations(templates, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(templates["finished"], run)
    before = _sums(run)
    assert main(_resume(run, "--generations", "2")) == 2
    assert _sums(run) == before
    assert main(_resume(run, "--generations", "3")) == 0
    assert json.loads((run / "best.json").read_text())["n_generations"] == 3


@pytest.mark.parametrize("command", ["evolve", "backtest"])
def test_a_failed_data_load_leaves_nothing_behind(command, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    df = synthetic_ohlcv(300, "1h", seed=1)
    df.iloc[50, df.columns.get_loc("close")] = -1.0
    df.to_csv(bad)
    build = _evolve if command == "evolve" else _backtest
    assert main(build(bad, tmp_path / "runs" / "new")) == 2
    assert not (tmp_path / "runs").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(build(bad, empty)) == 2
    assert list(empty.iterdir()) == []
    assert "Traceback" not in capsys.readouterr().err


def test_a_failure_before_the_first_checkpoint_removes_what_it_made(prices, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise DataError("the training data (3 bars): too short")

    monkeypatch.setattr(runner, "_execute", fail)
    assert main(_evolve(prices, tmp_path / "runs" / "new")) == 2
    assert not (tmp_path / "runs").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_evolve(prices, empty)) == 2
    assert list(empty.iterdir()) == []  # it stays, empty


def test_a_failure_after_a_checkpoint_keeps_the_run_and_releases_the_lock(
    prices, tmp_path, monkeypatch, capsys
):
    def fail(*args, **kwargs):
        raise DataError("failed while summing up")

    out = tmp_path / "run"
    monkeypatch.setattr(runner, "_finish", fail)
    assert main(_evolve(prices, out)) == 2
    assert (out / "checkpoint").is_dir() and not (out / R.LOCK).exists()
    monkeypatch.undo()
    assert main(_resume(out)) == 0
    assert "stale" not in capsys.readouterr().err  # the lock was released, not left behind


def test_ctrl_c_releases_the_lock_and_an_unstarted_run_is_removed(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), R.new_run_dir(out, command="evolve"):
        assert json.loads((out / R.LOCK).read_text())["pid"] == os.getpid()
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt
    assert not out.exists()


# -- the lock ------------------------------------------------------------------------------------
def test_lock_names_its_holder_and_refuses_a_second_writer(tmp_path):
    with R.RunLock(tmp_path, "resume"):
        doc = json.loads((tmp_path / R.LOCK).read_text())
        assert doc["pid"] == os.getpid() and doc["host"] == socket.gethostname()
        assert doc["command"] == "genepool resume" and doc["started"].endswith("Z")
        with pytest.raises(R.RunLockedError) as exc:
            R.RunLock(tmp_path, "evolve").acquire()
        msg = str(exc.value)
        assert (
            f"in use by `genepool resume` (PID {os.getpid()} on host {socket.gethostname()}" in msg
        )
        assert "since " in msg and "\n" not in msg
    assert not (tmp_path / R.LOCK).exists()


def test_a_stale_lock_is_explained_and_taken_over(tmp_path, caplog):
    pid = _dead_pid()
    _write_lock(tmp_path, pid)
    with R.RunLock(tmp_path, "resume"):
        assert json.loads((tmp_path / R.LOCK).read_text())["pid"] == os.getpid()
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"removing a stale lock of `genepool evolve` (PID {pid} on host" in line
    assert line.endswith("no longer running")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_reused_pid_does_not_keep_a_lock_alive(tmp_path, caplog):
    start = R._proc_stat(os.getpid())[1]
    _write_lock(tmp_path, os.getpid(), proc_start=start + 1)
    with R.RunLock(tmp_path, "resume"):
        pass
    assert f"PID {os.getpid()} is now another process" in caplog.text


def test_a_lock_of_another_host_is_never_broken(tmp_path):
    _write_lock(tmp_path, 1, host="elsewhere.example")
    before = _sums(tmp_path)
    with pytest.raises(R.RunLockedError, match=r"host elsewhere\.example.*if it does not, delete"):
        R.RunLock(tmp_path, "resume").acquire()
    assert _sums(tmp_path) == before


def test_an_unreadable_lock_is_not_broken(tmp_path):
    (tmp_path / R.LOCK).write_text("{not json")
    with pytest.raises(R.RunLockedError, match="cannot be read; if no genepool command"):
        R.RunLock(tmp_path, "resume").acquire()
    assert (tmp_path / R.LOCK).read_text() == "{not json"


_HOLD = (
    "import sys, time\n"
    "from genepool.evolve._rundir import RunLock\n"
    "RunLock(sys.argv[1], 'resume').acquire()\n"
    "print('locked', flush=True)\n"
    "time.sleep(300)\n"
)


def test_a_run_locked_by_another_process_then_killed_9_resumes(
    templates, tmp_path, capsys, caplog
):
    run = tmp_path / "run"
    shutil.copytree(templates["crashed"], run)
    (run / R.LOCK).unlink()
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "locked"
        before = _sums(run)
        assert main(_resume(run)) == 2
        assert f"in use by `genepool resume` (PID {proc.pid} " in capsys.readouterr().err
        assert _sums(run) == before
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert main(_resume(run)) == 0
    assert f"removing a stale lock of `genepool resume` (PID {proc.pid} " in caplog.text
    assert not (run / R.LOCK).exists()


@pytest.mark.slow
def test_two_resumes_started_together_one_writes(templates, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(templates["crashed"], run)
    cmd = [sys.executable, "-m", "genepool.cli", *_resume(run, "--generations", "30")]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    results = sorted((p.wait(timeout=300), p.communicate()[1]) for p in procs)
    assert [rc for rc, _ in results] == [0, 2], results
    refused = results[1][1]
    # refused while the other held the lock, or (when it was quicker) because it had finished
    assert "is in use by `genepool resume`" in refused or "is a finished evolve run" in refused
    assert not (run / R.LOCK).exists()
