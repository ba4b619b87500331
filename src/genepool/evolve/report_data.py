"""A run directory read back into a :class:`~genepool.report.ReportData` for the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..memory._size import parse_size
from . import _files as F

__all__ = ["report_data", "write_run_report"]


def _history(run_dir: Path) -> pd.DataFrame:
    folder = run_dir / F.HISTORY
    if not folder.is_dir() or not any(folder.glob("part-*.parquet")):
        return pd.DataFrame(columns=["generation", "best", "mean", "std"])
    df = F.read_frame(folder).sort_values("generation", kind="stable")  # type: ignore[union-attr]
    for col in ("best", "generation_best", "mean"):  # stored minimized: back to maximized
        if col in df:
            df[col] = -df[col]
    return df.reset_index(drop=True)


def _series(eq: pd.DataFrame | None, sample: str) -> pd.Series | None:
    if eq is None:
        return None
    part = eq[eq["sample"] == sample]
    if part.empty:
        return None
    index = pd.DatetimeIndex(part["time"]) if "time" in part else pd.RangeIndex(len(part))
    return pd.Series(part["value"].to_numpy(), index=index, name="value")


def report_data(run_dir: str | Path):  # -> ReportData (matplotlib is imported lazily)
    """Read a run directory (written by ``genepool evolve``) into the report's inputs."""
    from ..report import ReportData

    run_dir = Path(run_dir)
    doc = F.read_json(run_dir / F.CONFIG)
    best = F.read_json(run_dir / F.BEST)
    F.require(run_dir / F.CONFIG, doc, {"config": dict, "data": dict})
    F.require(run_dir / F.BEST, best, {"params": dict, "status": str})
    cfg = doc["config"]
    eq = F.read_frame(run_dir / F.EQUITY)
    equity_in = _series(eq, "in")
    if equity_in is None:
        equity_in = pd.Series([], dtype=float, name="value")
    trades = F.read_frame(run_dir / F.TRADES)
    if trades is None:
        trades = pd.DataFrame(
            columns=["entry_time", "exit_time", "entry_price", "exit_price", "pnl", "return",
                     "sample"]
        )  # fmt: skip
    memory = F.read_frame(run_dir / F.MEMORY)
    if memory is None:
        memory = pd.DataFrame(columns=["generation", "rss", "chunk_size"])
    population = F.read_frame(run_dir / F.POPULATION)
    hof = F.read_frame(run_dir / F.HALL_OF_FAME)
    source = doc["data"]["source"]
    title = f"{cfg['strategy']} on {Path(source).name if source != 'demo' else 'the demo data'}"
    title += f", seed {cfg['seed']}"
    verdict = dict(best.get("verdict") or {"text": "No verdict.", "significant": None})
    for key in ("dsr", "pbo", "significant"):
        verdict.setdefault(key, None)
    extra = best.get("trials")
    if extra:
        verdict["distinct strategies tried"] = extra.get("n_distinct")
    return ReportData(
        title=title,
        subtitle=(
            f"{doc['data']['n_bars']:,} bars from {doc['data']['start']} to "
            f"{doc['data']['end']}; status {best.get('status', '?')}, "
            f"{best.get('n_generations', 0)} generations, "
            f"{best.get('n_evaluations', 0):,} evaluations"
        ),
        config={**cfg, "data": doc["data"], "versions": doc.get("versions", {})},
        history=_history(run_dir),
        memory=memory,
        memory_limit=None if not cfg.get("memory_limit") else parse_size(cfg["memory_limit"]),
        equity_in=equity_in,
        equity_out=_series(eq, "out"),
        population=population if population is not None else pd.DataFrame({"fitness": []}),
        trades=trades,
        best={
            "params": best.get("params", {}),
            "in_sample": best.get("in_sample") or {},
            "out_of_sample": best.get("out_of_sample"),
        },
        hall_of_fame=hof if hof is not None else pd.DataFrame(),
        verdict=verdict,
        walk_forward=F.read_frame(run_dir / F.WALK_FORWARD),
    )


def write_run_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` from the run's files; returns its path."""
    from ..report import write_report

    run_dir = Path(run_dir)
    return write_report(report_data(run_dir), run_dir / F.REPORT)
