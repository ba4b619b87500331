"""What a run records per generation: statistics into a RingHistory, population snapshots.

The history's fitness columns (``best``, ``generation_best``, ``mean``) are stored in the
user's sense, with the direction in the Parquet schema metadata (``genepool.sense`` and
``genepool.direction``) and in the checkpoint (``history.sense``), so that a reader never has
to guess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..memory.history import RingHistory, write_parquet_atomic
from ..space import Space
from .checkpoint import Checkpoint
from .direction import Direction, direction_metadata
from .state import pending_history

__all__ = ["DIVERSITY_SAMPLE", "FRONT_HISTORY_DTYPE", "HISTORY_DTYPE", "Recorder"]

#: Rows of a generation the diversity is estimated on (evenly spaced).
DIVERSITY_SAMPLE = 4096
HISTORY_DTYPE = np.dtype(
    [
        ("generation", np.int64),
        ("best", np.float64),
        ("generation_best", np.float64),
        ("mean", np.float64),
        ("std", np.float64),
        ("diversity", np.float64),
        ("evaluations", np.int64),
        ("wall_time", np.float64),
        ("rss", np.int64),
    ]
)
#: The history of a multi-objective run: the population's first front instead of one best.
FRONT_HISTORY_DTYPE = np.dtype(
    [
        ("generation", np.int64),
        ("hypervolume", np.float64),
        ("front_size", np.int64),
        ("feasible", np.float64),
        ("archive_size", np.int64),
        ("diversity", np.float64),
        ("evaluations", np.int64),
        ("wall_time", np.float64),
        ("rss", np.int64),
    ]
)


class Recorder:
    """Per-generation statistics into a RingHistory, snapshots to Parquet.

    ``direction`` is the run's; the optimizer works on ``direction.to_internal(y)``. A run
    directory written before the direction was recorded (its checkpoint has no
    ``history.sense``) holds the internal, minimized scale: resuming it keeps that scale, so
    that one directory never mixes senses (:attr:`stored` says which one the rows are in).
    """

    def __init__(
        self,
        space: Space,
        capacity: int,
        run_dir: Path | None,
        snapshot_every: int | None,
        direction: Direction,
        resume_from: Checkpoint | None = None,
        multi_objective: bool = False,
    ) -> None:
        self.space = space
        #: the history's row type (:data:`FRONT_HISTORY_DTYPE` for a multi-objective run)
        self.dtype = FRONT_HISTORY_DTYPE if multi_objective else HISTORY_DTYPE
        self._span = space.upper - space.lower
        self.run_dir = run_dir
        self.snapshot_every = snapshot_every
        legacy = resume_from is not None and not resume_from.meta["history"].get("sense")
        #: whether the history records its direction (False only for such an old directory)
        self.recorded = not legacy
        #: the direction of the stored fitness columns
        self.stored = direction.internal() if legacy else direction
        meta = direction_metadata(self.stored) if self.recorded else None
        folder = None if run_dir is None else run_dir / "history.parquet"
        if resume_from is None:
            self.history = RingHistory(self.dtype, capacity, folder, metadata=meta)
        else:  # the rows on disk at the checkpoint, then those it carried in memory
            flushed = int(resume_from.meta["history"]["flushed"])
            self.history = RingHistory(
                self.dtype, capacity, folder, resume_rows=flushed, metadata=meta
            )
            for row in pending_history(resume_from, self.dtype):
                self.history.append(tuple(row))

    @property
    def sense(self) -> str | None:
        """The history's direction as the checkpoint records it: ``"minimize"``,
        ``"maximize"`` or ``"mixed"`` (None: not recorded)."""
        return self.stored.label if self.recorded else None

    def add(
        self,
        gen: int,
        best: float,
        f: np.ndarray,
        X: np.ndarray,
        n_eval: int,
        wall: float,
        rss: int,
        valid: np.ndarray | None = None,
    ) -> None:
        """Append generation ``gen``: ``best`` (so far) and ``f`` on the internal scale."""
        ok = np.isfinite(f) if valid is None else valid
        finite = f[ok] if not ok.all() else f
        mean, std = (
            (float(finite.mean()), float(finite.std())) if finite.size else (np.nan, np.nan)
        )
        diversity = self._diversity(X)
        # exact: a change of sign commutes with min, sum and rounding
        stored = self.stored.to_user
        row = (gen, stored(best), stored(float(f.min())), stored(mean), std, diversity,
               n_eval, wall, rss)  # fmt: skip
        self.history.append(row)

    def add_front(
        self,
        gen: int,
        hypervolume: float,
        front: dict[str, float],
        archive_size: int,
        X: np.ndarray,
        n_eval: int,
        wall: float,
        rss: int,
    ) -> None:
        """Append generation ``gen`` of a multi-objective run (``front``: the optimizer's
        ``front_summary()``; ``archive_size`` -1 without an archive)."""
        row = (gen, hypervolume, int(front["size"]), front["feasible"], archive_size,
               self._diversity(X), n_eval, wall, rss)  # fmt: skip
        self.history.append(row)

    def _diversity(self, X: np.ndarray) -> float:
        """Mean per-gene standard deviation relative to the gene's range, on up to
        :data:`DIVERSITY_SAMPLE` evenly spaced rows."""
        step = max(1, -(-X.shape[0] // DIVERSITY_SAMPLE))
        return float(np.mean(X[::step].std(axis=0) / self._span))

    def snapshot(self, gen: int, X: np.ndarray, y: np.ndarray) -> None:
        """Write the population of generation ``gen`` when a snapshot is due."""
        if self.run_dir is None or not self.snapshot_every or gen % self.snapshot_every:
            return
        folder = self.run_dir / "populations"
        folder.mkdir(parents=True, exist_ok=True)
        cols: dict[str, Any] = dict(self.space.decode(X))
        if y.ndim == 1:
            cols["fitness"] = y
        else:
            cols.update({f"fitness_{j}": y[:, j] for j in range(y.shape[1])})
        import pyarrow as pa  # imported when first needed: a run without run_dir never loads it

        write_parquet_atomic(pa.table(cols), folder / f"gen-{gen:06d}.parquet")
