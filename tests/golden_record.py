"""Record, write and compare golden outputs bit for bit (used by ``test_golden.py``).

A record is a flat ``{dotted key: value}`` dict. A value is ``None``, a bool, an int, a float, a
string, a list of those, or an array entry ``{"dtype", "shape", "data"}`` (``"sha256"`` of the
bytes instead of ``"data"`` when the array is large). Floats go through JSON exactly (Python
writes the shortest repr that reads back to the same double); they compare by ``repr``, so NaN
equals NaN and -0.0 differs from 0.0. Arrays compare by dtype, shape and ``np.array_equal``
(NaN equal to NaN) plus equal sign bits.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

GOLDEN_DIR = Path(__file__).parent / "golden"
WRITE_ENV = "GENEPOOL_GOLDEN_WRITE"
#: Arrays with more elements than this are recorded by their sha256 only (keeps files small).
INLINE_MAX = 1200


def writing() -> bool:
    """Whether this run rewrites the golden files (``GENEPOOL_GOLDEN_WRITE=1``)."""
    return os.environ.get(WRITE_ENV) == "1"


# -- canonical form ------------------------------------------------------------------------------
def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return str(pd.Timestamp(v).isoformat())
    raise TypeError(f"cannot record {type(v).__name__} {v!r}")


def _array(a: np.ndarray) -> dict[str, Any]:
    a = np.asarray(a)
    if a.dtype.kind == "M":  # times: their integer ticks, the unit in the dtype
        dtype, data = a.dtype.str, a.view(np.int64)
    elif a.dtype.kind in "OUST":
        dtype, data = (
            "str",
            np.array(["" if v is None else str(v) for v in a.ravel()], dtype=object),
        )
    else:
        dtype, data = a.dtype.str, a
    entry: dict[str, Any] = {"dtype": dtype, "shape": list(a.shape)}
    if data.size > INLINE_MAX:
        entry["sha256"] = _sha256(data)
    else:
        entry["data"] = [_scalar(v) for v in data.ravel().tolist()]
    return entry


def _sha256(data: np.ndarray) -> str:
    if data.dtype == object:
        raw = "\x00".join(data.ravel().tolist()).encode()
    else:
        raw = np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(raw).hexdigest()


def flatten(obj: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """``obj`` (dicts, DataFrames, arrays, lists, scalars) as a flat canonical record."""
    out = {} if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, pd.DataFrame):
        out[f"{prefix}.columns"] = [str(c) for c in obj.columns]
        for c in obj.columns:
            out[f"{prefix}.{c}"] = _array(obj[c].to_numpy())
    elif isinstance(obj, np.ndarray):
        out[prefix] = _array(obj)
    elif isinstance(obj, (list, tuple)):
        out[prefix] = [_scalar(v) for v in obj]
    else:
        out[prefix] = _scalar(obj)
    return out


# -- files ---------------------------------------------------------------------------------------
def path_of(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def write(name: str, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``golden/<name>.json``: one key per line, so diffs show what moved."""
    GOLDEN_DIR.mkdir(exist_ok=True)
    lines = [
        f"{json.dumps(k)}: {json.dumps(v, sort_keys=True, separators=(',', ':'))}"
        for k, v in sorted(record.items())
    ]
    path = path_of(name)
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    return path


def read(name: str) -> dict[str, Any]:
    return json.loads(path_of(name).read_text())


# -- comparison ----------------------------------------------------------------------------------
def _same_scalar(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)  # bit for bit: NaN == NaN, -0.0 != 0.0
    return a == b


def _decode(entry: dict[str, Any]) -> np.ndarray:
    if entry["dtype"] == "str":
        return np.array(entry["data"], dtype=object).reshape(entry["shape"])
    dtype = np.dtype(entry["dtype"])
    base = np.int64 if dtype.kind == "M" else dtype
    return np.array(entry["data"], dtype=base).reshape(entry["shape"])


def _array_diff(want: dict[str, Any], got: dict[str, Any]) -> str | None:
    if (want["dtype"], want["shape"]) != (got["dtype"], got["shape"]):
        return f"dtype/shape {want['dtype']}{want['shape']} -> {got['dtype']}{got['shape']}"
    if "sha256" in want or "sha256" in got:
        if want.get("sha256") != got.get("sha256"):
            return f"sha256 {want.get('sha256')} -> {got.get('sha256')}"
        return None
    a, b = _decode(want), _decode(got)
    if a.dtype == object:
        bad = np.flatnonzero(a.ravel() != b.ravel())
    elif a.dtype.kind == "f":
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        bad = np.flatnonzero(~(same & (np.signbit(a) == np.signbit(b))).ravel())
    else:
        bad = np.flatnonzero(a.ravel() != b.ravel())
    if bad.size == 0:
        return None
    i = int(bad[0])
    msg = f"{bad.size} of {a.size} element(s) differ; first at flat index {i}: "
    msg += f"{_item(a.ravel()[i])!r} -> {_item(b.ravel()[i])!r}"
    if a.dtype.kind == "f":
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64)).ravel()[bad]
        largest = np.nanmax(diff) if np.isfinite(diff).any() else diff[0]
        msg += f"; largest |difference| {_item(largest)!r}"
    return msg


def _item(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def differences(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Every key whose value differs, is missing or is new, with what changed."""
    out = []
    for key in sorted(set(want) | set(got)):
        if key not in got:
            out.append(f"{key}: missing now (was {_short(want[key])})")
        elif key not in want:
            out.append(f"{key}: new (now {_short(got[key])})")
        else:
            w, g = want[key], got[key]
            if isinstance(w, dict) and isinstance(g, dict):
                why = _array_diff(w, g)
                if why:
                    out.append(f"{key}: {why}")
            elif isinstance(w, list) and isinstance(g, list):
                if len(w) != len(g) or not all(map(_same_scalar, w, g)):
                    out.append(f"{key}: {_short(w)} -> {_short(g)}")
            elif not _same_scalar(w, g):
                out.append(f"{key}: {w!r} -> {g!r}")
    return out


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) < 160 else text[:157] + "..."


def canonical(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` as it reads back from its file (JSON round trip)."""
    return json.loads(json.dumps(record))
