"""The report's figures: matplotlib (Agg, no pyplot) drawn into PNG bytes.

Every function takes validated report data and returns the PNG of one figure. Figures are
built on :class:`matplotlib.figure.Figure` with an explicit Agg canvas, so no global pyplot
state is touched and nothing outlives the call.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ._format import fmt_bytes

__all__ = [
    "DPI",
    "MAX_GENE_PANELS",
    "MAX_PLOT_POINTS",
    "convergence_png",
    "equity_png",
    "front_png",
    "memory_png",
    "minmax_indices",
    "parameters_png",
    "symbols_png",
    "walk_forward_png",
]

DPI = 100
#: Series longer than this are downsampled (min and max of each bucket) before plotting.
MAX_PLOT_POINTS = 4000
#: At most this many gene panels in the parameter grid (the rest are named in the HTML).
MAX_GENE_PANELS = 48

IN_COLOR = "#1f77b4"
OUT_COLOR = "#d62728"
OUT_SHADE = "#fbe3e3"
BUDGET_COLOR = "#d62728"
BEST_COLOR = "#ff7f0e"


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No "Software" tag: the bytes depend on the data only.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return buf.getvalue()


def _text(s: object, width: int = 0) -> str:
    """User text for a matplotlib label: ``$`` would start mathtext, so it is escaped."""
    t = str(s)
    if width and len(t) > width:
        t = t[: width - 1] + "\u2026"
    return t.replace("$", r"\$")


def _style(ax: Any) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def minmax_indices(y: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Indices of ``y`` to plot: all of them when ``len(y) <= max_points``, else the position
    of the minimum and of the maximum of each of ``max_points // 2`` equal buckets, in order.

    Keeping both extremes of every bucket keeps peaks and drawdowns visible; NaN is ignored
    (a bucket of NaN only keeps one NaN, which draws as a gap). The first and last index are
    always kept.

    Parameters
    ----------
    y : ndarray of shape (n,)
    max_points : int

    Returns
    -------
    ndarray of shape (m,), int64, strictly increasing, ``m <= max_points + 2``
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    if n <= max_points:
        return np.arange(n)
    n_buckets = max(1, max_points // 2)
    k = math.ceil(n / n_buckets)
    n_buckets = math.ceil(n / k)
    padded = np.full(n_buckets * k, np.nan)
    padded[:n] = y
    rows = padded.reshape(n_buckets, k)
    nan = np.isnan(rows)
    lo = np.where(nan, np.inf, rows).argmin(axis=1)
    hi = np.where(nan, -np.inf, rows).argmax(axis=1)
    base = np.arange(n_buckets) * k
    idx = np.concatenate([base + lo, base + hi, [0, n - 1]])
    return np.unique(idx[idx < n])


def _finite(series: pd.Series | None) -> np.ndarray:
    if series is None:
        return np.empty(0)
    v = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    return v[np.isfinite(v)]


def _axis_number(v: float, _pos: object = None) -> str:
    """Tick label: ``12,500``, ``1.25M``, ``3B``, ``0.95``."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.4g}B"
    if a >= 1e6:
        return f"{v / 1e6:.4g}M"
    if a >= 1e3:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _drawdown(v: np.ndarray) -> np.ndarray:
    """Fraction below the running peak (<= 0); NaN where the peak is not positive."""
    peak = np.fmax.accumulate(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, v / peak - 1.0, np.nan)
    return dd


def convergence_png(history: pd.DataFrame, label: str | None = None) -> bytes:
    """Best and mean fitness per generation with a band of +-1 standard deviation; with
    ``label`` (e.g. ``"hypervolume"``) only ``best``, drawn and named as that."""
    h = history.sort_values("generation", kind="stable")
    g = pd.to_numeric(h["generation"], errors="coerce").to_numpy(dtype=np.float64)
    best, mean, std = (
        pd.to_numeric(h[c], errors="coerce").to_numpy(dtype=np.float64)
        for c in ("best", "mean", "std")
    )
    best, mean, std = (np.where(np.isfinite(a), a, np.nan) for a in (best, mean, std))
    marker = "o" if len(g) <= 30 else None
    fig = _figure(10, 3.8)
    ax = fig.add_subplot()
    if label is None:
        ax.fill_between(
            g, mean - std, mean + std, color=IN_COLOR, alpha=0.18, linewidth=0,
            label="mean \u00b1 std",
        )  # fmt: skip
    segments = [np.arange(len(g))]
    if "fold" in h.columns and h["fold"].nunique() > 1:
        # Folds one after the other: one line per fold, a dotted line where each starts.
        fold = h["fold"].to_numpy()
        starts = np.flatnonzero(np.r_[True, fold[1:] != fold[:-1]])
        segments = np.split(np.arange(len(g)), starts[1:])
        for i in starts:
            ax.axvline(g[i] - 0.5, color="#888888", linestyle=":", linewidth=1.0)
            ax.annotate(
                _text(f"fold {fold[i]}", 12),
                (g[i] - 0.4, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize=8,
                color="#555555",
            )
    for k, seg in enumerate(segments):
        if label is None:
            ax.plot(
                g[seg], mean[seg], color=IN_COLOR, linewidth=1.3, marker=marker, markersize=3,
                label="mean" if k == 0 else None,
            )  # fmt: skip
        ax.plot(
            g[seg], best[seg], color=BEST_COLOR, linewidth=1.8, marker=marker, markersize=3,
            label=(label or "best") if k == 0 else None,
        )  # fmt: skip
    ax.set_xlabel("generation")
    ax.set_ylabel(label or "fitness")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(g) == 1:
        ax.set_xlim(g[0] - 1, g[0] + 1)
    _style(ax)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def _byte_unit(peak: float) -> tuple[float, str]:
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if peak >= scale:
            return float(scale), unit
    return 1.0, "B"


def _memory_column(m: pd.DataFrame, name: str) -> np.ndarray | None:
    """A column of byte counts as floats, None when absent or without a finite value."""
    if name not in m.columns:
        return None
    v = pd.to_numeric(m[name], errors="coerce").to_numpy(dtype=np.float64)
    return v if np.isfinite(v).any() else None


def memory_png(memory: pd.DataFrame, limit: int | None) -> bytes:
    """Budgeted memory per generation with the budget line; chunk sizes in a second panel
    when known.

    The budgeted line is anonymous memory (``anon``) when the samples have it, with the
    file-backed residency (``file``: memory-mapped data) as a second, lighter line; older
    samples have only the RSS, which is drawn as before.
    """
    m = memory.sort_values("generation", kind="stable")
    g = pd.to_numeric(m["generation"], errors="coerce").to_numpy(dtype=np.float64)
    anon = _memory_column(m, "anon")
    file_backed = _memory_column(m, "file") if anon is not None else None
    rss = (
        anon
        if anon is not None
        else pd.to_numeric(m["rss"], errors="coerce").to_numpy(dtype=np.float64)
    )
    chunks = None
    if "chunk_size" in m.columns:
        c = pd.to_numeric(m["chunk_size"], errors="coerce").to_numpy(dtype=np.float64)
        c = np.where(c > 0, c, np.nan)
        if np.isfinite(c).any():
            chunks = c
    finite = rss[np.isfinite(rss)]
    peak = max(float(finite.max()) if finite.size else 0.0, float(limit or 0))
    if file_backed is not None:
        peak = max(peak, float(np.nanmax(file_backed)))
    scale, unit = _byte_unit(peak)
    marker = "o" if len(g) <= 30 else None

    fig = _figure(10, 4.6 if chunks is not None else 3.4)
    if chunks is not None:
        ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    else:
        ax, ax2 = fig.add_subplot(), None
    label = "anonymous memory (budgeted)" if anon is not None else "RSS"
    ax.plot(
        g, rss / scale, color=IN_COLOR, linewidth=1.5, marker=marker, markersize=3, label=label
    )
    if file_backed is not None:
        ax.plot(
            g,
            file_backed / scale,
            color=IN_COLOR,
            alpha=0.4,
            linewidth=1.2,
            linestyle="-.",
            label="file-backed (memory-mapped data, reclaimable)",
        )
    if limit is not None:
        ax.axhline(
            limit / scale,
            color=BUDGET_COLOR,
            linestyle="--",
            linewidth=1.3,
            label=f"budget {fmt_bytes(limit)}",
        )
    if peak > 0:
        ax.set_ylim(0, peak / scale * 1.08)
    ax.set_ylabel(f"{'memory' if anon is not None else 'RSS'} ({unit})")
    _style(ax)
    ax.legend(fontsize=8, loc="best")
    if ax2 is not None:
        ax2.step(g, chunks, where="mid", color="#2ca02c", linewidth=1.3)
        if len(g) <= 30:
            ax2.plot(g, chunks, "o", color="#2ca02c", markersize=3)
        ax2.set_ylabel("chunk size")
        ax2.set_ylim(bottom=0)
        ax2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        _style(ax2)
    (ax2 or ax).set_xlabel("generation")
    (ax2 or ax).xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(g) == 1:
        (ax2 or ax).set_xlim(g[0] - 1, g[0] + 1)
    return _png(fig)


def _equity_x(
    equity_in: pd.Series, equity_out: pd.Series | None
) -> tuple[np.ndarray, np.ndarray, str]:
    """x values of both segments: timestamps when both have a DatetimeIndex, else bar numbers
    with the out-of-sample bars following the in-sample ones."""
    idx_in = equity_in.index
    idx_out = equity_out.index if equity_out is not None else None
    if isinstance(idx_in, pd.DatetimeIndex) and (
        idx_out is None or isinstance(idx_out, pd.DatetimeIndex)
    ):

        def naive(ix: pd.DatetimeIndex) -> np.ndarray:
            return (ix.tz_convert(None) if ix.tz is not None else ix).to_numpy()

        x_out = naive(idx_out) if idx_out is not None else np.array([], dtype="datetime64[ns]")
        return naive(idx_in), x_out, "time"
    n_in = len(equity_in)
    n_out = len(equity_out) if equity_out is not None else 0
    return np.arange(n_in), np.arange(n_in, n_in + n_out), "bar"


def equity_png(
    equity_in: pd.Series, equity_out: pd.Series | None, scale: float | None = None
) -> bytes:
    """Equity and drawdown of the best strategy; out of sample in its own colour on a shaded
    background after a vertical split line. Each segment's drawdown is from its own peak.

    ``scale`` (the in-sample end value over the initial cash) continues the out-of-sample
    curve from where the in-sample one ends; without it the out-of-sample curve restarts at
    its own initial cash, which the legend says."""
    x_in, x_out, xlabel = _equity_x(equity_in, equity_out)
    out_label = "out of sample"
    if equity_out is not None and scale is not None:
        equity_out = equity_out * scale
        out_label = "out of sample (continued from the in-sample end)"
    elif equity_out is not None:
        out_label = "out of sample (restarts at the initial cash)"
    fig = _figure(10, 5.2)
    ax, axd = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    segments = [(x_in, equity_in, IN_COLOR, "in sample")]
    if equity_out is not None and len(equity_out):
        segments.append((x_out, equity_out, OUT_COLOR, out_label))
        for a in (ax, axd):
            a.axvspan(x_out[0], x_out[-1], color=OUT_SHADE, linewidth=0, zorder=0)
            a.axvline(x_out[0], color="#555555", linestyle="--", linewidth=1.0, zorder=1)
    for x, series, color, label in segments:
        v = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        v = np.where(np.isfinite(v), v, np.nan)
        dd = _drawdown(v)
        marker = "o" if len(v) <= 30 else None
        keep = minmax_indices(v)
        ax.plot(
            x[keep], v[keep], color=color, linewidth=1.1, marker=marker, markersize=3, label=label
        )
        keep = minmax_indices(dd)
        axd.fill_between(x[keep], dd[keep] * 100, 0, color=color, alpha=0.35, linewidth=0)
        axd.plot(x[keep], dd[keep] * 100, color=color, linewidth=0.8, marker=marker, markersize=2)
    ax.set_ylabel("portfolio value")
    values = np.concatenate([_finite(equity_in), _finite(equity_out)])
    if values.size and values.min() > 0 and values.max() / values.min() > 20:
        # A curve that grows by orders of magnitude is unreadable on a linear axis.
        ax.set_yscale("log")
        ax.set_ylabel("portfolio value (log scale)")
    ax.yaxis.set_major_formatter(FuncFormatter(_axis_number))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    axd.set_ylabel("drawdown (%)")
    axd.set_xlabel(xlabel)
    for a in (ax, axd):
        _style(a)
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def _is_number(v: Any) -> bool:
    try:
        return math.isfinite(float(v)) and not isinstance(v, (bool, np.bool_))
    except (TypeError, ValueError):
        return False


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)


def _category_panel(ax: Any, s: pd.Series, best: Any, has_best: bool) -> None:
    labels = s.map(lambda v: "NaN" if v is None or (isinstance(v, float) and v != v) else str(v))
    counts = labels.value_counts(sort=True)
    if len(counts) > 12:
        rest = int(counts.iloc[11:].sum())
        counts = pd.concat([counts.iloc[:11], pd.Series({f"other ({len(counts) - 11})": rest})])
    else:
        counts = counts.sort_index()
    best_label = str(best) if has_best else None
    colors = [BEST_COLOR if lab == best_label else IN_COLOR for lab in counts.index]
    pos = np.arange(len(counts))
    ax.bar(pos, counts.to_numpy(), color=colors, width=0.8)
    ax.set_xticks(
        pos,
        [_text(lab, 12) for lab in counts.index],
        rotation=30 if len(counts) > 3 else 0,
        ha="right" if len(counts) > 3 else "center",
    )


def _numeric_panel(ax: Any, s: pd.Series, best: Any, has_best: bool, trim: bool) -> str:
    """Histogram of the finite values; returns a note for the panel title."""
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    finite = v[np.isfinite(v)]
    note = ""
    if finite.size < v.size:
        note = f"{v.size - finite.size:,} non-finite"
    if trim and finite.size >= 4:
        # Sentinel fitness values (penalized individuals) would squash the histogram.
        q1, q3 = np.percentile(finite, [25, 75])
        iqr = q3 - q1
        if iqr > 0:
            inside = (finite >= q1 - 10 * iqr) & (finite <= q3 + 10 * iqr)
            if not inside.all():
                out = int((~inside).sum())
                note = f"{note}, " if note else ""
                note += f"{out:,} outliers"
                finite = finite[inside]
    if finite.size == 0:
        ax.text(
            0.5,
            0.5,
            "no finite values",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=9,
            color="#777777",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return note
    lo, hi = float(finite.min()), float(finite.max())
    integral = pd.api.types.is_integer_dtype(s.dtype) or bool(np.all(finite == np.round(finite)))
    if lo == hi:
        bins: Any = [lo - 0.5, lo + 0.5]
        note = f"{note}, constant" if note else "constant"
    elif integral and hi - lo <= 60:
        bins = np.arange(lo - 0.5, hi + 1.5)
    else:
        bins = 30
    ax.hist(finite, bins=bins, color=IN_COLOR, edgecolor="white", linewidth=0.4)
    if has_best:
        try:
            b = float(best)
        except (TypeError, ValueError):
            b = math.nan
        if math.isfinite(b):
            ax.axvline(b, color=BEST_COLOR, linewidth=1.6)
    return note


def parameters_png(
    population: pd.DataFrame, best_params: Mapping[str, Any], genes: Sequence[str]
) -> bytes:
    """A grid of small panels: a histogram per numeric gene, a bar chart per categorical or
    boolean gene, then the fitness; the best strategy's value is marked in orange."""
    names = [*genes, "fitness"] if "fitness" in population.columns else list(genes)
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = _figure(3.0 * ncols + 0.4, 2.6 * nrows + 0.2)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, name in zip(axes, names):
        s = population[name]
        has_best = name in best_params
        best: Any = best_params.get(name)
        if _is_categorical(s):
            _category_panel(ax, s, best, has_best)
            note = ""
        else:
            note = _numeric_panel(ax, s, best, has_best, trim=name == "fitness")
        title = _text(name, 28) + (f" ({note})" if note else "")
        if has_best and name == "fitness":
            title += f" (best {_axis_number(float(best))})" if _is_number(best) else ""
        ax.set_title(title, fontsize=11, loc="left")
        _style(ax)
        ax.tick_params(labelsize=10)
        if not _is_categorical(s):
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    return _png(fig)


def walk_forward_png(wf: pd.DataFrame, metrics: Sequence[str]) -> bytes:
    """One bar per fold for each out-of-sample metric (green >= 0, red < 0)."""
    metrics = list(metrics)[:4]
    n = len(metrics)
    fig = _figure(10, 2.6 * n + 0.3)
    axes = np.atleast_1d(fig.subplots(n, 1, sharex=True, squeeze=False)).ravel()
    labels = [_text(f, 10) for f in wf["fold"]]
    pos = np.arange(len(wf))
    for ax, name in zip(axes, metrics):
        v = pd.to_numeric(wf[name], errors="coerce").to_numpy(dtype=np.float64)
        v = np.where(np.isfinite(v), v, np.nan)
        colors = np.where(np.isnan(v), "#aaaaaa", np.where(v >= 0, "#2ca02c", OUT_COLOR))
        ax.bar(pos, np.nan_to_num(v), color=colors, width=0.7)
        ax.axhline(0, color="#555555", linewidth=0.8)
        ax.set_title(_text(name, 60), fontsize=9, loc="left")
        _style(ax)
    step = max(1, math.ceil(len(pos) / 25))  # at most ~25 fold labels
    axes[-1].set_xticks(pos[::step], labels[::step])
    axes[-1].set_xlabel("fold")
    return _png(fig)


def symbols_png(best: pd.DataFrame, metric: str = "sharpe_ratio") -> bytes:
    """One strategy's ``metric`` per symbol: in sample (blue) and, when ``best`` has
    ``oos_<metric>``, out of sample (red) side by side, sorted by in sample; n/a grey."""
    vi = pd.to_numeric(best[f"is_{metric}"], errors="coerce").to_numpy(dtype=np.float64)
    order = np.argsort(np.where(np.isfinite(vi), -vi, np.inf), kind="stable")
    names = [_text(s, 12) for s in best["symbol"].to_numpy()[order]]
    vi = vi[order]
    oos = f"oos_{metric}" in best.columns
    vo = (
        pd.to_numeric(best[f"oos_{metric}"], errors="coerce").to_numpy(dtype=np.float64)[order]
        if oos
        else None
    )
    n = len(names)
    fig = _figure(min(4.0 + 0.35 * n, 14.0), 3.6)
    ax = fig.add_subplot(1, 1, 1)
    pos = np.arange(n)
    width = 0.4 if oos else 0.7
    for values, shift, color, label in (
        (vi, -width / 2 if oos else 0.0, IN_COLOR, "in sample"),
        (vo, width / 2, OUT_COLOR, "out of sample"),
    ):
        if values is None:
            continue
        bad = ~np.isfinite(values)
        colors = np.where(bad, "#aaaaaa", color)
        ax.bar(pos + shift, np.nan_to_num(values, posinf=0.0, neginf=0.0), width, color=colors,
               label=label)  # fmt: skip
    ax.axhline(0, color="#555555", linewidth=0.8)
    step = max(1, math.ceil(n / 40))  # at most ~40 symbol labels
    ax.set_xticks(pos[::step], names[::step], rotation=60 if n > 12 else 0, fontsize=7)
    ax.set_ylabel(_text(metric))
    ax.legend(fontsize=8, loc="best")
    _style(ax)
    return _png(fig)


def _objective_label(name: str, sense: str) -> str:
    better = "higher" if sense == "maximize" else "lower"
    if name == "max_drawdown" and sense == "maximize":  # <= 0: nearer 0 is shallower
        better = "nearer 0"
    return _text(f"{name} ({better} is better)", 48)


def front_png(front: pd.DataFrame, objectives: Sequence[tuple[str, str]], oos: bool) -> bytes:
    """The front of a multi-objective run: each strategy in sample (blue) joined by a line to
    the same strategy out of sample (red), the pick (``front['pick']``) as a star; one panel
    per pair of objectives (the first two only, side by side, up to three panels)."""
    names = [n for n, _ in objectives]
    sense = dict(objectives)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]][:3]
    fig = _figure(5.2 * len(pairs) if len(pairs) > 1 else 8.0, 5.0)
    pick = front["pick"].to_numpy(dtype=bool)
    for k, (a, b) in enumerate(pairs):
        ax = fig.add_subplot(1, len(pairs), k + 1)
        xi = pd.to_numeric(front[f"is_{a}"], errors="coerce").to_numpy(dtype=np.float64)
        yi = pd.to_numeric(front[f"is_{b}"], errors="coerce").to_numpy(dtype=np.float64)
        if oos:
            xo = pd.to_numeric(front[f"oos_{a}"], errors="coerce").to_numpy(dtype=np.float64)
            yo = pd.to_numeric(front[f"oos_{b}"], errors="coerce").to_numpy(dtype=np.float64)
            for i in range(len(front)):
                ax.plot([xi[i], xo[i]], [yi[i], yo[i]], color="#bbbbbb", linewidth=0.8,
                        zorder=1)  # fmt: skip
            ax.scatter(xo[~pick], yo[~pick], s=22, color=OUT_COLOR, zorder=2,
                       label="out of sample")  # fmt: skip
        ax.scatter(xi[~pick], yi[~pick], s=22, color=IN_COLOR, zorder=3, label="in sample")
        ax.scatter(xi[pick], yi[pick], s=190, marker="*", color=IN_COLOR, edgecolor="black",
                   linewidth=0.8, zorder=4, label="pick, in sample")  # fmt: skip
        if oos:
            ax.scatter(xo[pick], yo[pick], s=190, marker="*", color=OUT_COLOR,
                       edgecolor="black", linewidth=0.8, zorder=4,
                       label="pick, out of sample")  # fmt: skip
        ax.set_xlabel(_objective_label(a, sense[a]), fontsize=9)
        ax.set_ylabel(_objective_label(b, sense[b]), fontsize=9)
        _style(ax)
        if k == 0:
            ax.legend(fontsize=8, loc="best")
    return _png(fig)
