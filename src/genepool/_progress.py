"""Progress display for the run loop: a rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["ProgressReporter", "choose_mode"]


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

    def start(self, total: int | None) -> None:
        """Begin a run of ``total`` generations (None: unknown)."""
        self.total = total
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]gen {task.completed}" + (f"/{total}" if total else "")),
                BarColumn(bar_width=24),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("evolve", total=total, stats="")

    def update(
        self,
        generation: int,
        best: float,
        mean: float,
        evaluations: int,
        evals_per_s: float,
        extra: str = "",
    ) -> None:
        stats = (
            f"best {_fmt(best)}  mean {_fmt(mean)}  evals {evaluations:,}  "
            f"{evals_per_s:,.0f} evals/s{extra}"
        )
        if self.mode == "bar":
            self._bar.update(self._task, completed=generation, stats=stats)
        elif self.mode == "lines":
            total = f"/{self.total}" if self.total else ""
            line = f"gen {generation}{total}  {stats}"
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._write(line)
                self._last_line = now
                self._pending = None
            else:
                self._pending = line

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.mode == "bar" and self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.mode == "lines" and self._pending is not None:
            self._write(self._pending)
            self._pending = None
