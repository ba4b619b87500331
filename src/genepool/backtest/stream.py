"""Indicator tables block by block: what the time-blocked backtest computes per block of bars.

A :class:`TableStream` is made for one batch of strategies of a family (their decoded
parameters) and then fed the blocks [t0, t1) of the bars in order. For each block it returns the
tables ``A``/``B`` (one row per unique indicator parameter, columns = bars t0 - 1 .. t1 - 1, or
0 .. t1 - 1 for the first block) and keeps what the next block needs: the recursions' state,
the last column, the running sums of the last ``max(window)`` bars. The kernels are in
:mod:`genepool.backtest._stream_nb`; the values are bit-identical to one pass over all bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _stream_nb as snb
from .nb import nan_cumsum_resume, up_down_resume

__all__ = ["TableStream", "table_stream"]


def _unique_rows(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique parameter tuples (as a 2-D int array) and the row of each strategy."""
    stacked = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1).astype(np.int64)


class _RunningSums:
    """vectorbt's running sum (NaN skipped) and NaN count of a series, streamed: each block
    gets the sums of its bars plus those of the ``keep`` bars before it."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.run = np.zeros(2)
        self.cs = np.empty(0)
        self.nc = np.empty(0, dtype=np.int64)
        self.first = 0  # bar of cs[0]

    def block(self, values: np.ndarray, voff: int, t0: int, t1: int) -> int:
        """Extend with ``values`` (bar i at ``values[i - voff]``) for [t0, t1); returns the bar
        of ``self.cs[0]`` (sums of bars max(0, t0 - keep) .. t1 - 1 are held)."""
        first = max(0, t0 - self.keep)
        cs = np.empty(t1 - first)
        nc = np.empty(t1 - first, dtype=np.int64)
        n_tail = t0 - first
        if n_tail:
            cs[:n_tail] = self.cs[first - self.first : t0 - self.first]
            nc[:n_tail] = self.nc[first - self.first : t0 - self.first]
        nan_cumsum_resume(values, voff, t0, t1, cs, nc, first, self.run)
        self.cs, self.nc, self.first = cs, nc, first
        return first


class TableStream:
    """Indicator tables of one batch of strategies, block after block.

    Attributes
    ----------
    ia, ib : ndarray of int64 (n,)
        Row of each strategy in ``A`` and ``B``.
    p1, p2 : ndarray of float64 (n,)
        The family's scalar parameters (thresholds, ``k``, the MACD signal window).
    margin : int
        Bars before t0 a block's data must include (the longest window, plus one).
    fields : tuple of str
        Price fields the tables read (``close``; ``high``/``low`` for ``breakout``).
    rows : int
        Rows of ``A`` and ``B`` together: the tables of a block take ``8 * rows`` bytes a bar.
    """

    ia: np.ndarray
    ib: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    margin: int
    fields: tuple[str, ...] = ("close",)
    rows: int

    def __init__(self, p: dict[str, Any], opts: dict[str, Any]) -> None:
        raise NotImplementedError

    def tables(
        self, data: dict[str, np.ndarray], base: int, t0: int, t1: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tables ``A``, ``B`` of the block [t0, t1); ``data[f][i - base]`` is bar i."""
        raise NotImplementedError

    @staticmethod
    def _out(rows: int, t0: int, t1: int) -> np.ndarray:
        return np.empty((rows, t1 - t0 + (1 if t0 > 0 else 0)))


class _RSI(TableStream):
    def __init__(self, p: dict[str, Any], opts: dict[str, Any]) -> None:
        uniq, self.ia = _unique_rows(p["window"])
        self.ib = self.ia
        self.windows = np.ascontiguousarray(uniq[:, 0])
        self.p1 = np.asarray(p["lower"], dtype=np.float64)
        self.p2 = np.asarray(p["upper"], dtype=np.float64)
        self.margin = int(self.windows.max()) + 1
        self.rows = len(self.windows)
        self.wilder = opts["rsi_method"] == "wilder"
        self.last = np.zeros(self.rows)
        if self.wilder:
            self.state = np.zeros((self.rows, 2))
        else:
            self.up = _RunningSums(self.margin)
            self.down = _RunningSums(self.margin)

    def tables(self, data, base, t0, t1):
        close = data["close"]
        A = self._out(self.rows, t0, t1)
        if self.wilder:
            snb.rsi_wilder_rows_nb(close, base, self.windows, t0, t1, self.state, self.last, A)
        else:
            up = np.empty(t1 - t0)
            down = np.empty(t1 - t0)
            up_down_resume(close, base, t0, t1, up, down, t0)
            first = self.up.block(up, t0, t0, t1)
            self.down.block(down, t0, t0, t1)
            snb.rsi_sma_rows_nb(
                self.up.cs, self.up.nc, self.down.cs, self.down.nc, first, self.windows,
                t0, t1, self.last, A,
            )  # fmt: skip
        return A, A


class _MACross(TableStream):
    def __init__(self, p: dict[str, Any], opts: dict[str, Any]) -> None:
        n = len(p["fast"])
        is_ema = np.asarray(p["ma"]) == "ema"
        windows = np.concatenate([p["fast"], p["slow"]]).astype(np.int64)
        kinds = np.concatenate([is_ema, is_ema]).astype(np.int64)
        uniq, inv = _unique_rows(windows, kinds)
        self.ia, self.ib = inv[:n], inv[n:]
        self.p1 = self.p2 = np.zeros(n)
        self.sma_rows = np.flatnonzero(uniq[:, 1] == 0)
        self.ema_rows = np.flatnonzero(uniq[:, 1] == 1)
        self.sma_windows = np.ascontiguousarray(uniq[self.sma_rows, 0])
        self.ema_windows = np.ascontiguousarray(uniq[self.ema_rows, 0])
        self.rows = uniq.shape[0]
        self.margin = int(uniq[:, 0].max()) + 1
        self.sums = _RunningSums(self.margin)
        self.sma_last = np.zeros(len(self.sma_rows))
        self.ema_last = np.zeros(len(self.ema_rows))
        self.ema_state = np.zeros((len(self.ema_rows), 3))

    def tables(self, data, base, t0, t1):
        close = data["close"]
        table = self._out(self.rows, t0, t1)
        if len(self.sma_rows):
            first = self.sums.block(close, base, t0, t1)
            out = self._out(len(self.sma_rows), t0, t1)
            snb.sma_rows_nb(
                self.sums.cs, self.sums.nc, first, self.sma_windows, t0, t1, self.sma_last, out
            )
            table[self.sma_rows] = out
        if len(self.ema_rows):
            out = self._out(len(self.ema_rows), t0, t1)
            snb.ema_rows_nb(
                close, base, self.ema_windows, t0, t1, self.ema_state, self.ema_last, out
            )
            table[self.ema_rows] = out
        return table, table


class _Bollinger(TableStream):
    def __init__(self, p: dict[str, Any], opts: dict[str, Any]) -> None:
        uniq, self.ia = _unique_rows(p["window"])
        self.ib = self.ia
        self.windows = np.ascontiguousarray(uniq[:, 0])
        self.p1 = np.asarray(p["k"], dtype=np.float64)
        self.p2 = np.zeros_like(self.p1)
        self.margin = int(self.windows.max()) + 1
        self.rows = 2 * len(self.windows)
        self.sums = _RunningSums(self.margin)
        self.mid_last = np.zeros(len(self.windows))
        self.sd_last = np.zeros(len(self.windows))
        self.sd_state = np.zeros((len(self.windows), 2))

    def tables(self, data, base, t0, t1):
        close = data["close"]
        first = self.sums.block(close, base, t0, t1)
        mid = self._out(len(self.windows), t0, t1)
        sums = self.sums
        snb.sma_rows_nb(sums.cs, sums.nc, first, self.windows, t0, t1, self.mid_last, mid)
        sd = self._out(len(self.windows), t0, t1)
        snb.rolling_std_rows_nb(close, base, self.windows, t0, t1, self.sd_state, self.sd_last, sd)
        return mid, sd


class _MACD(TableStream):
    # One EMA row per unique window; the kernel forms the MACD line from two rows and streams
    # its signal EMA with O(1) state per strategy.
    def __init__(self, p: dict[str, Any], opts: dict[str, Any]) -> None:
        n = len(p["fast"])
        uniq, inv = _unique_rows(np.concatenate([p["fast"], p["slow"]]))
        self.ia, self.ib = inv[:n], inv[n:]
        self.windows = np.ascontiguousarray(uniq[:, 0])
        self.p1 = np.asarray(p["signal"], dtype=np.float64)
        self.p2 = np.zeros(n)
        self.margin = int(self.windows.max()) + 1
        self.rows = len(self.windows)
        self.last = np.zeros(self.rows)
        self.state = np.zeros((self.rows, 3))

    def tables(self, data, base, t0, t1):
        A = self._out(self.rows, t0, t1)
        snb.ema_rows_nb(data["close"], base, self.windows, t0, t1, self.state, self.last, A)
        return A, A


class _Breakout(TableStream):
    fields = ("close", "high", "low")

    def __init__(self, p: dict[str, Any], opts: dict[str, Any]) -> None:
        uniq, self.ia = _unique_rows(p["window"])
        self.ib = self.ia
        self.windows = np.ascontiguousarray(uniq[:, 0])
        self.p1 = self.p2 = np.zeros(len(self.ia))
        self.margin = int(self.windows.max()) + 1
        self.rows = 2 * len(self.windows)

    def tables(self, data, base, t0, t1):
        hi = self._out(len(self.windows), t0, t1)
        lo = self._out(len(self.windows), t0, t1)
        snb.rolling_extreme_rows_nb(data["high"], base, self.windows, True, t0, t1, hi)
        snb.rolling_extreme_rows_nb(data["low"], base, self.windows, False, t0, t1, lo)
        return hi, lo


_STREAMS: dict[str, type[TableStream]] = {
    "rsi": _RSI,
    "ma_cross": _MACross,
    "bollinger": _Bollinger,
    "macd": _MACD,
    "breakout": _Breakout,
}


def table_stream(family: str, params: dict[str, Any], options: dict[str, Any]) -> TableStream:
    """A fresh :class:`TableStream` of ``family`` for the decoded ``params`` of a batch."""
    return _STREAMS[family](params, options)
