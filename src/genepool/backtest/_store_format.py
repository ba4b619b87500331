"""The on-disk pieces of the market data store: ``.npy`` headers, block checksums, names.

Private to :mod:`genepool.backtest.store` and its importer; docs/data.md ("Layout on disk")
describes the format these functions write.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ..errors import DataError

#: Name and version of the layout, written to the manifest and checked when it is read.
FORMAT = "genepool-market-store"
VERSION = 1
MANIFEST = "manifest.json"
SYMBOLS_DIR = "symbols"
#: Fields of a symbol and their on-disk dtypes (little-endian, C order, one dimension).
FIELDS: dict[str, str] = {
    "time": "<i8",
    "open": "<f8",
    "high": "<f8",
    "low": "<f8",
    "close": "<f8",
    "volume": "<f8",
}
PRICE_FIELDS = ("open", "high", "low", "close", "volume")
#: Checksum algorithm: sha256 hashes at about 1.5 GB/s where the CPU has SHA extensions (x86
#: since 2017, ARMv8), twice blake2b's 0.78 GB/s measured on the same machine, and
#: ``sha256sum`` checks it anywhere.
CHECKSUM = "sha256"
#: Data bytes per checksum: a file has one digest per block, so that an append re-reads at
#: most one block (the last, partial one) and a damaged block is located.
CHECKSUM_BLOCK = 1 << 26  # 64 MiB, 8 Mi float64 bars


def npy_header(dtype: str, n: int) -> bytes:
    """The ``.npy`` (version 1.0) header of a 1-d array of ``n`` items.

    numpy pads the header so that the length of axis 0 can grow to 21 digits without changing
    the header's size (128 bytes here): an append rewrites the header in place.
    """
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": (int(n),)}
    )
    return buffer.getvalue()


#: Size of every header the store writes (a file's data starts there).
HEADER_BYTES = len(npy_header("<f8", 0))


def read_npy_header(path: Path) -> tuple[str, int, int]:
    """``(dtype, n_items, data_offset)`` of a 1-d ``.npy`` file; ValueError if it is not one."""
    with open(path, "rb") as f:
        major, _minor = np.lib.format.read_magic(f)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif major == 2:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:  # pragma: no cover - read_magic accepts only these today
            raise ValueError(f"unsupported .npy version {major}")
        offset = f.tell()
    if fortran or len(shape) != 1:
        raise ValueError(f"shape {shape} (fortran_order={fortran}) is not a 1-d C array")
    return dtype.str, int(shape[0]), offset


class BlockHasher:
    """Digests of consecutive ``block``-byte blocks of a byte stream, fed in any pieces."""

    def __init__(self, block: int, done: list[str] | None = None) -> None:
        self.block = block
        self.digests = list(done or [])
        self._hash = hashlib.new(CHECKSUM)
        self._filled = 0

    def update(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            take = min(self.block - self._filled, view.nbytes)
            self._hash.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == self.block:
                self.digests.append(self._hash.hexdigest())
                self._hash = hashlib.new(CHECKSUM)
                self._filled = 0

    def result(self) -> list[str]:
        """Digests of every block so far, the last one partial (the hasher can go on)."""
        return self.digests + ([self._hash.copy().hexdigest()] if self._filled else [])


def hash_range(path: Path, offset: int, nbytes: int, block: int) -> list[str]:
    """Block digests of ``nbytes`` bytes of ``path`` from ``offset``, read 8 MiB at a time."""
    hasher = BlockHasher(block)
    with open(path, "rb") as f:
        f.seek(offset)
        left = nbytes
        while left:
            data = f.read(min(left, 1 << 23))
            if not data:
                break
            hasher.update(data)
            left -= len(data)
    return hasher.result()


# ---------------------------------------------------------------------------------------------
# names


def symbol_dir_name(symbol: str, taken: set[str]) -> str:
    """A directory name for ``symbol``: itself when it is a safe file name, else %-encoded
    (``EUR/USD`` -> ``EUR%2FUSD``); ``~2``, ``~3`` ... when another symbol has the same name up
    to case (``aapl`` and ``AAPL`` on a case-insensitive filesystem). ``taken`` holds the
    lower-cased names in use."""
    name = quote(symbol, safe="^=+@,")
    if name.startswith("."):
        name = "%2E" + name[1:]
    base, k = name, 1
    while name.lower() in taken:
        k += 1
        name = f"{base}~{k}"
    return name


def check_symbol(symbol: Any, where: str) -> str:
    """``symbol`` as a non-empty string without control characters, or DataError."""
    if not isinstance(symbol, str) or not symbol.strip():
        raise DataError(f"{where}: invalid symbol {symbol!r}: a symbol is a non-empty name")
    if re.search(r"[\x00-\x1f\x7f]", symbol):
        raise DataError(f"{where}: invalid symbol {symbol!r}: it holds control characters")
    return symbol


# ---------------------------------------------------------------------------------------------
# time zones


def tz_name(tz: Any) -> str | None:
    """A time zone as text the store keeps: ``None`` (naive), ``"UTC"``, a zone name
    (``"America/New_York"``) or a fixed offset (``"+01:00"``)."""
    if tz is None:
        return None
    if isinstance(tz, datetime.timezone):
        offset = tz.utcoffset(None)
        if offset == datetime.timedelta(0):
            return "UTC"
        seconds = int(offset.total_seconds())
        sign = "-" if seconds < 0 else "+"
        hours, rest = divmod(abs(seconds), 3600)
        minutes, secs = divmod(rest, 60)
        return f"{sign}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
    key = getattr(tz, "key", None) or getattr(tz, "zone", None) or str(tz)
    return "UTC" if key in ("UTC", "utc", "Etc/UTC") else str(key)


def tz_object(name: str | None) -> Any:
    """The tz of :func:`tz_name`'s text (what pandas makes of it), or None."""
    if name is None:
        return None
    if name == "UTC":
        return datetime.timezone.utc
    return pd.Timestamp(0, tz="UTC").tz_convert(name).tz


def merge_tz(a: str | None, b: str | None, where: str) -> str | None:
    """The zone of bars from two sources: the same one, else UTC (pandas' rule for mixed UTC
    offsets); naive and tz-aware bars cannot be mixed."""
    if a == b:
        return a
    if a is None or b is None:
        raise DataError(
            f"{where}: times with a time zone ({a or b}) and without one cannot be mixed in "
            "one symbol; give all of its times the same form"
        )
    return "UTC"
