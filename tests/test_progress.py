"""The progress display: the generation counter survives any terminal width, lines are whole."""

from __future__ import annotations

import logging
import re
from io import StringIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from genepool.run.progress import SEP, ProgressReporter, fit_fields

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
EXTRA = "  RSS 123.4 MiB  cache 45% (off)"


def _bar_lines(width: int, total: int | None = 200) -> list[str]:
    buf = StringIO()
    reporter = ProgressReporter("bar", stream=buf)
    reporter.start(total, console=Console(file=buf, width=width, force_terminal=True))
    reporter.update(137, 1.2345678, -0.123456, 1_234_567, 12345.6, EXTRA)
    reporter.close()
    text = ANSI.sub("", buf.getvalue()).replace("\r", "\n")
    return [line.rstrip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 160])
def test_bar_keeps_the_generation_counter_and_the_best_at_any_width(width):
    last = _bar_lines(width)[-1]
    assert last.startswith("gen 137/200"), last
    assert "best 1.23457" in last and "…" not in last
    assert len(last) <= width
    assert re.search(r"\d+:\d\d:\d\d$", last)  # the elapsed time ends the line


def test_bar_shows_more_statistics_on_wider_terminals():
    shown = [len(_bar_lines(w)[-1].split(SEP)) for w in (60, 80, 100, 160)]
    assert shown == sorted(shown) and shown[0] < shown[-1]
    assert "cache 45% (off)" in _bar_lines(160)[-1]


def test_bar_without_a_known_total():
    last = _bar_lines(80, total=None)[-1]
    assert last.startswith("gen 137 ") and "best" in last


def test_lines_mode_prints_whole_lines_counter_first():
    buf = StringIO()
    reporter = ProgressReporter("lines", stream=buf, interval=0)
    reporter.start(200)
    reporter.update(137, 1.2345678, -0.123456, 1_234_567, 12345.6, EXTRA)
    reporter.close()
    line = buf.getvalue().strip()
    assert line.startswith("gen 137/200  best 1.23457")
    assert line.endswith("evals/s  RSS 123.4 MiB  cache 45% (off)")


def test_notice_goes_above_the_bar_or_on_its_own_line(caplog):
    buf = StringIO()
    reporter = ProgressReporter("bar", stream=buf)
    reporter.start(10, console=Console(file=buf, width=80, force_terminal=True))
    reporter.notice("compiling the kernels...")
    reporter.close()
    assert "compiling the kernels..." in ANSI.sub("", buf.getvalue())
    buf = StringIO()
    ProgressReporter("lines", stream=buf).notice("compiling the kernels...")
    assert buf.getvalue() == "compiling the kernels...\n"
    with caplog.at_level(logging.INFO, logger="genepool"):
        ProgressReporter(None).notice("compiling the kernels...")
    assert "compiling the kernels..." in caplog.text


@given(
    st.lists(st.text(alphabet="ab 1.,%", min_size=1, max_size=12), max_size=8),
    st.integers(0, 80),
)
def test_fit_fields_is_the_longest_prefix_that_fits(fields, width):
    out = fit_fields(fields, width)
    assert len(out) <= width
    prefixes = [SEP.join(fields[:j]) for j in range(len(fields) + 1)]  # strictly longer
    k = prefixes.index(out)
    assert k == len(fields) or len(prefixes[k + 1]) > width
