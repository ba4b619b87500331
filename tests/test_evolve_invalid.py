"""Runs that found nothing say so: status, exit code, warnings, no verdict; auto min_trades;
inf/NaN through best.json and resume (issue 14, item 3)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genepool.backtest import synthetic_ohlcv
from genepool.backtest.overfitting import DeflatedSharpe, verdict
from genepool.cli import main
from genepool.evolve import _files as F
from genepool.evolve.config import auto_min_trades

SEG = 400  # bars per walk-forward segment: --walk-forward 3 on 4 * SEG bars


def _flat(df: pd.DataFrame, rows: slice) -> pd.DataFrame:
    """Prices that do not move over ``rows``: no RSI strategy trades there (RSI is 0/0)."""
    df = df.copy()
    df.iloc[rows, df.columns.get_indexer(["open", "high", "low", "close"])] = 100.0
    return df


@pytest.fixture(scope="module")
def one_flat_segment(tmp_path_factory) -> Path:
    """Daily bars whose second segment is flat: fold 2 of 3 cannot trade in its training."""
    path = tmp_path_factory.mktemp("data") / "flat2.csv"
    _flat(synthetic_ohlcv(4 * SEG, freq="1D", seed=5), slice(SEG, 2 * SEG)).to_csv(path)
    return path


@pytest.fixture(scope="module")
def flat_start(tmp_path_factory) -> Path:
    """Flat for the first 70 % (the training bars of a single run), moving afterwards."""
    path = tmp_path_factory.mktemp("data") / "flat-start.csv"
    _flat(synthetic_ohlcv(1000, freq="1D", seed=6), slice(0, 700)).to_csv(path)
    return path


def _run(data: Path, out: Path, *extra: str, report: bool = False) -> list[str]:
    return [
        "evolve", "--data", str(data), "--strategy", "rsi", "--population", "60",
        "--generations", "3", "--seed", "3", "--out", str(out), "--no-progress",
        *([] if report else ["--no-report"]), *extra,
    ]  # fmt: skip


def _best(run_dir: Path) -> dict:
    return F.read_json(run_dir / "best.json")


def _strict_json(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# -- a single run --------------------------------------------------------------------------------
def test_no_valid_strategy_single_run(one_flat_segment, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_run(one_flat_segment, out, "--min-trades", "100000")) == 3
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("genepool: warning")]
    assert 1 <= len(warnings) <= 2
    assert "no valid strategy" in warnings[0] and "--min-trades is 100000" in warnings[0]
    assert "lower --min-trades" in captured.err and "Traceback" not in captured.err
    assert "a Sharpe this" not in captured.out and "verdict: No verdict" in captured.out
    text = (out / "best.json").read_text()
    best = _strict_json(text)
    assert best["status"] == "no valid strategy" and best["valid"] is False
    assert best["verdict"] is None and best["verdict_reason"].startswith("No verdict")
    assert best["deflated_sharpe"] is None and best["pbo"] is None
    assert best["warnings"] == [w.removeprefix("genepool: warning: ") for w in warnings]
    assert best["min_trades"] == 100000 and best["min_trades_rule"] == "--min-trades"
    assert 0 < best["in_sample"]["n_trades"] < 100000  # the most active strategy is shown


def test_zero_trade_best_keeps_its_infinite_sharpe_and_gets_no_verdict(flat_start, tmp_path):
    out = tmp_path / "run"
    assert main(_run(flat_start, out, "--json", report=True)) == 3
    best = _best(out)
    assert best["status"] == "no valid strategy" and best["verdict"] is None
    assert best["in_sample"]["n_trades"] == 0
    assert best["in_sample"]["sharpe_ratio"] == math.inf  # read back as inf, not None
    assert "made 0 trades" in best["warnings"][0]
    raw = _strict_json((out / "best.json").read_text())
    assert raw["in_sample"]["sharpe_ratio"] == "inf"  # strict JSON: a string, not null
    assert (out / "report.html").exists()


def test_json_output_is_strict_json(flat_start, tmp_path, capsys):
    assert main(_run(flat_start, tmp_path / "run", "--json")) == 3
    doc = _strict_json(capsys.readouterr().out)
    assert doc["status"] == "no valid strategy" and doc["in_sample"]["sharpe_ratio"] == "inf"


def test_help_documents_exit_code_3(capsys):
    assert main(["evolve", "--help"]) == 0
    assert "3 no valid strategy" in " ".join(capsys.readouterr().out.split())


# -- walk-forward --------------------------------------------------------------------------------
def test_walk_forward_with_one_invalid_fold(one_flat_segment, tmp_path, capsys):
    out = tmp_path / "wf"
    assert main(_run(one_flat_segment, out, "--walk-forward", "3", "--min-trades", "3")) == 0
    err = capsys.readouterr().err
    assert "1 of 3 walk-forward folds found no valid strategy" in err and "fold 2 made 0" in err
    folds = [_best(out / "folds" / f"fold-{i:02d}") for i in range(3)]
    assert [f["status"] for f in folds] == ["complete", "no valid strategy", "complete"]
    assert [f["valid"] for f in folds] == [True, False, True]
    assert folds[1]["verdict"] is None and folds[0]["verdict"] is not None
    best = _best(out)
    assert best["status"] == "complete" and best["warnings"]
    assert best["walk_forward"]["valid_folds"] == [0, 2]
    assert best["walk_forward"]["invalid_folds"] == [1]
    assert best["walk_forward"]["fold_status"] == [f["status"] for f in folds]
    assert "2 walk-forward folds" in best["verdict"]["text"]
    wf = pd.read_parquet(out / "walk_forward.parquet")
    assert list(wf["status"]) == ["complete", "no valid strategy", "complete"]
    assert list(wf["valid"]) == [True, False, True]
    # the invalid fold's test segment is held in cash in the stitched equity
    eq = pd.read_parquet(out / "equity.parquet")
    stitched = eq[eq["sample"] == "out"].reset_index(drop=True)
    held = stitched["value"].iloc[SEG : 2 * SEG].to_numpy()
    assert np.all(held == held[0])
    # the verdict is over the valid folds' returns only: their bar count
    assert f"({2 * SEG:,} bars" in best["verdict"]["text"]


def test_walk_forward_all_folds_invalid(one_flat_segment, tmp_path, capsys):
    out = tmp_path / "wf"
    argv = _run(one_flat_segment, out, "--walk-forward", "3", "--min-trades", "100000")
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "3 of 3 walk-forward folds found no valid strategy" in err
    best = _best(out)
    assert best["status"] == "no valid strategy" and best["valid"] is False
    assert best["verdict"] is None and "no walk-forward fold" in best["verdict_reason"]
    assert best["walk_forward"]["valid_folds"] == []
    eq = pd.read_parquet(out / "equity.parquet")
    assert (eq[eq["sample"] == "out"]["value"] == 10_000).all()  # nothing traded


def test_resume_keeps_inf_and_nan_in_walk_forward(one_flat_segment, tmp_path):
    """A walk-forward run stopped after two folds and resumed equals the uninterrupted one,
    inf and NaN included (the finished folds are read back from their best.json)."""
    ref = tmp_path / "ref"
    assert main(_run(one_flat_segment, ref, "--walk-forward", "3", "--min-trades", "3")) == 0
    wf_ref = pd.read_parquet(ref / "walk_forward.parquet")
    values = wf_ref.select_dtypes("number").to_numpy(dtype=float)
    assert np.isinf(values).any() and np.isnan(values).any()  # the case under test
    cut = tmp_path / "cut"
    shutil.copytree(ref, cut)
    shutil.rmtree(cut / "folds" / "fold-02")  # as if killed before the third fold started
    for name in ("best.json", "walk_forward.parquet", "equity.parquet"):
        (cut / name).unlink()
    # the run directory records its own path
    doc = F.read_json(cut / "config.json")
    doc["config"]["out"] = str(cut)
    F.write_json(cut / "config.json", doc)
    assert main(["resume", str(cut), "--no-progress", "--no-report"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(cut / "walk_forward.parquet"), wf_ref)
    volatile = {"elapsed", "peak_rss", "cache"}
    a, b = _best(ref), _best(cut)
    assert json.dumps(F._jsonable({k: v for k, v in a.items() if k not in volatile})) == (
        json.dumps(F._jsonable({k: v for k, v in b.items() if k not in volatile}))
    )


def test_non_finite_floats_round_trip_through_json(tmp_path):
    doc = {"a": math.inf, "b": [-math.inf, math.nan, 1.5], "c": {"d": np.float64("nan")}}
    F.write_json(tmp_path / "x.json", doc)
    _strict_json((tmp_path / "x.json").read_text())
    back = F.read_json(tmp_path / "x.json")
    assert back["a"] == math.inf and back["b"][0] == -math.inf and back["b"][2] == 1.5
    assert math.isnan(back["b"][1]) and math.isnan(back["c"]["d"])


# -- the default min_trades ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (pd.bdate_range("2004-08-19", periods=430), 4),  # 1.7 years of daily bars: ceil(3.3)
        (pd.bdate_range("2000-01-03", periods=2520), 20),  # 10 years daily
        (pd.bdate_range("2020-01-01", periods=100), 3),  # under a year: the floor
        (pd.date_range("2020-01-01", periods=14_000, freq="1h"), 4),  # the demo's training
        (pd.date_range("2000-01-01", periods=120, freq="MS"), 6),  # 10 y monthly: 1 per 20 bars
        (pd.date_range("2000-01-01", periods=30, freq="MS"), 3),  # short monthly: the floor
        (pd.RangeIndex(5000), 3),  # no calendar, no bars per year: the floor
    ],
)
def test_auto_min_trades(index, expected):
    assert auto_min_trades(index) == expected


def test_auto_min_trades_from_bars_per_year():
    assert auto_min_trades(pd.RangeIndex(2520), bars_per_year=252) == 20


def test_auto_min_trades_per_fold_and_recorded(one_flat_segment, tmp_path):
    """Without --min-trades each fold gets the floor of its own training window (anchored:
    growing), recorded in its best.json; the CLI's --min-trades overrides it."""
    out = tmp_path / "wf"
    main(_run(one_flat_segment, out, "--walk-forward", "3", "--anchored"))
    data = pd.read_csv(one_flat_segment, index_col=0, parse_dates=True)
    got = [_best(out / "folds" / f"fold-{i:02d}")["min_trades"] for i in range(3)]
    want = [auto_min_trades(data.index[: (i + 1) * SEG]) for i in range(3)]
    assert got == want and want[0] < want[2]
    assert _best(out / "folds" / "fold-00")["min_trades_rule"].startswith("auto")
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["min_trades"] is None  # auto: resume computes the same values again


def test_min_trades_auto_in_toml(tmp_path):
    moving = tmp_path / "moving.csv"  # no flat segment: valid strategies exist
    synthetic_ohlcv(1000, freq="1D", seed=5).to_csv(moving)
    toml = tmp_path / "run.toml"
    toml.write_text('min_trades = "auto"\n')
    out = tmp_path / "run"
    assert main([*_run(moving, out), "--config", str(toml)]) == 0
    data = pd.read_csv(moving, index_col=0, parse_dates=True)
    assert _best(out)["min_trades"] == auto_min_trades(data.index[: round(0.7 * len(data))])


# -- the verdict's words -------------------------------------------------------------------------
def test_verdict_never_praises_a_negative_sharpe():
    d = DeflatedSharpe(dsr=0.0, sr=-0.05, sr0=0.04, n_trials=500, var_trials=0.001, n_obs=1000,
                       skew=0.0, kurtosis=3.0)  # fmt: skip
    text = verdict(d)
    assert "this high" not in text and "not above zero" in text
