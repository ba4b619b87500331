"""The run layer: :func:`minimize` / :func:`maximize` and what a run is made of.

- ``api``: ``minimize``/``maximize``, which build a :class:`RunConfig` and run it;
- ``config``: :class:`RunConfig`, every keyword validated once, frozen;
- ``direction``: :class:`Direction` / :class:`Objective`, the one place that knows the sign;
- ``loop``: :class:`Run`, the parts wired once and a one-generation ``step``;
- ``recorder`` (history, snapshots), ``state`` (loop counters, checkpoint save/restore),
  ``checkpoint`` (the files), ``interrupts`` (signals), ``terminators`` (stopping rules),
  ``progress`` (the display), ``budget`` (memory check and report), ``result`` (what a run
  returns).
"""

from __future__ import annotations

from .api import maximize, minimize
from .config import RunConfig
from .direction import Direction, Objective
from .loop import Run
from .result import Generation, MemoryReport, Result

__all__ = [
    "Direction",
    "Generation",
    "MemoryReport",
    "Objective",
    "Result",
    "Run",
    "RunConfig",
    "maximize",
    "minimize",
]
