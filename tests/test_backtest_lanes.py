"""The lanes kernel (backtest/_lanes_nb.py) against its oracle twin, the scalar kernel.

Both kernels write every float by the same operations in the same order, so the metrics must be
equal bit for bit (not within a tolerance): every family, with and without stops, both RSI
smoothings, fees and slippage, prices with ties and flat stretches, any block length and any
number of lanes a group. The vectorbt and naive oracles of the fused kernel (test_backtest_*,
test_golden) run through the lanes kernel too: it is StrategyProblem's default.
"""

from __future__ import annotations

import platform
import re

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genepool.backtest import StrategyProblem
from genepool.backtest import _lanes_nb as lanes
from genepool.backtest.blocked import run_blocks
from genepool.backtest.data import synthetic_ohlcv
from genepool.backtest.enums import Metric
from genepool.backtest.stream import table_stream

FAMILIES = ("rsi", "ma_cross", "bollinger", "macd", "breakout")
#: Ranges that trade often on a few hundred bars, with groups of many lanes (few windows).
RANGES = {
    "rsi": {"window": [2, 6], "lower": [25.0, 49.0], "upper": [51.0, 75.0]},
    "ma_cross": {"fast": [2, 4], "slow": [5, 8]},
    "bollinger": {"window": [3, 6], "k": [0.1, 2.5]},
    "macd": {"fast": [2, 4], "slow": [5, 8], "signal": [2, 4]},
    "breakout": {"window": [2, 5]},
}
STOPS = {"stop_loss": [0.001, 0.03], "take_profit": [0.001, 0.03]}


def _prices(kind: str, n_bars: int, seed: int) -> object:
    if kind == "grid":  # half-point steps with flat stretches: ties, 0/0 RSI, zero std
        steps = np.random.default_rng(seed).choice([-0.5, 0.0, 0.0, 0.5], size=n_bars)
        close = 100.0 + np.cumsum(steps)
        return close
    return synthetic_ohlcv(n_bars, freq="1h", seed=seed)


def _metrics(
    prob: StrategyProblem,
    X: np.ndarray,
    kernel: str,
    block_bars: int,
    max_lanes: int = lanes.MAX_LANES,
    min_lanes: int = lanes.MIN_LANES,
) -> np.ndarray:
    params = prob.space.decode(X)
    sl, tp = prob._stops(params, X.shape[0])
    return run_blocks(
        int(prob.family.code), table_stream(prob.family.name, params, prob.options), prob.data,
        prob.n_bars, block_bars, sl, tp, fees=prob.fees, slippage=prob.slippage,
        init_cash=prob.init_cash, ann_factor=prob.ann_factor, kernel=kernel,
        max_lanes=max_lanes, min_lanes=min_lanes,
    )  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    family=st.sampled_from(FAMILIES),
    stops=st.booleans(),
    wilder=st.booleans(),
    prices=st.sampled_from(["synthetic", "grid"]),
    n_bars=st.integers(40, 400),
    n=st.integers(1, 90),
    block=st.integers(1, 400),
    max_lanes=st.integers(1, 70),
    min_lanes=st.integers(1, 5),
    fees=st.sampled_from([0.0, 0.001, 0.01]),
    slippage=st.sampled_from([0.0, 0.0005]),
    seed=st.integers(0, 10_000),
)
def test_lanes_equal_scalar_bit_for_bit(
    family: str, stops: bool, wilder: bool, prices: str, n_bars: int, n: int, block: int,
    max_lanes: int, min_lanes: int, fees: float, slippage: float, seed: int,
) -> None:  # fmt: skip
    ranges = dict(RANGES[family], **(STOPS if stops else {}))
    prob = StrategyProblem(
        _prices(prices, n_bars, seed), family, fees=fees, slippage=slippage, stops=stops,
        rsi_method="wilder" if wilder else "sma", ranges=ranges, bars_per_year=252.0,
    )  # fmt: skip
    X = prob.space.sample(n, np.random.default_rng(seed))
    block = min(block, n_bars)
    want = _metrics(prob, X, "scalar", block)
    got = _metrics(prob, X, "simd", block, max_lanes, min_lanes)
    assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("stops", [False, True])
def test_lanes_equal_scalar_on_a_long_series(family: str, stops: bool) -> None:
    """Thousands of bars and strategies: long trades, deep drawdowns, bursts of events."""
    ranges = dict(RANGES[family], **(STOPS if stops else {}))
    prob = StrategyProblem(
        synthetic_ohlcv(5000, freq="1h", seed=11), family, fees=0.001, stops=stops,
        ranges=ranges,
    )  # fmt: skip
    X = prob.space.sample(600, np.random.default_rng(2))
    want = _metrics(prob, X, "scalar", 5000)
    for block in (5000, 777):
        got = _metrics(prob, X, "simd", block)
        assert np.array_equal(got, want, equal_nan=True)
    assert want[:, Metric.N_TRADES].sum() > 1000  # the strategies traded


def test_strategy_problem_kernel_option() -> None:
    data = synthetic_ohlcv(2000, freq="1h", seed=4)
    simd = StrategyProblem(data, "rsi", ranges=RANGES["rsi"])
    scalar = StrategyProblem(data, "rsi", ranges=RANGES["rsi"], kernel="scalar")
    assert simd.kernel == "simd"  # the default
    X = simd.space.sample(300, np.random.default_rng(0))
    assert np.array_equal(simd.metrics_array(X), scalar.metrics_array(X), equal_nan=True)
    assert scalar.shared_config()["kernel"] == "scalar"
    worker = StrategyProblem.from_shared(scalar.shared_arrays(), scalar.shared_config())
    assert worker.kernel == "scalar"


@given(
    ia=st.lists(st.integers(0, 4), min_size=0, max_size=200),
    max_lanes=st.integers(1, 40),
)
def test_lane_groups(ia: list[int], max_lanes: int) -> None:
    ia_a = np.array(ia, dtype=np.int64)
    ib_a = (ia_a * 7) % 3  # a second row, a function of the first or not
    order, starts = lanes.lane_groups(ia_a, ib_a, max_lanes)
    assert sorted(order.tolist()) == list(range(len(ia)))  # every strategy once
    assert starts[0] == 0 and starts[-1] == len(ia)
    sizes = np.diff(starts)
    assert (sizes >= 1).all() and (sizes <= max_lanes).all()
    runs: dict[tuple[int, int], list[int]] = {}
    for g in range(len(sizes)):
        members = order[starts[g] : starts[g + 1]]
        keys = {(int(ia_a[s]), int(ib_a[s])) for s in members}
        assert len(keys) == 1  # a group shares its rows
        runs.setdefault(keys.pop(), []).append(int(sizes[g]))
    for parts in runs.values():  # a run of equal rows: fewest groups, near-equal sizes
        assert len(parts) == -(-sum(parts) // max_lanes)
        assert max(parts) - min(parts) <= 1


def _fresh_asm(kernel: object, *args: object) -> str:
    """The machine code of a kernel compiled anew (numba inspects no code loaded from its
    cache)."""
    fresh = numba.njit(error_model="numpy")(kernel.py_func)  # type: ignore[attr-defined]
    fresh(*args)
    return str(fresh.inspect_asm(fresh.signatures[0]))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 instructions")
def test_bar_loops_are_vectorized() -> None:
    """The per-bar loops compile to packed double instructions (what the issue asks to check
    in the generated code): on AVX2, ``vmulpd``/``vcmp*pd``/``vmaxpd`` on ymm registers."""
    n = 64
    f = [np.ones(n) for _ in range(6)]
    asm = _fresh_asm(lanes._bar_values, 1.0, f[0], f[1], f[2], f[3], f[4], f[5])
    packed = re.findall(r"\bv?(?:mul|add|max|min|cmp\w*|blendv)pd\b", asm)
    assert len(packed) >= 4, "the peak loop was not vectorized"
    b = np.zeros(n, dtype=np.bool_)
    asm = _fresh_asm(
        lanes._bar_signals, 1, 5, 1.0, 1.0, 50.0, 40.0, 1.0, 1.0, f[0], f[1], b, b.copy()
    )
    assert len(re.findall(r"\bv?cmp\w*pd\b", asm)) >= 2, "the signal loop was not vectorized"


def test_stops_at_exact_levels() -> None:
    """Closes that land exactly on a stop level (``c <= entry * (1 - stop_loss)`` and
    ``c >= entry * (1 + take_profit)`` with equality): prices on a grid of 25 and stops of
    a quarter, both exact in binary, without fees or slippage (the entry price is the
    close)."""
    steps = np.random.default_rng(3).choice([-25.0, 0.0, 25.0], size=3000)
    close = np.clip(400.0 + np.cumsum(steps), 100.0, 800.0)
    prob = StrategyProblem(close, "rsi", fees=0.0, stops=True, bars_per_year=252.0,
                           ranges=dict(RANGES["rsi"], **STOPS))  # fmt: skip
    X = prob.space.sample(400, np.random.default_rng(1))
    params = prob.space.decode(X)
    stream = table_stream("rsi", params, prob.options)

    def run(kernel: str, level: float) -> np.ndarray:
        sl = np.full(400, level)
        return run_blocks(
            int(prob.family.code), table_stream("rsi", params, prob.options), prob.data,
            prob.n_bars, 3000, sl, sl, fees=0.0, slippage=0.0, init_cash=1e4,
            ann_factor=252.0, kernel=kernel,
        )  # fmt: skip

    want = run("scalar", 0.25)
    assert np.array_equal(run("simd", 0.25), want, equal_nan=True)
    # the ties mattered: stops a hair wider close other trades
    assert not np.array_equal(run("scalar", 0.25 + 1e-9), want, equal_nan=True)
    assert stream.rows < 10  # few windows: groups of many lanes
