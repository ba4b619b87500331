"""The memory budget is honoured, as measured from outside the process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

CHILD = Path(__file__).parent / "helpers" / "materialize.py"
MiB = 2**20


def run_child(*args: str) -> tuple[dict, int]:
    """Run the child; return its JSON report and the peak RSS polled from outside (bytes)."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        p = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak = max(peak, p.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.002)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    out, err = proc.communicate(timeout=300)
    done.set()
    t.join()
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), peak


@pytest.mark.parametrize("hint", [True, False], ids=["estimate", "calibrated"])
def test_peak_rss_stays_under_the_limit(hint):
    # 500 candidates x 1 MiB = 500 MiB of working memory per generation, budget 400 MiB.
    args = ["400MiB", "500", "1", "3"] + (["--hint"] if hint else [])
    report, polled = run_child(*args)
    limit = 400 * MiB
    assert report["peak_rss"] < limit, report
    assert polled < limit, polled / MiB
    assert max(map(int, report["chunk_sizes"])) < 500  # it had to chunk
    assert report["bytes_per_candidate"] >= 0.9 * MiB  # and it measured the real cost


def test_without_a_limit_the_same_run_exceeds_it():
    report, polled = run_child("none", "500", "1", "3")
    assert max(report["peak_rss"], polled) > 400 * MiB
    assert sum(report["chunk_sizes"].values()) == 3  # one chunk per generation


def test_same_result_with_and_without_the_budget():
    with_limit, _ = run_child("400MiB", "500", "1", "3", "--hint")
    without, _ = run_child("none", "500", "1", "3")
    assert with_limit["best"] == without["best"]
