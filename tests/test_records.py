"""best.json as records (genepool.evolve.records): one versioned schema, older files still read."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

import pytest

from genepool.errors import ConfigError
from genepool.evolve import _files as F
from genepool.evolve.records import (
    SCHEMA_VERSION,
    VERSION_KEY,
    BacktestRecord,
    RunRecord,
    Verdict,
    WalkForwardRecord,
    read_best,
    read_best_or_none,
    write_best,
)

#: best.json files as genepool wrote them before the schema had a version (seeded runs of
#: ``genepool evolve``, walk-forward, ``--min-trades 100000`` and ``genepool backtest``).
UNVERSIONED = Path(__file__).parent / "fixtures" / "best_json_unversioned"
KINDS = {"single": RunRecord, "invalid": RunRecord, "wf": WalkForwardRecord, "bt": BacktestRecord}


def _run_dir(tmp_path: Path, name: str) -> Path:
    shutil.copyfile(UNVERSIONED / f"{name}.json", tmp_path / F.BEST)
    return tmp_path


@pytest.mark.parametrize("name", sorted(KINDS))
def test_an_unversioned_best_json_reads_and_writes_back_the_same_keys(tmp_path, name):
    raw = json.loads((UNVERSIONED / f"{name}.json").read_text())
    assert VERSION_KEY not in raw
    record = read_best(_run_dir(tmp_path, name))
    assert type(record) is KINDS[name]
    assert list(record.to_dict()) == list(raw)  # every key, in its order
    out = tmp_path / "again"
    out.mkdir()
    write_best(out, record)
    text = (out / F.BEST).read_text()
    again = json.loads(text)
    assert again == {VERSION_KEY: SCHEMA_VERSION, **raw}  # the same values, plus the version
    assert list(again) == [VERSION_KEY, *raw]
    assert "Infinity" not in text and "NaN" not in text  # strict JSON, as before


def test_fields_of_a_single_run_record(tmp_path):
    record = read_best(_run_dir(tmp_path, "single"))
    assert isinstance(record, RunRecord)
    assert record.valid and record.status == "complete" and record.warnings == []
    assert record.in_sample is not None and record.in_sample["n_trades"] > 0
    assert record.out_of_sample is not None and record.out_of_sample["profit_factor"] == math.inf
    assert record.train is not None and record.train.n_bars == 1050
    assert record.trials is not None and record.trials.n_distinct > 0
    assert record.deflated_sharpe is not None and 0 <= record.deflated_sharpe.dsr <= 1
    assert record.pbo is not None and record.pbo.n_blocks == 16
    assert record.verdict is not None and record.verdict.text.startswith(("Likely", "Not", "Sig"))
    assert record.annualization is not None and record.annualization.bars_per_year == 8760.0


def test_an_invalid_run_has_no_trials_key(tmp_path):
    record = read_best(_run_dir(tmp_path, "invalid"))
    assert isinstance(record, RunRecord) and not record.valid and record.trials is None
    assert "trials" not in record.to_dict()
    assert record.to_dict()["pbo"] is None and record.to_dict()["verdict"] is None


def test_walk_forward_and_backtest_verdicts_are_psr_verdicts(tmp_path):
    wf = read_best(_run_dir(tmp_path, "wf"))
    assert isinstance(wf, WalkForwardRecord) and wf.walk_forward is not None
    assert wf.walk_forward.folds == 3 and wf.walk_forward.invalid_folds == [2]
    assert wf.walk_forward.fold_status == ["complete", "complete", "no valid strategy"]
    assert wf.status == "complete" and len(wf.warnings) == 2  # one fold without a strategy
    assert wf.verdict is not None and wf.verdict.psr is not None
    assert list(wf.verdict.to_dict()) == ["text", "significant", "psr", "dsr", "pbo"]
    assert list(Verdict("No verdict: x").to_dict()) == ["text", "significant", "dsr", "pbo"]


def test_an_older_layout_without_status_warnings_or_valid_reads(tmp_path):
    """Runs of older versions lacked keys the report now shows: they read as None/defaults."""
    raw = json.loads((UNVERSIONED / "single.json").read_text())
    for key in ("status", "valid", "warnings", "test", "trials", "min_trades", "verdict_reason"):
        del raw[key]
    raw["init_cash"] = 5000.0  # a key this version does not know: kept
    F.write_json(tmp_path / F.BEST, raw)
    record = read_best(tmp_path)
    assert isinstance(record, RunRecord)
    assert record.status is None and record.valid is True and record.warnings == []
    assert record.test is None and record.trials is None and record.min_trades is None
    assert record.extra == {"init_cash": 5000.0}
    assert record.to_dict()["init_cash"] == 5000.0


def test_warnings_of_a_hand_edited_file_become_a_list_of_text(tmp_path):
    F.write_json(tmp_path / F.BEST, {"params": {}, "warnings": "one"})
    assert read_best(tmp_path).warnings == ["one"]


def test_a_newer_schema_version_is_refused_naming_the_file(tmp_path):
    raw = json.loads((UNVERSIONED / "bt.json").read_text())
    F.write_json(tmp_path / F.BEST, {**raw, VERSION_KEY: SCHEMA_VERSION + 1})
    with pytest.raises(ConfigError, match=rf"best.json: .*{VERSION_KEY} {SCHEMA_VERSION + 1}"):
        read_best(tmp_path)
    assert read_best_or_none(tmp_path) is None


@pytest.mark.parametrize(
    ("text", "said"),
    [(None, "does not exist"), ("not json", "cannot be read"),
     ("[1, 2]", "expected a JSON object"), ("{}", "'params' is missing")],
)  # fmt: skip
def test_a_missing_or_damaged_best_json_is_refused_naming_it(tmp_path, text, said):
    if text is not None:
        (tmp_path / F.BEST).write_text(text)
    with pytest.raises(ConfigError, match=said) as info:
        read_best(tmp_path)
    assert str(tmp_path / F.BEST) in str(info.value)
    tolerant = read_best_or_none(tmp_path)
    assert (tolerant is not None) == (text == "{}")  # an object is a record, if an empty one


def test_records_are_frozen():
    record = RunRecord(strategy="rsi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = "complete"  # type: ignore[misc]
