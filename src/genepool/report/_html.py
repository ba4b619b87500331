"""The report document: page skeleton, inline CSS, self-check script, atomic writing."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from .._version import __version__
from ..errors import WriteError
from ._check import fact_problems, header_facts
from ._data import ReportData, validate
from ._markup import data_attrs, esc
from ._sections import section_bodies, section_title, summary_line

__all__ = ["render_report", "write_report"]

# Nothing may be fetched: images are data URIs, CSS and the script are inline.
_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

_CSS = """
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg-alt: #f7f8fa;
        --good: #1a7f37; --bad: #b42318; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
       font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header, main, footer { max-width: 1120px; margin: 0 auto; padding: 0 24px; }
@media (max-width: 600px) { header, main, footer { padding: 0 12px; } }
header { padding-top: 24px; border-bottom: 1px solid var(--line); }
h1 { font-size: 24px; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 19px; margin: 0 0 12px; padding-top: 8px; }
h3 { font-size: 15px; margin: 16px 0 8px; }
.subtitle, .summary, .note, footer { color: var(--muted); }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 12px 0 16px; }
nav a { color: #175cd3; text-decoration: none; }
section { padding: 20px 0 8px; border-bottom: 1px solid var(--line); }
img { display: block; max-width: 100%; height: auto; margin: 8px 0; }
.verdict { font-size: 17px; padding: 12px 16px; border-left: 5px solid var(--muted);
           background: var(--bg-alt); overflow-wrap: anywhere; }
.verdict-yes { border-color: var(--good); } .verdict-no { border-color: var(--bad); }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.chip { border: 1px solid var(--line); border-radius: 999px; padding: 2px 12px; }
.chip-yes b { color: var(--good); } .chip-no b { color: var(--bad); }
.chip-unknown b { color: var(--warn); }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr));
        gap: 24px; }
.cols > div { min-width: 0; }
.warnings { margin: 12px 0; padding: 10px 16px; border: 1px solid #f0c36d;
            border-left: 5px solid var(--warn); background: #fffaeb; overflow-wrap: anywhere; }
.warnings ul { margin: 4px 0 0; padding-left: 20px; }
th.oos, td.oos { background: #fdf1f1; }
.table-wrap { max-height: 640px; overflow: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 3px 10px; text-align: left; border-bottom: 1px solid var(--line);
         white-space: nowrap; }
thead th { position: sticky; top: 0; background: var(--bg-alt); }
tbody tr:nth-child(even) { background: #fcfcfd; }
table.kv th { font-weight: 600; width: 1%; }
table.kv td { white-space: normal; overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pos { color: var(--good); } td.neg { color: var(--bad); }
td.missing { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.truncated { color: var(--warn); }
footer { padding: 16px 24px 32px; font-size: 12px; }
"""

# Runs on load: every expected section is there, in order, and not empty; every figure decoded;
# the facts the header states (data-* on <header>, from the run's record) are the ones the
# figures show (data-* on them, from the plotted frames), and the in-sample curve ends before
# the out-of-sample one starts. The outcome goes into <body data-report-check="..."> and the
# footer.
_CHECK_JS = """
(function () {
  "use strict";
  var expected = %(expected)s, nImages = %(n_images)d;
  function check() {
    var problems = [];
    var found = Array.prototype.map.call(document.querySelectorAll("main > section"),
                                         function (s) { return s.id; });
    if (found.join(",") !== expected.join(",")) {
      problems.push("sections are [" + found.join(", ") + "]");
    }
    expected.forEach(function (id) {
      var s = document.getElementById(id);
      if (!s || s.tagName !== "SECTION") { problems.push("missing section " + id); return; }
      var h = s.querySelector("h2");
      var rest = h ? s.textContent.replace(h.textContent, "").trim() : "";
      if (!h || s.children.length < 2 || (rest === "" && !s.querySelector("img"))) {
        problems.push("empty section " + id);
      }
    });
    var header = document.querySelector("header");
    [["generations", "the convergence plot"], ["folds", "the walk-forward figure"],
     ["split", "the equity plot"]].forEach(function (f) {
      var said = header ? header.getAttribute("data-" + f[0]) : null;
      if (said === null) { return; }
      var el = document.querySelector("main [data-" + f[0] + "]");
      var shown = el ? el.getAttribute("data-" + f[0]) : null;
      if (shown !== said) {
        problems.push("header says " + f[0] + " " + said + " but " + f[1] + " shows " +
                      (shown === null ? "none" : shown));
      }
    });
    var eq = document.querySelector("main [data-in-end][data-split]");
    if (eq && eq.getAttribute("data-in-end") >= eq.getAttribute("data-split")) {
      problems.push("the in-sample curve runs into the out-of-sample region");
    }
    var imgs = document.images;
    if (imgs.length !== nImages) {
      problems.push("expected " + nImages + " figures, found " + imgs.length);
    }
    for (var i = 0; i < imgs.length; i++) {
      if (!imgs[i].complete || !(imgs[i].naturalWidth > 0)) {
        problems.push("figure " + (i + 1) + " did not load");
      }
    }
    var result = problems.length ? "failed: " + problems.join("; ") : "ok";
    document.body.dataset.reportCheck = result;
    var out = document.getElementById("report-check");
    if (out) {
      out.textContent = "Self-check: " + result + " (" + expected.length + " sections, " +
        imgs.length + " figures).";
    }
  }
  if (document.readyState === "complete") { check(); }
  else { window.addEventListener("load", check); }
})();
"""


def render_report(data: ReportData) -> str:
    """The HTML report of a strategy-evolution run as one self-contained document.

    Figures are PNGs (matplotlib, Agg) embedded as ``data:`` URIs and CSS and a small
    self-check script are inline, so the file opens offline and nothing is fetched. Every
    user-supplied string is HTML-escaped.

    Parameters
    ----------
    data : ReportData

    Returns
    -------
    str
        The complete document (``<!DOCTYPE html>...``), with one ``<section>`` per part in the
        order verdict, walk-forward (only when ``data.walk_forward`` is given), equity,
        trades, hall-of-fame, convergence, parameters, memory, configuration. Warnings (a
        status other than ``"complete"``, ``data.warnings``, and any disagreement between
        the header's facts and the figures) are listed at the top.

    Raises
    ------
    genepool.errors.ConfigError
        When a field of ``data`` has the wrong type or lacks a required column; the message
        names the field.

    Examples
    --------
    >>> import pandas as pd
    >>> from genepool.report import ReportData, render_report
    >>> data = ReportData(
    ...     title="demo", config={"seed": 7},
    ...     history=pd.DataFrame({"generation": [0, 1], "best": [1.0, 2.0],
    ...                           "mean": [0.5, 1.0], "std": [0.1, 0.2]}),
    ...     memory=pd.DataFrame(), memory_limit=None,
    ...     equity_in=pd.Series([100.0, 101.0, 99.0]), equity_out=None,
    ...     population=pd.DataFrame({"window": [5, 7], "fitness": [1.0, 2.0]}),
    ...     trades=pd.DataFrame(), best={"params": {"window": 7}, "in_sample": {"sharpe": 1.2}},
    ...     hall_of_fame=pd.DataFrame({"window": [7], "sharpe": [1.2]}),
    ...     verdict={"text": "Not significant.", "significant": False, "dsr": 0.4, "pbo": None})
    >>> html = render_report(data)
    >>> html.startswith("<!DOCTYPE html>") and 'id="configuration"' in html
    True
    """
    validate(data)
    # matplotlib is imported here, not when genepool or genepool.report is imported.
    from . import _figures

    bodies = section_bodies(data, _figures)
    n_images = sum(body.count("<img ") for _, body in bodies)
    sections = "\n".join(
        f'<section id="{sid}"><h2>{esc(section_title(sid, data))}</h2>{body}</section>'
        for sid, body in bodies
    )
    nav = "".join(f'<a href="#{sid}">{esc(section_title(sid, data))}</a>' for sid, _ in bodies)
    script = _CHECK_JS % {"expected": json.dumps([sid for sid, _ in bodies]), "n_images": n_images}
    subtitle = f'<p class="subtitle">{esc(data.subtitle)}</p>' if data.subtitle else ""
    facts = header_facts(data)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="genepool {esc(__version__)}">\n'
        f"<title>{esc(data.title)} \u2014 genepool report</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header{data_attrs(facts)}><h1>{esc(data.title)}</h1>{subtitle}"
        f'<p class="summary">{esc(summary_line(data))}</p>{_warnings(data)}<nav>{nav}</nav>'
        "</header>\n"
        f"<main>\n{sections}\n</main>\n"
        f'<footer><p id="report-check">Self-check needs JavaScript.</p>'
        f"<p>Made by genepool {esc(__version__)}.</p></footer>\n"
        f"<script>{script}</script>\n</body>\n</html>\n"
    )


def _warnings(data: ReportData) -> str:
    """The warning box at the top: the run's status and warnings, then incoherences."""
    items = []
    if data.status is not None and data.status != "complete":
        items.append(f"Status: {data.status}.")
    items += [str(w) for w in data.warnings]
    items += [f"Self-check: {p}." for p in fact_problems(data)]
    if not items:
        return ""
    lis = "".join(f"<li>{esc(w)}</li>" for w in items)
    return f'<div class="warnings" id="warnings" role="alert"><b>Warnings</b><ul>{lis}</ul></div>'


def write_report(data: ReportData, path: str | os.PathLike[str]) -> Path:
    """Render ``data`` and write it to ``path`` atomically.

    The document is rendered first, written to a temporary file in the same folder and moved
    over ``path`` with :func:`os.replace`, so a reader never sees a partial report and a failed
    render leaves no file behind. Missing parent folders are created.

    Parameters
    ----------
    data : ReportData
    path : str or path-like
        Destination, e.g. ``runs/exp-1/report.html``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    genepool.errors.ConfigError
        As :func:`render_report`.
    """
    target = Path(path)
    html = render_report(data).encode("utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with mode 0o666 so the report gets the usual umask-based permissions.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(html)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # e.g. a full disk: name the file
            raise WriteError(target, exc) from exc
        raise
    return target
