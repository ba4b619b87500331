"""A memory-mapped market data store: many symbols, more bars than memory.

:func:`import_store` writes OHLCV files (one per symbol, or long tables with a symbol column)
into a directory holding one ``.npy`` array per field per symbol and a ``manifest.json``;
:func:`open_store` opens it as a :class:`MarketStore`, whose arrays are read-only memory maps:
nothing is read until it is used. See docs/data.md.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, DataError
from ._store_format import (
    FIELDS,
    FORMAT,
    MANIFEST,
    PRICE_FIELDS,
    VERSION,
    hash_range,
    read_npy_header,
    tz_object,
)
from .calendar import BarsPerYear

__all__ = ["MarketStore", "import_store", "open_store"]

_CALENDAR_BLOCK = 1 << 20  # bars compared at a time by check_calendars


class MarketStore:
    """An opened market data store (see :func:`open_store`).

    Attributes
    ----------
    path : Path
        The store's directory.
    symbols : tuple of str
        Its symbols, in manifest order (the order they were imported).
    manifest : dict
        The parsed ``manifest.json`` (do not modify).
    """

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = path
        self.manifest = manifest
        self._entries: dict[str, dict[str, Any]] = manifest["symbols"]
        self.symbols: tuple[str, ...] = tuple(self._entries)
        self._maps: dict[tuple[str, str], np.ndarray] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (sent to a worker process) as its path and manifest: no data, no maps; the
        # worker maps the files itself
        return (MarketStore, (self.path, self.manifest))

    def __repr__(self) -> str:
        return f"MarketStore({str(self.path)!r}, {len(self.symbols)} symbols)"

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._entries

    def __len__(self) -> int:
        return len(self.symbols)

    # -- lookup -----------------------------------------------------------------------------

    def _entry(self, symbol: str) -> dict[str, Any]:
        entry = self._entries.get(symbol) if isinstance(symbol, str) else None
        if entry is None:
            raise DataError(f"store {self.path}: {_unknown(symbol, self.symbols)}")
        return entry

    def _file(self, symbol: str, field: str) -> tuple[Path, dict[str, Any]]:
        entry = self._entry(symbol)
        if field not in FIELDS:
            raise ConfigError(
                f"field must be one of {', '.join(PRICE_FIELDS)} (or time), got {field!r}"
            )
        info = entry["files"][field]
        return self.path / info["path"], info

    def _map(self, symbol: str, field: str) -> np.ndarray:
        key = (symbol, field)
        if key not in self._maps:
            path, info = self._file(symbol, field)
            n = self._entry(symbol)["n_bars"]
            where = f"store {self.path}: {symbol}'s {field} ({info['path']})"
            try:
                dtype, n_file, offset = read_npy_header(path)
            except FileNotFoundError:
                raise DataError(f"{where} is missing; {_REDO}") from None
            except (OSError, ValueError) as exc:
                raise DataError(f"{where} is not a readable .npy file ({exc}); {_REDO}") from None
            if dtype != info["dtype"] or offset != info["offset"] or n_file < n:
                raise DataError(
                    f"{where}: its header says {n_file:,} items of {dtype} from byte {offset}, "
                    f"the manifest {n:,} of {info['dtype']} from byte {info['offset']}; {_REDO}"
                )
            try:
                array = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n,))
            except (OSError, ValueError) as exc:
                raise DataError(f"{where} cannot be mapped ({exc}); {_REDO}") from None
            self._maps[key] = array
        return self._maps[key]

    # -- data -------------------------------------------------------------------------------

    def n_bars(self, symbol: str) -> int:
        """Number of bars of ``symbol``."""
        return int(self._entry(symbol)["n_bars"])

    def array(self, symbol: str, field: str) -> np.ndarray:
        """One field of ``symbol``: a read-only float64 memory map of shape ``(n_bars,)``.

        ``field`` is one of ``open, high, low, close, volume``. Nothing is read until the
        array's values are used; pages are file-backed (the kernel reclaims them under memory
        pressure).
        """
        if field == "time":
            raise ConfigError("use times(symbol) for the bar times (int64 nanoseconds, UTC)")
        return self._map(symbol, field)

    def times(self, symbol: str) -> np.ndarray:
        """Bar times of ``symbol``: a read-only int64 memory map of nanoseconds since the epoch,
        UTC (naive source times are stored as they were, as if UTC)."""
        return self._map(symbol, "time")

    def tz(self, symbol: str) -> datetime.tzinfo | None:
        """The time zone of ``symbol``'s source times (None when they were naive)."""
        zone: datetime.tzinfo | None = tz_object(self._entry(symbol)["tz"])
        return zone

    def index(
        self, symbol: str, start: int | None = None, stop: int | None = None
    ) -> pd.DatetimeIndex:
        """Bar times of rows ``start:stop`` (Python slice positions) as a ``DatetimeIndex``
        named ``"time"`` in the source's time zone, like :func:`load_ohlcv` gives."""
        stamps = np.asarray(self.times(symbol)[start:stop]).view("M8[ns]")
        index = pd.DatetimeIndex(stamps, name="time")
        zone = self.tz(symbol)
        return index if zone is None else index.tz_localize("UTC").tz_convert(zone)

    def frame(
        self, symbol: str, start: int | None = None, stop: int | None = None
    ) -> pd.DataFrame:
        """Rows ``start:stop`` of ``symbol`` as the canonical frame :func:`load_ohlcv` returns
        (float64 ``open, high, low, close, volume``, a ``DatetimeIndex`` named ``"time"``);
        the values are copied into memory."""
        return pd.DataFrame(
            {f: np.array(self._map(symbol, f)[start:stop]) for f in PRICE_FIELDS},
            index=self.index(symbol, start, stop),
        )

    def bars_per_year(self, symbol: str) -> BarsPerYear:
        """Bars per year of ``symbol``, counted on its calendar at import
        (:func:`genepool.backtest.infer_bars_per_year`)."""
        found = self._entry(symbol)["bars_per_year"]
        if found is None:
            raise DataError(
                f"store {self.path}: {symbol} has {self.n_bars(symbol)} bar; bars per year "
                "need at least 2: pass bars_per_year explicitly"
            )
        return BarsPerYear(float(found["value"]), str(found["method"]))

    @property
    def nbytes(self) -> int:
        """Bytes on disk: every array file and the manifest."""
        total = sum(
            int(f["bytes"]) for entry in self._entries.values() for f in entry["files"].values()
        )
        try:
            return total + os.path.getsize(self.path / MANIFEST)
        except OSError:
            return total

    def info(self) -> dict[str, Any]:
        """A JSON-able summary: the store's totals and one record per symbol."""
        rows = []
        for symbol, entry in self._entries.items():
            bpy = entry["bars_per_year"]
            rows.append(
                {
                    "symbol": symbol,
                    "n_bars": entry["n_bars"],
                    "start": entry["start"],
                    "end": entry["end"],
                    "tz": entry["tz"],
                    "freq": entry["freq"],
                    "bars_per_year": None if bpy is None else bpy["value"],
                    "bars_per_year_method": None if bpy is None else bpy["method"],
                    "bytes": sum(int(f["bytes"]) for f in entry["files"].values()),
                }
            )
        m = self.manifest
        return {
            "path": str(self.path),
            "format": m["format"],
            "version": m["version"],
            "genepool_version": m.get("genepool_version"),
            "created": m.get("created"),
            "updated": m.get("updated"),
            "checksum": m["checksum"],
            "n_symbols": len(rows),
            "n_bars": sum(r["n_bars"] for r in rows),
            "bytes": self.nbytes,
            "symbols": rows,
        }

    # -- checks -----------------------------------------------------------------------------

    def verify(self, symbols: Iterable[str] | None = None) -> None:
        """Check every file of ``symbols`` (default all) against the manifest: header, size and
        checksums (every data byte is read).

        Raises
        ------
        DataError
            Naming the symbol, the file and what is wrong (missing, truncated, wrong header,
            checksum mismatch with the damaged byte range), and what to do.
        """
        names = self.symbols if symbols is None else tuple(symbols)
        algorithm = self.manifest["checksum"]["algorithm"]
        block = int(self.manifest["checksum"]["block_bytes"])
        for symbol in names:
            entry = self._entry(symbol)
            for field, info in entry["files"].items():
                path = self.path / info["path"]
                _check_size(self.path, symbol, field, info)
                self._maps.pop((symbol, field), None)
                self._map(symbol, field)  # header against the manifest
                itemsize = np.dtype(info["dtype"]).itemsize
                got = hash_range(path, info["offset"], entry["n_bars"] * itemsize, block)
                want = info["checksums"]
                for k, (a, b) in enumerate(zip(got, want)):
                    if a != b:
                        lo = info["offset"] + k * block
                        hi = min(lo + block, info["offset"] + entry["n_bars"] * itemsize)
                        raise DataError(
                            f"store {self.path}: {symbol}'s {field} ({info['path']}) fails its "
                            f"{algorithm} checksum in bytes {lo:,}-{hi:,}: the file was changed "
                            f"or damaged; {_REDO}"
                        )
                if len(got) != len(want):
                    raise DataError(
                        f"store {self.path}: {symbol}'s {field} ({info['path']}) has "
                        f"{len(got)} checksum blocks, the manifest {len(want)}; {_REDO}"
                    )

    def check_calendars(self, symbols: Sequence[str]) -> None:
        """Check that ``symbols`` have identical bar times (the store does not align calendars).

        Raises
        ------
        DataError
            Naming the first symbol whose times differ from the first symbol's, the first bar
            where they differ and both times there.
        """
        names = list(symbols)
        if not names:
            return
        first = names[0]
        ref = self.times(first)
        for other in names[1:]:
            times = self.times(other)
            n = min(len(ref), len(times))
            at = None
            for lo in range(0, n, _CALENDAR_BLOCK):
                hi = min(lo + _CALENDAR_BLOCK, n)
                diff = np.flatnonzero(ref[lo:hi] != times[lo:hi])
                if diff.size:
                    at = lo + int(diff[0])
                    break
            if at is None and len(ref) == len(times):
                continue
            if at is None:
                at = n
            a = self._show_time(first, at)
            b = self._show_time(other, at)
            raise DataError(
                f"store {self.path}: {other} is on a different calendar than {first}: bar "
                f"{at:,} is {b} in {other} but {a} in {first} ({other} has "
                f"{len(times):,} bars, {first} {len(ref):,}); evaluate them apart or give them "
                "the same bar times before importing"
            )

    def _show_time(self, symbol: str, at: int) -> str:
        if at >= self.n_bars(symbol):
            return "missing"
        return str(self.index(symbol, at, at + 1)[0])


_REDO = (
    "re-import the symbol into a new store (genepool data import), or restore the store from "
    "a copy; `genepool data verify DIR` checks every file"
)


def _unknown(symbol: object, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(symbol), known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    some = ", ".join(known[:5]) + (f" and {len(known) - 5:,} more" if len(known) > 5 else "")
    return f"no symbol {symbol!r} (the store has {some}){hint}"


def _check_size(root: Path, symbol: str, field: str, info: Mapping[str, Any]) -> None:
    where = f"store {root}: {symbol}'s {field} ({info['path']})"
    try:
        size = os.path.getsize(root / info["path"])
    except FileNotFoundError:
        raise DataError(f"{where} is missing; {_REDO}") from None
    except OSError as exc:
        raise DataError(f"{where} cannot be read ({exc.strerror}); {_REDO}") from None
    # more bytes than the manifest's are those of an interrupted append: ignored, and
    # overwritten by the next append
    if size < int(info["bytes"]):
        raise DataError(
            f"{where} is truncated: {size:,} bytes, the manifest says {int(info['bytes']):,}; "
            + _REDO
        )


# ---------------------------------------------------------------------------------------------
# opening


def open_store(store_dir: str | os.PathLike[str]) -> MarketStore:
    """Open a market data store written by :func:`import_store`.

    Reads and checks ``manifest.json`` and the size of every file (no data is read: arrays are
    memory-mapped when first used; :meth:`MarketStore.verify` checks the checksums).

    Parameters
    ----------
    store_dir : str or path-like
        The store's directory.

    Returns
    -------
    MarketStore

    Raises
    ------
    DataError
        The directory is not a store, its manifest is unreadable or of an unknown format, or a
        file is missing or shorter than the manifest says (naming the symbol and the file).
    """
    if not isinstance(store_dir, (str, os.PathLike)):
        raise ConfigError(f"store_dir must be a path, got {type(store_dir).__name__}")
    path = Path(store_dir)
    manifest = read_manifest(path)
    for symbol, entry in manifest["symbols"].items():
        for field, info in entry["files"].items():
            _check_size(path, symbol, field, info)
    return MarketStore(path, manifest)


def read_manifest(path: Path) -> dict[str, Any]:
    """The checked manifest of the store in ``path``, or DataError saying what is wrong."""
    file = path / MANIFEST
    if not path.is_dir():
        raise DataError(f"no store at {path}: no such directory")
    if not file.exists():
        leftovers = sorted(p.name for p in path.glob(".import-*"))
        why = (
            f" (it holds {leftovers[0]}: an import that did not finish; delete {path} and "
            "import again)"
            if leftovers
            else " (create one with genepool data import FILES --store DIR)"
        )
        raise DataError(f"{path} is not a genepool data store: it has no {MANIFEST}{why}")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"store {path}: {MANIFEST} is unreadable ({exc}); the store is damaged: import the "
            "data again into a new directory"
        ) from None
    try:
        _check_manifest(doc)
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise DataError(
            f"store {path}: {MANIFEST} is not a valid store manifest ({type(exc).__name__}: "
            f"{exc}); the store is damaged: import the data again into a new directory"
        ) from None
    return dict(doc)


def _check_manifest(doc: Any) -> None:
    """Raise (KeyError, TypeError, ValueError, AssertionError) unless ``doc`` is a manifest."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"format is not {FORMAT!r}")
    if not isinstance(doc["version"], int) or doc["version"] > VERSION:
        raise ValueError(
            f"format version {doc['version']!r}; this genepool reads version {VERSION}: "
            "upgrade genepool"
        )
    checksum = doc["checksum"]
    if checksum["algorithm"] != "sha256" or int(checksum["block_bytes"]) <= 0:
        raise ValueError(f"unknown checksum {checksum!r}")
    symbols = doc["symbols"]
    if not isinstance(symbols, dict):
        raise TypeError("symbols is not a mapping")
    for symbol, entry in symbols.items():
        n = entry["n_bars"]
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{symbol}: n_bars {n!r}")
        missing = {"start", "end", "freq", "tz", "bars_per_year"} - set(entry)
        if missing:
            raise KeyError(f"{symbol}: {sorted(missing)}")
        files = entry["files"]
        if set(files) != set(FIELDS):
            raise ValueError(f"{symbol}: files {sorted(files)}, expected {sorted(FIELDS)}")
        for field, info in files.items():
            if info["dtype"] != FIELDS[field]:
                raise ValueError(f"{symbol}: {field} has dtype {info['dtype']!r}")
            rel = Path(info["path"])
            if rel.is_absolute() or ".." in rel.parts:
                raise ValueError(f"{symbol}: {field} path {info['path']!r} leaves the store")
            itemsize = np.dtype(info["dtype"]).itemsize
            if int(info["bytes"]) != int(info["offset"]) + n * itemsize:
                raise ValueError(f"{symbol}: {field} bytes {info['bytes']!r} do not match")
            if not isinstance(info["checksums"], list):
                raise TypeError(f"{symbol}: {field} checksums is not a list")


# ---------------------------------------------------------------------------------------------
# importing


def import_store(
    files: str
    | os.PathLike[str]
    | pd.DataFrame
    | Sequence[str | os.PathLike[str] | pd.DataFrame]
    | Mapping[str, str | os.PathLike[str] | pd.DataFrame],
    store_dir: str | os.PathLike[str],
    *,
    symbol_column: str | None = None,
    symbols: Sequence[str] | None = None,
    append: bool = False,
    sort: bool = False,
    progress: Callable[[str], object] | None = None,
    time_column: str | None = None,
    price_column: str | None = None,
    chunk_rows: int = 1_000_000,
    **read_kwargs: Any,
) -> MarketStore:
    """Import OHLCV files into a market data store (or append them to one), streaming.

    Parameters
    ----------
    files : path or sequence of paths
        CSV or Parquet files in every layout :func:`load_ohlcv` reads. Without
        ``symbol_column``, one file per symbol, named by its file name without the ending
        (``data/AAPL.csv.gz`` is ``AAPL``, case kept) unless ``symbols`` names them. With
        ``symbol_column``, long tables holding many symbols, read ``chunk_rows`` rows at a
        time, so they may be larger than memory; each symbol's rows must be in time order
        across the table (they may interleave with other symbols'). DataFrames are accepted
        wherever files are (validated with :func:`validate_ohlcv`); a mapping
        ``{symbol: file or frame}`` names the symbols.
    store_dir : path
        The store. Without ``append`` it must not exist or be empty: an import never
        overwrites anything.
    symbol_column : str, optional
        The column naming each row's symbol (long tables).
    symbols : sequence of str, optional
        One file per symbol: the symbols' names, one per file. Long tables: import only these
        symbols (each must occur).
    append : bool, default False
        Add to the existing store ``store_dir``: bars of a symbol it holds must come strictly
        after its last bar (they are written at the end of its files; nothing is rewritten),
        other symbols are added.
    sort : bool, default False
        Sort each file's bars by time (one file per symbol only: a long table is streamed and
        must be sorted already).
    progress : callable, optional
        Called with one line of text per file, chunk and symbol imported.
    time_column, price_column : str, optional
        As in :func:`load_ohlcv`.
    chunk_rows : int, default 1,000,000
        Rows of a long table read at a time (the bounded buffer).
    **read_kwargs
        Passed to the CSV or Parquet reader (``sep=";"``, ...).

    Returns
    -------
    MarketStore
        The store, opened.

    Raises
    ------
    DataError
        Invalid bars (naming the file, the symbol, the row of the file and its time), bars of
        a symbol not after the ones already stored, duplicate symbols.
    ConfigError
        ``store_dir`` is not empty (without ``append``), or an argument is invalid.
    WriteError
        A file could not be written (disk full): nothing was published, an appended store is
        as it was.

    Notes
    -----
    Everything is written under temporary names (or past the end of an appended file) and
    published by writing the manifest last (``os.replace``): a failure or a kill leaves either
    no manifest, or the previous one with every file it describes intact.
    """
    from ._store_import import run_import

    return run_import(
        files,
        store_dir,
        symbol_column=symbol_column,
        symbols=symbols,
        append=append,
        sort=sort,
        progress=progress,
        time_column=time_column,
        price_column=price_column,
        chunk_rows=chunk_rows,
        read_kwargs=read_kwargs,
    )
