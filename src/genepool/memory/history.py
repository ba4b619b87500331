"""``RingHistory``: per-generation statistics in a fixed-size ring buffer, spilled to Parquet.

Memory is allocated once (``capacity`` rows) and never grows, however many generations run.
With a ``directory``, rows are appended to Parquet part files (``part-000000.parquet``, ...)
before the ring overwrites them, so nothing is lost and a crash loses at most the rows since the
last flush; every part file is complete on its own (written to a temporary name, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError, WriteError, check_int

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# pandas and pyarrow are imported inside the functions that need them: a run without a run
# directory never loads them (together ~80 MiB of RSS, half of ``import genepool``).

__all__ = ["SENSE_KEY", "RingHistory", "read_metadata", "write_parquet_atomic"]

#: Schema metadata key of the run loop's history: ``"minimize"`` or ``"maximize"``, the
#: direction of its fitness columns, which are stored in the user's sign.
SENSE_KEY = "genepool.sense"


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` through a temporary file and an atomic rename."""
    import pyarrow.parquet as pq

    tmp = path.with_name(path.name + ".tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a full disk: no half file, ``path`` is as it was
        tmp.unlink(missing_ok=True)
        raise WriteError(path, exc) from exc


def read_metadata(directory: str | Path) -> dict[str, str]:
    """The schema metadata of the first part file in ``directory`` (empty when it has none).

    A history written before genepool recorded the fitness direction has no
    ``genepool.sense`` key: its ``best``/``generation_best``/``mean`` are on the minimized
    scale (negated for a maximizing run).
    """
    import pyarrow.parquet as pq

    parts = sorted(Path(directory).glob("part-*.parquet"))
    if not parts:
        return {}
    raw = pq.read_schema(parts[0]).metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if not k.startswith(b"pandas")}


class RingHistory:
    """A bounded table of per-generation rows.

    Parameters
    ----------
    dtype : numpy structured dtype or sequence of (name, dtype)
        The columns.
    capacity : int, default 10_000
        Rows kept in memory (the newest ones).
    directory : path, optional
        Where Parquet part files go; without it only the newest ``capacity`` rows are kept.
    flush_every : int, optional
        Rows per part file (default ``min(capacity, 1000)``): the most a crash can lose.
    resume_rows : int, optional
        Continue the history already in ``directory`` after its first ``resume_rows`` rows
        (rows after them are deleted): how a resumed run picks up its checkpoint's history.
    metadata : dict of str, optional
        Key-value pairs written into the schema metadata of every part file (the run loop
        records ``genepool.sense``, the direction of the fitness columns; see
        :func:`read_metadata`).

    Examples
    --------
    >>> h = RingHistory([("generation", "i8"), ("best", "f8")], capacity=3)
    >>> for g in range(5):
    ...     h.append((g, 10.0 - g))
    >>> len(h), h.to_frame()["generation"].tolist()
    (5, [2, 3, 4])
    """

    def __init__(
        self,
        dtype: np.dtype | Iterable[tuple[str, npt.DTypeLike]],
        capacity: int = 10_000,
        directory: str | Path | None = None,
        flush_every: int | None = None,
        resume_rows: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.metadata = dict(metadata or {})
        self.dtype = np.dtype(list(dtype) if not isinstance(dtype, np.dtype) else dtype)
        if self.dtype.names is None:
            raise ConfigError("RingHistory needs a structured dtype (named columns)")
        self.capacity = check_int("capacity", capacity, minimum=1)
        self._rows = np.zeros(self.capacity, dtype=self.dtype)
        self._n = 0  # rows ever appended
        self._flushed = 0  # rows written to disk
        self._parts = 0
        self.directory = None if directory is None else Path(directory)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            if resume_rows is not None:
                self._reopen(check_int("resume_rows", resume_rows, minimum=0))
            elif any(self.directory.glob("part-*.parquet")):
                raise ConfigError(
                    f"history directory {self.directory} already holds part "
                    f"files; use a new directory"
                )
        elif resume_rows:
            raise ConfigError("resume_rows needs a directory (the rows are read back from it)")
        self.flush_every = (
            min(self.capacity, 1000)
            if flush_every is None
            else check_int("flush_every", flush_every, minimum=1)
        )
        if self.flush_every > self.capacity:
            raise ConfigError(
                f"flush_every ({self.flush_every}) must be <= capacity ({self.capacity})"
            )

    def _reopen(self, n_rows: int) -> None:
        """Continue a history whose first ``n_rows`` rows are on disk: later rows (written
        after a checkpoint by a run that was then killed) are cut off, atomically."""
        import pyarrow.parquet as pq

        parts = sorted(self.directory.glob("part-*.parquet"))  # type: ignore[union-attr]
        kept = 0
        for i, part in enumerate(parts):
            rows = pq.read_metadata(part).num_rows
            if kept + rows <= n_rows:
                kept += rows
                self._parts = i + 1
                continue
            if kept < n_rows:  # this part straddles the cut: keep its head
                write_parquet_atomic(pq.read_table(part).slice(0, n_rows - kept), part)
                kept = n_rows
                self._parts = i + 1
            else:
                part.unlink()
        if kept != n_rows:
            raise ConfigError(
                f"history directory {self.directory} holds {kept} rows, fewer than the "
                f"{n_rows} to resume from"
            )
        self._n = self._flushed = n_rows

    @property
    def columns(self) -> tuple[str, ...]:
        return self.dtype.names  # type: ignore[return-value]

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Memory held by the ring buffer (constant)."""
        return int(self._rows.nbytes)

    @property
    def n_in_memory(self) -> int:
        return min(self._n, self.capacity)

    @property
    def n_flushed(self) -> int:
        """Rows already written to disk."""
        return self._flushed

    def unflushed(self) -> np.ndarray:
        """A copy of the rows not yet on disk (structured array; what a checkpoint carries)."""
        return self._memory_rows(self._flushed).copy()

    def append(self, row: Sequence[object]) -> None:
        """Add one row (a tuple in column order)."""
        if self.directory is not None and self._n - self._flushed >= self.flush_every:
            self.flush()
        self._rows[self._n % self.capacity] = tuple(row)
        self._n += 1

    def _memory_rows(self, start: int) -> np.ndarray:
        """Rows with absolute index >= ``start`` that are still in memory, in order."""
        first = max(start, self._n - self.capacity)
        idx = np.arange(first, self._n) % self.capacity
        return self._rows[idx]

    def flush(self) -> int:
        """Write the rows not yet on disk to a new part file; returns how many were written."""
        if self.directory is None or self._flushed == self._n:
            return 0
        import pyarrow as pa

        rows = self._memory_rows(self._flushed)
        table = pa.table({c: rows[c] for c in self.columns}, metadata=self.metadata or None)
        write_parquet_atomic(table, self.directory / f"part-{self._parts:06d}.parquet")
        self._parts += 1
        written = len(rows)
        self._flushed = self._n
        return written

    def to_frame(
        self, columns: Sequence[str] | None = None, last: int | None = None
    ) -> pd.DataFrame:
        """The history as a DataFrame: every row when spilled to disk, else the newest ones.

        ``columns`` reads only those columns (from disk too); ``last`` only the newest rows.
        """
        import pandas as pd

        cols = list(self.columns if columns is None else columns)
        unknown = set(cols) - set(self.columns)
        if unknown:
            raise ConfigError(f"unknown history column(s) {sorted(unknown)}")
        start = 0 if last is None else max(0, self._n - int(last))
        frames = []
        if self.directory is not None and self._flushed > start:
            frames.append(self._read_disk(cols).iloc[start:])
            mem = self._memory_rows(self._flushed)
        else:
            mem = self._memory_rows(start)
        frames.append(pd.DataFrame({c: mem[c] for c in cols}))
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return df.reset_index(drop=True)

    def _read_disk(self, cols: list[str]) -> pd.DataFrame:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = sorted(self.directory.glob("part-*.parquet"))  # type: ignore[union-attr]
        tables = [pq.read_table(p, columns=cols) for p in parts]
        return pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame(columns=cols)
