"""The budget counts anonymous memory; memory-mapped (file-backed) pages are reported apart."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genepool as gp
from genepool.memory import MemoryMonitor
from genepool.memory._proc import read_status

MiB = 2**20


def _roomy_limit(anon: int) -> int:
    """A budget whose warn level (70 %) the process's anonymous memory stays under, with
    100 MiB to spare: small against a 400 MiB mapped file when the process is fresh, and still
    honest when a long test session has grown it."""
    return int((anon + 100 * MiB) / 0.65)


LINUX = read_status() is not None
linux_only = pytest.mark.skipif(not LINUX, reason="needs /proc/self/status (Linux)")
CGROUP_V1 = Path("/sys/fs/cgroup/memory")
CGROUP_V2 = Path("/sys/fs/cgroup")


def _drop_from_page_cache(path: Path) -> None:
    """Evict the file's clean pages, so that the next reader faults them in itself."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """A 400 MiB .npy file of float64 (memory-mapped by the tests)."""
    path = tmp_path_factory.mktemp("mmap") / "closes.npy"
    np.save(path, np.arange(400 * MiB // 8, dtype=np.float64))
    return path


def _read_all(path: Path) -> float:
    data = np.load(path, mmap_mode="r")
    return float(data.sum())  # every page faulted in, file-backed


@linux_only
def test_memory_mapped_data_read_in_an_interval_is_not_budgeted(big_file):
    mon = MemoryMonitor()
    mon.limit = _roomy_limit(mon.anon())  # far below the 400 MiB file's residency
    file_before = mon.file_backed()
    rss_before = mon.rss()
    start = mon.begin_interval()
    data = np.load(big_file, mmap_mode="r")
    assert float(data.sum()) == pytest.approx(float(len(data)) * (len(data) - 1) / 2)
    file_during = mon.file_backed()
    rss_during = mon.rss()
    del data
    peak = mon.end_interval()
    assert mon.interval_method == "sampled"
    assert file_during - file_before > 350 * MiB  # the file was resident ...
    assert rss_during - rss_before > 350 * MiB  # ... so RSS (the old measure) would fire
    assert peak - start < 30 * MiB  # ... but the anonymous peak did not move
    assert mon.level(peak) == "ok"
    assert mon.peak_file - file_before > 350 * MiB


@linux_only
@pytest.mark.parametrize("read_file", [False, True], ids=["alone", "with-mmap-read"])
def test_an_anonymous_allocation_is_budgeted(big_file, read_file):
    mon = MemoryMonitor()
    mon.limit = mon.anon() + 200 * MiB
    start = mon.begin_interval()
    if read_file:
        _read_all(big_file)
    a = np.ones(300 * MiB // 8)  # written, so resident
    time.sleep(0.05)  # held 50 ms, freed before the interval ends
    del a
    peak = mon.end_interval()
    assert mon.interval_method == ("sampled" if read_file else "hwm")
    if read_file:  # sampled: within the sampler's reach
        assert 250 * MiB < peak - start <= 305 * MiB
    else:  # VmHWM minus steady file-backed memory: exact
        assert 299 * MiB <= peak - start <= 302 * MiB
    assert mon.level(peak) == "over"
    assert mon.peak_anon >= peak


@linux_only
def test_sample_reports_a_block_s_peak_without_the_thread(big_file):
    mon = MemoryMonitor(sample_period=None)  # only the interval's ends and sample() calls
    start = mon.begin_interval()
    data = np.load(big_file, mmap_mode="r")  # the store, mapped while the kernel runs
    blocks = []
    for i in range(4):  # a blocked kernel: one sample per block
        float(data[i * len(data) // 4 : (i + 1) * len(data) // 4].sum())
        if i < 3:
            blocks.append(np.ones(100 * MiB // 8))
        mon.sample()
    del blocks, data
    peak = mon.end_interval()
    assert mon.interval_method == "sampled"
    assert 299 * MiB <= peak - start <= 302 * MiB


@linux_only
def test_anon_and_file_add_up_to_the_rss():
    mon = MemoryMonitor()
    r = mon.residency()
    assert r is not None
    assert r.anon + r.file + r.shmem == r.rss
    assert mon.anon() == pytest.approx(r.anon + r.shmem, abs=8 * MiB)
    assert 0 < mon.file_backed() < mon.rss()


def test_samples_and_the_report_carry_anonymous_and_file_backed_memory():
    res = gp.minimize(
        gp.problems.sphere, gp.GA(gp.Space.box(-1, 1, 4), 32, seed=0), generations=4,
        memory_limit="4GB", progress=False,
    )  # fmt: skip
    m = res.memory
    assert m is not None
    s = m.samples
    assert {"rss", "anon", "file", "peak_anon"} <= set(s.columns)
    assert len(s) == 4 and (s["anon"] > 0).all()
    if LINUX:
        assert (s["anon"] < s["rss"]).all() and (s["file"] > 0).all()
        assert (s["anon"] + s["file"] <= s["rss"] + 8 * MiB).all()
    assert m.peak_anon >= s["anon"].max() and m.peak_file >= s["file"].max()
    assert m.start_anon > 0 and "peak anonymous" in repr(m)


@linux_only
def test_a_run_reading_memory_mapped_data_is_not_squeezed_by_it(big_file):
    class ReadsTheStore(gp.Problem):
        """Reads all of a 400 MiB memory-mapped file per chunk, holds nothing per candidate."""

        space = gp.Space.box(-1.0, 1.0, 3)

        def evaluate(self, X):
            data = np.load(big_file, mmap_mode="r")
            return (X**2).sum(axis=1) + 0.0 * float(data[::4096].sum() + data.sum())

        def bytes_per_candidate(self):
            return 64 * 1024

    limit = _roomy_limit(MemoryMonitor().anon())
    res = gp.minimize(
        ReadsTheStore(), gp.GA(ReadsTheStore.space, 64, seed=0), generations=3,
        memory_limit=limit, cache=False, progress=False,
    )  # fmt: skip
    m = res.memory
    assert m is not None
    assert not [a for a in m.alerts if a["kind"] in ("chunk_halved", "cleanup")], m.alerts
    assert set(m.chunk_sizes) == {64}  # one chunk per generation: nothing squeezed
    assert m.peak_anon < limit
    # the mapped file's pages were resident: RSS stood 350 MiB+ above what the budget counts
    # (above the limit itself in a fresh process; a long test session's anon moves the limit)
    assert m.peak_file > 350 * MiB and m.peak_rss - m.peak_anon > 350 * MiB


class MappedReader(gp.Problem):
    """Reads all of a memory-mapped file per chunk and holds nothing per candidate (module
    level, so that spawned workers import it)."""

    space = gp.Space.box(-1.0, 1.0, 3)

    def __init__(self, path: str) -> None:
        self.path = path

    def evaluate(self, X):
        data = np.load(self.path, mmap_mode="r")
        return (X**2).sum(axis=1) + 0.0 * float(data.sum())


@linux_only
def test_workers_do_not_count_the_memory_mapped_data_they_read(big_file):
    from genepool.evaluation import ProcessExecutor

    prob = MappedReader(str(big_file))
    X = prob.space.sample(400, np.random.default_rng(0))
    limit = MemoryMonitor().anon() + 1024 * MiB
    with ProcessExecutor(workers=2, min_seconds=0) as ex:
        ev = gp.Evaluator(prob, memory_limit=limit, cache=False, executor=ex)
        for _ in range(2):
            np.testing.assert_array_equal(ev.evaluate(X), (X**2).sum(axis=1))
        bpc = ev._dispatch.chunks.sizer.bpc
        halved = [a for a in ev.monitor.alerts if a.kind == "chunk_halved"]
    assert ex.worker_room is not None
    # each chunk read 400 MiB of mapped data: counted, that would be > 1 MiB per candidate
    assert bpc is not None and bpc < 256 * 1024, bpc
    assert not halved, halved


@linux_only
def test_tree_anon_counts_a_child_once_and_its_shared_memory_once():
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=64 * MiB)
    try:
        np.ndarray((64 * MiB // 8,), dtype=np.float64, buffer=shm.buf)[:] = 1.0  # resident
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(f"""
                import sys
                from multiprocessing import shared_memory
                import numpy as np
                from multiprocessing import resource_tracker
                shm = shared_memory.SharedMemory(name={shm.name!r})
                resource_tracker.unregister(shm._name, "shared_memory")  # the parent owns it
                view = np.ndarray(({64 * MiB // 8},), dtype=np.float64, buffer=shm.buf)
                total = float(view.sum())  # maps every page of the segment
                held = np.ones({100 * MiB // 8})
                print("ready", flush=True)
                sys.stdin.read()
            """)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            mon = MemoryMonitor()
            own = mon.anon()
            child_status = read_status(child.pid)
            assert child_status is not None and child_status.shmem >= 60 * MiB
            tree = mon.tree_anon()
            # the child's own anonymous memory (>= its 100 MiB), the segment not a second time
            assert child_status.anon >= 100 * MiB
            expected = own + child_status.anon
            assert abs(tree - expected) < 16 * MiB, (tree / MiB, expected / MiB)
        finally:
            child.communicate("", timeout=60)
    finally:
        shm.close()
        shm.unlink()


def test_report_memory_plot_shows_both_lines():
    from genepool.report import _figures, _sections
    from genepool.report._example import example_data

    mem = pd.DataFrame(
        {
            "generation": [0, 1, 2],
            "rss": [5e8, 6e8, 6e8],
            "anon": [1e8, 1.2e8, 1.1e8],
            "file": [4e8, 4.8e8, 4.9e8],
            "chunk_size": [10, 10, 10],
        }
    )
    png = _figures.memory_png(mem, 2**28)
    assert png.startswith(b"\x89PNG")
    data = example_data(11, generations=3)
    data = type(data)(**{**data.__dict__, "memory": mem, "memory_limit": 2**28})
    html = _sections.memory(data, _figures)
    assert "Peak anonymous memory 114.44 MiB at generation 1" in html
    assert "not budgeted" in html and "467.30 MiB" in html


def _cgroup_for_test() -> tuple[Path, str] | str:
    """A fresh memory cgroup we may write (path, limit file name), or the reason why not."""
    name = f"genepool-test-{uuid.uuid4().hex[:8]}"
    if (CGROUP_V1 / "memory.limit_in_bytes").exists():
        base, limit_file = CGROUP_V1, "memory.limit_in_bytes"
    elif (CGROUP_V2 / "cgroup.controllers").exists() and "memory" in (
        CGROUP_V2 / "cgroup.subtree_control"
    ).read_text():
        base, limit_file = CGROUP_V2, "memory.max"
    else:
        return "no memory cgroup controller mounted (v1 memory or v2 with memory enabled)"
    try:
        (base / name).mkdir()
    except OSError as exc:
        return f"cannot create a memory cgroup under {base}: {exc}"
    return base / name, limit_file


@pytest.mark.slow
@linux_only
def test_a_child_reads_more_memory_mapped_data_than_its_cgroup_limit(big_file):
    """Under an OS-enforced memory limit of 200 MiB (a cgroup) a child reads 400 MiB of
    memory-mapped data fully and survives; the same child allocating 300 MiB is killed."""
    made = _cgroup_for_test()
    if isinstance(made, str):
        pytest.skip(made)
    group, limit_file = made
    script = textwrap.dedent(f"""
        import os, sys
        with open({str(group / "cgroup.procs")!r}, "w") as f:
            f.write(str(os.getpid()))
        import numpy as np
        if sys.argv[1] == "mmap":
            print(float(np.load({str(big_file)!r}, mmap_mode="r").sum()))
        else:
            print(float(np.ones({300 * MiB // 8}).sum()))
    """)
    try:
        try:
            (group / limit_file).write_text(str(200 * MiB))
        except OSError as exc:
            pytest.skip(f"cannot set {group / limit_file}: {exc}")
        _drop_from_page_cache(big_file)  # charged to the child's cgroup when it reads them
        ok = subprocess.run(
            [sys.executable, "-c", script, "mmap"], capture_output=True, text=True, timeout=300
        )
        assert ok.returncode == 0, ok.stderr
        n = 400 * MiB // 8
        assert float(ok.stdout) == pytest.approx(n * (n - 1) / 2)
        killed = subprocess.run(
            [sys.executable, "-c", script, "anon"], capture_output=True, text=True, timeout=300
        )
        assert killed.returncode != 0  # the limit is enforced (OOM kill: -9)
    finally:
        for _ in range(50):  # the children have exited; the group empties in a moment
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


@linux_only
def test_sampler_threads_exit_when_idle():
    import threading

    from genepool.memory._proc import AnonSampler

    def samplers() -> int:
        return sum(t.name == "genepool-memory-sampler" for t in threading.enumerate())

    monitors = [MemoryMonitor() for _ in range(10)]
    for mon in monitors:
        mon.begin_interval()
        time.sleep(0.01)
        mon.end_interval()
    assert samplers() >= 10
    time.sleep(AnonSampler.IDLE_EXIT_S + 1.0)
    assert samplers() == 0  # a process making many monitors keeps no idle threads
    start = monitors[0].begin_interval()  # and the next interval samples again
    a = np.ones(64 * MiB // 8)
    time.sleep(0.02)
    del a
    assert monitors[0].end_interval() - start >= 63 * MiB
    assert monitors[0]._meter.sampler is not None and monitors[0]._meter.sampler.count > 0
