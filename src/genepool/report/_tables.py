"""The trades and hall-of-fame sections: tables a trader reads first."""

from __future__ import annotations

import math
from types import ModuleType

import pandas as pd

from ._data import TRADE_COLUMNS, ReportData
from ._format import fmt_price, price_decimals
from ._markup import MAX_TABLE_ROWS, esc, table
from ._markup import empty as _empty
from ._markup import finite as _finite
from ._markup import p as _p
from ._markup import plural as _plural

__all__ = ["KEY_METRICS", "hall_of_fame", "paired_metrics_table", "trades"]


#: Trade columns the report does not show: bar numbers count from the start of the data a
#: segment was cut from, which a reader cannot map to a date; the times are shown instead.
HIDDEN_TRADE_COLUMNS = frozenset({"entry_bar", "exit_bar"})
PRICE_COLUMNS = ("entry_price", "exit_price")


def _trade_table(t: pd.DataFrame, what: str, decimals: int) -> str:
    if not len(t):
        return _empty(f"no {what} trades")
    columns = [c for c in TRADE_COLUMNS if c != "sample"]
    columns += [
        str(c) for c in t.columns if c not in TRADE_COLUMNS and str(c) not in HIDDEN_TRADE_COLUMNS
    ]
    parts = []
    if len(t) > MAX_TABLE_ROWS:
        parts.append(
            _p(
                f"Showing the first {MAX_TABLE_ROWS:,} of {len(t):,} {what} trades "
                f"({len(t) - MAX_TABLE_ROWS:,} left out).",
                "note truncated",
            )
        )
    formats = {c: (lambda v, d=decimals: fmt_price(v, d)) for c in PRICE_COLUMNS}
    parts.append(table(t[columns], max_rows=MAX_TABLE_ROWS, formats=formats))
    return "".join(parts)


def trades(data: ReportData, figures: ModuleType) -> str:
    t = data.trades
    if not len(t):
        return _empty("no trades")
    t = t.set_axis([str(c) for c in t.columns], axis=1)
    sample = t["sample"].astype(str)
    n_in, n_out = int((sample == "in").sum()), int((sample == "out").sum())
    pnl = _finite(t["pnl"])
    wins = float((pnl > 0).mean()) if pnl.size else math.nan
    summary = (
        f"{_plural(len(t), 'trade')} ({n_in:,} in sample, {n_out:,} out of sample); "
        f"win rate {'' if math.isnan(wins) else f'{wins:.1%}'}; total pnl {esc(pnl.sum())}."
    )
    decimals = price_decimals(pd.concat([t[c] for c in PRICE_COLUMNS]))
    summary += f" Prices with {decimals} decimals (the smallest price step in the data)."
    parts = [_p(summary)]
    rest = t[~sample.isin(["in", "out"])]
    if n_out or data.equity_out is not None:
        parts.append(f"<h3>Out of sample ({n_out:,})</h3>")
        parts.append(_trade_table(t[sample == "out"], "out-of-sample", decimals))
    parts.append(f"<h3>In sample ({n_in:,})</h3>")
    parts.append(_trade_table(t[sample == "in"], "in-sample", decimals))
    if len(rest):
        parts.append(f"<h3>Other ({len(rest):,})</h3>")
        parts.append(_trade_table(rest, "other", decimals))
    return "".join(parts)


#: Metrics shown first in the hall of fame, in this order (then the others).
KEY_METRICS = ("sharpe_ratio", "sharpe", "total_return", "max_drawdown", "n_trades")
_IN_AFFIXES = (("is_", ""), ("", "_in"), ("in_", ""))
_OUT_AFFIXES = (("oos_", ""), ("", "_out"), ("out_", ""))


def _pairs(columns: list[str]) -> list[tuple[str, str | None, str | None]]:
    """``(metric, in-sample column, out-of-sample column)`` of metric columns named
    ``is_x``/``oos_x`` or ``x_in``/``x_out``, key metrics first."""
    found: dict[str, list[str | None]] = {}
    for c in columns:
        for side, affixes in ((0, _IN_AFFIXES), (1, _OUT_AFFIXES)):
            for pre, suf in affixes:
                if c.startswith(pre) and c.endswith(suf) and len(c) > len(pre) + len(suf):
                    name = c[len(pre) : len(c) - len(suf)]
                    found.setdefault(name, [None, None])[side] = c
                    break
            else:
                continue
            break

    def order(name: str) -> int:
        return KEY_METRICS.index(name) if name in KEY_METRICS else len(KEY_METRICS)

    names = sorted(found, key=order)  # stable: the others keep their column order
    return [(n, found[n][0], found[n][1]) for n in names]


_SHORT = {
    "sharpe_ratio": "Sharpe",
    "total_return": "return",
    "max_drawdown": "max DD",
    "n_trades": "trades",
}


def hall_of_fame(data: ReportData, figures: ModuleType) -> str:
    hof = data.hall_of_fame
    if not len(hof):
        return _empty("no strategies in the hall of fame")
    return paired_metrics_table(hof, ("rank",), "strategies")


def paired_metrics_table(df: pd.DataFrame, lead: tuple[str, ...], what: str) -> str:
    """``df``'s ``lead`` columns, its other columns (parameters), ``fitness``, then each
    metric in and out of sample side by side (``is_x``/``oos_x``), key metrics first."""
    hof = df.set_axis([str(c) for c in df.columns], axis=1)
    columns = list(hof.columns)
    pairs = _pairs(columns)
    paired = {c for _, a, b in pairs for c in (a, b) if c is not None}
    lead = tuple(c for c in lead if c in columns)
    params = [c for c in columns if c not in paired and c not in lead and c != "fitness"]
    order = list(lead) + params + [c for c in ("fitness",) if c in columns]
    labels, classes = {}, {}
    for name, a, b in pairs:
        short = _SHORT.get(name, name)
        for col, side in ((a, "IS"), (b, "OOS")):
            if col is not None:
                order.append(col)
                labels[col] = f"{short} {side}"
                classes[col] = "oos" if side == "OOS" else ""
        if b is not None:
            classes[b] = "oos"
    parts = [
        _p(
            "In- and out-of-sample metrics side by side (IS | OOS; out of sample shaded), "
            "key metrics first; hover a header for the column's name in the files.",
            "note",
        )
    ]
    if len(hof) > MAX_TABLE_ROWS:
        parts.append(
            _p(
                f"Showing the first {MAX_TABLE_ROWS:,} of {len(hof):,} {what} "
                f"({len(hof) - MAX_TABLE_ROWS:,} left out).",
                "note truncated",
            )
        )
    parts.append(
        table(
            hof[order],
            max_rows=MAX_TABLE_ROWS,
            index_name=None if lead else "#",
            labels=labels,
            classes={k: v for k, v in classes.items() if v},
        )
    )
    return "".join(parts)
