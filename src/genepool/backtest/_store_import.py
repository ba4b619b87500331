"""Streaming import into (and append to) the market data store; see :func:`import_store`.

One file per symbol is loaded whole with :func:`load_ohlcv` (one file in memory); a long table
is read ``chunk_rows`` rows at a time and each chunk's rows are validated symbol by symbol and
appended to that symbol's files. Data go to temporary names (or past the end of an existing
file, with its header unchanged); the manifest, written last with ``os.replace``, publishes
them. On any failure everything written is removed (appended files are cut back).
"""

from __future__ import annotations

import datetime
import errno
import gc
import json
import os
import re
import shutil
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from .. import __version__
from ..errors import ConfigError, DataError, WriteError, check_int
from ..run.checkpoint import fsync_dir
from ._store_format import (
    CHECKSUM,
    CHECKSUM_BLOCK,
    FIELDS,
    FORMAT,
    HEADER_BYTES,
    MANIFEST,
    PRICE_FIELDS,
    SYMBOLS_DIR,
    VERSION,
    BlockHasher,
    check_symbol,
    merge_tz,
    npy_header,
    read_npy_header,
    symbol_dir_name,
    tz_name,
)
from .calendar import infer_bars_per_year_sorted, median_gap
from .data import FORMATS, _find, _format_of, _sniff_csv, load_ohlcv, validate_ohlcv
from .store import MarketStore, open_store, read_manifest

try:  # advisory lock: one writer per store
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_LOCK = ".lock"


def _write_at(f: BinaryIO, offset: int, data: memoryview) -> None:
    """Write ``data`` at ``offset`` of the unbuffered file ``f`` (the one place the store
    writes array bytes: an error, such as a full disk, is raised here, not at close)."""
    f.seek(offset)
    view = memoryview(data).cast("B")
    while view.nbytes:
        written = f.write(view)
        view = view[written or 0 :]


class _OpenFiles:
    """Unbuffered handles of the files being written, the least recently used closed beyond
    ``cap`` (a long table writes to every symbol's files chunk after chunk; opening a file
    costs about as much as writing a few thousand bars to it)."""

    def __init__(self, cap: int = 240) -> None:
        self.cap = cap
        self.files: OrderedDict[Path, BinaryIO] = OrderedDict()

    def get(self, path: Path, create: bool = False) -> BinaryIO:
        f = self.files.get(path)
        if f is not None:
            self.files.move_to_end(path)
            return f
        if len(self.files) >= self.cap:
            self.files.popitem(last=False)[1].close()
        f = open(path, "x+b" if create else "r+b", buffering=0)
        self.files[path] = f
        return f

    def close_all(self) -> None:
        while self.files:
            self.files.popitem()[1].close()


class _ArrayFile:
    """One ``.npy`` file being written: bars go past the end, the header is rewritten last."""

    def __init__(
        self, path: Path, dtype: str, n: int, offset: int, hasher: BlockHasher, handles: _OpenFiles
    ) -> None:
        self.path, self.dtype, self.offset, self.hasher = path, dtype, offset, hasher
        self.handles = handles
        self.itemsize = np.dtype(dtype).itemsize
        self.n0 = self.n = n

    @classmethod
    def create(cls, path: Path, dtype: str, block: int, handles: _OpenFiles) -> _ArrayFile:
        try:
            _write_at(handles.get(path, create=True), 0, memoryview(npy_header(dtype, 0)))
        except OSError as exc:
            raise WriteError(path, exc) from exc
        return cls(path, dtype, 0, HEADER_BYTES, BlockHasher(block), handles)

    @classmethod
    def resume(cls, root: Path, symbol: str, field: str, info: dict[str, Any], n: int,
               block: int, handles: _OpenFiles) -> _ArrayFile:  # fmt: skip
        """An existing file, its hasher fed again with the last (partial) checksum block."""
        path = root / info["path"]
        dtype, _, offset = read_npy_header(path)
        data_bytes = n * np.dtype(dtype).itemsize
        full = data_bytes // block
        hasher = BlockHasher(block, info["checksums"][:full])
        with open(path, "rb") as f:
            f.seek(offset + full * block)
            hasher.update(f.read(data_bytes - full * block))
        if hasher.result() != info["checksums"]:
            raise DataError(
                f"store {root}: {symbol}'s {field} ({info['path']}) fails its checksum in its "
                "last block: the file was changed or damaged; nothing was appended (run "
                "genepool data verify on the store)"
            )
        return cls(path, dtype, n, offset, hasher, handles)

    def append(self, values: np.ndarray) -> None:
        data = np.ascontiguousarray(values, dtype=self.dtype)
        view = data.view(np.uint8).data
        try:
            _write_at(self.handles.get(self.path), self.offset + self.n * self.itemsize, view)
        except OSError as exc:
            raise WriteError(self.path, exc) from exc
        self.hasher.update(view)
        self.n += len(data)

    def finish(self) -> None:
        """Header with the new length, no bytes past the data, and everything on disk."""
        try:
            with open(self.path, "r+b") as f:
                f.truncate(self.offset + self.n * self.itemsize)  # an earlier killed append's
                f.write(npy_header(self.dtype, self.n))
                f.flush()
                os.fsync(f.fileno())  # waits on the disk: run from threads, see publish
        except OSError as exc:
            raise WriteError(self.path, exc) from exc

    def rollback(self) -> None:
        """Back to the file as it was (an appended file: cut back, old header)."""
        with open(self.path, "r+b") as f:
            f.truncate(self.offset + self.n0 * self.itemsize)
            f.write(npy_header(self.dtype, self.n0))

    def info(self, root: Path) -> dict[str, Any]:
        return {
            "path": self.path.relative_to(root).as_posix(),
            "dtype": self.dtype,
            "offset": self.offset,
            "bytes": self.offset + self.n * self.itemsize,
            "checksums": self.hasher.result(),
        }


class _Symbol:
    """A symbol being written: its files, its last time and its time zone."""

    def __init__(self, symbol: str, dir_name: str, entry: dict[str, Any] | None) -> None:
        self.symbol, self.dir_name, self.entry = symbol, dir_name, entry
        self.files: dict[str, _ArrayFile] = {}
        self.last: int | None = None
        self.last_where = ""
        self.tz: str | None = None
        self.added = 0

    @property
    def n_bars(self) -> int:
        return self.files["time"].n


class _Session:
    """An import or an append in progress (see the module docstring)."""

    def __init__(self, root: Path, store: MarketStore | None, block: int) -> None:
        self.root = root
        self.store = store
        self.block = block
        self.work = root / f".{'append' if store else 'import'}-{uuid.uuid4().hex[:12]}"
        self.symbols: dict[str, _Symbol] = {}
        listed = {} if store is None else store.manifest["symbols"]
        self.taken = {
            Path(e["files"]["time"]["path"]).parent.name.lower() for e in listed.values()
        }
        self.published: list[Path] = []
        self.handles = _OpenFiles()

    def symbol(self, name: str) -> _Symbol:
        found = self.symbols.get(name)
        if found is not None:
            return found
        entry = None if self.store is None else self.store.manifest["symbols"].get(name)
        if entry is not None:
            dir_name = Path(entry["files"]["time"]["path"]).parent.name
            state = _Symbol(name, dir_name, entry)
            for field, info in entry["files"].items():
                state.files[field] = _ArrayFile.resume(
                    self.root, name, field, info, entry["n_bars"], self.block, self.handles
                )
            state.last = int(self.store.times(name)[-1]) if self.store else None
            state.last_where = "its last bar in the store"
            state.tz = entry["tz"]
        else:
            dir_name = symbol_dir_name(name, self.taken)
            self.taken.add(dir_name.lower())
            state = _Symbol(name, dir_name, None)
            folder = self.work / dir_name
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise WriteError(folder, exc) from exc
            for field, dtype in FIELDS.items():
                state.files[field] = _ArrayFile.create(
                    folder / f"{field}.npy", dtype, self.block, self.handles
                )
        self.symbols[name] = state
        return state

    def add(self, name: str, frame: pd.DataFrame, where: str, rows: np.ndarray) -> None:
        """Append validated bars of ``name``; ``rows`` are their rows in the source file."""
        state = self.symbol(name)
        times = frame.index.asi8
        zone = tz_name(frame.index.tz)
        if state.last is None:
            state.tz = zone
        else:
            state.tz = merge_tz(state.tz, zone, f"{where} (symbol {name})")
            if times[0] <= state.last:
                shown = pd.Timestamp(state.last, tz="UTC" if zone else None)
                if zone:
                    shown = shown.tz_convert(frame.index.tz)
                word = "repeats" if times[0] == state.last else "is not after"
                raise DataError(
                    f"{where}: symbol {name}: time {frame.index[0]} at row {int(rows[0])} "
                    f"{word} {shown}, {state.last_where}; a symbol's bars must be in time "
                    "order (append only bars after a symbol's last one)"
                )
        state.files["time"].append(times)
        for field in PRICE_FIELDS:
            state.files[field].append(frame[field].to_numpy())
        state.last = int(times[-1])
        state.last_where = f"its bar at row {int(rows[-1])} of {where}"
        state.added += len(frame)

    # -- publishing -----------------------------------------------------------------------

    def publish(self) -> dict[str, Any]:
        """Finish every file, move new symbols into place and write the manifest last."""
        previous = {} if self.store is None else self.store.manifest
        entries = dict(previous.get("symbols", {}))
        self.handles.close_all()
        files = [f for state in self.symbols.values() for f in state.files.values()]
        # fsync waits on the disk (milliseconds a file), not the CPU: many at once let the
        # filesystem commit them together (6,000 files: 23 s one by one)
        with ThreadPoolExecutor(max_workers=min(16, len(files))) as pool:
            for _ in pool.map(_ArrayFile.finish, files):
                pass
        target = self.root / SYMBOLS_DIR
        for name, state in self.symbols.items():
            if state.entry is None:  # new symbol: into symbols/ (leftovers of a killed
                dest = target / state.dir_name  # append there are not in the manifest)
                try:
                    target.mkdir(exist_ok=True)
                    if dest.exists():
                        shutil.rmtree(dest)
                    os.rename(self.work / state.dir_name, dest)
                except OSError as exc:
                    raise WriteError(dest, exc) from exc
                self.published.append(dest)
                for file in state.files.values():
                    file.path = dest / file.path.name
            entries[name] = self._entry(state)
        fsync_dir(target)
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "genepool_version": __version__,
            "created": previous.get("created", now),
            "updated": now,
            "checksum": {"algorithm": CHECKSUM, "block_bytes": self.block},
            "fields": dict(FIELDS),
            "symbols": entries,
        }
        write_manifest(self.root, manifest)
        self.published.clear()  # from here on they belong to the store
        return manifest

    def _entry(self, state: _Symbol) -> dict[str, Any]:
        time_file = state.files["time"]
        n = time_file.n
        stamps = np.memmap(time_file.path, dtype="<i8", mode="r", offset=time_file.offset,
                           shape=(n,))  # fmt: skip
        index = pd.DatetimeIndex(stamps[[0, -1]].view("M8[ns]"))
        if state.tz is not None:
            index = index.tz_localize("UTC").tz_convert(state.tz)
        freq = bpy = None
        if n >= 2:
            median = median_gap(stamps)  # by slices: bounded memory for any length
            freq = to_offset(pd.Timedelta(median, "ns")).freqstr
            found = infer_bars_per_year_sorted(stamps, state.tz)
            bpy = {"value": found.value, "method": found.method}
        del stamps
        return {
            "n_bars": n,
            "start": index[0].isoformat(),
            "end": index[-1].isoformat(),
            "tz": state.tz,
            "freq": freq,
            "bars_per_year": bpy,
            "files": {f: state.files[f].info(self.root) for f in FIELDS},
        }

    def abandon(self) -> None:
        """Undo everything (best effort: it runs after a failure, maybe with a full disk)."""
        try:
            self.handles.close_all()
        except OSError:
            pass
        for state in self.symbols.values():
            if state.entry is not None:
                for file in state.files.values():
                    try:
                        file.rollback()
                    except OSError:
                        pass
        for path in self.published:
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)
        if self.store is None:  # a new store: all of symbols/ is this import's
            shutil.rmtree(self.root / SYMBOLS_DIR, ignore_errors=True)


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """``manifest.json`` through a temporary file and ``os.replace``: all or nothing."""
    final = root / MANIFEST
    temp = root / f".{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(temp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, final)
    except OSError as exc:
        try:
            temp.unlink()
        except OSError:
            pass
        raise WriteError(final, exc) from exc
    fsync_dir(root)


# ---------------------------------------------------------------------------------------------
# the import


def run_import(
    files: Any,
    store_dir: Any,
    *,
    symbol_column: str | None,
    symbols: Sequence[str] | None,
    append: bool,
    sort: bool,
    progress: Callable[[str], object] | None,
    time_column: str | None,
    price_column: str | None,
    chunk_rows: int,
    read_kwargs: dict[str, Any],
) -> MarketStore:
    paths, keys = _sources(files)
    if keys is not None:
        if symbols is not None:
            raise ConfigError("files is a mapping of symbols to sources: do not pass symbols=")
        if symbol_column is None:
            symbols = keys
    if not isinstance(store_dir, (str, os.PathLike)):
        raise ConfigError(f"store_dir must be a path, got {type(store_dir).__name__}")
    chunk_rows = check_int("chunk_rows", chunk_rows, minimum=1)
    if symbol_column is not None and sort:
        raise ConfigError(
            "sort=True needs a whole file in memory, and a long table is streamed: sort it by "
            "time before importing (a symbol's rows must be in time order)"
        )
    names = None if symbol_column is not None else _names(paths, symbols)
    say = progress or (lambda _line: None)
    root = Path(store_dir)
    created = _prepare(root, append)
    lock = _lock(root)
    session: _Session | None = None
    try:
        store = open_store(root) if append and (root / MANIFEST).exists() else None
        if store is not None:
            block = int(store.manifest["checksum"]["block_bytes"])
        else:
            block = CHECKSUM_BLOCK
        session = _Session(root, store, block)
        if names is not None:
            for path, name in zip(paths, names):
                if isinstance(path, pd.DataFrame):
                    frame = validate_ohlcv(
                        path, sort=sort, name=f"frame {name}", time_column=time_column,
                        price_column=price_column,
                    )  # fmt: skip
                else:
                    frame = load_ohlcv(path, sort=sort, time_column=time_column,
                                       price_column=price_column, **read_kwargs)  # fmt: skip
                session.add(name, frame, _label(path, name), np.arange(len(frame)))
                say(_line(session.symbols[name], name))
                del frame
        else:
            assert symbol_column is not None
            wanted = None if symbols is None else {check_symbol(s, "symbols") for s in symbols}
            for path in paths:
                _import_long(session, path, symbol_column, wanted, chunk_rows, time_column,
                             price_column, read_kwargs, say)  # fmt: skip
            missing = sorted((wanted or set()) - set(session.symbols))
            if missing:
                raise DataError(
                    f"symbols {missing} are not in column {symbol_column!r} of "
                    f"{', '.join(_label(p) for p in paths)}"
                )
            for name, state in session.symbols.items():
                say(_line(state, name))
        if not session.symbols:
            raise DataError(f"nothing to import from {', '.join(_label(p) for p in paths)}")
        session.publish()
        shutil.rmtree(session.work, ignore_errors=True)
    except BaseException as exc:
        if session is not None:
            session.abandon()
        _unlock(lock, root, remove=store_is_new(root))
        if created:
            _remove_if_empty(root)
        if isinstance(exc, WriteError):
            exc.args = (exc.args[0], f"{exc}; nothing was imported (the store is as before)")
        raise
    _unlock(lock, root, remove=False)
    return open_store(root)


def store_is_new(root: Path) -> bool:
    return not (root / MANIFEST).exists()


def _line(state: _Symbol, name: str) -> str:
    if state.entry is None:
        return f"imported {name}: {state.n_bars:,} bars"
    return f"appended {name}: {state.added:,} bars ({state.n_bars:,} in all)"


_Source: TypeAlias = Path | pd.DataFrame


def _sources(files: Any) -> tuple[list[_Source], list[str] | None]:
    """The files (paths) and frames to import, and the symbols when ``files`` maps them."""
    keys = None
    if isinstance(files, Mapping):
        keys = [check_symbol(k, "files") for k in files]
        files = list(files.values())
    elif isinstance(files, (str, os.PathLike, pd.DataFrame)):
        files = [files]
    try:
        sources = [f if isinstance(f, pd.DataFrame) else Path(f) for f in files]
    except TypeError:
        raise ConfigError(f"files must be paths or DataFrames, got {files!r}") from None
    if not sources:
        raise ConfigError("files is empty: give at least one file to import")
    return sources, keys


def _label(source: _Source, name: str | None = None) -> str:
    if isinstance(source, pd.DataFrame):
        return "a DataFrame" if name is None else f"frame {name}"
    return str(source)


def symbol_of(path: Path) -> str:
    """``AAPL`` for ``data/AAPL.csv.gz``: the file name without its data ending."""
    name = path.name.rstrip("/")
    lowered = name.lower()
    for ending in sorted(FORMATS, key=len, reverse=True):
        if lowered.endswith(ending) and len(name) > len(ending):
            return name[: -len(ending)]
    return Path(name).stem or name


def _names(paths: list[_Source], symbols: Sequence[str] | None) -> list[str]:
    if symbols is None:
        if any(isinstance(p, pd.DataFrame) for p in paths):
            raise ConfigError(
                "a DataFrame has no file name: pass {symbol: frame} or name them with symbols="
            )
        names = [symbol_of(p) for p in paths if isinstance(p, Path)]
    else:
        if isinstance(symbols, str) or len(symbols) != len(paths):
            raise ConfigError(f"symbols must name each of the {len(paths)} files, got {symbols!r}")
        names = list(symbols)
    seen: dict[str, str] = {}
    for path, name in zip(paths, names):
        check_symbol(name, _label(path))
        if name in seen:
            raise ConfigError(
                f"symbol {name!r} is given twice ({seen[name]} and {_label(path)}): one file per "
                "symbol (name them with symbols=, or use a long table with symbol_column=)"
            )
        seen[name] = _label(path)
    return names


def _prepare(root: Path, append: bool) -> bool:
    """Check the store directory; create it for a new store. True when it was created."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"store directory {root} is a file")
    if append and (root / MANIFEST).exists():
        read_manifest(root)
        return False
    if root.exists():
        entries = sorted(p.name for p in root.iterdir())
        if entries:
            shown = ", ".join(entries[:3]) + (" ..." if len(entries) > 3 else "")
            if MANIFEST in entries:
                hint = "; to add to this store pass append=True"
                cli = "; to add to this store use genepool data append DIR FILES"
            else:
                hint = cli = ""
            exc = ConfigError(
                f"store directory {root} is not empty (it holds {shown}); an import never "
                f"overwrites files: choose a new directory{hint}"
            )
            exc.cli_message = str(exc).replace(hint, cli) if hint else None
            raise exc
        return False
    try:
        root.mkdir(parents=True)
    except OSError as exc:
        raise WriteError(root, exc) from exc
    return True


def _lock(root: Path) -> Any:
    if fcntl is None:  # pragma: no cover
        return None
    try:
        handle = open(root / _LOCK, "a")
    except OSError as exc:
        raise WriteError(root / _LOCK, exc) from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise ConfigError(
                f"another import or append is writing to {root}; wait for it to finish"
            ) from None
        raise
    return handle


def _unlock(handle: Any, root: Path, remove: bool) -> None:
    if handle is None:  # pragma: no cover
        return
    if remove:
        try:
            (root / _LOCK).unlink()
        except OSError:
            pass
    handle.close()


def _remove_if_empty(root: Path) -> None:
    try:
        root.rmdir()
    except OSError:
        pass


# ---------------------------------------------------------------------------------------------
# long tables


def _import_long(
    session: _Session,
    path: _Source,
    symbol_column: str,
    wanted: set[str] | None,
    chunk_rows: int,
    time_column: str | None,
    price_column: str | None,
    read_kwargs: dict[str, Any],
    say: Callable[[str], object],
) -> None:
    where = _label(path)
    since_collect = 0
    for k_chunk, (offset, chunk) in enumerate(_chunks(path, chunk_rows, read_kwargs)):
        # pandas leaves each chunk's frames in reference cycles, collected late (measured: 60
        # MiB more anonymous memory at the end of a 2-million-row import without it); a
        # collection every 10^6 rows (or 16 chunks) frees them
        since_collect += len(chunk)
        if since_collect >= 1_000_000 or k_chunk % 16 == 15:
            gc.collect()
            since_collect = 0
        labels = list(chunk.columns)
        at = _find(labels, symbol_column)
        if at is None:
            raise DataError(f"{where}: no symbol column {symbol_column!r} among {labels}")
        codes, uniques = pd.factorize(chunk.iloc[:, at], sort=False)
        if (codes < 0).any():
            row = offset + int(np.flatnonzero(codes < 0)[0])
            raise DataError(f"{where}: missing symbol in column {symbol_column!r} at row {row}")
        order = np.argsort(codes, kind="stable")
        # one take for the chunk, then each symbol's rows are a slice (a take per symbol
        # costs O(chunk) each with Arrow-backed strings)
        rest = chunk.iloc[order, [j for j in range(len(labels)) if j != at]]
        bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(uniques)))])
        n_symbols = 0
        for k, value in enumerate(uniques):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            rows = order[lo:hi]
            name = check_symbol(str(value), f"{where}, row {offset + int(rows[0])}")
            if wanted is not None and name not in wanted:
                continue
            label = f"{where}, symbol {name}"
            try:
                frame = validate_ohlcv(
                    rest.iloc[lo:hi], name=label, time_column=time_column,
                    price_column=price_column,
                )  # fmt: skip
            except DataError as exc:
                raise _renumbered(exc, offset + rows) from exc
            session.add(name, frame, where, offset + rows)
            n_symbols += 1
        say(
            f"{where}: rows {offset:,}-{offset + len(chunk) - 1:,}: {n_symbols} symbol"
            f"{'s' if n_symbols != 1 else ''}"
        )


_ROW = re.compile(r"\brows (\d+) and (\d+)|\brow (\d+)")


def _renumbered(exc: DataError, rows: np.ndarray) -> DataError:
    """``exc`` with its row positions (in one symbol's rows of a chunk) as rows of the file."""

    def fix(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(3) is not None:
                return f"row {int(rows[int(match.group(3))])}"
            a, b = (int(rows[int(match.group(k))]) for k in (1, 2))
            return f"rows {a} and {b}"

        return _ROW.sub(one, text)

    out = DataError(fix(str(exc)).replace(" or pass sort=True", ""))  # a table is streamed
    if exc.cli_message:
        out.cli_message = fix(exc.cli_message)
    return out


def _chunks(path: _Source, chunk_rows: int, read_kwargs: dict[str, Any]) -> Iterator[
    tuple[int, pd.DataFrame]
]:  # fmt: skip
    """``(first row, rows)`` of a CSV or Parquet file, ``chunk_rows`` rows at a time."""
    if isinstance(path, pd.DataFrame):
        for offset in range(0, len(path), chunk_rows):
            yield offset, path.iloc[offset : offset + chunk_rows]
        return
    kind = _format_of(path, read_kwargs.get("format"))
    kwargs = {k: v for k, v in read_kwargs.items() if k != "format"}
    if not path.exists():
        raise DataError(f"cannot load {path}: no such file")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes)")
    offset = 0
    if kind == "csv":
        kwargs = {**_sniff_csv(path, kwargs), **kwargs}
        try:
            reader = pd.read_csv(path, chunksize=chunk_rows, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"invalid option for the csv reader of {path}: {exc}") from exc
        except pd.errors.EmptyDataError as exc:
            raise DataError(f"{path} is empty: {exc}") from exc
        except Exception as exc:
            raise DataError(f"cannot read {path} as csv: {type(exc).__name__}: {exc}") from exc
        with reader:
            while True:
                try:
                    chunk = next(reader)
                except StopIteration:
                    return
                except Exception as exc:
                    raise DataError(
                        f"cannot read {path} as csv after row {offset}: "
                        f"{type(exc).__name__}: {str(exc).strip()}"
                    ) from exc
                yield offset, chunk
                offset += len(chunk)
    else:
        import pyarrow as pa
        import pyarrow.dataset as ds

        columns = kwargs.pop("columns", None)
        if kwargs:
            raise ConfigError(
                f"invalid option for the parquet reader of {path}: {sorted(kwargs)} (a long "
                "table is read in batches: only columns= applies)"
            )
        try:
            # no pre-buffering and little read-ahead: with pyarrow's defaults the reader kept
            # every column chunk it had read (measured: 40 MB more per 10^6 rows, 5.8 GB for a
            # 10^8-row table); so it holds about one chunk
            options = ds.ParquetFragmentScanOptions(pre_buffer=False)
            fmt = ds.ParquetFileFormat(default_fragment_scan_options=options)
            dataset = ds.dataset(str(path), format=fmt)
            batches = dataset.to_batches(
                batch_size=chunk_rows, columns=columns, batch_readahead=1, fragment_readahead=1
            )
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                chunk = pa.Table.from_batches([batch]).to_pandas()
                yield offset, chunk
                offset += len(chunk)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(
                f"cannot read {path} as parquet after row {offset}: {type(exc).__name__}: {exc}"
            ) from exc
