"""Progress display for the run loop: a rich bar on a terminal, plain lines elsewhere.

The bar always starts with the generation counter and ends with the elapsed time; between
them, the bar and the statistics take what the terminal's width leaves, statistics in order
of importance and whole (``best``, ``mean``, evaluations, rate, memory, cache), so that an
80-column terminal shows ``gen 137/200`` and the best fitness instead of an ellipsis.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["ProgressReporter", "choose_mode", "fit_fields"]

log = logging.getLogger("genepool")

#: Between two statistics.
SEP = "  "
#: Columns taken by the elapsed time ("0:00:12"; "10:00:00" after ten hours).
ELAPSED_WIDTH = 8


def choose_mode(progress: bool | str | None, stream: TextIO | None = None) -> str | None:
    """``True`` -> "bar" on an interactive terminal, "lines" otherwise; ``False`` -> None."""
    if progress is None or progress is False:
        return None
    if progress in ("bar", "lines"):
        return str(progress)
    if progress is not True:
        raise ValueError(f"progress must be True, False, 'bar' or 'lines', got {progress!r}")
    stream = stream or sys.stderr
    return "bar" if getattr(stream, "isatty", lambda: False)() else "lines"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def fit_fields(fields: Sequence[str], width: int) -> str:
    """The leading ``fields`` (in order of importance) that fit in ``width`` characters.

    Fields are kept whole and in order: the first that does not fit ends the line, so the
    columns do not jump about as numbers grow.

    Examples
    --------
    >>> fit_fields(["best 1.5", "mean 2.25", "evals 1,000"], 20)
    'best 1.5  mean 2.25'
    """
    out = ""
    for field in fields:
        candidate = field if not out else out + SEP + field
        if len(candidate) > width:
            break
        out = candidate
    return out


def _bar_width(width: int) -> int:
    """Width of the bar itself on a terminal of ``width`` columns (0: no bar)."""
    return 24 if width >= 120 else 10 if width >= 72 else 0


def _make_stats_column(fixed: int) -> Any:
    """A rich column showing the statistics that fit beside ``fixed`` columns of the rest."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class StatsColumn(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self.console: Any = None  # set by the reporter: the width is read at each refresh

        def render(self, task: Any) -> Text:
            width = self.console.width if self.console is not None else 80
            counter = len(f"gen {task.completed}/{task.total or ''}")
            return Text(fit_fields(task.fields.get("stats", ()), width - fixed - counter))

    return StatsColumn()


class ProgressReporter:
    """Shows generation, best and mean fitness and evaluations per second.

    ``lines`` mode prints at most one line every ``interval`` seconds (and always the last one),
    so redirected output stays readable however fast generations are.
    """

    def __init__(
        self, mode: str | None, stream: TextIO | None = None, interval: float = 2.0
    ) -> None:
        if mode not in (None, "bar", "lines"):
            raise ValueError(f"progress mode must be 'bar', 'lines' or None, got {mode!r}")
        self.mode = mode
        self.total: int | None = None
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last_line = -float("inf")
        self._pending: str | None = None
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int | None, console: Any = None) -> None:
        """Begin a run of ``total`` generations (None: unknown).

        ``console``: the rich Console of the bar (default: one on ``stream``).
        """
        self.total = total
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            console = console or Console(file=self.stream)
            bar = _bar_width(console.width)
            # one space between columns; the counter's own width is added per refresh
            fixed = (bar + 1 if bar else 0) + 1 + ELAPSED_WIDTH + 1
            stats = _make_stats_column(fixed)
            stats.console = console
            columns = [
                TextColumn("[bold]gen {task.completed}" + (f"/{total}" if total else "")),
                *([BarColumn(bar_width=bar)] if bar else []),
                stats,
                TimeElapsedColumn(),
            ]
            self._bar = Progress(*columns, console=console, transient=False)
            self._bar.start()
            self._task = self._bar.add_task("evolve", total=total, stats=())

    def update(
        self,
        generation: int,
        best: float,
        mean: float,
        evaluations: int,
        evals_per_s: float,
        extra: str = "",
        labels: tuple[str, str] = ("best", "mean"),
    ) -> None:
        """Show generation ``generation``; ``extra`` holds more statistics, each preceded by
        two spaces (``"  RSS 1.2 GiB  cache 40%"``), shown after the others as width allows.
        ``labels`` name the first two figures (a multi-objective run shows the hypervolume and
        the size of the first front)."""
        fields = [
            f"{labels[0]} {_fmt(best)}",
            f"{labels[1]} {_fmt(mean)}",
            f"evals {evaluations:,}",
            f"{evals_per_s:,.0f} evals/s",
            *(f.strip() for f in extra.split(SEP) if f.strip()),
        ]
        if self.mode == "bar":
            self._bar.update(self._task, completed=generation, stats=tuple(fields))
        elif self.mode == "lines":  # whole lines (logs, pipes): the counter comes first
            total = f"/{self.total}" if self.total else ""
            line = f"gen {generation}{total}{SEP}{SEP.join(fields)}"
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._write(line)
                self._last_line = now
                self._pending = None
            else:
                self._pending = line

    def notice(self, text: str) -> None:
        """One line about a wait (e.g. kernels compiling): above the bar, or a plain line;
        logged at INFO when the display is off."""
        if self.mode == "bar" and self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False)
        elif self.mode is not None:
            self._write(text)
        else:
            log.info("%s", text)

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.mode == "bar" and self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.mode == "lines" and self._pending is not None:
            self._write(self._pending)
            self._pending = None
