"""Header facts against what the figures show: the report's coherence check.

The header states facts from the run's own record (``ReportData.facts``, read from
``best.json``); the figures are drawn from the frames (history, equity, walk-forward). Both
are written into the page as ``data-*`` attributes, where the self-check script compares them
again, and :func:`fact_problems` compares them here, so a report whose header and plots
disagree says so at the top even without JavaScript.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._data import ReportData

__all__ = ["fact_problems", "header_facts", "iso_time", "plotted_facts"]


def iso_time(value: Any) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC when tz-aware) or None: one text form for comparisons."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.strftime("%Y-%m-%dT%H:%M:%S")


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def header_facts(data: ReportData) -> dict[str, Any]:
    """What the header states (``data.facts``), normalized; keys absent when unknown."""
    facts = data.facts or {}
    out: dict[str, Any] = {}
    for key in ("generations", "folds"):
        v = _int(facts.get(key))
        if v is not None:
            out[key] = v
    split = iso_time(facts.get("split"))
    if split is not None:
        out["split"] = split
    return out


def plotted_facts(data: ReportData) -> dict[str, Any]:
    """What the figures and tables show: generations plotted, folds listed, where the
    out-of-sample curve starts and the in-sample curve ends."""
    out: dict[str, Any] = {"generations": len(data.history)}
    if data.walk_forward is not None:
        out["folds"] = len(data.walk_forward)
    eq_in, eq_out = data.equity_in, data.equity_out
    if eq_out is not None and len(eq_out) and isinstance(eq_out.index, pd.DatetimeIndex):
        out["split"] = iso_time(eq_out.index[0])
    if len(eq_in) and isinstance(eq_in.index, pd.DatetimeIndex):
        out["in_end"] = iso_time(eq_in.index[-1])
    return out


def fact_problems(data: ReportData) -> list[str]:
    """Every disagreement between the header and the plots, as sentences (empty: coherent)."""
    said, shown = header_facts(data), plotted_facts(data)
    problems = []
    if "generations" in said and said["generations"] != shown["generations"]:
        problems.append(
            f"the header says {said['generations']:,} generations but the convergence plot "
            f"shows {shown['generations']:,}"
        )
    if "folds" in said and said["folds"] != shown.get("folds"):
        problems.append(
            f"the header says {said['folds']:,} walk-forward folds but the report lists "
            f"{shown.get('folds') or 0:,}"
        )
    if "split" in said and shown.get("split") is not None and said["split"] != shown["split"]:
        problems.append(
            f"the header puts the out-of-sample start at {said['split']} but the equity plot "
            f"starts it at {shown['split']}"
        )
    if shown.get("in_end") and shown.get("split") and shown["in_end"] >= shown["split"]:
        problems.append(
            f"the in-sample curve (to {shown['in_end']}) runs into the out-of-sample region "
            f"(from {shown['split']})"
        )
    return problems
