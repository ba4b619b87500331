"""Byte sizes: parse ``"2GB"``, ``"512MiB"``, ``2_000_000_000``; format them back."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np

from ..errors import ConfigError

__all__ = ["format_size", "parse_size"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_size(value: int | float | str, name: str = "memory_limit") -> int:
    """Number of bytes in ``value``: an int, or a string with a unit.

    Decimal units (``KB``, ``MB``, ``GB``, ``TB`` and the bare ``K``, ``M``, ``G``, ``T``) are
    powers of 1000, binary units (``KiB``, ``MiB``, ``GiB``, ``TiB``) powers of 1024; case and
    spaces do not matter. Raises :class:`~genepool.errors.ConfigError` naming ``name`` otherwise.

    Examples
    --------
    >>> parse_size("2GB"), parse_size("512MiB"), parse_size(2_000_000_000), parse_size("1.5 kb")
    (2000000000, 536870912, 2000000000, 1500)
    """
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a size like '2GB' or a number of bytes, got {value!r}")
    number: int | float | Decimal
    if isinstance(value, (int, np.integer)):
        number, unit = int(value), ""
    elif isinstance(value, (float, np.floating)):
        number, unit = float(value), ""
    elif isinstance(value, str) and (m := _PATTERN.match(value)):
        # Decimal, not float: "1.001KB" is exactly 1001 bytes (float gives 1000.9999...).
        number, unit = Decimal(m.group(1)), m.group(2).lower()
        if unit not in _UNITS:
            raise ConfigError(
                f"{name}: unknown unit {m.group(2)!r} in {value!r}; use B, KB, MB, "
                f"GB, TB, KiB, MiB, GiB or TiB"
            )
    else:
        raise ConfigError(f"{name} must be a size like '2GB' or a number of bytes, got {value!r}")
    try:
        size = number * _UNITS[unit]
        finite = math.isfinite(float(size))
    except ArithmeticError:  # too large for a float (int) or for Decimal's exponent range
        finite = False
    if not finite:
        raise ConfigError(f"{name} must be a finite number of bytes, got {value!r}")
    if size < 1:
        raise ConfigError(f"{name} must be at least 1 byte, got {value!r}")
    return int(size)


def format_size(n: float) -> str:
    """Human-readable binary size: ``format_size(3 * 2**30) == '3.0 GiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
