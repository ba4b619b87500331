"""Chunks evaluated in this process, through a serial executor, each one measured.

:class:`LocalChunks` is the evaluator's only path for evaluating in its own process: each
chunk is sized by :class:`~genepool.evaluation.chunking.ParentChunks`, run by a
:class:`~genepool.evaluation.executors.SerialExecutor` (the same
:func:`~genepool.evaluation._task.run_chunk` that workers run), turned into values by the
:class:`~genepool.evaluation._outcomes.ErrorPolicy`, and measured under a budget (the monitor's
peak over the chunk; ``tracemalloc`` on the chunk that calibrates the memory per candidate).
"""

from __future__ import annotations

import functools
import tracemalloc
from collections.abc import Callable

import numpy as np

from ..problem import Problem
from ._outcomes import ErrorPolicy, Placed
from ._task import Outcome, run_chunk
from .chunking import ChunkTally, ParentChunks
from .executors import SerialExecutor

__all__ = ["LocalChunks"]


class LocalChunks:
    """Evaluates chunks here, sized and measured against the budget.

    Parameters
    ----------
    executor : SerialExecutor
        Runs the chunks (the evaluator's own, or the one passed as ``executor=``).
    owned : bool
        ``executor`` was made here (closed by :meth:`close`).
    chunks : ParentChunks
        Sizes each chunk and learns from its measured peak.
    errors : ErrorPolicy
        Turns each chunk's outcome into values, penalties or errors.
    tally : ChunkTally
        Counts the chunks.
    usage : callable
        Bytes held by the caller, by part (for a budget error).
    """

    def __init__(
        self,
        executor: SerialExecutor,
        owned: bool,
        chunks: ParentChunks,
        errors: ErrorPolicy,
        tally: ChunkTally,
        usage: Callable[[], dict[str, int]],
    ) -> None:
        self.executor = executor
        self.owned = owned
        self.chunks = chunks
        self.errors = errors
        self.tally = tally
        self.usage = usage
        #: Seconds per candidate of the latest chunk evaluated here (None: none yet).
        self.seconds_per_row: float | None = None
        self._task: Callable[[Problem, np.ndarray], Outcome] = functools.partial(
            run_chunk, mode=errors.on_error
        )

    def start(self, problem: Problem) -> None:
        """Evaluate ``problem`` from now on."""
        self.executor.start(problem)

    def run(
        self,
        X: np.ndarray,
        rows: np.ndarray,
        contiguous: bool,
        acc: Placed,
        start: int,
        most: int,
    ) -> int:
        """Evaluate one chunk (of at most ``most`` rows from ``start``); returns its size."""
        chunks = self.chunks
        monitor = chunks.monitor if chunks.measured else None
        rss = monitor.begin_interval() if monitor is not None else None
        size = min(chunks.next_size(acc.n - start, rss), most)
        probing = chunks.probing
        stop = start + size
        if probing:
            tracemalloc.start()
        try:
            Xc = X[start:stop] if contiguous else X[rows[start:stop]]
            (outcome,) = self.executor.map(self._task, (Xc,))
            yc, bad = self.errors.absorb(outcome, X, rows[start:stop])
        finally:
            traced = tracemalloc.get_traced_memory()[1] if probing else 0
            if probing:
                tracemalloc.stop()
        acc.put(start, stop, yc, bad)
        self.seconds_per_row = outcome.seconds / size
        self.tally.count(size)
        if monitor is not None and rss is not None:
            peak = monitor.end_interval()
            if probing:
                peak = max(peak, rss + traced)
            chunks.after_chunk(size, rss, peak, self.errors.generation, self.usage)
        return size

    def close(self) -> None:
        """Close the serial executor when it was made here."""
        if self.owned:
            self.executor.close()
