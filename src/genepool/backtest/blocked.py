"""The time-blocked backtest: a batch of strategies over bars read block by block.

:func:`run_blocks` walks the bars in blocks [t0, t1) of ``block_bars``: it reads the block's
prices (plus the indicators' margin) from arrays that may be memory-mapped, builds the block's
indicator tables (:mod:`genepool.backtest.stream`), and advances every strategy's state
(``_sim_nb.simulate_family_block_nb``); after the last block it writes the metrics. Peak
memory is O(rows * block_bars + strategies * state), whatever the number of bars, and the
metrics are bit-identical to one block over all bars (tests/test_blocked.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import numba
import numpy as np

from .._stages import stage
from ..memory import parse_size
from ._lanes_nb import MAX_LANES, MIN_LANES, lane_groups, simulate_lanes_block_nb
from ._sim_nb import (
    N_PORTFOLIO_STATE,
    finalize_family_nb,
    finalize_portfolio_nb,
    init_portfolio_nb,
    init_state_nb,
    portfolio_block_nb,
    prefix_block,
    simulate_family_block_nb,
)
from .enums import N_METRICS, N_STATE
from .stream import TableStream

__all__ = ["DEFAULT_BLOCK_MEMORY", "KERNELS", "block_bars_for", "run_blocks", "run_portfolio"]

#: The CPU kernels: ``"simd"`` advances groups of strategies that share their indicator rows
#: bar by bar in SIMD lanes (``_lanes_nb``), ``"scalar"`` one strategy at a time
#: (``_sim_nb.simulate_block``, the oracle twin). Their metrics are bit-identical.
KERNELS = ("simd", "scalar")

#: Memory for the indicator tables of one block when none is given: 128 MiB.
DEFAULT_BLOCK_MEMORY = 128 * 2**20
#: Fewest bars of a block (per-block overheads stay negligible above it).
MIN_BLOCK_BARS = 1024


def _threads() -> int:
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:  # pragma: no cover - numba is a dependency
        return os.cpu_count() or 1


def bytes_per_bar(stream: TableStream) -> int:
    """Working bytes a bar of a block costs: the tables, the prefix sums and running sums,
    and the per-thread scratch (the MACD line and signal, the rolling extremes' deque)."""
    return 8 * (stream.rows + 12 + 4 * _threads())


def block_bars_for(
    stream: TableStream, n_bars: int, block_memory: int | str | None, extra_per_bar: int = 0
) -> int:
    """Bars per block so that a block's working memory stays within ``block_memory``
    (``extra_per_bar``: bytes a bar costs besides the tables, e.g. a portfolio's values)."""
    budget = DEFAULT_BLOCK_MEMORY if block_memory is None else parse_size(block_memory)
    bars = max(MIN_BLOCK_BARS, budget // (bytes_per_bar(stream) + extra_per_bar))
    return int(min(n_bars, bars))


def _advance(
    code: int,
    stream: TableStream,
    arrays: Mapping[str, np.ndarray],
    t0: int,
    t1: int,
    n_bars: int,
    carry: np.ndarray,
    state: np.ndarray,
    values: np.ndarray,
    sl: np.ndarray,
    tp: np.ndarray,
    fees: float,
    slippage: float,
    groups: tuple[np.ndarray, np.ndarray] | None = None,
    min_lanes: int = MIN_LANES,
) -> None:
    """One block [t0, t1) of one series: read its prices and margin (views of the maps),
    build its tables, advance the prefix sums (``carry``) and every strategy's ``state``
    (values added into ``values`` unless it is (n, 0)); with ``groups`` (:func:`lane_groups`
    of the strategies, no values) in SIMD lanes."""
    base = max(0, t0 - stream.margin)
    with stage("indicator tables"):
        data = {f: np.asarray(arrays[f][base:t1]) for f in stream.fields}
        A, B = stream.tables(data, base, t0, t1)
        close = data["close"]
        prefix = prefix_block(close, base, t0, t1, carry)
    aoff = t0 - 1 if t0 > 0 else 0
    if groups is not None:
        # groups are ordered by row and short windows trade far more: handed out one at a
        # time, not in one contiguous range per thread (numba's default: one thread got
        # most of the work)
        with numba.parallel_chunksize(1), stage("kernel"):
            simulate_lanes_block_nb(
                code, close, base, prefix, A, B, aoff, stream.ia, stream.ib, stream.p1,
                stream.p2, sl, tp, fees, slippage, t0, t1, n_bars, state, groups[0],
                groups[1], min_lanes,
            )  # fmt: skip
        return
    with stage("kernel"):
        simulate_family_block_nb(
            code, close, base, prefix, A, B, aoff, stream.ia, stream.ib, stream.p1, stream.p2,
            sl, tp, fees, slippage, t0, t1, n_bars, state, values,
        )  # fmt: skip


def run_blocks(
    code: int,
    stream: TableStream,
    arrays: Mapping[str, np.ndarray],
    n_bars: int,
    block_bars: int,
    sl: np.ndarray,
    tp: np.ndarray,
    *,
    fees: float,
    slippage: float,
    init_cash: float,
    ann_factor: float,
    on_block: Callable[[int, int], None] | None = None,
    kernel: str = "simd",
    max_lanes: int = MAX_LANES,
    min_lanes: int = MIN_LANES,
) -> np.ndarray:
    """Metrics (n, N_METRICS) of the batch behind ``stream`` over ``n_bars`` bars.

    ``arrays`` maps the price fields (``close``, and ``high``/``low`` for ``breakout``) to
    arrays of ``n_bars`` values, in memory or memory-mapped; only a block and its margin are
    read at a time. ``on_block(t1, n_bars)`` is called after each block (progress, memory
    samples). ``kernel`` is one of :data:`KERNELS`; with ``"simd"``, groups of at most
    ``max_lanes`` strategies run in lanes, smaller than ``min_lanes`` one by one.
    """
    n = stream.ia.shape[0]
    out = np.empty((n, N_METRICS))
    if n == 0:
        return out
    state = np.empty((n, N_STATE))
    init_state_nb(state, init_cash)
    carry = np.zeros(3)
    no_values = np.empty((n, 0))
    groups = lane_groups(stream.ia, stream.ib, max_lanes) if kernel == "simd" else None
    for t0 in range(0, n_bars, block_bars):
        t1 = min(n_bars, t0 + block_bars)
        _advance(code, stream, arrays, t0, t1, n_bars, carry, state, no_values,
                 sl, tp, fees, slippage, groups, min_lanes)  # fmt: skip
        if on_block is not None:
            on_block(t1, n_bars)
    last_close = float(arrays["close"][n_bars - 1])
    with stage("kernel"):
        finalize_family_nb(state, last_close, n_bars, init_cash, ann_factor, out)
    return out


def run_portfolio(
    code: int,
    streams: Sequence[TableStream],
    arrays: Sequence[Mapping[str, np.ndarray]],
    n_bars: int,
    block_bars: int,
    sl: np.ndarray,
    tp: np.ndarray,
    *,
    fees: float,
    slippage: float,
    init_cash: float,
    ann_factor: float,
    on_block: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Metrics (n, N_METRICS) of the equal-weight portfolios of the batch's runs on S symbols
    that share one calendar of ``n_bars`` bars (``streams[k]``, ``arrays[k]``: symbol k's
    tables and prices). Each block advances every symbol's runs, summing their values per
    bar into an (n, block) buffer, then the portfolios
    (``_sim_nb.finalize_portfolio_nb`` says how each metric is formed)."""
    n = streams[0].ia.shape[0]
    n_symbols = len(streams)
    out = np.empty((n, N_METRICS))
    if n == 0:
        return out
    states = np.empty((n_symbols, n, N_STATE))
    for k in range(n_symbols):
        init_state_nb(states[k], init_cash)
    pstate = np.empty((n, N_PORTFOLIO_STATE))
    init_portfolio_nb(pstate, init_cash)
    carries = np.zeros((n_symbols, 3))
    for t0 in range(0, n_bars, block_bars):
        t1 = min(n_bars, t0 + block_bars)
        vsum = np.zeros((n, t1 - t0))
        for k, stream in enumerate(streams):
            _advance(code, stream, arrays[k], t0, t1, n_bars, carries[k],
                     states[k], vsum, sl, tp, fees, slippage)  # fmt: skip
        portfolio_block_nb(vsum, float(n_symbols), pstate)
        del vsum
        if on_block is not None:
            on_block(t1, n_bars)
    last = np.array([float(a["close"][n_bars - 1]) for a in arrays])
    finalize_portfolio_nb(states, last, pstate, n_bars, init_cash, ann_factor, out)
    return out
