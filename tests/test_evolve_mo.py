"""`genepool evolve --objectives`: NSGA-II strategy evolution, its front in and out of sample,
the knee pick, best.json, the report, resume, and the errors of bad objectives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from genepool.backtest import METRICS, StrategyProblem, demo_data
from genepool.backtest.enums import METRIC_SENSES
from genepool.cli import main
from genepool.errors import ConfigError
from genepool.evolve import EvolveConfig
from genepool.evolve.multi import MetricObjectives, select_front
from genepool.indicators import knee_point

OBJECTIVES = ["sharpe_ratio", "max_drawdown"]
VOLATILE = {"elapsed", "peak_rss", "cache"}  # measured, not computed


def _args(out: Path, generations: int = 4, *extra: str) -> list[str]:
    return [
        "evolve", "--demo", "--objectives", ",".join(OBJECTIVES), "--population", "60",
        "--generations", str(generations), "--seed", "3", "--out", str(out), "--no-progress",
        *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mo") / "run"
    assert main(_args(out)) == 0
    return out


def _best(run_dir: Path) -> dict:
    return json.loads((run_dir / "best.json").read_text())


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` dominates ``b``, both on a maximized scale."""
    return bool(np.all(a >= b) and np.any(a > b))


# -- the senses ----------------------------------------------------------------------------------
def test_every_metric_has_a_sense_and_drawdown_is_negative():
    assert tuple(METRIC_SENSES) == METRICS
    assert set(METRIC_SENSES.values()) == {"maximize", "minimize"}
    assert METRIC_SENSES["annualized_volatility"] == "minimize"
    # max_drawdown is <= 0: its natural sense maximizes the value, i.e. the shallowest drawdown
    prob = StrategyProblem(demo_data().iloc[:3000], "rsi", bars_per_year=8760)
    dd = prob.metrics(prob.space.sample(64, np.random.default_rng(0)))["max_drawdown"]
    assert (dd <= 0).all() and (dd < 0).any()
    assert METRIC_SENSES["max_drawdown"] == "maximize"


def test_metric_objectives_give_raw_metrics_and_the_worst_value_to_invalid_strategies():
    df = demo_data().iloc[:3000]
    names = ["sharpe_ratio", "-annualized_volatility"]  # volatility minimized
    prob = MetricObjectives(df, "rsi", names, bars_per_year=8760, min_trades=5)
    X = prob.space.sample(200, np.random.default_rng(1))
    y = prob.evaluate(X)
    m = prob.metrics(X)
    ok = (m["n_trades"] >= 5).to_numpy() & np.isfinite(m[["sharpe_ratio"]].to_numpy()).all(1)
    assert prob.objective_names == ["sharpe_ratio", "annualized_volatility"]
    np.testing.assert_array_equal(y[ok, 0], m["sharpe_ratio"].to_numpy()[ok])
    np.testing.assert_array_equal(y[ok, 1], m["annualized_volatility"].to_numpy()[ok])
    assert (~ok).any()
    assert (y[~ok, 0] == -1e12).all() and (y[~ok, 1] == 1e12).all()  # the worst of each sense
    # a worker's copy (executor="processes"/"dask") has the same objectives and senses
    copy = MetricObjectives.from_shared(prob.shared_arrays(), prob.shared_config())
    np.testing.assert_array_equal(copy.evaluate(X), y)
    assert copy.objective_names == prob.objective_names


# -- a run ----------------------------------------------------------------------------------------
def test_run_writes_the_front_and_the_pick(run):
    best = _best(run)
    assert best["schema_version"] == 1 and best["status"] == "complete" and best["valid"]
    assert best["objectives"] == [
        {"name": "sharpe_ratio", "sense": "maximize"},
        {"name": "max_drawdown", "sense": "maximize"},
    ]
    assert best["objective"] == "sharpe_ratio,max_drawdown" and best["fitness"] is None
    assert "knee point" in best["pick"]["rule"] and "training bars only" in best["pick"]["rule"]
    front = best["front"]
    assert 1 <= len(front) == best["pick"]["front_size"] <= best["pick"]["pareto_size"]
    for entry in front:
        assert set(entry["in_sample"]) == set(OBJECTIVES) == set(entry["out_of_sample"])
    # the pick is the front's first strategy: params, in- and out-of-sample metrics
    assert front[0]["params"] == best["params"]
    for name in OBJECTIVES:
        assert front[0]["in_sample"][name] == best["in_sample"][name]
        assert front[0]["out_of_sample"][name] == best["out_of_sample"][name]
    # the verdict counts every distinct strategy tried
    assert best["deflated_sharpe"]["n_trials"] == best["trials"]["n_distinct"] > 60
    assert best["verdict"]["text"] and best["verdict"]["dsr"] is not None
    hof = pd.read_parquet(run / "hall_of_fame.parquet")
    assert len(hof) == len(front) and hof["pick"].tolist() == [True] + [False] * (len(hof) - 1)
    assert {"is_sharpe_ratio", "oos_sharpe_ratio", "oos_max_drawdown"} <= set(hof.columns)
    np.testing.assert_allclose(
        hof["oos_max_drawdown"], [e["out_of_sample"]["max_drawdown"] for e in front]
    )


def test_pareto_parquet_holds_a_front_in_the_right_senses(run):
    pareto = pd.read_parquet(run / "pareto.parquet")
    meta = json.loads(pq.read_schema(run / "pareto.parquet").metadata[b"genepool.direction"])
    assert meta["objectives"] == [
        {"name": "sharpe_ratio", "sense": "maximize"},
        {"name": "max_drawdown", "sense": "maximize"},
    ]
    assert len(pareto) == _best(run)["pick"]["pareto_size"]
    F = pareto[OBJECTIVES].to_numpy()
    assert (F[:, 1] <= 0).all()
    pop = pd.read_parquet(run / "population.parquet")
    P = pop[OBJECTIVES].to_numpy()
    P = P[(np.abs(P) < 1e11).all(axis=1)]  # valid strategies of the final population
    # drawdown minimized (its value maximized): the front holds the shallowest drawdown and the
    # highest Sharpe of the final population, and nothing in the population dominates it
    assert F[:, 1].max() >= P[:, 1].max() > P[:, 1].min()
    assert F[:, 0].max() >= P[:, 0].max()
    for f in F:
        assert not any(_dominates(p, f) for p in P)
    # the pick is the knee of the whole in-sample front (internal scale: both negated)
    knee = pareto.iloc[knee_point(-F)]
    params = _best(run)["params"]
    assert {k: knee[k] for k in params} == pytest.approx(params)


def test_report_redraws_the_front(run, capsys):
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    assert 'id="front"' in html and "Pareto front in and out of sample" in html
    assert "the front found in sample (blue)" in html and "recommended pick" in html
    assert "hypervolume" in html  # the convergence of a front
    assert "Equity of the recommended pick" in html and "Equity of the best" not in html
    assert "Traceback" not in capsys.readouterr().err


def test_single_objective_report_has_no_front(tmp_path):
    out = tmp_path / "single"
    args = ["evolve", "--demo", "--objectives", "sharpe_ratio", "--population", "30",
            "--generations", "2", "--seed", "3", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(_args(out, 2, "--no-report")) == 0  # a multi-objective run, then replaced
    assert (out / "pareto.parquet").exists()
    assert main([*args, "--overwrite"]) == 0
    best = _best(out)
    assert best["objective"] == "sharpe_ratio" and not {"objectives", "pick", "front"} & set(best)
    assert "objectives" not in json.loads((out / "config.json").read_text())["config"]
    assert not (out / "pareto.parquet").exists()
    html = (out / "report.html").read_text()
    assert 'id="front"' not in html and "Equity of the best strategy" in html


def test_resume_equals_an_uninterrupted_run(run, tmp_path):
    short = tmp_path / "short"
    assert main(_args(short, 2, "--no-report")) == 0
    assert main(["resume", str(short), "--generations", "4", "--no-progress", "--no-report"]) == 0
    a, b = _best(run), _best(short)
    assert {k: v for k, v in a.items() if k not in VOLATILE} == {
        k: v for k, v in b.items() if k not in VOLATILE
    }
    for name in ("pareto.parquet", "hall_of_fame.parquet", "population.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(run / name), pd.read_parquet(short / name))


# -- settings -------------------------------------------------------------------------------------
def test_toml_objectives_and_one_objective_is_the_ga(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('demo = true\nobjectives = ["sharpe_ratio", "-annualized_volatility"]\n')
    cfg = EvolveConfig.from_sources(path)
    assert cfg.multi_objective and cfg.objectives == ["sharpe_ratio", "-annualized_volatility"]
    assert EvolveConfig.from_sources(path, objective="total_return").objectives is None
    one = EvolveConfig(demo=True, objectives="annualized_volatility")  # type: ignore[arg-type]
    one.validate()  # its natural sense: minimized, as --objective -annualized_volatility
    assert one.objective == "-annualized_volatility" and not one.multi_objective
    assert "objectives" not in one.to_dict()
    path.write_text('demo = true\nobjective = "sharpe_ratio"\nobjectives = "a,b"\n')
    with pytest.raises(ConfigError, match="either objective"):
        EvolveConfig.from_sources(path)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--objectives", "sharpe_ratio,drawdown"], "unknown metric 'drawdown'"),
        (["--objectives", "sharp_ratio,max_drawdown"], "did you mean 'sharpe_ratio'?"),
        (["--objectives", "sharpe_ratio,max_drawdown,sharpe_ratio"], "'sharpe_ratio' twice"),
        (["--objectives", "sharpe_ratio,-sharpe_ratio"], "'sharpe_ratio' twice"),
        (["--objectives", "sharpe_ratio,"], "empty name"),
        (["--objectives", "sharpe_ratio,max_drawdown", "--objective", "total_return"],
         "--objective and --objectives exclude each other"),
        (["--objectives", "sharpe_ratio,max_drawdown", "--walk-forward", "3"], "walk_forward"),
        (["--problem", "sphere", "--objectives", "sharpe_ratio,max_drawdown"],
         "--objectives applies to strategy runs"),
    ],
)  # fmt: skip
def test_bad_objectives_are_one_line_exit_2(extra, fragment, tmp_path, capsys):
    source = ["--problem", "sphere"] if extra[0] == "--problem" else ["--demo"]
    extra = extra[2:] if extra[0] == "--problem" else extra
    assert main(["evolve", *source, "--out", str(tmp_path / "r"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genepool: error:"), err
    assert fragment in err[0]
    if "unknown metric" in fragment:
        assert "metrics are total_return, sharpe_ratio" in err[0]
    assert not (tmp_path / "r").exists()


# -- which strategies of the front are reported ---------------------------------------------------
@pytest.mark.parametrize("seed", range(20))
def test_select_front_keeps_the_pick_the_extremes_and_at_most_cap(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 200)), int(rng.integers(2, 4))
    F = rng.random((n, m))
    F[: n // 3] = F[0]  # duplicates
    pick = int(rng.integers(0, n))
    cap = int(rng.integers(m + 1, 30))
    rows = select_front(F, pick, cap)
    assert rows[0] == pick and len(set(rows.tolist())) == len(rows)
    assert len(rows) <= min(cap, n)
    distinct = len(np.unique(F, axis=0))
    assert len(rows) == min(cap, distinct)
    assert len(np.unique(F[rows], axis=0)) == len(rows)  # one row per point of the front
    for j in range(m):
        assert F[rows, j].min() == F[:, j].min()  # each objective's best is kept
    np.testing.assert_array_equal(rows, select_front(F, pick, cap))  # deterministic
    rest = rows[1:]
    assert np.all(np.diff(F[rest, 0]) >= 0)  # the others along the first objective
