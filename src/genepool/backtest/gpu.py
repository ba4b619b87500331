"""The fused backtest on a CUDA device: prices uploaded once, one kernel launch per chunk.

:class:`DeviceBacktest` holds one price series on the device (uploaded at construction, with
the prefix sums of its returns) and evaluates batches of strategies of a family: the indicator
tables, one row per unique parameter over all bars, are built on the device
(:mod:`genepool.backtest._cuda_nb`), then one thread per strategy streams over the bars with
its state in registers and writes one row of metrics; only the parameters go up and the
metrics come back. The rows and the parameters mean what they mean on the CPU: they come from
the same :func:`~genepool.backtest.stream.table_stream`. The metrics equal the CPU kernel's
(``StrategyProblem.metrics_array``) bit for bit under numba's CUDA simulator (tested); on a
device they are written to (no fused multiply-adds in the PTX, tested; the CPU's ``pow``;
IEEE division and square root: see ``_cuda_nb``), which is still to be seen on one.

Chunks: the strategies are ordered by their table rows (a warp's threads then read the same
rows) and launched in chunks sized by the device's free memory (a fixed
:data:`SIMULATOR_MEMORY` under the simulator) and by ``memory_limit`` on the host (the staging
arrays of a chunk: its parameters and its metrics). When the tables of every row fit, they are
built once per call; otherwise each chunk builds the tables of its own rows.

Decision: numba's CUDA target rather than CuPy raw kernels. The simulator runs the exact
kernel source on CPU-only CI, the kernels keep the structure (and the operation order) of the
CPU kernels they are tested against, and numba is already a dependency (numba-cuda on a
device). The measurement that would confirm the choice (throughput against a CuPy port on the
same device; the target is 10^5 strategies x 10^6 bars in <= 1 s) is still to be run on a
device: benchmarks/bench_backtest_gpu.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ._sim_nb import prefix_block
from .enums import N_METRICS, family_code
from .nb import nan_cumsum_resume, up_down_resume
from .strategies import get_family
from .stream import TableStream, table_stream

__all__ = [
    "DEVICES",
    "SIMULATOR_MEMORY",
    "DeviceBacktest",
    "check_device",
    "cuda_status",
    "metrics_mismatches",
]

#: Values of ``device``.
DEVICES = ("cpu", "cuda")
#: Device memory a call may use under numba's CUDA simulator (which has no memory to ask).
SIMULATOR_MEMORY = 256 * 2**20
#: Share of the device's free memory a call may use (the rest: the context, local memory).
FREE_SHARE = 0.8
#: Bytes a strategy takes in a chunk: row indices, parameters, stops, one metrics row.
BYTES_PER_STRATEGY = 8 * (6 + N_METRICS)
#: Threads per block of the kernels on a device.
THREADS = 128
#: Registers per thread of the simulator kernel (None: the compiler's choice). ptxas gives the
#: RSI kernel 88 for sm_90: 20 warps of 128-thread blocks fit an SM, 2,640 on an H200's 132,
#: fewer than the 3,125 warps of 10^5 strategies; at 80 (8 bytes spilled) 24 warps fit, 3,168.
#: To be chosen by measurement (benchmarks/bench_backtest_gpu.py times both).
MAX_REGISTERS: int | None = None


def cuda_status() -> tuple[bool, str]:
    """Whether numba can run CUDA kernels here, and why not (``""`` when it can).

    True under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which runs the kernels
    as Python on the CPU.
    """
    try:
        from numba import cuda
    except Exception as exc:  # pragma: no cover - numba without its CUDA target
        return False, f"numba's CUDA target cannot be imported ({exc}); install numba-cuda"
    try:
        if cuda.is_available():
            return True, ""
        cuda.current_context()  # raises with the driver's reason
    except Exception as exc:
        reason = " ".join(str(exc).split()).rstrip(" :")
        reason = reason.removeprefix("Error at driver init: ").split(". ")[0].rstrip(".")
        return False, f"numba sees no CUDA device ({reason})"
    return False, "numba sees no CUDA device"  # pragma: no cover


def check_device(device: str) -> str:
    """``device`` checked: ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    ConfigError
        An unknown device (named), or ``"cuda"`` where numba cannot run CUDA kernels (saying
        why).
    """
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {list(DEVICES)}, got {device!r}")
    if device == "cuda":
        ok, why = cuda_status()
        if not ok:
            raise ConfigError(
                f"device 'cuda' is not available on this machine: {why}; the default, "
                "'cpu', runs the CPU kernels"
            )
    return device


def metrics_mismatches(got: np.ndarray, want: np.ndarray, rtol: float = 1e-12) -> list[str]:
    """Where two metrics tables (n, N_METRICS) differ: counts (``n_orders``, ``n_trades``)
    must be equal, other values equal within ``rtol`` relative, NaN where NaN and infinities
    of the same sign. One line per differing cell, ``"strategy s, metric: got vs want"``."""
    from .enums import INTEGER_METRICS, METRICS

    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return [f"shapes differ: {got.shape} vs {want.shape}"]
    exact = np.zeros(got.shape[1], dtype=bool)
    exact[[int(m) for m in INTEGER_METRICS]] = True
    with np.errstate(invalid="ignore", over="ignore"):
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        finite = np.isfinite(got) & np.isfinite(want)
        close = finite & (np.abs(got - want) <= rtol * np.maximum(np.abs(got), np.abs(want)))
    ok = same | (close & ~exact[None, :])
    return [
        f"strategy {s}, {METRICS[j]}: {float(got[s, j])!r} vs {float(want[s, j])!r}"
        for s, j in zip(*np.nonzero(~ok))
    ]


def _row_specs(family: str, stream: TableStream) -> tuple[np.ndarray, np.ndarray, int]:
    """(kinds, windows, rows of A) of the tables of ``stream``: row r of the device table
    holds indicator ``kinds[r]`` (``_cuda_nb.ROW_*``) over ``windows[r]`` bars; A is its
    first rows and B the rest (A and B are the same table when the count is all rows)."""
    from . import _cuda_nb as k

    s: Any = stream
    if family == "rsi":
        windows = s.windows
        kind = k.ROW_RSI_WILDER if s.wilder else k.ROW_RSI_SMA
        return np.full(len(windows), kind), windows, len(windows)
    if family == "ma_cross":
        kinds = np.empty(s.rows, dtype=np.int64)
        windows = np.empty(s.rows, dtype=np.int64)
        kinds[s.sma_rows], windows[s.sma_rows] = k.ROW_SMA, s.sma_windows
        kinds[s.ema_rows], windows[s.ema_rows] = k.ROW_EMA, s.ema_windows
        return kinds, windows, s.rows
    if family == "macd":
        return np.full(len(s.windows), k.ROW_EMA), s.windows, len(s.windows)
    u = len(s.windows)
    first, second = (k.ROW_SMA, k.ROW_STD) if family == "bollinger" else (k.ROW_MAX, k.ROW_MIN)
    kinds = np.concatenate([np.full(u, first), np.full(u, second)])
    return kinds, np.concatenate([s.windows, s.windows]), u


def _subset(params: Mapping[str, Any], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(v)[idx] for name, v in params.items()}


def _row_groups(
    order: np.ndarray, ia: np.ndarray, ib: np.ndarray, max_keys: int, max_n: int
) -> list[np.ndarray]:
    """Consecutive pieces of ``order`` (strategies sorted by their rows) each using at most
    ``max_keys`` distinct row indices (``ia``, ``ib``) and ``max_n`` strategies."""
    groups = []
    start = 0
    keys: set[int] = set()
    for j, s in enumerate(order):
        new = {int(ia[s]), int(ib[s])} - keys
        if j > start and (len(keys) + len(new) > max_keys or j - start >= max_n):
            groups.append(order[start:j])
            start = j
            keys = set()
            new = {int(ia[s]), int(ib[s])}
        keys |= new
    groups.append(order[start:])
    return groups


class DeviceBacktest:
    """One price series on a CUDA device, evaluating batches of strategies of any family.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        ``close`` (T,), and ``high``/``low`` for the ``breakout`` family (the close stands in
        for a missing one). Uploaded once, here, with the prefix sums of the returns.
    fees, slippage, init_cash, ann_factor : float
        As in :class:`~genepool.backtest.StrategyProblem` (``ann_factor``: bars per year).
    rsi_method : {"wilder", "sma"}
        RSI smoothing of the ``rsi`` family.
    memory_limit : int, optional
        Host bytes the staging arrays of one chunk may take (``BYTES_PER_STRATEGY`` per
        strategy); the device's free memory bounds the chunks too.

    Raises
    ------
    ConfigError
        No CUDA device (:func:`check_device`), or an unknown ``rsi_method``.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        *,
        fees: float,
        slippage: float,
        init_cash: float,
        ann_factor: float,
        rsi_method: str,
        memory_limit: int | None = None,
    ) -> None:
        check_device("cuda")
        if rsi_method not in ("wilder", "sma"):
            raise ConfigError(f"rsi_method must be 'wilder' or 'sma', got {rsi_method!r}")
        from numba import cuda

        from . import _cuda_nb

        self._cuda = cuda
        self._k = _cuda_nb
        close = np.ascontiguousarray(arrays["close"], dtype=np.float64)
        if close.ndim != 1 or close.size == 0:
            raise DataError(f"close prices must be one non-empty series (T,), got {close.shape}")
        self.n_bars = int(close.shape[0])
        self.fees = float(fees)
        self.slippage = float(slippage)
        self.init_cash = float(init_cash)
        self.ann_factor = float(ann_factor)
        self.options = {"rsi_method": rsi_method}
        self.memory_limit = memory_limit
        self._host_close = close
        #: Bytes of price data uploaded (at construction, and once per derived series).
        self.uploaded = 0
        self._close = self._upload(close)
        self._fields = {"close": self._close}
        for name in ("high", "low"):
            arr = arrays.get(name)
            if arr is None or arr is arrays["close"]:
                self._fields[name] = self._close
            else:
                self._fields[name] = self._upload(np.ascontiguousarray(arr, dtype=np.float64))
        self._prefix = self._upload(prefix_block(close, 0, 0, self.n_bars, np.zeros(3)))
        self._sums: dict[str, tuple[Any, Any]] = {}
        self._dummy = cuda.to_device(np.zeros(1))  # stands in for series a table needs not
        self._dummy_int = cuda.to_device(np.zeros(1, dtype=np.int64))

    def _upload(self, a: np.ndarray) -> Any:
        self.uploaded += a.nbytes
        return self._cuda.to_device(a)

    def _running_sums(self, name: str) -> tuple[Any, Any]:
        """Running sum (NaN skipped) and NaN count of the close (``"close"``) or of its gains
        and losses (``"up"``, ``"down"``), computed once by the CPU kernels and uploaded."""
        if name not in self._sums:
            close, n = self._host_close, self.n_bars
            series = {"close": close}
            if name != "close":
                up, down = np.empty(n), np.empty(n)
                up_down_resume(close, 0, 0, n, up, down, 0)
                series = {"up": up, "down": down}
            for key, values in series.items():
                cs = np.empty(n)
                nc = np.empty(n, dtype=np.int64)
                nan_cumsum_resume(values, 0, 0, n, cs, nc, 0, np.zeros(2))
                self._sums[key] = (self._upload(cs), self._upload(nc))
        return self._sums[name]

    def device_budget(self) -> int:
        """Bytes of device memory one call may use: a share of the free memory on a device,
        :data:`SIMULATOR_MEMORY` under the simulator."""
        if self._k.SIMULATOR:
            return int(SIMULATOR_MEMORY)
        free, _total = self._cuda.current_context().get_memory_info()
        return int(FREE_SHARE * free)

    def _launch(self, kernel: Any, n: int, *args: Any) -> None:
        threads = 32 if self._k.SIMULATOR else THREADS
        blocks = max(1, min(-(-n // threads), 1 if self._k.SIMULATOR else 65535))
        kernel[blocks, threads](*args)

    def _tables(self, family: str, stream: TableStream) -> tuple[Any, Any]:
        """Device tables ``A``, ``B`` (rows, T) of ``stream``'s rows."""
        k = self._k
        kinds, windows, rows_a = _row_specs(family, stream)
        kinds = np.ascontiguousarray(kinds, dtype=np.int64)
        windows = np.ascontiguousarray(windows, dtype=np.int64)
        rows = kinds.shape[0]
        d_kinds = self._cuda.to_device(kinds)
        d_windows = self._cuda.to_device(windows)
        table = self._cuda.device_array((rows, self.n_bars))
        if np.isin(kinds, k.STREAMED_ROWS).any():
            self._launch(k.table_rows_streamed, rows, d_kinds, d_windows, self._close, table)
        if not np.isin(kinds, k.STREAMED_ROWS).all():
            cs = nc = up_cs = up_nc = dn_cs = dn_nc = None
            if (kinds == k.ROW_SMA).any():
                cs, nc = self._running_sums("close")
            if (kinds == k.ROW_RSI_SMA).any():
                up_cs, up_nc = self._running_sums("up")
                dn_cs, dn_nc = self._running_sums("down")
            f, i = self._dummy, self._dummy_int
            # x: bars, y: rows (grid-stride over both); the simulator runs one small block
            grid = (
                (1, 1)
                if k.SIMULATOR
                else (min(-(-self.n_bars // THREADS), 4096), min(rows, 65535))
            )
            block = (32 if k.SIMULATOR else THREADS, 1)
            k.table_rows_elementwise[grid, block](
                d_kinds, d_windows, f if cs is None else cs, i if nc is None else nc,
                f if up_cs is None else up_cs, i if up_nc is None else up_nc,
                f if dn_cs is None else dn_cs, i if dn_nc is None else dn_nc,
                self._fields["high"], self._fields["low"], table,
            )  # fmt: skip
        if rows_a == rows:
            return table, table
        return table[:rows_a], table[rows_a:]

    def _simulate(
        self, code: int, A: Any, B: Any, stream: TableStream, idx: np.ndarray,
        sl: np.ndarray, tp: np.ndarray, out: np.ndarray,
    ) -> None:  # fmt: skip
        """Metrics of the strategies ``idx`` of ``stream`` into ``out[idx]``: one launch."""
        cuda = self._cuda

        def up(a: np.ndarray) -> Any:
            return cuda.to_device(np.ascontiguousarray(a[idx]))

        n = idx.shape[0]
        d_out = cuda.device_array((n, N_METRICS))
        kernel = self._k.simulate_kernel(code, MAX_REGISTERS)
        self._launch(
            kernel, n, self._close, self._prefix, A, B,
            up(stream.ia), up(stream.ib), up(stream.p1), up(stream.p2), up(sl), up(tp),
            np.float64(self.fees), np.float64(self.slippage), np.float64(self.init_cash),
            np.float64(self.ann_factor), d_out,
        )  # fmt: skip
        out[idx] = d_out.copy_to_host()

    def metrics(
        self,
        family: str,
        params: Mapping[str, np.ndarray],
        sl: np.ndarray,
        tp: np.ndarray,
    ) -> np.ndarray:
        """Metrics (n, N_METRICS) of the decoded strategies ``params`` of ``family``, with
        stop-loss ``sl`` and take-profit ``tp`` per strategy (zeros: no stops); equal to the
        CPU kernel's (columns ``enums.Metric``)."""
        code = int(family_code(get_family(family).name))
        sl = np.ascontiguousarray(sl, dtype=np.float64).reshape(-1)
        tp = np.ascontiguousarray(tp, dtype=np.float64).reshape(-1)
        lengths = {"sl": sl.shape[0], "tp": tp.shape[0]}
        lengths.update({name: len(np.asarray(v).reshape(-1)) for name, v in params.items()})
        n = lengths["sl"]
        if any(length != n for length in lengths.values()):
            raise ConfigError(
                f"sl, tp and the parameters need one value per strategy, got lengths {lengths}"
            )
        out = np.empty((n, N_METRICS))
        if n == 0:
            return out
        stream = table_stream(family, dict(params), self.options)
        order = np.lexsort((stream.ib, stream.ia))  # a warp's threads read the same rows
        row_bytes = 8 * self.n_bars
        budget = self.device_budget()
        host_n = n if self.memory_limit is None else self.memory_limit // BYTES_PER_STRATEGY
        tables = row_bytes * stream.rows
        if tables + BYTES_PER_STRATEGY <= budget:
            chunk = max(1, min(n, (budget - tables) // BYTES_PER_STRATEGY, host_n))
            A, B = self._tables(family, stream)
            for start in range(0, n, chunk):
                self._simulate(code, A, B, stream, order[start : start + chunk], sl, tp, out)
        else:  # every chunk builds the tables of its own rows
            keys = int(max(stream.ia.max(), stream.ib.max())) + 1
            rows_per_key = max(1, stream.rows // keys)
            max_keys = (budget // 2) // (rows_per_key * row_bytes)
            if max_keys < 2:
                raise ConfigError(
                    f"the indicator tables of one strategy ({2 * rows_per_key} rows of "
                    f"{self.n_bars:,} bars, {2 * rows_per_key * row_bytes:,} bytes) do not "
                    f"fit the device memory available ({budget:,} bytes)"
                )
            max_n = max(1, min((budget // 2) // BYTES_PER_STRATEGY, host_n))
            for idx in _row_groups(order, stream.ia, stream.ib, max_keys, max_n):
                sub = table_stream(family, _subset(params, idx), self.options)
                A, B = self._tables(family, sub)
                local = np.arange(idx.shape[0])
                part = np.empty((idx.shape[0], N_METRICS))
                self._simulate(code, A, B, sub, local, sl[idx], tp[idx], part)
                out[idx] = part
        self._k.annualize_rows_nb(out, self.init_cash, self.ann_factor, self.n_bars)
        return out
