"""The run's memory: the budget check before it starts, the report after it ends."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..algorithms.base import Optimizer
from ..errors import ConfigError
from ..evaluation.evaluator import Evaluator
from ..memory._size import format_size
from ..memory.monitor import MemoryMonitor
from .result import EvaluationCounts, MemoryReport

__all__ = ["check_budget_fits", "memory_report", "state_bytes"]


def check_budget_fits(
    monitor: MemoryMonitor, optimizer: Optimizer, hint: str | None = None
) -> None:
    """Refuse a budget that the process plus the optimizer alone already exceed.

    ``hint`` (the problem's :meth:`~genepool.Problem.memory_hint`) ends the message.
    """
    optimizer.check_fits_in_memory()  # before anything of the population's size exists
    footprint = optimizer.memory_footprint()
    if monitor.limit is None or footprint is None:
        return
    need = monitor.start_anon + footprint
    if need > monitor.act_at * monitor.limit:
        what = (
            f"memory_limit {monitor.limit:,} bytes ({format_size(monitor.limit)}) is too small: "
            f"the process already uses "
            f"{format_size(monitor.start_anon)} and {type(optimizer).__name__} needs about "
            f"{format_size(footprint)} for its populations, leaving no room under "
            f"{monitor.act_at:.0%} of the budget to evaluate."
        )
        tail = f" {hint}" if hint else ""
        disk = optimizer.disk_capable and optimizer.storage == "memory"
        exc = ConfigError(
            f"{what} Raise memory_limit, lower the population size, use dtype=np.float32"
            + (", or keep the genes on disk (storage='disk')." if disk else ".")
            + tail
        )
        exc.cli_message = (
            "--"
            + what.replace("_", "-", 1)
            + (
                " Raise --memory-limit, lower --population or use --storage disk."
                if disk
                else " Raise --memory-limit or lower --population."
            )
        )
        raise exc


def state_bytes(optimizer: Optimizer) -> int:
    """Bytes of the optimizer's arrays (its population and their fitness); a Pareto archive's
    members (``archive_*``) are counted apart, as the run's ``pareto archive``."""
    arrays, _ = optimizer.state_dict()
    return int(
        sum(
            a.nbytes
            for k, a in arrays.items()
            if isinstance(a, np.ndarray) and not k.startswith("archive_")
        )
    )


def memory_report(
    monitor: MemoryMonitor, evaluator: Evaluator, archive: Any = None
) -> MemoryReport:
    """What the monitor measured and the evaluator counted (this process's share of the run),
    with the Pareto archive's counts (``archive.stats()``) where there is one."""
    stats = evaluator.stats
    return MemoryReport(
        peak_rss=monitor.current_peak(),
        peak_uss=max(monitor.peak_uss, 0),
        start_rss=monitor.start_rss,
        peak_anon=monitor.current_peak_anon(),
        peak_file=monitor.peak_file,
        start_anon=monitor.start_anon,
        limit=monitor.limit,
        sample_array=monitor.samples(),
        chunk_sizes=dict(sorted(evaluator.chunk_sizes.items())),
        bytes_per_candidate=evaluator.bytes_per_candidate,
        cache=evaluator.cache_stats(),
        alerts=[a.to_dict() for a in monitor.alerts],
        leak_detected=monitor.leak_detected,
        evaluations=EvaluationCounts(
            requested=stats["requested"],
            evaluated=stats["evaluated"],
            saved=stats["saved"],
            duplicates=stats["duplicates"],
            errors=stats["errors"],
        ),
        archive=None if archive is None else dict(archive.stats()),
    )
