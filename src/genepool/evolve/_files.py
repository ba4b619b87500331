"""Reading and writing the files of a run directory (JSON and Parquet, atomically)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .._version import __version__
from ..errors import ConfigError, WriteError
from ..memory.history import write_parquet_atomic

CONFIG = "config.json"
BEST = "best.json"
HISTORY = "history.parquet"
HALL_OF_FAME = "hall_of_fame.parquet"
POPULATION = "population.parquet"
EQUITY = "equity.parquet"
TRADES = "trades.parquet"
MEMORY = "memory.parquet"
WALK_FORWARD = "walk_forward.parquet"
REPORT = "report.html"


#: Non-finite floats in the JSON files, as strings: strict JSON has no NaN/inf, and None would
#: lose the difference between "infinite" (a Sharpe without variance) and "undefined" (NaN).
NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN/inf to "nan"/"inf"/"-inf", timestamps to
    ISO text (:func:`read_json` turns those strings back into floats)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return value


def write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a full disk: no half file, ``path`` is as it was
        tmp.unlink(missing_ok=True)
        raise WriteError(path, exc) from exc


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    if isinstance(value, str) and value in NONFINITE:
        return NONFINITE[value]
    return value


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file written by :func:`write_json`, with "nan"/"inf"/"-inf" back as floats."""
    try:
        return _decoded(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; is this a genepool run directory?") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from None


def require(path: Path, doc: Any, keys: dict[str, type]) -> None:
    """Raise ConfigError naming ``path`` unless ``doc`` is an object with ``keys`` of their
    types (a damaged file, or one of another kind, must not end in a KeyError)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} is not a genepool run file: expected a JSON object")
    for key, kind in keys.items():
        if not isinstance(doc.get(key), kind):
            found = "missing" if key not in doc else f"{doc[key]!r}"
            raise ConfigError(f"{path} is damaged or not a genepool run file: '{key}' is {found}")


def write_frame(path: Path, df: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    write_parquet_atomic(table, path)


def read_frame(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path} cannot be read (truncated or not Parquet): {reason}") from None


def data_hash(df: pd.DataFrame) -> str:
    """SHA-256 of the bars (index and OHLCV columns): the run's data identity."""
    h = hashlib.sha256()
    if isinstance(df.index, pd.DatetimeIndex):
        h.update(np.ascontiguousarray(df.index.asi8).tobytes())
    for col in ("open", "high", "low", "close", "volume"):
        if col in df:
            h.update(col.encode())
            h.update(np.ascontiguousarray(df[col].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()


def data_info(df: pd.DataFrame, path: str | None) -> dict[str, Any]:
    """What ``config.json`` records of the data: source (a path or "demo"), hash, size, span."""
    return {
        "source": "demo" if path is None else str(Path(path).resolve()),
        "sha256": data_hash(df),
        "n_bars": len(df),
        "start": df.index[0],
        "end": df.index[-1],
    }


def versions() -> dict[str, str]:
    import numba
    import pyarrow

    return {
        "genepool": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "platform": platform.platform(),
    }
