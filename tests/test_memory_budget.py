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
LINUX = Path("/proc/self/status").exists()


def _anon(pid: int) -> int:
    """RssAnon + RssShmem of ``pid`` (what the budget counts), read from outside."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssShmem:")):
                values[line.split(":")[0]] = int(line.split()[1]) * 1024
    return sum(values.values())


def run_child(*args: str) -> tuple[dict, int]:
    """Run the child; return its JSON report and the peak of its budgeted memory polled from
    outside (bytes): anonymous + shared on Linux, RSS elsewhere."""
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
                peak = max(peak, _anon(proc.pid) if LINUX else p.memory_info().rss)
            except (psutil.Error, OSError):
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
def test_peak_memory_stays_under_the_limit(hint):
    # 500 candidates x 1 MiB = 500 MiB of working memory per generation, budget 400 MiB. The
    # budget counts anonymous memory: the RSS also holds ~100 MiB of library text (file-backed).
    args = ["400MiB", "500", "1", "3"] + (["--hint"] if hint else [])
    report, polled = run_child(*args)
    limit = 400 * MiB
    assert report["peak_anon"] < limit, report
    assert report["peak_rss"] < limit + report["peak_file"], report
    assert polled < limit, polled / MiB
    assert max(map(int, report["chunk_sizes"])) < 500  # it had to chunk
    assert report["bytes_per_candidate"] >= 0.9 * MiB  # and it measured the real cost


def test_without_a_limit_the_same_run_exceeds_it():
    report, polled = run_child("none", "500", "1", "3")
    assert max(report["peak_anon"], polled) > 400 * MiB
    assert sum(report["chunk_sizes"].values()) == 3  # one chunk per generation


def test_same_result_with_and_without_the_budget():
    with_limit, _ = run_child("400MiB", "500", "1", "3", "--hint")
    without, _ = run_child("none", "500", "1", "3")
    assert with_limit["best"] == without["best"]
