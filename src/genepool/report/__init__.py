"""Self-contained HTML reports of strategy-evolution runs.

Fill a :class:`ReportData` (the loader of a run directory does it for ``genepool evolve``) and
call :func:`render_report` for the HTML text or :func:`write_report` to write it atomically.
Figures are matplotlib PNGs embedded as data URIs; matplotlib is imported only when a report
is rendered.
"""

from __future__ import annotations

from ._data import ReportData
from ._html import render_report, write_report

__all__ = ["ReportData", "render_report", "write_report"]
