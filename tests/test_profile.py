"""genepool.profile / plan, genepool profile and evolve --dry-run: measured probes, projections
checked against runs measured from outside the process, recommendations, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genepool as gp
from genepool import _stages
from genepool.cli import main
from genepool.errors import ConfigError
from genepool.evaluation import FitnessCache
from genepool.memory.monitor import MemoryMonitor
from genepool.profiling import api, parse_sizes
from genepool.profiling._project import AIM, fit, implied_chunk

CHILD = Path(__file__).parent / "helpers" / "profile_child.py"
_spec = importlib.util.spec_from_file_location("profile_child", CHILD)
assert _spec is not None and _spec.loader is not None
profile_child = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(profile_child)
LINUX = Path("/proc/self/status").exists()
MiB = 2**20


# -- the projection against runs measured from outside ----------------------------------------
def _child(*args: object) -> dict:
    out = subprocess.run(
        [sys.executable, str(CHILD), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **CACHE_ON},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run_measured(*args: object) -> tuple[dict, int]:
    """Run the child; its JSON line and its peak RSS read from outside (``VmHWM``)."""
    row, peak, err, code = profile_child.run_held([str(a) for a in args], env=CACHE_ON)
    assert code == 0, err
    return row, peak


#: The cache kept on in both children: an automatic cache decides on measured times, and a
#: busy machine could make the profile and the run decide differently (the benchmark keeps the
#: automatic cache; its rows show the projection of one that turns itself off).
CACHE_ON = {"PROFILE_CHILD_CACHE": "on"}

CONFIGS = [
    # a cheap vectorized fitness, whose fitness cache dominates
    ("cheap", 60_000, 6, "600,2400,9600"),
    # the fused backtest (50,000 bars)
    ("backtest", 40_000, 3, "400,1600,6400"),
    # a fitness that allocates 64 KiB per candidate
    ("allocating", 8_000, 3, "200,800,2000"),
]


@pytest.mark.skipif(not LINUX, reason="VmHWM and wait4's ru_maxrss are Linux's")
@pytest.mark.parametrize(("config", "population", "generations", "sizes"), CONFIGS)
def test_projected_peak_rss_is_within_a_quarter_of_the_measured_one(
    config, population, generations, sizes
):
    projection = _child(config, "profile", population, generations, sizes)
    _, measured = _run_measured(config, "run", population, generations)
    projected = projection["peak_rss"]["value"]
    assert 0.75 * measured <= projected <= 1.25 * measured, (projected / MiB, measured / MiB)
    # the band is a real uncertainty: positive, and not so wide that it says nothing
    assert 0.0 < projection["peak_rss"]["band"] < 0.5


@pytest.mark.skipif(not LINUX, reason="VmRSS is read from /proc")
def test_projected_peak_under_a_memory_limit_is_within_a_quarter_of_the_measured_one():
    """Chunks sized by the budget: the projection applies the evaluator's chunk rule."""
    env = {"PROFILE_CHILD_LIMIT": "600MB"}
    out = subprocess.run(
        [sys.executable, str(CHILD), "allocating", "profile", "20000", "3", "200,800,3333"],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    projection = json.loads(out.stdout.strip().splitlines()[-1])
    run, polled = profile_child.run_polled(["allocating", "run", "20000", "3"], env)
    assert 1 < projection["chunk_size"] < 20_000  # 20,000 x 64 KiB do not fit: chunks
    measured = max(polled, run["peak_rss"])  # outside (polled) and the monitor's exact peak
    projected = projection["peak_rss"]["value"]
    assert 0.75 * measured <= projected <= 1.25 * measured, (projected / MiB, measured / MiB)


# -- the Python API ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_profile() -> gp.Profile:
    space = gp.Space.box(-5.12, 5.12, 10)
    ga = gp.GA(space, 5000, seed=3)
    return gp.profile(gp.problems.rastrigin, ga, [200, 800, 3200], generations=40)


def test_profile_measures_every_stage_of_a_generation(small_profile):
    prof = small_profile
    assert [p.size for p in prof.probes] == [200, 800, 3200]
    for p in prof.probes:
        names = [s.stage for s in p.stages]
        assert {"ask", "evaluate", "tell", "bookkeeping", "cache", "fitness"} <= set(names)
        # four, and three more after an automatic cache turned itself off (at the third)
        assert len(p.seconds) == p.generations == (6 if p.cache_off else 4)
        ev = p.stage("evaluate")
        assert ev is not None and ev.seconds > 0
        # the inner stages are parts of evaluate
        inner = sum(s.seconds for s in p.stages if s.stage in ("cache", "fitness"))
        assert inner == pytest.approx(ev.seconds, rel=1e-6, abs=1e-9)
        # the top-level stages are the generation (less the sense split, microseconds)
        top = sum(p.stage(s).seconds for s in ("ask", "evaluate", "tell", "bookkeeping"))
        assert top <= np.mean(p.seconds) * 1.01
    frame = prof.stages_frame()
    assert set(frame["size"]) == {200, 800, 3200}
    assert (frame["seconds"] >= 0).all()


def test_profile_projects_the_configured_run(small_profile):
    pr = small_profile.projection
    assert pr.population == 5000 and pr.generations == 40
    assert pr.memory_limit is None and pr.chunk_size == 5000 and pr.n_chunks == 1
    assert pr.peak_rss.value > pr.base_rss > 0
    assert pr.seconds.value >= 40 * pr.seconds_per_generation.value * 0.99
    assert pr.disk == {}  # no run directory
    text = str(small_profile)
    for label in ("projected run", "peak memory (RSS)", "time per generation", "recommendations"):
        assert label in text
    doc = json.loads(json.dumps(small_profile.to_dict()))
    assert doc["projection"]["peak_rss"]["low"] < doc["projection"]["peak_rss"]["high"]


def test_a_profile_leaves_the_optimizer_and_the_seed_alone():
    space = gp.Space.box(-5.12, 5.12, 5)
    ga = gp.GA(space, 300, seed=11)
    gp.profile(gp.problems.rastrigin, ga, [50, 100], generations=5)
    after = gp.minimize(gp.problems.rastrigin, ga, generations=5, progress=False)
    fresh = gp.minimize(gp.problems.rastrigin, gp.GA(space, 300, seed=11), generations=5,
                        progress=False)  # fmt: skip
    np.testing.assert_array_equal(after.best_x, fresh.best_x)
    assert _stages._ACTIVE is None  # no clock left behind


def test_profile_of_a_backtest_has_its_stages_and_strategy_bars():
    from genepool.backtest import StrategyProblem, synthetic_ohlcv

    problem = StrategyProblem(synthetic_ohlcv(3000, seed=2), "rsi", "sharpe_ratio", min_trades=1)
    prof = gp.profile(problem, gp.GA(problem.space, 2000, seed=0), [100, 400], generations=10,
                      run_dir=True, checkpoint_every=1, sense="maximize")  # fmt: skip
    assert prof.n_bars == 3000
    names = {s.stage for s in prof.probes[-1].stages}
    assert {"decode", "indicator tables", "kernel", "objective"} <= names
    frame = prof.stages_frame()
    assert frame["ns_per_strategy_bar"].notna().all()
    # a run directory: checkpoints and history are projected
    assert prof.projection.disk["checkpoints"] > 0 and prof.projection.disk["history"] > 0


def test_plan_chooses_its_sizes_and_projects_the_optimizer_population():
    space = gp.Space.box(-1.0, 1.0, 4)
    prof = gp.plan(gp.problems.sphere, gp.GA(space, 20_000, seed=0), generations=10,
                   time_budget=5.0)  # fmt: skip
    assert prof.kind == "plan"
    sizes = [p.size for p in prof.probes]
    assert sizes == sorted(sizes) and len(sizes) >= 2 and sizes[-1] <= 20_000
    assert prof.projection.population == 20_000
    assert str(prof).startswith("plan (dry run")


def test_a_memory_limit_sets_the_chunks_and_the_recommendation():
    def allocating(X: np.ndarray) -> np.ndarray:
        scratch = np.repeat(X[:, :1], 2048, axis=1)  # 16 KiB per candidate
        return scratch.mean(axis=1) + (X**2).sum(axis=1)

    space = gp.Space.box(-1.0, 1.0, 4)
    base = gp.profile(allocating, gp.GA(space, 40_000, seed=0), [500, 2000, 4000], generations=5)
    per = base.projection.bytes_per_candidate
    assert 8 * 1024 < per < 64 * 1024  # 16 KiB of scratch, and numpy's temporaries
    # the chunk rule aims at AIM of the limit for the whole process: room for ~150 MiB of rows
    limit = int((base.projection.base_rss + 150 * MiB) / AIM)
    prof = gp.profile(allocating, gp.GA(space, 40_000, seed=0), [500, 2000, 4000],
                      generations=5, memory_limit=limit)  # fmt: skip
    pr = prof.projection
    assert 1 < pr.chunk_size < 40_000 and pr.n_chunks == -(-40_000 // pr.chunk_size)
    assert pr.peak_rss.value < base.projection.peak_rss.value
    assert any(r.flag.startswith("--memory-limit") for r in prof.recommendations)


def test_recommendations_follow_the_available_memory(monkeypatch, small_profile):
    """A machine with little memory: a limit that chunks; with less, genes on disk."""
    space = gp.Space.box(-5.12, 5.12, 10)
    ga = gp.GA(space, 5000, seed=3)
    prob = gp.problem.as_problem(gp.problems.rastrigin, space)
    config = gp.run.config.RunConfig(generations=40, progress=False)
    probes, jit = small_profile.probes, small_profile.jit
    base = small_profile.projection.base_rss

    def recommend(available: int, n: int) -> list[str]:
        monkeypatch.setattr(api, "_available_memory", lambda: available)
        proj = api._project(prob, ga, config, probes, jit, n, None, base, base // 2)
        return [r.flag for r in api._recommend(prob, ga, config, probes, proj, None, base // 2)]

    roomy = recommend(64 * 2**30, 5000)
    assert any(f.startswith("--memory-limit") for f in roomy)
    assert "--storage disk" not in roomy
    tight = recommend(int(base + 2 * MiB), 10_000_000)  # 10^7 x 10 genes in a few MiB: no
    assert "--storage disk" in tight


# -- the pieces --------------------------------------------------------------------------------
def test_parse_sizes_takes_what_people_type():
    assert parse_sizes("1000,10k,1e5, 1_000_000,2M") == [1000, 10_000, 100_000, 10**6, 2 * 10**6]
    for bad in ("abc", "1.5", "10x", "1", "000"):
        with pytest.raises(ConfigError, match="--populations"):
            parse_sizes(f"1000,{bad}", "--populations")
    with pytest.raises(ConfigError):
        parse_sizes(",", "--populations")


def test_sizes_must_be_whole_numbers():
    space = gp.Space.box(-1.0, 1.0, 2)
    with pytest.raises(ConfigError, match="sizes"):
        gp.profile(gp.problems.sphere, gp.GA(space, 100, seed=0), [10, 2.5])
    with pytest.raises(ConfigError, match="sizes"):
        gp.profile(gp.problems.sphere, gp.GA(space, 100, seed=0), [1])
    with pytest.raises(ConfigError, match="sense must be 'minimize' or 'maximize'"):
        gp.profile(gp.problems.sphere, gp.GA(space, 100, seed=0), [10], sense="max")


def test_a_size_beyond_memory_is_refused_before_it_is_probed(monkeypatch):
    monkeypatch.setattr(api, "_available_memory", lambda: 64 * MiB)
    space = gp.Space.box(-1.0, 1.0, 10)
    with pytest.raises(ConfigError, match="more than 80% of the") as info:
        gp.profile(gp.problems.sphere, gp.GA(space, 100, seed=0), [10_000_000])
    assert "--populations" in (info.value.cli_message or "")


def test_a_memory_limit_below_the_interpreter_is_refused():
    space = gp.Space.box(-1.0, 1.0, 2)
    with pytest.raises(ConfigError, match="below what this process needs") as info:
        gp.profile(gp.problems.sphere, gp.GA(space, 100, seed=0), [10, 20],
                   memory_limit="4MB")  # fmt: skip
    assert (info.value.cli_message or "").startswith("--memory-limit")


@given(st.lists(st.integers(2, 10**6), min_size=2, max_size=6, unique=True),
       st.floats(0, 1e6), st.floats(0, 1e3))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_a_line_through_exact_points_is_recovered(sizes, a, b):
    line = fit(sizes, [a + b * x for x in sizes])
    for x in sizes:
        assert line(x) == pytest.approx(a + b * x, rel=1e-6, abs=1e-3)
    assert line.residual < 1e-6


def test_fit_never_projects_a_cost_that_falls_with_the_population():
    line = fit([100, 200, 400], [5.0, 4.0, 3.0])
    assert line.b == 0.0 and line(10**6) == pytest.approx(4.0)


@given(st.integers(1, 300_000), st.integers(1, 40), st.integers(1, 3),
       st.sampled_from(["64KB", "1MB", "16MB"]))  # fmt: skip
@settings(max_examples=40, deadline=None)
def test_the_cache_size_projection_is_the_cache_s_own(entries, d, m, bound):
    """nbytes_for against a real cache filled with that many distinct entries."""
    space = gp.Space.box(0.0, 1.0, d)
    cache = FitnessCache(bound)
    rng = np.random.default_rng(entries)
    done = 0
    while done < entries:
        k = min(50_000, entries - done)
        X = rng.random((k, d))
        cache.add(space, X, rng.random((k, m)) if m > 1 else rng.random(k))
        done += k
    final, peak = cache.nbytes_for(entries, d, m)
    assert final == cache.nbytes
    assert peak >= final


def test_the_chunk_rule_aims_where_the_monitor_does():
    mon = MemoryMonitor(2**30)
    assert AIM == pytest.approx((mon.warn_at + mon.act_at) / 2)
    assert implied_chunk(1000, 200, 10, 10**6) == 60  # (800 - 200) / 10
    assert implied_chunk(1000, 900, 10, 10**6) == 1
    assert implied_chunk(10**9, 0, 10, 500) == 500


def test_a_stage_clock_sees_a_short_allocation_exactly():
    clock = _stages.StageClock()
    with _stages.measuring(clock):
        with _stages.stage("outer"):
            with _stages.stage("inner"):
                a = np.ones(64 * MiB // 8)
                del a
            b = np.ones(32 * MiB // 8)
            del b
    clock.close()
    inner, outer = clock.totals["inner"], clock.totals["outer"]
    assert inner.calls == outer.calls == 1
    if clock.exact:
        assert 63 * MiB <= inner.peak < 72 * MiB  # a few pages come and go around it
        assert outer.peak >= inner.peak  # the nested peak reached the outer stage
    assert _stages.stage("x") is _stages._NULL  # no clock: the shared no-op


@pytest.mark.parametrize(
    "make",
    [
        lambda s: gp.GA(s, 100, seed=1, offspring_size=50, elitism=4),
        lambda s: gp.PSO(s, swarm_size=40, seed=2),
        lambda s: gp.NSGA2(s, 60, seed=3),
    ],
)
def test_an_optimizer_is_remade_at_another_size(make):
    space = gp.Space.box(-1.0, 1.0, 3)
    opt = make(space)
    big = opt.resized(400)
    assert type(big) is type(opt) and big.population_size == 400
    if isinstance(opt, gp.GA) and not isinstance(opt, gp.NSGA2):
        assert big.offspring_size == 200 and big.elitism == 16
    assert opt.population_size != 400  # the original is untouched


# -- the command line --------------------------------------------------------------------------
def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_profile_on_a_user_csv(tmp_path, capsys, monkeypatch):
    """pandas' own to_csv output with a daily index, as a user writes it."""
    from genepool.backtest import synthetic_ohlcv

    df = synthetic_ohlcv(3000, freq="1D", seed=5)
    df.index.name = "Date"
    path = tmp_path / "prices.csv"
    df.to_csv(path)
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "profile.html"
    code, out, err = _cli(["profile", "--data", str(path), "--populations", "200,800",
                           "--population", "5000", "--generations", "20",
                           "--report", str(report)], capsys)  # fmt: skip
    assert code == 0, err
    assert "probe at 200" in out and "probe at 800" in out and "indicator tables" in out
    assert "projected run: population 5,000, 20 generations" in out
    assert report.exists() and "data:image/png;base64," in report.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prices.csv", "profile.html"]
    # the report is never overwritten
    code, _, err = _cli(["profile", "--data", str(path), "--populations", "200",
                         "--report", str(report)], capsys)  # fmt: skip
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1


def test_cli_profile_json_on_a_benchmark_problem(capsys):
    code, out, err = _cli(["profile", "--problem", "rastrigin", "--dims", "5",
                           "--populations", "100,400", "--population", "100000",
                           "--json"], capsys)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["projection"]["population"] == 100_000
    assert [p["size"] for p in doc["probes"]] == [100, 400]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--populations", "1000,abc"], "--populations: 'abc' is not a whole number"),
        (["--populations", "10,1e13"], "--populations 10,000,000,000,000 needs about"),
        (["--populations", "100,200", "--memory-limit", "4MB"], "--memory-limit 4MB is below"),
    ],
)
def test_cli_profile_bad_input_is_one_line(args, expect, capsys):
    code, _, err = _cli(["profile", "--problem", "sphere", "--dims", "3", *args], capsys)
    assert code == 2
    assert err.startswith("genepool: error: ") and len(err.strip().splitlines()) == 1
    assert expect in err


def test_cli_dry_run_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _cli(["evolve", "--demo", "--generations", "5", "--population", "2000",
                           "--dry-run"], capsys)  # fmt: skip
    assert code == 0, err
    assert out.startswith("plan (dry run: nothing evolved, nothing written)")
    assert "projected run: population 2,000, 5 generations" in out
    assert "disk" in out and "checkpoints" in out  # the run would write its directory
    assert list(tmp_path.iterdir()) == []


def test_cli_dry_run_refuses_what_the_run_would_refuse(tmp_path, capsys):
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("keep me")
    code, _, err = _cli(["evolve", "--demo", "--out", str(out_dir), "--dry-run"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (out_dir / "notes.txt").read_text() == "keep me"


def test_cli_dry_run_of_a_benchmark_problem(capsys):
    code, out, err = _cli(["evolve", "--problem", "sphere", "--dims", "4", "--population",
                           "50000", "--generations", "10", "--dry-run", "--json"],
                          capsys)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "plan" and doc["projection"]["population"] == 50_000


def test_stage_frame_columns_are_documented(small_profile):
    frame = small_profile.stages_frame()
    assert list(frame.columns) == [
        "size", "stage", "seconds", "us_per_strategy", "ns_per_strategy_bar", "cpu_share",
        "kept_bytes", "peak_bytes", "bytes_per_strategy",
    ]  # fmt: skip
    assert isinstance(frame, pd.DataFrame)


# -- what does not fit, leaks, executors ---------------------------------------------------------
_KEPT: list[np.ndarray] = []


def _leaky(X: np.ndarray) -> np.ndarray:
    _KEPT.append(np.ones((X.shape[0], 64)))  # 512 B per candidate and generation, never freed
    return (X**2).sum(axis=1)


def test_a_leak_is_seen_and_projected_over_the_run():
    space = gp.Space.box(-1.0, 1.0, 10)
    try:
        prof = gp.profile(_leaky, gp.GA(space, 50_000, seed=0), [2000, 8000, 20_000],
                          generations=100)  # fmt: skip
    finally:
        _KEPT.clear()
    pr = prof.projection
    # 50,000 offspring x 512 B per generation (numpy's own headers on top)
    assert 0.8 * 50_000 * 512 <= pr.leak_per_generation <= 1.6 * 50_000 * 512
    assert pr.peak_rss.value > pr.base_rss + 100 * pr.leak_per_generation * 0.9
    assert any("a leak?" in p for p in pr.problems)
    clean = gp.profile(gp.problems.sphere, gp.GA(space, 50_000, seed=0), [2000, 8000, 20_000],
                       generations=100)  # fmt: skip
    assert clean.projection.leak_per_generation == 0.0
    assert not any("a leak?" in p for p in clean.projection.problems)


def test_a_run_the_budget_check_would_refuse_does_not_fit():
    from genepool.memory._proc import read_status

    space = gp.Space.box(-5.12, 5.12, 30)
    status = read_status()
    # room for the probes above this (test) process, none for 2 x 10^7 x 30 genes (14 GB)
    limit = (status.anon if status is not None else 2**30) + 1024 * MiB
    prof = gp.profile(gp.problems.rastrigin, gp.GA(space, 1000, seed=0), [500, 2000],
                      population=20_000_000, generations=5, memory_limit=limit)  # fmt: skip
    pr = prof.projection
    assert not pr.fits
    assert any("the run would be refused" in p and "--storage disk" in p for p in pr.problems)
    assert not any("(as given)" in r.flag for r in prof.recommendations)
    # what the run does with the same settings
    with pytest.raises(ConfigError, match="too small"):
        gp.minimize(gp.problems.rastrigin, gp.GA(space, 20_000_000, seed=0), generations=1,
                    memory_limit=limit, progress=False)  # fmt: skip


def test_population_files_on_disk_are_projected_by_the_optimizer_s_rule(tmp_path):
    space = gp.Space.box(-1.0, 1.0, 8)
    ga = gp.GA(space, 200_000, seed=0, storage="disk")
    prof = gp.profile(gp.problems.sphere, ga, [1000, 4000], generations=5, run_dir=tmp_path / "r",
                      checkpoint_every=1)  # fmt: skip
    expected = gp.GA(space, 200_000, seed=0, storage="disk").disk_footprint(checkpoints=True)
    assert prof.projection.disk["population files"] == expected
    assert list(tmp_path.iterdir()) == []  # the probes wrote elsewhere, and cleaned up


def test_an_executor_is_measured_against_a_serial_probe():
    space = gp.Space.box(-1.0, 1.0, 4)
    prof = gp.profile(gp.problems.sphere, gp.GA(space, 2000, seed=0), [200, 400], generations=5,
                      executor="processes", workers=2)  # fmt: skip
    assert prof.serial is not None and prof.serial.size == 400
    advice = next(r for r in prof.recommendations if r.flag.startswith("--executor"))
    assert "serially" in advice.reason
    # the advice follows the two measurements (a clear win only)
    there, here = prof.probes[-1].seconds_per_generation, prof.serial.seconds_per_generation
    wins = there < api.CLEAR_WIN * here
    assert advice.flag == ("--executor processes" if wins else "--executor serial")


def test_cli_no_cache_reaches_the_run(capsys):
    code, out, err = _cli(["profile", "--demo", "--populations", "200,400", "--no-cache",
                           "--json"], capsys)  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert all(p["cache_inserts"] == 0 and p["requested"] == p["evaluated"] for p in doc["probes"])
    code, _, err = _cli(["profile", "--problem", "sphere", "--no-cache"], capsys)
    assert code == 2 and "--no-cache applies to strategy runs" in err
