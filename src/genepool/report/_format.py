"""Text formatting for the report: numbers, timestamps, flattened configuration."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "flatten_config",
    "fmt_bytes",
    "fmt_config_value",
    "fmt_price",
    "fmt_value",
    "is_number",
    "price_decimals",
]

DASH = "\u2014"


def is_number(value: Any) -> bool:
    """True for real numbers (Python or numpy), False for bools and everything else."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _fmt_float(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "\u221e" if x > 0 else "\u2212\u221e"
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1e15 or a < 1e-4:
        return f"{x:.3e}"
    if a >= 1e4:
        return f"{x:,.0f}"
    if a >= 1e3:
        return f"{x:,.1f}"
    return f"{x:.4g}"


def fmt_time(ts: pd.Timestamp) -> str:
    if ts.tzinfo is None and ts == ts.normalize():
        return ts.strftime("%Y-%m-%d")
    return ts.isoformat(sep=" ")


def fmt_value(value: Any) -> str:
    """Short human-readable text for one table cell (not yet HTML-escaped).

    Integers get thousands separators, floats four significant digits (scientific notation
    outside 1e-4..1e15), missing values a dash, timestamps ISO dates.
    """
    if value is None or value is pd.NaT:
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return _fmt_float(float(value))
    if isinstance(value, (pd.Timestamp, _dt.datetime, np.datetime64)):
        ts = pd.Timestamp(value)
        return DASH if ts is pd.NaT else fmt_time(ts)
    if isinstance(value, (pd.Timedelta, np.timedelta64, _dt.timedelta)):
        return str(pd.Timedelta(value))
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def fmt_config_value(value: Any) -> str:
    """Exact text for a configuration value: strings as they are, numbers unrounded, lists and
    other containers as JSON."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, np.bool_, int, np.integer)):
        return fmt_value(value) if value is None else str(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        try:
            items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
            return json.dumps(items, default=str)
        except TypeError:
            return str(value)
    return str(value)


def flatten_config(config: Mapping[Any, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}, "c": 2}`` -> ``[("a.b", 1), ("c", 2)]`` in insertion order; an empty
    nested dict stays as one row with the value ``{}``."""
    rows: list[tuple[str, Any]] = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(flatten_config(value, prefix=f"{name}."))
        elif isinstance(value, Mapping):
            rows.append((name, "{}"))
        else:
            rows.append((name, value))
    return rows


def fmt_bytes(n: float | None) -> str:
    """``fmt_bytes(3 * 2**30) == '3.00 GiB'``; a dash for None/NaN."""
    if n is None or not math.isfinite(float(n)):
        return DASH
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def price_decimals(values: Any, max_decimals: int = 6) -> int:
    """Decimals that show every price of an instrument exactly: its tick size, inferred as
    the smallest decimal step the prices use (``1.07219`` -> 5, ``602.5`` -> 2; at least 2).

    Prices that fit no step up to ``max_decimals`` (slippage makes them arbitrary) get enough
    decimals for six significant digits of their median (``1.0726`` -> 5, ``602.51`` -> 3).
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    v = np.abs(v[np.isfinite(v) & (v != 0)])
    if not v.size:
        return 2
    v = v[:: max(1, v.size // 5000)]
    for d in range(max_decimals + 1):
        if np.all(np.abs(np.round(v, d) - v) <= 1e-9 * np.maximum(1.0, v)):
            return max(d, 2)
    magnitude = math.floor(math.log10(float(np.median(v))))
    return int(min(max(5 - magnitude, 2), 8))


def fmt_price(value: Any, decimals: int) -> str:
    """A price with a fixed number of decimals (``fmt_price(1.07219, 5) == '1.07219'``);
    other values as :func:`fmt_value`."""
    if is_number(value) and math.isfinite(float(value)):
        return f"{float(value):,.{decimals}f}"
    return fmt_value(value)
