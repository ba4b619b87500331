"""CLI fuzz (issue 14, item 5): malformed data files, flags, TOML files, run directories and
checkpoints. Every case must exit with 2 (or its documented code), print exactly one line on
stderr starting ``genepool: error:``, show no traceback and no ``np.float64(...)``, and leave
every file that existed byte-identical.

The cases run in-process (``genepool.cli.main``); a few run through the real console script to
show that it behaves the same. Almost all of them fail before any evolution; the one run
directory they corrupt is made once per module (10 individuals, 2 generations).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from logging import WARNING
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genepool.cli import main

# -- fixtures of the cases ------------------------------------------------------------------------
N_BARS = 300


def _bars(n: int = N_BARS, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    idx = pd.date_range("2024-01-01", periods=n, freq="h", name="time")
    df = pd.DataFrame(
        {"open": close, "high": close * 1.002, "low": close * 0.998, "close": close}, index=idx
    )
    df["volume"] = 1000.0
    return df


def _csv(path: Path, df: pd.DataFrame) -> None:
    df.to_csv(path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> dict[str, Path]:
    """A good CSV and a finished evolve run on it (with its report), made once."""
    root = tmp_path_factory.mktemp("fuzz-shared")
    good = root / "good.csv"
    _csv(good, _bars())
    run = root / "run"
    argv = ["evolve", "--data", str(good), "--population", "10", "--generations", "2"]
    argv += ["--seed", "1", "--min-trades", "0", "--no-progress", "--out", str(run)]
    assert main(argv) == 0
    assert (run / "best.json").exists() and (run / "report.html").exists()
    return {"root": root, "good": good, "run": run}


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# -- what a case is -------------------------------------------------------------------------------
Setup = Callable[[Path, dict[str, Path]], None]


@dataclass
class Case:
    """``argv`` may name ``{good}`` (the good CSV), ``{data}`` (the file ``setup`` wrote),
    ``{run}`` (a copy of the finished run, when ``copy_run``), ``{toml}``, ``{out}`` (a fresh
    output directory) and ``{tmp}``."""

    id: str
    argv: list[str]
    setup: Setup | None = None
    code: int = 2
    copy_run: bool = False
    # a malformed input that another item of issue 14 may turn into a supported one: exit 0
    # is fine then (still no traceback, nothing changed), exit 2 must still be one line
    maybe_valid: bool = False
    marks: list[pytest.MarkDecorator] = field(default_factory=list)


def write(name: str, content: bytes | str) -> Setup:
    def setup(tmp: Path, shared: dict[str, Path]) -> None:
        data = content.encode() if isinstance(content, str) else content
        (tmp / name).write_bytes(data)

    return setup


def frame(name: str, edit: Callable[[pd.DataFrame], pd.DataFrame], n: int = N_BARS) -> Setup:
    def setup(tmp: Path, shared: dict[str, Path]) -> None:
        df = edit(_bars(n))
        if name.endswith(".parquet"):
            df.to_parquet(tmp / name)
        else:
            df.to_csv(tmp / name)

    return setup


def _set(col: str, value, rows=slice(None)):
    def edit(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df[col] = df[col].astype(object) if isinstance(value, str) else df[col]
        df.iloc[rows, df.columns.get_loc(col)] = value
        return df

    return edit


HEADER = "time,open,high,low,close,volume\n"
ROW = "2024-01-01 00:00:00,100,101,99,100,1000\n"

# -- data files, each given to evolve (and some to backtest) --------------------------------------
DATA_FILES: list[tuple[str, str, Setup | None, bool]] = [
    # (id, file name, setup, maybe_valid)
    ("missing-file", "data.csv", None, False),
    ("empty", "data.csv", write("data.csv", b""), False),
    ("whitespace-only", "data.csv", write("data.csv", "  \n\n \n"), False),
    ("binary-garbage", "data.csv", write("data.csv", bytes(range(256)) * 8), False),
    ("nul-bytes", "data.csv", write("data.csv", b"\x00" * 1000), False),
    ("header-only", "data.csv", write("data.csv", HEADER), False),
    ("bom-header-only", "data.csv", write("data.csv", "\ufeff" + HEADER), False),
    ("one-row", "data.csv", write("data.csv", HEADER + ROW), False),
    ("two-rows", "data.csv", frame("data.csv", lambda d: d, n=2), False),
    ("five-rows", "data.csv", frame("data.csv", lambda d: d, n=5), False),
    ("all-nan-close", "data.csv", frame("data.csv", _set("close", np.nan)), False),
    ("nan-close-rows", "data.csv", frame("data.csv", _set("close", np.nan, slice(10, 20))), False),
    ("negative-prices", "data.csv", frame("data.csv", lambda d: -d), False),
    ("zero-close", "data.csv", frame("data.csv", _set("close", 0.0, slice(5, 6))), False),
    ("inf-close", "data.csv", frame("data.csv", _set("close", np.inf, slice(7, 8))), False),
    ("huge-numbers", "data.csv", frame("data.csv", _set("close", 1e308, slice(3, 4))), False),
    ("text-close", "data.csv", frame("data.csv", _set("close", "abc", slice(3, 4))), False),
    ("no-close-column", "data.csv", frame("data.csv", lambda d: d.drop(columns="close")), False),
    ("one-column", "data.csv", write("data.csv", "x\n1\n2\n3\n"), False),
    (
        "bad-dates",
        "data.csv",
        write("data.csv", HEADER + ROW.replace("2024-01-01", "soon") * 3),
        False,
    ),
    (
        "duplicate-dates",
        "data.csv",
        frame("data.csv", lambda d: d.set_axis(d.index[:1].repeat(len(d)).rename("time"))),
        False,
    ),
    ("unsorted-dates", "data.csv", frame("data.csv", lambda d: d.iloc[::-1]), True),
    (
        "pipe-separated",
        "data.csv",
        write("data.csv", HEADER.replace(",", "|") + ROW.replace(",", "|") * 3),
        True,
    ),
    (
        "latin1-bytes",
        "data.csv",
        write("data.csv", HEADER.encode() + b"\xe9\xff\xfe,1,2,3,4,5\n"),
        False,
    ),
    ("directory", "data.csv", lambda tmp, s: (tmp / "data.csv").mkdir(), False),
    ("xlsx", "data.xlsx", write("data.xlsx", b"PK\x03\x04" + b"\x00" * 100), False),
    ("no-extension", "data", write("data", HEADER + ROW), False),
    ("parquet-garbage", "data.parquet", write("data.parquet", b"PAR1 not really"), False),
    ("gz-not-gzip", "data.csv.gz", write("data.csv.gz", HEADER + ROW), False),
    ("zip-not-zip", "data.csv.zip", write("data.csv.zip", b"PK\x05\x06" + b"\x00" * 18), False),
    (
        "high-below-low",
        "data.csv",
        frame("data.csv", lambda d: d.assign(high=d["low"] * 0.5)),
        True,
    ),
]


def _zip_two_members(tmp: Path, shared: dict[str, Path]) -> None:
    with zipfile.ZipFile(tmp / "data.csv.zip", "w") as z:
        z.writestr("a.csv", HEADER + ROW)
        z.writestr("b.csv", HEADER + ROW)


DATA_FILES.append(("zip-two-members", "data.csv.zip", _zip_two_members, False))


def _data_cases() -> list[Case]:
    cases = []
    for id_, name, setup, maybe_valid in DATA_FILES:
        path = "{tmp}/" + name
        cases.append(
            Case(
                f"evolve-data-{id_}",
                ["evolve", "--data", path, "--population", "10", "--generations", "1"],
                setup,
                maybe_valid=maybe_valid,
            )
        )
    for id_ in ("missing-file", "empty", "header-only", "one-row", "binary-garbage", "directory"):
        _, name, setup, maybe_valid = next(d for d in DATA_FILES if d[0] == id_)
        cases.append(
            Case(
                f"backtest-data-{id_}",
                ["backtest", "--data", "{tmp}/" + name, "--params", RSI, "--out", "{out}"],
                setup,
                maybe_valid=maybe_valid,
            )
        )
    return cases


RSI = '{"window": 14, "lower": 30, "upper": 70}'

# -- flags ----------------------------------------------------------------------------------------
EVOLVE = ["evolve", "--data", "{good}", "--out", "{out}", "--no-progress"]
BAD_FLAGS: list[tuple[str, list[str]]] = [
    ("population-negative", ["--population", "-1"]),
    ("population-zero", ["--population", "0"]),
    ("population-one", ["--population", "1"]),
    ("population-text", ["--population", "abc"]),
    ("population-float", ["--population", "2.5"]),
    ("population-nan", ["--population", "nan"]),
    ("population-inf", ["--population", "inf"]),
    ("population-exponent", ["--population", "1e3"]),
    ("generations-zero", ["--generations", "0"]),
    ("generations-negative", ["--generations", "-3"]),
    ("generations-text", ["--generations", "many"]),
    ("fees-negative", ["--fees", "-0.1"]),
    ("fees-one", ["--fees", "1"]),
    ("fees-nan", ["--fees", "nan"]),
    ("fees-inf", ["--fees", "inf"]),
    ("fees-text", ["--fees", "cheap"]),
    ("slippage-negative", ["--slippage", "-1"]),
    ("slippage-nan", ["--slippage", "nan"]),
    ("min-trades-negative", ["--min-trades", "-1"]),
    ("min-trades-text", ["--min-trades", "x"]),
    ("seed-negative", ["--seed", "-1"]),
    ("seed-text", ["--seed", "abc"]),
    ("memory-limit-text", ["--memory-limit", "abc"]),
    ("memory-limit-negative", ["--memory-limit", "-1"]),
    ("memory-limit-zero", ["--memory-limit", "0"]),
    ("memory-limit-unit", ["--memory-limit", "1XB"]),
    ("memory-limit-empty", ["--memory-limit", ""]),
    ("memory-limit-nan", ["--memory-limit", "nanGB"]),
    ("memory-limit-tiny", ["--memory-limit", "1KB"]),
    ("train-frac-zero", ["--train-frac", "0"]),
    ("train-frac-above-one", ["--train-frac", "1.5"]),
    ("train-frac-negative", ["--train-frac", "-0.2"]),
    ("train-frac-nan", ["--train-frac", "nan"]),
    ("train-frac-text", ["--train-frac", "most"]),
    ("walk-forward-one", ["--walk-forward", "1"]),
    ("walk-forward-negative", ["--walk-forward", "-2"]),
    ("walk-forward-too-many", ["--walk-forward", "1000", "--population", "10"]),
    ("hall-of-fame-zero", ["--hall-of-fame", "0"]),
    ("hall-of-fame-one", ["--hall-of-fame", "1"]),
    ("checkpoint-every-zero", ["--checkpoint-every", "0"]),
    ("executor-unknown", ["--executor", "threads"]),
    ("workers-zero", ["--workers", "0"]),
    ("scheduler-with-processes", ["--executor", "processes", "--scheduler", "tcp://x:1"]),
    ("strategy-unknown", ["--strategy", "astrology"]),
    ("strategy-empty", ["--strategy", ""]),
    ("objective-unknown", ["--objective", "happiness"]),
    ("objective-double-minus", ["--objective", "--sharpe_ratio"]),
    ("unknown-flag", ["--bogus"]),
    ("demo-and-data", ["--demo"]),
    ("missing-value", ["--population"]),
    ("problem-with-data", ["--problem", "sphere"]),
    ("extra-argument", ["surplus"]),
    ("population-1e11", ["--population", "100000000000"]),
]

OTHER_FLAGS: list[Case] = [
    Case("no-command-args-evolve", ["evolve"]),
    Case("unknown-command", ["evolution"]),
    Case("problem-unknown", ["evolve", "--problem", "nope"]),
    Case("problem-dims-zero", ["evolve", "--problem", "sphere", "--dims", "0"]),
    Case("problem-population-one", ["evolve", "--problem", "sphere", "--population", "1"]),
    Case("problem-with-demo", ["evolve", "--problem", "sphere", "--demo"]),
    Case("problem-memory-limit-text", ["evolve", "--problem", "sphere", "--memory-limit", "x"]),
    Case(
        "problem-1e11",
        ["evolve", "--problem", "rastrigin", "--population", "100000000000"],
    ),
    Case("backtest-no-params", ["backtest", "--demo"]),
    Case("backtest-params-not-json", ["backtest", "--demo", "--params", "{window: 14}"]),
    Case("backtest-params-list", ["backtest", "--demo", "--params", "[14, 30, 70]"]),
    Case("backtest-params-empty", ["backtest", "--demo", "--params", "{}"]),
    Case("backtest-params-string", ["backtest", "--demo", "--params", '"rsi"']),
    Case(
        "backtest-params-text-window",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": "fourteen", "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-null-window",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": null, "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-bool-window",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": true, "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-float-window",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": 14.5, "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-negative-window",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": -14, "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-nan",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": 14, "lower": NaN, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-infinity",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": 14, "lower": 30, "upper": Infinity}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-nested",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": [14], "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-unknown-key",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": 14, "lower": 30, "upper": 70, "x": 1}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-params-missing-key",
        ["backtest", "--demo", "--params", '{"window": 14}', "--out", "{out}"],
    ),
    Case(
        "backtest-params-huge",
        [
            "backtest",
            "--demo",
            "--params",
            '{"window": 1e400, "lower": 30, "upper": 70}',
            "--out",
            "{out}",
        ],
    ),
    Case(
        "backtest-strategy-unknown",
        ["backtest", "--demo", "--strategy", "x", "--params", RSI, "--out", "{out}"],
    ),
    Case(
        "backtest-fees-nan",
        ["backtest", "--demo", "--fees", "nan", "--params", RSI, "--out", "{out}"],
    ),
    Case(
        "backtest-fees-negative",
        ["backtest", "--demo", "--fees", "-1", "--params", RSI, "--out", "{out}"],
    ),
    Case(
        "backtest-slippage-inf",
        ["backtest", "--demo", "--slippage", "inf", "--params", RSI, "--out", "{out}"],
    ),
    Case(
        "backtest-demo-and-data",
        ["backtest", "--demo", "--data", "{good}", "--params", RSI, "--out", "{out}"],
    ),
    Case("backtest-no-data", ["backtest", "--params", RSI, "--out", "{out}"]),
    # --out that cannot be a directory: an existing file, a device, a read-only file system
    Case("evolve-out-is-a-file", ["evolve", "--data", "{good}", "--out", "{good}"]),
    Case("backtest-out-is-a-file", ["backtest", "--demo", "--params", RSI, "--out", "{good}"]),
    Case("evolve-out-under-dev-full", ["evolve", "--data", "{good}", "--out", "/dev/full/run"]),
    Case("evolve-out-under-proc", ["evolve", "--data", "{good}", "--out", "/proc/genepool-run"]),
]


def _flag_cases() -> list[Case]:
    return [Case(f"evolve-{id_}", EVOLVE + extra) for id_, extra in BAD_FLAGS] + OTHER_FLAGS


# -- TOML -----------------------------------------------------------------------------------------
TOMLS: list[tuple[str, str | bytes]] = [
    ("invalid-syntax", "population = = 3\n"),
    ("unclosed-table", "[evolve\npopulation = 3\n"),
    ("binary", b"\x00\xff\xfe garbage"),
    ("unknown-key", 'data = "{good}"\nspeed = 3\n'),
    ("unknown-key-in-table", '[evolve]\ndata = "{good}"\ncolour = "red"\n'),
    ("population-text", 'data = "{good}"\npopulation = "many"\n'),
    ("population-float", 'data = "{good}"\npopulation = 2.5\n'),
    ("population-list", 'data = "{good}"\npopulation = [1]\n'),
    ("population-table", 'data = "{good}"\n[population]\nx = 1\n'),
    ("demo-text", 'demo = "yes"\n'),
    ("stops-text", 'data = "{good}"\nstops = "no"\n'),
    ("data-number", "data = 5\n"),
    ("strategy-number", 'data = "{good}"\nstrategy = 3\n'),
    ("fees-text", 'data = "{good}"\nfees = "low"\n'),
    ("fees-nan", 'data = "{good}"\nfees = nan\n'),
    ("seed-bool", 'data = "{good}"\nseed = true\n'),
    ("seed-date", 'data = "{good}"\nseed = 2024-01-01\n'),
    ("walk-forward-mode", 'data = "{good}"\nwalk_forward_mode = "sideways"\n'),
    ("executor-number", 'data = "{good}"\nexecutor = 1\n'),
    ("scheduler-number", 'data = "{good}"\nscheduler = 2\n'),
    ("out-number", 'data = "{good}"\nout = 3\n'),
    ("memory-limit-bad", 'data = "{good}"\nmemory_limit = "lots"\n'),
    ("no-data", "population = 10\n"),
    ("data-missing-file", 'data = "{tmp}/nope.csv"\n'),
]


def _toml_cases() -> list[Case]:
    cases = []
    for id_, text in TOMLS:

        def setup(tmp: Path, shared: dict[str, Path], text=text) -> None:
            if isinstance(text, str):
                text = text.format(good=shared["good"], tmp=tmp).encode()
            (tmp / "run.toml").write_bytes(text)

        cases.append(
            Case(f"toml-{id_}", ["evolve", "--config", "{toml}", "--out", "{out}"], setup)
        )
    cases += [
        Case("toml-missing", ["evolve", "--config", "{tmp}/nope.toml"]),
        Case(
            "toml-directory",
            ["evolve", "--config", "{tmp}/dir.toml"],
            lambda tmp, s: (tmp / "dir.toml").mkdir(),
        ),
    ]
    return cases


# -- run directories and checkpoints --------------------------------------------------------------
def _edit_json(rel: str, edit: Callable[[object], object]) -> Setup:
    def setup(tmp: Path, shared: dict[str, Path]) -> None:
        path = tmp / "run" / rel
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))

    return setup


def _raw(rel: str, content: bytes | str) -> Setup:
    def setup(tmp: Path, shared: dict[str, Path]) -> None:
        data = content.encode() if isinstance(content, str) else content
        (tmp / "run" / rel).write_bytes(data)

    return setup


def _each_checkpoint(change: Callable[[Path], None]) -> Setup:
    """Damage every checkpoint of a run that crashed (no best.json): resume must read them."""

    def setup(tmp: Path, shared: dict[str, Path]) -> None:
        (tmp / "run" / "best.json").unlink()
        for p in sorted((tmp / "run" / "checkpoint").iterdir()):
            change(p)

    return setup


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])


def _ckpt_json(edit: Callable[[dict], dict]) -> Callable[[Path], None]:
    def change(p: Path) -> None:
        if p.suffix == ".json":
            p.write_text(json.dumps(edit(json.loads(p.read_text()))))

    return change


def _without(doc: dict, *path: str) -> dict:
    inner = doc
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return doc


def _cfg(**changes) -> Callable[[dict], dict]:
    def edit(doc: dict) -> dict:
        doc["config"].update(changes)
        return doc

    return edit


def _remove(*names: str) -> Setup:
    def setup(tmp: Path, shared: dict[str, Path]) -> None:
        for name in names:
            p = tmp / "run" / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()

    return setup


RESUME = ["resume", "{run}", "--no-progress"]
RUN_CASES: list[Case] = [
    Case("resume-missing-dir", ["resume", "{tmp}/nope"]),
    Case("resume-empty-dir", ["resume", "{tmp}/empty"], lambda t, s: (t / "empty").mkdir()),
    Case("resume-a-file", ["resume", "{good}"]),
    Case(
        "resume-foreign-dir",
        ["resume", "{tmp}/foreign"],
        lambda t, s: ((t / "foreign").mkdir(), (t / "foreign" / "notes.txt").write_text("hi")),
    ),
    Case("resume-config-garbage", RESUME, _raw("config.json", b"\x00\x01garbage"), copy_run=True),
    Case(
        "resume-config-truncated",
        RESUME,
        _raw("config.json", '{"config": {"data": '),
        copy_run=True,
    ),
    Case("resume-config-empty", RESUME, _raw("config.json", ""), copy_run=True),
    Case("resume-config-list", RESUME, _edit_json("config.json", lambda d: [d]), copy_run=True),
    Case("resume-config-null", RESUME, _edit_json("config.json", lambda d: None), copy_run=True),
    Case(
        "resume-config-no-config",
        RESUME,
        _edit_json("config.json", lambda d: _without(d, "config")),
        copy_run=True,
    ),
    Case(
        "resume-config-no-data",
        RESUME,
        _edit_json("config.json", lambda d: _without(d, "data")),
        copy_run=True,
    ),
    Case(
        "resume-config-no-sha",
        RESUME,
        _edit_json("config.json", lambda d: _without(d, "data", "sha256")),
        copy_run=True,
    ),
    Case(
        "resume-config-unknown-key",
        RESUME,
        _edit_json("config.json", _cfg(colour="red")),
        copy_run=True,
    ),
    Case(
        "resume-config-missing-key",
        RESUME,
        _edit_json("config.json", lambda d: _without(d, "config", "strategy")),
        copy_run=True,
    ),
    Case(
        "resume-config-population-text",
        RESUME,
        _edit_json("config.json", _cfg(population="ten")),
        copy_run=True,
    ),
    Case(
        "resume-config-population-one",
        RESUME,
        _edit_json("config.json", _cfg(population=1)),
        copy_run=True,
    ),
    Case(
        "resume-config-seed-float",
        RESUME,
        _edit_json("config.json", _cfg(seed=1.5)),
        copy_run=True,
    ),
    Case(
        "resume-config-demo-text",
        RESUME,
        _edit_json("config.json", _cfg(demo="no")),
        copy_run=True,
    ),
    Case(
        "resume-config-strategy-unknown",
        RESUME,
        _edit_json("config.json", _cfg(strategy="x")),
        copy_run=True,
    ),
    Case(
        "resume-config-data-gone",
        RESUME,
        _edit_json("config.json", _cfg(data="/nonexistent/x.csv")),
        copy_run=True,
    ),
    Case(
        "resume-from-backtest",
        RESUME,
        _edit_json("config.json", _cfg(command="backtest")),
        copy_run=True,
    ),
    Case(
        "resume-data-changed",
        RESUME,
        _edit_json("config.json", lambda d: {**d, "data": {**d["data"], "sha256": "0" * 64}}),
        copy_run=True,
    ),
    Case(
        "resume-population-changed",
        RESUME,
        _edit_json("config.json", _cfg(population=12)),
        copy_run=True,
    ),
    Case("resume-generations-zero", ["resume", "{run}", "--generations", "0"], copy_run=True),
    Case("resume-checkpoints-truncated", RESUME, _each_checkpoint(_truncate), copy_run=True),
    Case(
        "resume-checkpoints-npz-garbage",
        RESUME,
        _each_checkpoint(lambda p: p.suffix == ".npz" and p.write_bytes(b"garbage")),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-npz-missing",
        RESUME,
        _each_checkpoint(lambda p: p.suffix == ".npz" and p.unlink()),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-json-garbage",
        RESUME,
        _each_checkpoint(lambda p: p.suffix == ".json" and p.write_text("{")),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-json-list",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: [d])),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-format",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: {**d, "format": 99})),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-no-meta",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: _without(d, "meta"))),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-no-loop",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: _without(d, "meta", "loop"))),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-no-generation",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: _without(d, "meta", "loop", "generation"))),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-no-optimizer-meta",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: _without(d, "meta", "optimizer", "meta"))),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-no-rng",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: _without(d, "meta", "optimizer", "meta", "rng"))),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-rng-garbage",
        RESUME,
        _each_checkpoint(
            _ckpt_json(lambda d: (d["meta"]["optimizer"]["meta"].update(rng={"__rng__": 5}), d)[1])
        ),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-history-text",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: (d["meta"].update(history={"flushed": "x"}), d)[1])),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-callbacks-wrong",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: (d["meta"].update(callbacks=[]), d)[1])),
        copy_run=True,
    ),
    Case(
        "resume-checkpoints-sign",
        RESUME,
        _each_checkpoint(_ckpt_json(lambda d: (d["meta"].update(sign=1.0), d)[1])),
        copy_run=True,
    ),
    Case("report-missing-dir", ["report", "{tmp}/nope"]),
    Case("report-empty-dir", ["report", "{tmp}/empty"], lambda t, s: (t / "empty").mkdir()),
    Case("report-best-garbage", ["report", "{run}"], _raw("best.json", "not json"), copy_run=True),
    Case("report-best-list", ["report", "{run}"], _raw("best.json", "[1, 2]"), copy_run=True),
    Case("report-best-empty-object", ["report", "{run}"], _raw("best.json", "{}"), copy_run=True),
    Case("report-config-garbage", ["report", "{run}"], _raw("config.json", "{"), copy_run=True),
    Case(
        "report-equity-truncated",
        ["report", "{run}"],
        lambda t, s: _truncate(t / "run" / "equity.parquet"),
        copy_run=True,
    ),
    # a report without the equity or history files is still a report (with those panels empty)
    Case(
        "report-equity-missing",
        ["report", "{run}"],
        _remove("equity.parquet"),
        copy_run=True,
        maybe_valid=True,
    ),
    Case(
        "report-history-missing",
        ["report", "{run}"],
        _remove("history.parquet"),
        copy_run=True,
        maybe_valid=True,
    ),
    Case(
        "report-history-part-truncated",
        ["report", "{run}"],
        lambda t, s: [_truncate(p) for p in (t / "run" / "history.parquet").glob("*.parquet")],
        copy_run=True,
    ),
    Case("report-config-list", ["report", "{run}"], _raw("config.json", "[]"), copy_run=True),
]


def _foreign(tmp: Path, shared: dict[str, Path]) -> None:
    (tmp / "foreign").mkdir()
    (tmp / "foreign" / "notes.txt").write_text("mine")


RUN_CASES += [
    # writing into a directory that already holds something (issue 14 item 4)
    Case(
        "evolve-out-existing-run", ["evolve", "--data", "{good}", "--out", "{run}"], copy_run=True
    ),
    Case(
        "backtest-out-existing-run",
        ["backtest", "--demo", "--params", RSI, "--out", "{run}"],
        copy_run=True,
    ),
    Case(
        "evolve-out-foreign-dir",
        [
            "evolve",
            "--data",
            "{good}",
            "--population",
            "10",
            "--generations",
            "1",
            "--out",
            "{tmp}/foreign",
        ],
        _foreign,
    ),
    Case(
        "backtest-out-foreign-dir",
        ["backtest", "--demo", "--params", RSI, "--out", "{tmp}/foreign"],
        _foreign,
    ),
]


def _all_cases() -> list:
    params = []
    for case in _data_cases() + _flag_cases() + _toml_cases() + RUN_CASES:
        params.append(pytest.param(case, id=case.id, marks=list(case.marks)))
    return params


CASES = _all_cases()


def _prepare(case: Case, tmp: Path, shared: dict[str, Path]) -> list[str]:
    if case.copy_run:
        shutil.copytree(shared["run"], tmp / "run")
    if case.setup is not None:
        case.setup(tmp, shared)
    names = {
        "good": shared["good"],
        "tmp": tmp,
        "run": tmp / "run",
        "toml": tmp / "run.toml",
        "out": tmp / "out",
    }
    out = []
    for arg in case.argv:  # not str.format: --params values hold braces
        for key, value in names.items():
            arg = arg.replace("{" + key + "}", str(value))
        out.append(arg)
    return out


def _check(case: Case, code: int, out: str, err: str) -> None:
    assert "Traceback" not in out + err, err
    assert "np.float64(" not in out + err, err
    if case.maybe_valid and code == 0:
        return
    assert code == case.code, f"exit {code}; stderr: {err!r}; stdout: {out[-500:]!r}"
    assert err.count("\n") == 1 and err.startswith("genepool: error: "), repr(err)


def test_there_are_at_least_100_cases():
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES)
def test_malformed_input_is_one_line(case, shared, tmp_path, capsys, caplog, recwarn, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a default run directory would land here
    argv = _prepare(case, tmp_path, shared)
    before = {**_digests(tmp_path), **_digests(shared["root"])}
    capsys.readouterr()
    caplog.clear()
    code = main(argv)
    out, err = capsys.readouterr()
    # Outside pytest, warnings of the "genepool" logger reach stderr (logging's last resort)
    # and so do Python warnings.
    warned = "".join(f"{r.getMessage()}\n" for r in caplog.records if r.levelno >= WARNING)
    warned += "".join(f"{w.message}\n" for w in recwarn)
    _check(case, code, out, warned + err)
    if code == 0:  # a maybe_valid case that is valid: it wrote what it exists to write
        return
    after = {**_digests(tmp_path), **_digests(shared["root"])}
    changed = sorted(p for p, digest in before.items() if after.get(p) != digest)
    assert changed == [], f"files changed or removed: {changed}"


SCRIPT_CASES = ["evolve-data-binary-garbage", "resume-config-unknown-key", "toml-invalid-syntax"]


@pytest.mark.parametrize("case_id", SCRIPT_CASES)
def test_console_script_behaves_the_same(case_id, shared, tmp_path):
    case = next(p.values[0] for p in CASES if p.id == case_id)
    argv = _prepare(case, tmp_path, shared)
    exe = Path(sys.executable).with_name("genepool")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "genepool.cli"]
    before = _digests(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    res = subprocess.run(
        [*cmd, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    _check(case, res.returncode, res.stdout, res.stderr)
    assert _digests(tmp_path) == before
