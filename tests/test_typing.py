"""mypy is clean on src/ with the settings in pyproject.toml ([tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_clean_on_src() -> None:
    pytest.importorskip("mypy")
    # A child process, not mypy.api.run: a cold run holds ~1 GB of syntax trees (numpy's, torch's
    # stubs) that would stay in the test process, and freeing them at exit takes tens of seconds.
    # Run from the project root: [tool.mypy] files = ["src/genepool"] is relative to it, and the
    # incremental cache (.mypy_cache/, ignored by git) makes later runs take seconds.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, (
        f"mypy found problems (run `mypy` in the project root):\n{done.stdout}{done.stderr}"
    )
