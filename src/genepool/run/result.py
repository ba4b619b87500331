"""What a run returns: ``Result``, its ``MemoryReport``, and the per-generation ``Generation``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from ..memory._size import format_size
from .direction import Direction

if TYPE_CHECKING:
    import pandas as pd

    from ..algorithms.base import Optimizer
    from ..evaluation.cache import CacheStats
    from ..memory.history import RingHistory

__all__ = ["EvaluationCounts", "Generation", "MemoryReport", "Result"]


class EvaluationCounts(TypedDict, total=False):
    """:attr:`MemoryReport.evaluations` (empty when nothing was counted)."""

    requested: int
    evaluated: int
    saved: float
    duplicates: int
    errors: int


@dataclass
class Generation:
    """What a callback sees after each generation (fitness in the user's sign).

    ``direction`` names the objectives and their sense (e.g. to rank ``fitness``).
    """

    generation: int
    n_evaluations: int
    X: np.ndarray
    fitness: np.ndarray
    best_x: np.ndarray | None  # None while no fitness so far was better than inf (all NaN)
    best_fitness: float
    elapsed: float
    optimizer: Optimizer
    direction: Direction = field(default_factory=Direction.minimize)
    #: multi-objective runs: the hypervolume of the population's first front (``best_fitness``
    #: is then NaN and ``best_x`` None: there is a front, not one best)
    hypervolume: float | None = None


@dataclass
class MemoryReport:
    """Memory of a run, as measured (bytes).

    Attributes
    ----------
    peak_rss, peak_uss : int
        Peak resident and unique set sizes of the process during the run (the RSS peak is
        exact on Linux, from the kernel's counter; USS is sampled at generation ends). The RSS
        includes file-backed pages (memory-mapped data), which the budget does not count.
    peak_anon : int
        Peak of the memory the budget counts: anonymous plus shared memory (Linux ``RssAnon +
        RssShmem``; the RSS elsewhere). See ``docs/memory.md``.
    peak_file : int
        Peak file-backed residency (``RssFile``: libraries and memory-mapped data, reclaimable
        by the kernel; 0 without ``/proc``).
    start_anon : int
        Anonymous memory when the run started.
    start_rss : int
        RSS when the run started.
    limit : int or None
        The memory budget.
    samples : pandas.DataFrame
        Per generation: generation, time, rss, uss, peak_rss, chunk_size, accounted (bytes held
        by genepool: population, cache, history), anon (budgeted: anonymous + shared), file
        (file-backed residency), peak_anon (run's anonymous peak so far). Built on access from
        ``sample_array`` (the same records as a numpy structured array), so that a run never
        imports pandas itself.
    sample_array : numpy.ndarray
        The samples as a structured array.
    chunk_sizes : dict
        Evaluation chunk size -> number of chunks of that size.
    bytes_per_candidate : int or None
        Working memory per candidate measured by the evaluator.
    cache : dict or None
        Fitness cache statistics (hits, misses, hit_rate, evictions, entries, nbytes).
    alerts : list of dict
        Cleanups, chunk halvings, leak warnings, with generation and message.
    leak_detected : bool
    evaluations : dict
        ``requested`` (candidates), ``evaluated`` (fitness actually computed), ``saved`` (the
        share the cache and in-generation deduplication spared), ``duplicates`` (within
        generations), ``errors``. These count this process's evaluator: after a resume, only
        the evaluations since the resume (``Result.n_evaluations`` counts the whole run,
        checkpointed generations included).
    """

    peak_rss: int
    peak_uss: int
    start_rss: int
    limit: int | None
    sample_array: np.ndarray = field(repr=False)
    chunk_sizes: dict[int, int]
    bytes_per_candidate: int | None
    cache: CacheStats | None
    alerts: list[dict[str, int | str]]
    leak_detected: bool
    evaluations: EvaluationCounts = field(default_factory=EvaluationCounts)
    #: the Pareto archive of a multi-objective run (size, nbytes, capacity, max_bytes,
    #: thinnings, dropped, last_reason), or None
    archive: dict[str, Any] | None = None
    peak_anon: int = 0
    peak_file: int = 0
    start_anon: int = 0

    @property
    def samples(self) -> pd.DataFrame:
        """The per-generation samples as a DataFrame (see the class docstring)."""
        import pandas as pd

        return pd.DataFrame(self.sample_array)

    def __repr__(self) -> str:
        limit = "none" if self.limit is None else format_size(self.limit)
        hit = "" if self.cache is None else f", cache hit rate {self.cache['hit_rate']:.1%}"
        if self.evaluations.get("saved"):
            hit += f", {self.evaluations['saved']:.1%} of evaluations saved"
        return (
            f"MemoryReport(peak RSS {format_size(self.peak_rss)}, peak anonymous "
            f"{format_size(self.peak_anon)}, file-backed {format_size(self.peak_file)}, "
            f"limit {limit}, "
            f"{len(self.alerts)} alert(s){hit})"
        )


@dataclass
class Result:
    """Outcome of :func:`~genepool.minimize` / :func:`~genepool.maximize`.

    Attributes
    ----------
    best_x : ndarray of shape (d,)
        Encoded genes of the best individual evaluated during the run.
    best_params : dict
        Its decoded parameters ``{gene name: value}``.
    best_fitness : float or ndarray
        Its fitness (in the user's sign: the maximum for ``maximize``). A multi-objective run
        (``NSGA2``) has a front, not one best: ``best_x``, ``best_params`` and
        ``best_fitness`` (an array of ``m`` objectives) are then its recommended pick, the
        knee point of :attr:`pareto` (:func:`genepool.indicators.knee_point`).
    n_evaluations : int
        Candidates evaluated (requested) in the whole run, before a resume too;
        ``memory.cache`` tells how many came from the cache (``memory.evaluations`` counts
        only this process's share of a resumed run).
    n_generations : int
    stop_reason : str
        Why the run stopped, e.g. ``"generations: reached 50"``.
    elapsed : float
        Wall-clock seconds.
    n_errors : int
        Individuals penalized (``on_error="penalize"``); ``first_error`` describes the first.
    memory : MemoryReport
    direction : Direction
        The objectives and their sense (``Direction.maximize()`` for ``maximize``).
    history : pandas.DataFrame
        One row per generation: ``generation``, ``best`` (best so far), ``generation_best``,
        ``mean`` (these three in the user's sign: larger is better for ``maximize``, on disk
        too), ``std`` (of the generation's finite fitness values), ``diversity`` (mean
        per-gene standard deviation relative to the gene's range, estimated on up to 4,096
        evenly spaced rows), ``evaluations`` (cumulative), ``wall_time`` (seconds since start),
        ``rss`` (bytes at the end of the generation). In memory it keeps the newest
        ``history_capacity`` generations; with ``run_dir`` every generation is read back from
        Parquet. :meth:`read_history` reads only some columns or the last rows. A
        multi-objective run records ``generation``, ``hypervolume`` (of the population's first
        front), ``front_size``, ``feasible`` (share of feasible rows), ``archive_size``,
        ``diversity``, ``evaluations``, ``wall_time`` and ``rss``.
    pareto : pandas.DataFrame or None
        Multi-objective runs: the non-dominated solutions found (the archive, or the final
        population's first front without one): decoded parameters, then one column per
        objective in the user's sense. Also written to ``run_dir/pareto.parquet``.
    hypervolume : float or None
        Multi-objective runs: the best hypervolume of a generation's first front.
    """

    best_x: np.ndarray
    best_params: dict[str, Any]
    best_fitness: float | np.ndarray
    n_evaluations: int
    n_generations: int
    stop_reason: str
    elapsed: float
    n_errors: int = 0
    first_error: str | None = None
    memory: MemoryReport | None = field(default=None, repr=False)
    direction: Direction = field(default_factory=Direction.minimize, repr=False)
    pareto: pd.DataFrame | None = field(default=None, repr=False)
    hypervolume: float | None = field(default=None, repr=False)
    _history: RingHistory | None = field(default=None, repr=False)
    #: the direction the history's fitness columns are stored in: the user's (None), or the
    #: internal, minimized one for a resumed run directory written before the history recorded
    #: its direction
    _history_direction: Direction | None = field(default=None, repr=False)

    @property
    def history(self) -> pd.DataFrame:
        """All recorded generations (see the class docstring)."""
        return self.read_history()

    def read_history(
        self, columns: list[str] | None = None, last: int | None = None
    ) -> pd.DataFrame:
        """Some columns and/or the ``last`` generations of the history, in the user's sign."""
        if self._history is None:
            import pandas as pd

            return pd.DataFrame()
        df = self._history.to_frame(columns, last=last)
        stored = self._history_direction
        if stored is not None and stored != self.direction:
            for c in ("best", "generation_best", "mean"):
                if c in df:
                    df[c] = self.direction.to_user(stored.to_internal(df[c].to_numpy()))
        return df

    def __repr__(self) -> str:
        params = self.best_params
        if len(params) > 8:
            shown = ", ".join(f"{k!r}: {v!r}" for k, v in list(params.items())[:8])
            params_repr = f"{{{shown}, ... ({len(params)} genes)}}"
        else:
            params_repr = repr(params)
        errors = f", n_errors={self.n_errors}" if self.n_errors else ""
        best = np.asarray(self.best_fitness, dtype=np.float64)
        shown = f"{float(best):.6g}" if best.ndim == 0 else "[" + ", ".join(
            f"{v:.6g}" for v in best) + "]"  # fmt: skip
        if self.pareto is not None:
            errors += f", pareto={len(self.pareto)} rows"
        return (
            f"Result(best_fitness={shown}, best_params={params_repr}, "
            f"n_generations={self.n_generations}, n_evaluations={self.n_evaluations}"
            f"{errors}, stop_reason={self.stop_reason!r}, elapsed={self.elapsed:.3g}s)"
        )
