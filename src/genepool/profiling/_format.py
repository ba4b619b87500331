"""The profile as text (what ``genepool profile`` and ``--dry-run`` print) and as an HTML page
with its plot (``genepool profile --report FILE``)."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING

from ..memory._size import format_size

if TYPE_CHECKING:
    from .api import Profile

__all__ = ["format_profile", "write_html"]


def _dur(s: float) -> str:
    from .api import _duration

    return _duration(s)


def _stage_table(prof: Profile) -> list[str]:
    bars = prof.n_bars
    each = (
        "per strategy"
        if "Strategy" in prof.problem or "Metric" in prof.problem
        else "per candidate"
    )
    head = f"  {'stage':<17}{'s/gen':>10}{each:>15}"
    head += f"{'per strat-bar':>15}" if bars else ""
    head += f"{'CPU':>6}{'kept':>11}{'peak':>11}{'B/' + each.split()[1]:>13}"
    lines: list[str] = []
    for p in prof.probes:
        lines.append(
            f"probe at {p.size:,} ({p.generations} generations, {_dur(p.seconds_per_generation)}"
            f" per generation, spread {p.spread:.0%}, repeats {p.duplicate_rate:.0%}):"
        )
        lines.append(head)
        for s in p.stages:
            inner = s.stage not in ("ask", "evaluate", "tell", "bookkeeping")
            name = ("  " if inner else "") + s.stage
            row = f"  {name:<17}{_dur(s.seconds):>10}{_dur(s.seconds / p.size):>15}"
            if bars:
                row += f"{1e9 * s.seconds / (p.size * bars):>12.3f} ns"
            cpu = s.cpu_seconds / s.seconds if s.seconds > 0 else 0.0
            row += f"{cpu:>5.1f}x{format_size(max(s.kept, 0)):>11}{format_size(s.peak):>11}"
            row += f"{format_size(s.peak / p.size):>13}"
            lines.append(row)
    return lines


def format_profile(prof: Profile) -> str:
    """The report: the stage tables (profile), the projection, the recommendations."""
    pr = prof.projection
    what = f"{prof.problem} with {prof.optimizer}"
    if prof.n_bars:
        what += f", {prof.n_bars:,} bars"
    lines = []
    if prof.kind == "plan":
        lines.append(f"plan (dry run: nothing evolved, nothing written): {what}")
        sizes = ", ".join(f"{p.size:,}" for p in prof.probes)
        lines.append(f"measured at population {sizes} ({prof.probes[0].generations} generations "
                     f"each), projected to {pr.population:,}")  # fmt: skip
    else:
        lines.append(f"profile: {what}")
        lines += _stage_table(prof)
    jit = prof.jit
    if jit.cold:
        cold = (
            f"{_dur(jit.compile_seconds)} compiling {jit.compiled} kernel(s), peak "
            f"{format_size(jit.peak)} above the process: numba's cache was cold here (the run "
            f"will load them from it)"
        )
    else:
        cold = (
            f"none now: every kernel came from numba's cache (the first generation took "
            f"{_dur(jit.first_generation_extra)} longer: loading them, starting workers if any)"
        )
        if jit.cold_seconds is not None:
            cold += (
                f"; a cold start compiles for {_dur(jit.cold_seconds)} +- {jit.cold_band:.0%} "
                f"(measured in fresh processes, peak RSS {format_size(jit.cold_peak)})"
            )
        elif jit.cold_note:
            cold += f"; a cold start was not measured: {jit.cold_note}"
        else:
            cold += "; --cold-start (cold_start=True) measures a compile from an empty cache"
    lim = "none" if pr.memory_limit is None else format_size(pr.memory_limit)
    lines += [
        "",
        f"projected run: population {pr.population:,}, {pr.generations:,} generations, "
        f"memory limit {lim}",
        f"  peak memory (RSS)     {pr.peak_rss.bytes()}  (process {format_size(pr.base_rss)}, "
        f"population and history {format_size(pr.population_bytes.value)}, "
        f"fitness cache up to {format_size(pr.cache_bytes)} while it grows)",
        f"  evaluation            {pr.n_chunks:,} chunk(s) of up to {pr.chunk_size:,} "
        f"({format_size(pr.bytes_per_candidate)} of working memory per candidate)",
        f"  time per generation   {pr.seconds_per_generation.seconds()}",
        f"  whole run             {pr.seconds.seconds()}",
        f"  compile (JIT)         {cold}",
    ]
    if pr.disk:
        parts = ", ".join(f"{k} {format_size(v)}" for k, v in pr.disk.items())
        lines.append(f"  disk                  {format_size(pr.disk_total)} ({parts})")
    else:
        lines.append("  disk                  nothing (no run directory)")
    advice = next((r.flag for r in prof.recommendations if r.flag.startswith("--executor")), "")
    lines.append(
        f"  executor              {pr.executor} (as configured); advice {advice or 'none'}: "
        f"{pr.executor_reason}"
    )
    lines.append(
        f"  machine               {format_size(pr.available_memory)} available, {pr.cores} core(s)"
    )
    for note in prof.notes:
        lines.append(f"  note: {note}")
    for problem in pr.problems:
        lines.append(f"  DOES NOT FIT: {problem}")
    if prof.recommendations:
        lines += ["", "recommendations:"]
        for r in prof.recommendations:
            lines.append(f"  {r.flag}    [{r.python}]")
            lines.append(f"      {r.reason}")
    return "\n".join(lines)


def _figure_png(prof: Profile) -> str:
    """Time per generation and peak memory against the population: probes and projection."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pr = prof.projection
    sizes = [p.size for p in prof.probes]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name in ("ask", "evaluate", "tell", "bookkeeping", "kernel", "indicator tables", "cache"):
        ys = [next((s.seconds for s in p.stages if s.stage == name), None) for p in prof.probes]
        pts = [(x, y) for x, y in zip(sizes, ys) if y]
        if pts:
            a.plot(*zip(*pts), marker="o", label=name)
    a.plot(sizes, [p.seconds_per_generation for p in prof.probes], "k-o", label="generation")
    t = pr.seconds_per_generation
    a.errorbar([pr.population], [t.value], yerr=[[t.value - t.low], [t.high - t.value]],
               fmt="r*", markersize=12, label="projected")  # fmt: skip
    a.set(xscale="log", yscale="log", xlabel="population", ylabel="seconds per generation")
    a.legend(fontsize=7)
    peaks = [(p.rss_start + p.peak) / 2**20 for p in prof.probes]
    b.plot(sizes, peaks, "k-o", label="measured peak RSS")
    m = pr.peak_rss
    b.errorbar([pr.population], [m.value / 2**20],
               yerr=[[(m.value - m.low) / 2**20], [(m.high - m.value) / 2**20]],
               fmt="r*", markersize=12, label="projected")  # fmt: skip
    if pr.memory_limit:
        b.axhline(pr.memory_limit / 2**20, color="grey", ls="--", label="memory limit")
    b.set(xscale="log", xlabel="population", ylabel="MiB")
    b.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_html(prof: Profile, path: str) -> None:
    """Write the report and its plot to ``path`` (refused when the file exists)."""
    body = html.escape(str(prof))
    png = _figure_png(prof)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>genepool profile</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
        "pre{background:#f6f6f6;padding:1em;white-space:pre-wrap;font-size:13px}</style></head>"
        f"<body><h1>genepool profile: {html.escape(prof.problem)}</h1>"
        f"<img alt='time and memory against the population' src='data:image/png;base64,{png}'>"
        f"<pre>{body}</pre></body></html>"
    )
    with open(path, "x", encoding="utf-8") as f:
        f.write(page)
