"""Small HTML builders shared by the sections: escaping, tables, embedded images."""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable, Iterable, Mapping
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from ._format import DASH, fmt_value, is_number

__all__ = [
    "MAX_TABLE_ROWS",
    "NA",
    "data_attrs",
    "empty",
    "esc",
    "finite",
    "img",
    "kv_table",
    "p",
    "plural",
    "png_size",
    "table",
]

#: Tables (trades, hall of fame, walk-forward folds) show at most this many rows.
MAX_TABLE_ROWS = 500

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIGNED_COLUMNS = frozenset({"pnl", "return"})


def esc(value: Any) -> str:
    """HTML-escaped text of a value (quotes included, so it is safe in attributes too)."""
    return escape(value if isinstance(value, str) else fmt_value(value), quote=True)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of a PNG."""
    if png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


def data_attrs(attrs: Mapping[str, Any] | None) -> str:
    """`` data-key="value"`` for each item whose value is not None (the self-check reads
    them)."""
    return "".join(
        f' data-{k}="{esc(v if isinstance(v, str) else str(v))}"'
        for k, v in (attrs or {}).items()
        if v is not None
    )


def img(png: bytes, alt: str, attrs: Mapping[str, Any] | None = None) -> str:
    """An ``<img>`` with the PNG embedded as a base64 data URI and its pixel size; ``attrs``
    become ``data-*`` attributes."""
    w, h = png_size(png)
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img src="data:image/png;base64,{data}" alt="{esc(alt)}" width="{w}" height="{h}"'
        f"{data_attrs(attrs)}>"
    )


NA = "n/a"


def _cell(
    value: Any, column: str, fmt: Callable[[Any], str] | None = None, extra: str = ""
) -> str:
    text = esc(fmt(value) if fmt is not None else value)
    cls = [extra] if extra else []
    if is_number(value) and not math.isfinite(float(value)):
        # An undefined metric (a Sharpe ratio without trades, a profit factor without losses)
        # reads "n/a"; the raw value stays in the tooltip.
        return f'<td class="{" ".join([*cls, "num", "missing"])}" title="{esc(value)}">{NA}</td>'
    if is_number(value):
        cls.append("num")
        if column in SIGNED_COLUMNS:
            try:
                f = float(value)
            except (TypeError, ValueError):
                f = 0.0
            if f > 0:
                cls.append("pos")
            elif f < 0:
                cls.append("neg")
    return f'<td class="{" ".join(cls)}">{text}</td>' if cls else f"<td>{text}</td>"


def _time_column(s: pd.Series) -> list[str]:
    """Timestamps of one column in one shape: dates only when every value is at midnight."""
    t = s.dt.tz_localize(None) if s.dt.tz is not None else s
    valid = t.dropna()
    fmt = (
        "%Y-%m-%d" if len(valid) and (valid == valid.dt.normalize()).all() else "%Y-%m-%d %H:%M:%S"
    )
    text = t.dt.strftime(fmt)
    if s.dt.tz is not None:
        text = text + " " + str(s.dt.tz)
    return [DASH if v != v else v for v in text]


def table(
    df: pd.DataFrame,
    *,
    max_rows: int | None = None,
    index_name: str | None = None,
    formats: Mapping[str, Callable[[Any], str]] | None = None,
    classes: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """A ``<table>`` of ``df`` (the index is dropped unless ``index_name`` is given, then it is
    written as a first column of row numbers starting at 1); at most ``max_rows`` rows.

    ``formats`` maps a column to its cell formatter, ``classes`` to a CSS class of its header
    and cells, ``labels`` to the header text shown. Non-finite numbers read "n/a"."""
    head = df if max_rows is None else df.iloc[:max_rows]
    columns = [str(c) for c in head.columns]
    formats, classes, labels = formats or {}, classes or {}, labels or {}

    def th(c: str) -> str:
        cls = classes.get(c, "")
        attr = f' class="{cls}"' if cls else ""
        title = f' title="{esc(c)}"' if c in labels else ""
        return f"<th{attr}{title}>{esc(labels.get(c, c))}</th>"

    header = (f"<th>{esc(index_name)}</th>" if index_name else "") + "".join(
        th(c) for c in columns
    )
    rows = []
    values: np.ndarray = (
        head.to_numpy(dtype=object) if len(columns) else np.empty((len(head), 0), dtype=object)
    )
    for j in range(len(columns)):
        col = head.iloc[:, j]
        if len(head) and pd.api.types.is_datetime64_any_dtype(col.dtype):
            values[:, j] = _time_column(col)
    for i, row in enumerate(values, start=1):
        cells = "".join(
            _cell(v, c, formats.get(c), classes.get(c, "")) for v, c in zip(row, columns)
        )
        lead = f'<td class="num">{i:,}</td>' if index_name else ""
        rows.append(f"<tr>{lead}{cells}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def kv_table(rows: Iterable[tuple[Any, Any]], *, headers: tuple[str, str] | None = None) -> str:
    """A two-column key/value ``<table>``; values are given as already formatted strings or
    as raw values (formatted with :func:`fmt_value`)."""
    head = (
        f"<thead><tr><th>{esc(headers[0])}</th><th>{esc(headers[1])}</th></tr></thead>"
        if headers
        else ""
    )
    body = "".join(f"<tr><th>{esc(k)}</th>{_cell(v, str(k))}</tr>" for k, v in rows)
    return f'<div class="table-wrap"><table class="kv">{head}<tbody>{body}</tbody></table></div>'


def p(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{text}</p>' if cls else f"<p>{text}</p>"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def empty(text: str) -> str:
    return p(esc(text), "empty")


def finite(values: Any) -> np.ndarray:
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    return v[np.isfinite(v)]
