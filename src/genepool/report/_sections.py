"""The body of each report section, as HTML (figures drawn by :mod:`._figures`)."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from ._check import plotted_facts
from ._data import ReportData
from ._format import (
    flatten_config,
    fmt_bytes,
    fmt_config_value,
    is_number,
)
from ._markup import MAX_TABLE_ROWS, NA, esc, img, kv_table, table
from ._markup import empty as _empty
from ._markup import finite as _finite
from ._markup import p as _p
from ._markup import plural as _plural
from ._tables import hall_of_fame, paired_metrics_table, trades

__all__ = [
    "MAX_TABLE_ROWS",
    "SECTION_TITLES",
    "section_bodies",
    "section_title",
    "summary_line",
]


SECTION_TITLES = {
    "verdict": "Verdict",
    "convergence": "Convergence",
    "memory": "Memory",
    "equity": "Equity of the best strategy",
    "parameters": "Parameters of the final population",
    "trades": "Trades of the best strategy",
    "hall-of-fame": "Hall of fame",
    "walk-forward": "Walk-forward",
    "front": "Pareto front in and out of sample",
    "symbols": "Symbols of the universe",
    "configuration": "Configuration",
}


def section_title(sid: str, data: ReportData) -> str:
    """The heading of section ``sid``: a multi-objective run's equity and trades are those of
    its recommended pick, not of a best strategy."""
    title = SECTION_TITLES[sid]
    if data.front is not None:
        title = title.replace("the best strategy", "the recommended pick")
    return title


#: Report order: results, then the search, then the settings.
SECTION_ORDER = (
    "verdict",
    "front",
    "walk-forward",
    "symbols",
    "equity",
    "trades",
    "hall-of-fame",
    "convergence",
    "parameters",
    "memory",
    "configuration",
)

_VERDICT_KEYS = ("text", "significant", "dsr", "pbo")


def _yes_no(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    return "yes" if bool(value) else "no"


def verdict(data: ReportData, figures: ModuleType) -> str:
    v = data.verdict
    sig = _yes_no(v.get("significant"))
    chips = [
        f'<span class="chip chip-{sig}">significant: <b>{sig}</b></span>',
        f'<span class="chip">deflated Sharpe ratio (DSR): <b>{_chip_value(v.get("dsr"))}'
        "</b></span>",
        f'<span class="chip">probability of backtest overfitting (PBO): '
        f"<b>{_chip_value(v.get('pbo'))}</b></span>",
    ]
    parts = [
        _p(esc(v["text"]), f"verdict verdict-{sig}"),
        f'<div class="chips">{"".join(chips)}</div>',
    ]

    params = data.best["params"]
    params_html = kv_table(params.items()) if params else _empty("no parameters")
    ins = data.best["in_sample"]
    oos = data.best.get("out_of_sample")
    names = list(ins) + [k for k in (oos or {}) if k not in ins]
    if not names:
        metrics_html = _empty("no metrics")
    else:
        cols = ["metric", "in sample"] + (["out of sample"] if oos is not None else [])
        head = "".join(f"<th>{c}</th>" for c in cols)
        rows = []
        for k in names:
            cells = [f"<th>{esc(k)}</th>", _metric_cell(ins.get(k), k in ins)]
            if oos is not None:
                cells.append(_metric_cell(oos.get(k), k in oos))
            rows.append(f"<tr>{''.join(cells)}</tr>")
        metrics_html = (
            f'<div class="table-wrap"><table class="metrics"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
        if oos is None:
            metrics_html += _p("No out-of-sample split in this run.", "note")
        elif data.walk_forward is not None:
            metrics_html += _p(
                "Walk-forward: the parameters and in-sample metrics are the last fold's; out "
                "of sample is the stitched test segments of all folds.",
                "note",
            )
    which = "the best strategy" if data.front is None else "the recommended pick"
    parts.append(
        '<div class="cols">'
        f"<div><h3>{'Best parameters' if data.front is None else 'Parameters of the pick'}"
        f"</h3>{params_html}</div>"
        f"<div><h3>Key metrics of {which}</h3>{metrics_html}</div>"
        "</div>"
    )
    extra = [(k, _verdict_value(val)) for k, val in v.items() if k not in _VERDICT_KEYS]
    if extra:
        parts.append(f"<h3>Other statistics</h3>{kv_table(extra)}")
    return "".join(parts)


def _chip_value(value: Any) -> str:
    if is_number(value) and not math.isfinite(float(value)):
        return NA
    return esc(value)


def _verdict_value(value: Any) -> Any:
    if value is None or is_number(value) or isinstance(value, (bool, np.bool_, str)):
        return value
    return fmt_config_value(value)


def _metric_cell(value: Any, recorded: bool = False) -> str:
    """A metric's cell: "n/a" when recorded but undefined (None, NaN or infinite: JSON stores
    an infinite Sharpe ratio as null), a dash when not recorded at all."""
    if value is None:
        if recorded:
            return f'<td class="num missing" title="undefined">{NA}</td>'
        return '<td class="num missing">\u2014</td>'
    if is_number(value) and not math.isfinite(float(value)):
        return f'<td class="num missing" title="{esc(value)}">{NA}</td>'
    return f'<td class="num">{esc(value)}</td>'


def _better(sense: str, name: str = "") -> str:
    if name == "max_drawdown" and sense == "maximize":  # <= 0: the shallower, the better
        return "nearer 0 is better: the shallower drawdown"
    return "higher is better" if sense == "maximize" else "lower is better"


def front(data: ReportData, figures: ModuleType) -> str:
    """The front of a multi-objective run: in sample and where the same strategies land out
    of sample, the pick highlighted; then the objectives of each as a table."""
    fr = data.front
    assert fr is not None
    if not len(fr):
        return _empty("no valid strategy: the front is empty")
    names = [n for n, _ in data.objectives]
    has_oos = all(f"oos_{n}" in fr.columns for n in names)
    senses = ", ".join(f"{n} ({_better(s, n)})" for n, s in data.objectives)
    many = "strategy" if len(fr) == 1 else "strategies"
    text = (
        f"{len(fr):,} {many} of the front found in sample (blue)"
        + (", each joined to where it lands out of sample (red)" if has_oos else "")
        + f". Objectives: {senses}. The star is the recommended pick"
        + (f": {data.front_note}" if data.front_note else "")
        + ". The pick's verdict, equity and trades are in the other sections."
    )
    if len(names) > 2:
        text += " With more than two objectives each pair of objectives has its panel."
    png = figures.front_png(fr, list(data.objectives), has_oos)
    objective_columns = {f"{side}_{n}" for n in names for side in ("is", "oos")}
    genes = [c for c in fr.columns if c != "pick" and c not in objective_columns]
    rows = []
    for i in range(len(fr)):
        row = {"": "pick" if bool(fr["pick"].iloc[i]) else ""}
        row.update({str(g): fr[g].iloc[i] for g in genes})
        for n in names:
            row[f"{n} IS"] = fr[f"is_{n}"].iloc[i]
            if has_oos:
                row[f"{n} OOS"] = fr[f"oos_{n}"].iloc[i]
        rows.append(row)
    classes = {f"{n} OOS": "oos" for n in names} if has_oos else {}
    return (
        img(png, "the Pareto front in sample and out of sample")
        + _p(text)
        + table(pd.DataFrame(rows), max_rows=MAX_TABLE_ROWS, classes=classes)
    )


def convergence(data: ReportData, figures: ModuleType) -> str:
    h = data.history
    if not len(h):
        return _empty("no generations recorded")
    h = h.sort_values("generation", kind="stable")

    def at(column: str, row: int) -> str:
        return esc(h[column].iloc[row])

    if data.front is not None:  # a multi-objective run: the hypervolume of its front
        text = (
            f"{_plural(len(h), 'generation')}; the hypervolume of the population's first front "
            f"(in sample, against a reference point fixed in generation 1) went from "
            f"{at('best', 0)} (generation {at('generation', 0)}) to {at('best', -1)} "
            f"(generation {at('generation', -1)})."
        )
        return img(
            figures.convergence_png(h, label="hypervolume"),
            "hypervolume of the first front per generation",
            {"generations": len(h)},
        ) + _p(text)

    folds = h["fold"].nunique() if "fold" in h.columns else 1
    if folds > 1:
        text = (
            f"{_plural(len(h), 'generation')} in {folds:,} walk-forward folds, one after "
            "the other (dotted lines mark where each fold starts); the last fold's best is "
            f"{at('best', -1)}. "
        )
    else:
        text = (
            f"{_plural(len(h), 'generation')}; best went from {at('best', 0)} (generation "
            f"{at('generation', 0)}) to {at('best', -1)} (generation {at('generation', -1)}); "
            f"final mean {at('mean', -1)} \u00b1 {at('std', -1)}. "
        )
    text += "The band is the mean \u00b1 one standard deviation."
    return img(
        figures.convergence_png(h),
        "best and mean fitness per generation",
        {"generations": len(h)},
    ) + _p(text)


def memory(data: ReportData, figures: ModuleType) -> str:
    m = data.memory
    limit = data.memory_limit
    budget = f" Budget {esc(fmt_bytes(limit))}." if limit is not None else ""
    if not len(m):
        return _empty("no memory samples") + (_p(budget.strip(), "note") if budget else "")
    anon = pd.to_numeric(m["anon"], errors="coerce") if "anon" in m.columns else None
    budgeted = anon is not None and anon.notna().any()
    rss = anon if budgeted else pd.to_numeric(m["rss"], errors="coerce")
    assert rss is not None
    what = "anonymous memory" if budgeted else "RSS"
    if rss.notna().any():
        at = m["generation"].iloc[int(np.nanargmax(rss.to_numpy(dtype=np.float64)))]
        peak = float(rss.max())
        text = f"Peak {what} {esc(fmt_bytes(peak))} at generation {esc(at)}"
        if limit is not None:
            text += f", {peak / limit:.0%} of the budget of {esc(fmt_bytes(limit))}"
        text += "."
        if budgeted and "file" in m.columns:
            f = _finite(m["file"])
            if f.size:
                text += (
                    f" File-backed memory (memory-mapped data and libraries, which the kernel "
                    f"reclaims; not budgeted) up to {esc(fmt_bytes(float(f.max())))}."
                )
    else:
        text = f"No finite {what} values recorded." + budget
    if "chunk_size" in m.columns:
        c = _finite(m["chunk_size"])
        c = c[c > 0]
        if c.size:
            sizes = (
                f"{int(c.min()):,}"
                if c.min() == c.max()
                else f"{int(c.min()):,} to {int(c.max()):,}"
            )
            text += f" Chunk size {sizes} individuals (lower panel)."
    return img(figures.memory_png(m, limit), "memory per generation") + _p(text)


def _equity_text(name: str, s: pd.Series) -> str:
    v = _finite(s)
    if not v.size:
        return f"{name}: {len(s):,} bars, no finite values"
    peak = np.maximum.accumulate(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, v / peak - 1.0, np.nan)
    text = f"{name}: {len(s):,} bars, {esc(v[0])} \u2192 {esc(v[-1])}"
    if np.isfinite(dd).any():
        text += f", max drawdown {float(np.nanmin(dd)):.1%}"
    return text


def _continue_scale(data: ReportData) -> float | None:
    """Factor that continues the out-of-sample curve from the in-sample end value, or None."""
    if data.initial_cash is None or data.equity_out is None or not len(data.equity_out):
        return None
    v = _finite(data.equity_in)
    if not v.size or not v[-1] > 0:
        return None
    return float(v[-1]) / float(data.initial_cash)


def equity(data: ReportData, figures: ModuleType) -> str:
    eq_in, eq_out = data.equity_in, data.equity_out
    if not len(eq_in) and (eq_out is None or not len(eq_out)):
        return _empty("no equity data")
    scale = _continue_scale(data)
    text = _equity_text(data.equity_in_label or "In sample", eq_in) + "."
    if eq_out is not None and len(eq_out):
        text += " " + _equity_text("Out of sample (red, shaded, after the dashed line)", eq_out)
        if scale is not None:
            text += (
                f" on its own initial cash of {esc(data.initial_cash)}; drawn continuing from "
                f"the in-sample end value (scaled by {scale:.4g}), so the split shows no jump"
            )
        else:
            text += "; drawn as it is: it restarts at its own initial cash after the split"
        text += ". Each drawdown is measured from its own segment's peak."
    else:
        text += " No out-of-sample data."
    n = max(len(eq_in), len(eq_out) if eq_out is not None else 0)
    if n > figures.MAX_PLOT_POINTS:
        text += (
            f" Curves are drawn from the minimum and maximum of each of "
            f"{figures.MAX_PLOT_POINTS // 2:,} buckets, so peaks and drawdowns stay visible."
        )
    alt = "equity and drawdown of the best strategy"
    shown = plotted_facts(data)
    attrs = {"split": shown.get("split"), "in-end": shown.get("in_end")}
    png = figures.equity_png(eq_in, eq_out, scale=scale)
    return img(png, alt, attrs) + _p(text)


def parameters(data: ReportData, figures: ModuleType) -> str:
    pop = data.population
    if not len(pop):
        return _empty("empty population")
    genes = [str(c) for c in pop.columns if c != "fitness"]
    pop = pop.set_axis([str(c) for c in pop.columns], axis=1)
    shown = genes[: figures.MAX_GENE_PANELS]
    text = (
        f"Final population of {len(pop):,} individuals, {len(genes):,} "
        f"gene{'s' if len(genes) != 1 else ''}. Numbers as histograms, categories and booleans "
        "as bar charts; the best strategy's value is marked in orange."
    )
    if len(genes) > len(shown):
        rest = ", ".join(genes[len(shown) :])
        text += f" Not drawn ({len(genes) - len(shown):,} more genes): {esc(rest)}."
    params = {str(k): v for k, v in data.best["params"].items()}
    if "fitness" in pop.columns and "fitness" not in params:
        best_fit = data.best.get("fitness")
        if best_fit is None or not is_number(best_fit):
            fit = _finite(pop["fitness"])
            best_fit = data.direction.best_of(fit) if fit.size else None
        if best_fit is not None:
            params["fitness"] = best_fit
            text += f" The best fitness is {esc(best_fit)}."
    png = figures.parameters_png(pop, params, shown)
    return img(png, "distribution of each gene in the final population") + _p(text)


def _walk_forward_metrics(data: ReportData, wf: pd.DataFrame) -> list[str]:
    if data.walk_forward_metrics is not None:
        return [str(c) for c in data.walk_forward_metrics]
    skip = {"fold", "train_start", "train_end", "test_start", "test_end"}
    numeric = [
        str(c)
        for c in wf.columns
        if str(c) not in skip
        and pd.api.types.is_numeric_dtype(wf[c].dtype)
        and not pd.api.types.is_bool_dtype(wf[c].dtype)
    ]
    oos = [c for c in numeric if c.lower().startswith(("test", "oos", "out"))]
    return oos or numeric


def walk_forward(data: ReportData, figures: ModuleType) -> str:
    wf = data.walk_forward
    assert wf is not None
    if not len(wf):
        return _empty("no walk-forward folds")
    wf = wf.set_axis([str(c) for c in wf.columns], axis=1)
    metrics = _walk_forward_metrics(data, wf)
    parts = []
    if "status" in wf.columns:
        status = wf["status"].astype(str)
        bad = status != "complete"
        if bad.any():
            folds = ", ".join(
                f"{esc(f)} ({esc(st)})" for f, st in zip(wf["fold"][bad], status[bad])
            )
            parts.append(
                _p(
                    f"{int(bad.sum()):,} of {len(wf):,} folds did not end complete: {folds}. "
                    "Their metrics are of the best invalid strategy, or n/a where undefined.",
                    "note truncated",
                )
            )
    if metrics:
        shown = metrics[:4]
        parts.append(
            img(
                figures.walk_forward_png(wf, shown),
                "out-of-sample metrics per fold",
                {"folds": len(wf)},
            )
        )
        parts.append(_p(f"Per fold: {esc(', '.join(shown))}. Grey bars are n/a.", "note"))
    parts.append(table(wf, max_rows=MAX_TABLE_ROWS))
    return "".join(parts)


def symbols(data: ReportData, figures: ModuleType) -> str:
    """A universe run: the best strategy's Sharpe ratio on each symbol in and out of sample
    (sorted by in sample), and the per-symbol metrics of the best strategies."""
    table = data.symbols
    assert table is not None
    if not len(table):
        return _empty("no per-symbol metrics")
    table = table.set_axis([str(c) for c in table.columns], axis=1)
    best = table[table["rank"] == table["rank"].min()]
    n_ranks = table["rank"].nunique()
    parts = []
    if data.symbols_note:
        parts.append(_p(esc(data.symbols_note)))
    if "is_sharpe_ratio" in best.columns:
        parts.append(
            img(
                figures.symbols_png(best),
                "the best strategy's Sharpe ratio on each symbol, in and out of sample",
                {"symbols": len(best)},
            )
        )
        oos = "oos_sharpe_ratio" in best.columns
        parts.append(
            _p(
                f"The best strategy's Sharpe ratio on each of its {len(best):,} symbols, "
                "sorted by in sample (blue)"
                + (", out of sample in red" if oos else "")
                + f". The table: the metrics of the best {n_ranks:,} strategies (rank as in "
                "the hall of fame) on each symbol (symbols.parquet).",
                "note",
            )
        )
    parts.append(paired_metrics_table(table, ("rank", "symbol"), "rows"))
    return "".join(parts)


def configuration(data: ReportData, figures: ModuleType) -> str:
    rows = flatten_config(data.config)
    if not rows:
        return _empty("no configuration recorded")
    return kv_table((k, fmt_config_value(v)) for k, v in rows)


def section_bodies(data: ReportData, figures: ModuleType) -> list[tuple[str, str]]:
    """``(section id, inner HTML)`` of every section, in report order (:data:`SECTION_ORDER`);
    ``walk-forward`` only when the data has walk-forward folds."""
    # Results first (what a trader reads), then how the search went, then the settings.
    builders: list[tuple[str, Any]] = [("verdict", verdict)]
    if data.front is not None:
        builders.append(("front", front))
    if data.walk_forward is not None:
        builders.append(("walk-forward", walk_forward))
    if data.symbols is not None:
        builders.append(("symbols", symbols))
    builders += [
        ("equity", equity),
        ("trades", trades),
        ("hall-of-fame", hall_of_fame),
        ("convergence", convergence),
        ("parameters", parameters),
        ("memory", memory),
        ("configuration", configuration),
    ]
    return [(sid, build(data, figures)) for sid, build in builders]


def summary_line(data: ReportData) -> str:
    """One line under the title: generations, population, bars, trades."""
    bits = [_plural(len(data.history), "generation")]
    if data.walk_forward is not None:
        bits.append(_plural(len(data.walk_forward), "walk-forward fold"))
    bits.append(f"population {len(data.population):,}")
    bars = f"{len(data.equity_in):,} bars in sample"
    if data.equity_out is not None:
        bars += f", {len(data.equity_out):,} out of sample"
    bits += [bars, _plural(len(data.trades), "trade")]
    return " \u00b7 ".join(bits)
