"""The time-blocked backtest: bit-identical to one pass over all bars for every family, with
stops, for any block length (down to one bar), on arrays in memory or memory-mapped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genepool.backtest import StrategyProblem, nb
from genepool.backtest._sim_nb import prefix_block, return_prefix_sums
from genepool.backtest.blocked import MIN_BLOCK_BARS, block_bars_for, bytes_per_bar
from genepool.backtest.strategies import rolling_std_1d_nb
from genepool.backtest.stream import table_stream
from genepool.errors import ConfigError

CASES = [
    ("rsi", "wilder"),
    ("rsi", "sma"),
    ("ma_cross", "wilder"),
    ("bollinger", "wilder"),
    ("macd", "wilder"),
    ("breakout", "wilder"),
]


def ohlc(T, seed, vol=0.01, flat=False):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2021-01-01", periods=T, freq="1h")
    steps = rng.normal(0, vol, T)
    if flat:  # runs of equal closes: flat RSI (NaN), zero stds, ties at the thresholds
        steps[rng.random(T) < 0.3] = 0.0
    c = 100 * np.exp(np.cumsum(steps))
    spread = np.abs(rng.normal(0, 0.004, T))
    return pd.DataFrame({"close": c, "high": c * (1 + spread), "low": c * (1 - spread)}, index=idx)


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES),
    stops=st.booleans(),
    T=st.integers(210, 420),
    block=st.integers(1, 64),
    seed=st.integers(0, 10_000),
    flat=st.booleans(),
)
def test_any_block_length_is_bit_identical(case, stops, T, block, seed, flat):
    family, method = case
    data = ohlc(T, seed, flat=flat)
    whole = StrategyProblem(data, family, stops=stops, rsi_method=method, fees=0.001)
    X = whole.space.sample(40, np.random.default_rng(seed))
    ref = whole.metrics_array(X)
    blocked = StrategyProblem(
        data, family, stops=stops, rsi_method=method, fees=0.001, block_bars=block
    )
    assert same(blocked.metrics_array(X), ref)


@pytest.mark.parametrize(("family", "method"), CASES)
def test_blocks_that_end_inside_trades_and_warm_ups(family, method):
    """Every block length from 1 to 12 and a few around the longest windows."""
    data = ohlc(400, 7)
    whole = StrategyProblem(data, family, stops=True, rsi_method=method)
    X = whole.space.sample(60, np.random.default_rng(3))
    ref = whole.metrics_array(X)
    assert ref[:, 8].sum() > 0  # trades happen, so blocks end inside some of them
    for block in [*range(1, 13), 49, 50, 51, 199, 200, 201, 399]:
        prob = StrategyProblem(data, family, stops=True, rsi_method=method, block_bars=block)
        assert same(prob.metrics_array(X), ref), block


@pytest.mark.parametrize(("family", "method"), CASES)
def test_memory_mapped_arrays_equal_arrays_in_memory(tmp_path, family, method):
    data = ohlc(3000, 11)
    ref_prob = StrategyProblem(data, family, rsi_method=method, bars_per_year=8760)
    X = ref_prob.space.sample(50, np.random.default_rng(5))
    ref = ref_prob.metrics_array(X)
    maps = {}
    for col in ("close", "high", "low"):
        np.save(tmp_path / f"{col}.npy", data[col].to_numpy())
        maps[col] = np.load(tmp_path / f"{col}.npy", mmap_mode="r")
    frame = pd.DataFrame(maps)  # a DataFrame of mapped columns, no index
    for source in (frame, maps["close"]) if family != "breakout" else (frame,):
        prob = StrategyProblem(
            source, family, rsi_method=method, bars_per_year=8760, block_bars=777
        )
        assert same(prob.metrics_array(X), ref)


@pytest.mark.parametrize(("family", "method"), CASES)
def test_block_tables_equal_one_pass_indicators(family, method):
    """The streamed tables, glued together, are the one-pass indicator rows bit for bit."""
    data = ohlc(300, 2, flat=True)
    arrays = {c: data[c].to_numpy() for c in ("close", "high", "low")}
    prob = StrategyProblem(data, family, rsi_method=method)
    params = prob.space.decode(prob.space.sample(30, np.random.default_rng(0)))
    whole = table_stream(family, params, prob.options).tables(arrays, 0, 0, 300)
    stream = table_stream(family, params, prob.options)
    parts: list[list[np.ndarray]] = [[], []]
    for t0 in range(0, 300, 37):
        t1 = min(300, t0 + 37)
        base = max(0, t0 - stream.margin)
        A, B = stream.tables({c: a[base:t1] for c, a in arrays.items()}, base, t0, t1)
        for k, table in enumerate((A, B)):
            if t0 > 0:
                assert same(table[:, 0], parts[k][-1][:, -1])  # the margin bar t0 - 1
            parts[k].append(table if t0 == 0 else table[:, 1:])
    for k in range(2):
        assert same(np.concatenate(parts[k], axis=1), whole[k])
    close = arrays["close"]
    if family == "rsi":
        for r, w in enumerate(stream.windows):
            assert same(whole[0][r], nb.rsi_1d_nb(close, int(w), method == "wilder"))
    if family == "bollinger":
        for r, w in enumerate(stream.windows):
            assert same(whole[0][r], nb.sma_1d_nb(close, int(w)))
            assert same(whole[1][r], rolling_std_1d_nb(close, int(w)))
    if family == "breakout":
        for r, w in enumerate(stream.windows):
            assert same(whole[0][r], nb.rolling_max_1d_nb(arrays["high"], int(w)))
            assert same(whole[1][r], nb.rolling_min_1d_nb(arrays["low"], int(w)))


def test_prefix_sums_by_blocks_equal_one_pass():
    close = ohlc(500, 4)["close"].to_numpy()
    ref = return_prefix_sums(close)
    carry = np.zeros(3)
    cols = [ref[:, :1]]
    for t0 in range(0, 500, 33):
        t1 = min(500, t0 + 33)
        base = max(0, t0 - 1)
        part = prefix_block(close[base:t1], base, t0, t1, carry)
        assert same(part[:, 0], cols[-1][:, -1])
        cols.append(part[:, 1:])
    assert same(np.concatenate(cols, axis=1), ref)


def test_block_length_follows_the_memory_given():
    data = ohlc(200_000, 1)
    prob = StrategyProblem(data, "rsi")
    params = prob.space.decode(prob.space.sample(100, np.random.default_rng(0)))
    stream = table_stream("rsi", params, prob.options)
    per_bar = bytes_per_bar(stream)
    assert block_bars_for(stream, 200_000, None) == 200_000  # 128 MiB holds it all
    assert block_bars_for(stream, 200_000, per_bar * 5_000) == 5_000
    assert block_bars_for(stream, 200_000, "1KiB") == MIN_BLOCK_BARS
    assert block_bars_for(stream, 500, "1KiB") == 500


def test_block_options_are_checked():
    data = ohlc(300, 0)
    with pytest.raises(ConfigError, match="block_bars"):
        StrategyProblem(data, "rsi", block_bars=0)
    with pytest.raises(ConfigError, match="block_memory"):
        StrategyProblem(data, "rsi", block_memory="lots")
    with pytest.raises(ConfigError, match="open_store"):
        StrategyProblem(data, "rsi", symbols=["AAPL"])


def test_a_runs_memory_limit_sets_the_block_memory():
    import genepool as gp

    data = ohlc(2000, 3)
    prob = StrategyProblem(data, "rsi")
    gp.Evaluator(prob, memory_limit="256MB")
    assert prob.block_memory == 256_000_000 // 8
    gp.Evaluator(prob, memory_limit="64GB")
    assert prob.block_memory == 128 * 2**20  # never above the default
    given = StrategyProblem(data, "rsi", block_memory="1MiB")
    gp.Evaluator(given, memory_limit="256MB")
    assert given.block_memory == "1MiB"
