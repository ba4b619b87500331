"""A run directory read back into a :class:`~genepool.report.ReportData` for the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..backtest.calendar import format_bars
from ..memory._size import parse_size
from ..memory.history import SENSE_KEY, read_metadata
from . import _files as F
from .out_of_sample import INIT_CASH
from .records import BestRecord, RunRecord, WalkForwardRecord, read_best

__all__ = ["report_data", "write_run_report"]


def _history(run_dir: Path) -> pd.DataFrame:
    folder = run_dir / F.HISTORY
    if not folder.is_dir() or not any(folder.glob("part-*.parquet")):
        return pd.DataFrame(columns=["generation", "best", "mean", "std"])
    df = F.read_frame(folder).sort_values("generation", kind="stable")  # type: ignore[union-attr]
    # a generation redone after a crash is drawn once, from its last record
    df = df.drop_duplicates("generation", keep="last")
    if "hypervolume" in df and "best" not in df:  # a multi-objective run: its front's volume
        return df.assign(best=df["hypervolume"], mean=float("nan"), std=float("nan")).reset_index(
            drop=True
        )
    if not read_metadata(folder).get(SENSE_KEY):  # an older run: stored minimized (negated)
        for col in ("best", "generation_best", "mean"):
            if col in df:
                df[col] = -df[col]
    return df.reset_index(drop=True)


def _fold_dirs(run_dir: Path) -> list[Path]:
    return sorted(p for p in (run_dir / "folds").glob("fold-*") if p.is_dir())


def _folds_history(folds: list[Path]) -> pd.DataFrame:
    """The folds' histories one after the other: ``generation`` counts on across folds,
    ``fold`` and ``fold_generation`` say where each row came from."""
    parts = []
    for i, d in enumerate(folds):
        h = _history(d)
        if len(h):
            parts.append(h.assign(fold=i, fold_generation=h["generation"]))
    if not parts:
        return pd.DataFrame(columns=["generation", "best", "mean", "std"])
    df = pd.concat(parts, ignore_index=True)
    df["generation"] = range(1, len(df) + 1)
    return df


def _fold_record(fold: Path) -> BestRecord | None:
    """A fold's record; None before it wrote one (a damaged one is refused, naming it)."""
    return read_best(fold) if (fold / F.BEST).is_file() else None


def _series(eq: pd.DataFrame | None, sample: str) -> pd.Series | None:
    if eq is None:
        return None
    part = eq[eq["sample"] == sample]
    if part.empty:
        return None
    index = pd.DatetimeIndex(part["time"]) if "time" in part else pd.RangeIndex(len(part))
    return pd.Series(part["value"].to_numpy(), index=index, name="value")


_TRADE_COLUMNS = ["entry_time", "exit_time", "entry_price", "exit_price", "pnl", "return",
                  "sample"]  # fmt: skip


def _walk_forward_parts(run_dir: Path, parts: dict[str, Any]) -> dict[str, Any]:
    """What a walk-forward report shows beyond the summary files: every fold's history, the
    first fold's in-sample curve (it ends where the stitched out-of-sample curve starts), the
    out-of-sample trades of every fold, each fold's status and a warning about the folds that
    did not end complete (unless the run's own warnings name folds)."""
    folds = _fold_dirs(run_dir)
    records = [_fold_record(d) for d in folds]
    first = F.read_frame(folds[0] / F.EQUITY) if folds else None
    trades = []
    for i, d in enumerate(folds):
        t = F.read_frame(d / F.TRADES)
        if t is None or not len(t):
            continue
        keep = t["sample"] == "out" if i else t["sample"].isin(["in", "out"])
        trades.append(t[keep].assign(fold=i))
    wf = parts["walk_forward"]
    if wf is not None and len(wf) and "status" not in wf.columns:
        status = [_fold_status(records[int(f)]) if int(f) < len(records) else "?"
                  for f in wf["fold"]]  # fmt: skip
        wf = wf.assign(status=status)
    warnings = list(parts["warnings"])
    bad = [f"fold {i}" for i, r in enumerate(records)
           if r is not None and r.status not in (None, "complete")]  # fmt: skip
    if bad and not any("fold" in w for w in warnings):
        warnings.append(
            f"{len(bad)} of {len(folds)} folds did not end complete ({', '.join(bad)}); "
            "see the walk-forward table."
        )
    return {
        "history": _folds_history(folds),
        "equity_in": _series(first, "in"),
        "label": "In sample (the first fold's training)",
        "trades": pd.concat(trades, ignore_index=True) if trades else parts["trades"],
        "walk_forward": wf,
        "split": _split(records[0]) if records else None,
        "warnings": warnings,
    }


def _fold_status(record: BestRecord | None) -> Any:
    return "?" if record is None or record.status is None else record.status


def _split(record: BestRecord | None) -> Any:
    """Where the out-of-sample bars start (None: a run without test bars)."""
    return record.test.start if isinstance(record, RunRecord) and record.test else None


def _verdict(record: BestRecord, status: str | None) -> dict[str, Any]:
    if record.verdict is not None:
        verdict = record.verdict.to_dict()
    elif status not in (None, "complete", "interrupted"):
        verdict = {"text": f"No verdict: {status}.", "significant": None}
    else:
        verdict = {"text": "No verdict.", "significant": None}
    if not isinstance(verdict.get("text"), str):
        verdict["text"] = "No verdict."
    for key in ("dsr", "pbo", "significant"):
        verdict.setdefault(key, None)
    trials = record.trials if isinstance(record, RunRecord) else None
    if trials:
        verdict["distinct strategies tried"] = trials.n_distinct
    return verdict


def report_data(run_dir: str | Path):  # -> ReportData (matplotlib is imported lazily)
    """Read a run directory (written by ``genepool evolve``) into the report's inputs.

    Keys a run of an older version did not write (``status``, ``warnings``, per-fold
    statuses) are optional. A walk-forward run shows the folds' histories one after the
    other, the first fold's in-sample curve followed by the stitched out-of-sample curve, and
    every fold's out-of-sample trades.
    """
    from ..report import ReportData

    run_dir = Path(run_dir)
    doc = F.read_json(run_dir / F.CONFIG)
    F.require(run_dir / F.CONFIG, doc, {"config": dict, "data": dict})
    best = read_best(run_dir)
    cfg = doc["config"]
    status = None if best.status is None else str(best.status)
    eq = F.read_frame(run_dir / F.EQUITY)
    parts: dict[str, Any] = {
        "history": _history(run_dir),
        "equity_in": _series(eq, "in"),
        "label": None,
        "trades": F.read_frame(run_dir / F.TRADES),
        "walk_forward": F.read_frame(run_dir / F.WALK_FORWARD),
        "split": _split(best),
        "warnings": list(best.warnings),
    }
    facts: dict[str, Any] = {"generations": best.n_generations}
    if isinstance(best, WalkForwardRecord):
        parts = _walk_forward_parts(run_dir, parts)
        facts["folds"] = None if best.walk_forward is None else best.walk_forward.done
    facts["split"] = parts["split"]
    annual = best.annualization.to_dict() if best.annualization else doc.get("annualization")
    population = F.read_frame(run_dir / F.POPULATION)
    hof = F.read_frame(run_dir / F.HALL_OF_FAME)
    front = _front(best)
    if front is not None and population is not None:  # the genes only, not the objectives
        population = population[[c for c in population.columns if c in best.params]]
    return ReportData(
        title=_title(doc),
        subtitle=_subtitle(doc, best, status, facts, annual),
        config={
            **cfg,
            "data": doc["data"],
            "annualization": annual or "365 days / median bar spacing (not recorded)",
            "versions": doc.get("versions", {}),
        },
        history=parts["history"],
        memory=_memory(run_dir),
        memory_limit=None if not cfg.get("memory_limit") else parse_size(cfg["memory_limit"]),
        equity_in=_or_empty(parts["equity_in"]),
        equity_out=_series(eq, "out"),
        population=population if population is not None else pd.DataFrame({"fitness": []}),
        trades=parts["trades"] if parts["trades"] is not None else _no_trades(),
        best={
            "params": best.params,
            "in_sample": best.in_sample or {},
            "out_of_sample": best.out_of_sample,
            "fitness": best.fitness,
        },
        hall_of_fame=hof if hof is not None else pd.DataFrame(),
        verdict=_verdict(best, status),
        walk_forward=parts["walk_forward"],
        status=status,
        warnings=_with_best_warnings(best, status, parts["warnings"]),
        facts={k: v for k, v in facts.items() if v is not None},
        initial_cash=float(best.extra.get("init_cash") or INIT_CASH),
        equity_in_label=parts["label"],
        **(front or {}),
        **_symbols(run_dir, doc, best),
    )


def _symbols(run_dir: Path, doc: dict[str, Any], best: BestRecord) -> dict[str, Any]:
    """A universe run's per-symbol table (symbols.parquet) and what the universe is."""
    from .universe import SYMBOLS_FILE

    table = F.read_frame(run_dir / SYMBOLS_FILE)
    if table is None:
        return {}
    data = doc["data"]
    names = data.get("symbols") or []
    block = getattr(best, "symbols", None) or {}
    aggregate = data.get("aggregate") or block.get("aggregate") or "?"
    note = (
        f"{len(names):,} symbols of the store {data.get('store', '?')}; the fitness is the "
        f"{aggregate} of each metric over them, the equity the equal-weight portfolio of the "
        "best strategy's runs on each (docs/data.md, Universes)."
    )
    return {"symbols": table, "symbols_note": note}


def _front(best: BestRecord) -> dict[str, Any] | None:
    """A multi-objective run's front for the report (``front``, ``objectives``,
    ``front_note``), or None for a single-objective run."""
    if not isinstance(best, RunRecord) or best.front is None or not best.objectives:
        return None
    objectives = [(str(o["name"]), str(o["sense"])) for o in best.objectives]
    rows = []
    for i, entry in enumerate(best.front):
        row: dict[str, Any] = {"pick": i == 0}
        params = entry.get("params")
        if isinstance(params, dict):
            row.update({k: v for k, v in params.items() if k != "pick"})
        for side, prefix in (("in_sample", "is_"), ("out_of_sample", "oos_")):
            for name, _ in objectives:
                if entry.get(side) is not None:
                    row[prefix + name] = entry[side].get(name)
        rows.append(row)
    columns = ["pick"] + [f"is_{n}" for n, _ in objectives]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)
    pick = best.pick or {}
    note = None
    if pick.get("rule"):
        note = f"the {pick['rule']}"
        if pick.get("pareto_size") is not None:
            note += (
                f"; the whole in-sample front holds {pick['pareto_size']:,} distinct strategies"
                + (
                    f" at {pick['pareto_points']:,} points"
                    if pick.get("pareto_points") is not None
                    else ""
                )
                + f" (pareto.parquet), {len(rows):,} are shown, one per point: the pick, each "
                "objective's extremes and the most spread out of the rest"
            )
    return {"front": frame, "objectives": objectives, "front_note": note}


def _or_empty(equity: pd.Series | None) -> pd.Series:
    return pd.Series([], dtype=float, name="value") if equity is None else equity


def _no_trades() -> pd.DataFrame:
    return pd.DataFrame(columns=_TRADE_COLUMNS)


def _memory(run_dir: Path) -> pd.DataFrame:
    memory = F.read_frame(run_dir / F.MEMORY)
    return pd.DataFrame(columns=["generation", "rss", "chunk_size"]) if memory is None else memory


def _with_best_warnings(best: BestRecord, status: str | None, warnings: list[str]) -> list[str]:
    """``warnings`` and what the record shows without saying it: an invalid best of a run from
    before runs said so, a best strategy without trades."""
    from ..backtest.problem import INVALID_FITNESS

    warnings = list(warnings)
    fitness = best.fitness
    if (
        isinstance(fitness, (int, float))
        and fitness <= INVALID_FITNESS / 2
        and status in (None, "complete")
    ):  # a run from before runs said so: its best is the penalty for too few trades
        warnings.append(
            f"The best strategy is invalid (fitness {fitness:g}, the penalty for fewer trades "
            "than --min-trades): no valid strategy was found; lower --min-trades or use "
            "more data."
        )
    n_trades = (best.in_sample or {}).get("n_trades")
    if n_trades is not None and n_trades == 0 and not any("no trade" in w for w in warnings):
        warnings.append(
            "The best strategy made no trades in sample: its ratios are undefined (n/a)."
        )
    return warnings


def _title(doc: dict[str, Any]) -> str:
    cfg, source = doc["config"], doc["data"]["source"]
    if cfg.get("store"):
        n = len(doc["data"].get("symbols") or [])
        what = f"{n:,} symbols ({cfg.get('aggregate')}) of {Path(source).name}"
        return f"{cfg['strategy']} on {what}, seed {cfg['seed']}"
    title = f"{cfg['strategy']} on {Path(source).name if source != 'demo' else 'the demo data'}"
    return title + f", seed {cfg['seed']}"


def _subtitle(
    doc: dict[str, Any],
    best: BestRecord,
    status: str | None,
    facts: dict[str, Any],
    annual: dict[str, Any] | None,
) -> str:
    from ..report._format import fmt_time

    n_gen, n_eval, data = best.n_generations, best.n_evaluations, doc["data"]
    subtitle = (
        f"{data['n_bars']:,} bars from {fmt_time(pd.Timestamp(data['start']))} to "
        f"{fmt_time(pd.Timestamp(data['end']))}; status {status or '?'}, "
        f"{'?' if n_gen is None else f'{n_gen:,}'} generations"
    )
    if facts.get("folds") is not None:
        subtitle += f" in {facts['folds']:,} walk-forward folds"
    subtitle += f", {'?' if n_eval is None else f'{n_eval:,}'} evaluations"
    if annual:
        subtitle += f"; {format_bars(annual['bars_per_year'])} bars/year"
    if facts["split"] is not None:
        subtitle += f"; out of sample from {fmt_time(pd.Timestamp(facts['split']))}"
    return subtitle


def write_run_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the run's files; returns its path."""
    from ..report import write_report

    run_dir = Path(run_dir)
    return write_report(report_data(run_dir), run_dir / F.REPORT)
