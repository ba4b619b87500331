"""From probes to the configured run: lines fitted per quantity, the chunk rule, uncertainty.

Every measured quantity of a probe (a stage's seconds per generation, the memory held between
generations, each stage's peak, the working memory of evaluation, checkpoint bytes) is fitted
as ``a + b * size`` by least squares over the probe sizes (one size: a line through zero). The
projection evaluates the lines at the run's population; evaluation's working memory at the
chunk size the run's memory limit implies (the rule of
:class:`~genepool.evaluation.chunking.ParentChunks`: aim between 70 % and 90 % of the budget).

Uncertainty is the measurement's own: for time, the spread of the generations of the largest
probe (slowest less fastest, over the median) and the largest residual of the fit, widened by
the extrapolation factor when the run is larger than four times the largest probe; for memory,
the largest residual of the fit, at least :data:`MEMORY_FLOOR` of the projection (the allocator
and the page cache move a few percent between processes). With a single probe size there is
no residual and only the floor and the spread remain: probe at least three sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._probe import Probe

__all__ = ["MEMORY_FLOOR", "Line", "fit", "implied_chunk"]

#: Least relative uncertainty of a memory projection.
MEMORY_FLOOR = 0.05
#: A run larger than this many times the largest probe widens the time band.
EXTRAPOLATION_FREE = 4.0
#: The share of the budget a chunk aims at: the middle of the monitor's default ``warn_at``
#: and ``act_at`` (0.7 and 0.9; a test holds them equal).
AIM = 0.8


@dataclass(frozen=True)
class Line:
    """``a + b * size``, and the largest relative residual of the fit."""

    a: float
    b: float
    residual: float = 0.0
    #: the largest residual in the values' unit (0.0 with fewer than three sizes)
    abs_residual: float = 0.0

    def __call__(self, size: float) -> float:
        return self.a + self.b * size


def fit(sizes: Sequence[int], values: Sequence[float]) -> Line:
    """The least-squares line through ``(sizes, values)``; slope >= 0 (a cost that falls with
    the population is noise: then the mean), through zero for a single size."""
    x = np.asarray(sizes, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Line(0.0, 0.0)
    if x.size == 1 or np.ptp(x) == 0:
        return Line(0.0, float(y.mean() / max(x.mean(), 1.0)))
    b, a = np.polyfit(x, y, 1)
    if b < 0:
        a, b = float(y.mean()), 0.0
    if a < 0:  # a negative intercept: the fixed part is below what we can see; through zero
        b = float((x * y).sum() / (x * x).sum())
        a = 0.0
    line = Line(float(a), float(b))
    scale = max(float(np.abs(y).max()), 1e-12)
    worst = float(np.abs(y - (line.a + line.b * x)).max()) if x.size > 2 else 0.0
    return Line(line.a, line.b, worst / scale, worst)


def extrapolation(size: int, probes: Sequence[Probe]) -> float:
    """How far beyond the largest probe the run is (1.0 within :data:`EXTRAPOLATION_FREE`)."""
    largest = max(p.size for p in probes)
    ratio = size / largest
    return 1.0 if ratio <= EXTRAPOLATION_FREE else 1.0 + math.log10(ratio / EXTRAPOLATION_FREE)


def time_band(probes: Sequence[Probe], line: Line, size: int) -> float:
    """Relative uncertainty of a projected time per generation at ``size``."""
    largest = max(probes, key=lambda p: p.size)
    return (largest.spread + line.residual) * extrapolation(size, probes)


def memory_band(line_residual: float, size: int, probes: Sequence[Probe]) -> float:
    """Relative uncertainty of a projected memory figure at ``size``."""
    return max(MEMORY_FLOOR, line_residual) * extrapolation(size, probes)


def implied_chunk(limit: int, fixed_anon: float, per_candidate: float, population: int) -> int:
    """Candidates per chunk under ``limit`` bytes: the room between what the process holds
    (``fixed_anon``) and the middle of the monitor's thresholds, over the working bytes of a
    candidate (the run's own rule; it then follows its measured peaks)."""
    room = AIM * limit - fixed_anon
    if per_candidate <= 0:
        return population
    return int(max(1, min(population, room // per_candidate if room > 0 else 1)))
