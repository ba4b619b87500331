"""Every decoded strategy satisfies its family's constraints; ranges and --params validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genepool.algorithms import GA
from genepool.backtest import StrategyProblem
from genepool.backtest.strategies import family_names
from genepool.errors import ConfigError, DataError, GenepoolError
from genepool.evaluation.cache import FitnessCache, keyed_batch

CLOSE = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 700)))
WINDOWS = {"window", "fast", "slow", "signal"}


def violations(family: str, p: dict[str, np.ndarray]) -> list[str]:
    """The constraints each family documents, written out plainly (the test's oracle)."""
    bad = []
    for name in WINDOWS & set(p):
        least = 2 if (family in ("rsi", "bollinger") or name == "signal") else 1
        if not (p[name] >= least).all():
            bad.append(f"{name} < {least}")
    if family in ("ma_cross", "macd") and not (p["fast"] < p["slow"]).all():
        bad.append("fast >= slow")
    if family == "rsi":
        ok = (0 <= p["lower"]) & (p["lower"] < p["upper"]) & (p["upper"] <= 100)
        if not ok.all():
            bad.append("not 0 <= lower < upper <= 100")
    if family == "bollinger" and not (p["k"] > 0).all():
        bad.append("k <= 0")
    if "stop_loss" in p:
        if not ((p["stop_loss"] > 0) & (p["stop_loss"] < 1)).all():
            bad.append("stop_loss outside (0, 1)")
        if not (p["take_profit"] > 0).all():
            bad.append("take_profit <= 0")
    return bad


def genomes(space, draw, n=64):
    """Genomes anywhere in the box, the corners and the bounds included."""
    u = draw(
        arrays(
            np.float64,
            (n, space.dims),
            elements=st.one_of(
                st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0, allow_nan=False)
            ),
        )
    )
    return space.lower + u * (space.upper - space.lower)


@pytest.mark.parametrize("stops", [False, True])
@pytest.mark.parametrize("family", family_names())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_genome_in_the_box_decodes_to_an_invalid_strategy(family, stops, data):
    space = StrategyProblem(CLOSE, family, stops=stops, freq="1h").space
    X = genomes(space, data.draw)
    assert violations(family, space.decode(X)) == []


OVERLAPPING = {
    "rsi": {"lower": [5, 70], "upper": [40, 95]},
    "ma_cross": {"fast": [1, 120], "slow": [2, 150]},
    "macd": {"fast": [1, 40], "slow": [2, 60], "signal": [2, 9]},
    "bollinger": {"window": [2, 30], "k": [0.001, 4.0]},
    "breakout": {"window": [1, 30]},
}


@pytest.mark.parametrize("family", sorted(OVERLAPPING))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_genome_decodes_invalid_with_overlapping_ranges(family, data):
    prob = StrategyProblem(CLOSE, family, stops=True, freq="1h", ranges=OVERLAPPING[family])
    space = prob.space
    X = genomes(space, data.draw)
    p = space.decode(X)
    assert violations(family, p) == []
    for name, (lo, hi) in OVERLAPPING[family].items():  # the ranges are the decoded ranges
        assert lo <= p[name].min() and p[name].max() <= hi
    # and every valid strategy in the box has a genome that decodes to exactly it
    again = space.decode(space.encode(p))
    for name in p:
        np.testing.assert_array_equal(again[name], p[name])


@pytest.mark.parametrize("family", ["ma_cross", "macd", "rsi"])
def test_ga_variation_never_yields_an_invalid_strategy(family):
    ranges = OVERLAPPING[family] if family != "ma_cross" else None  # ma_cross: the defaults
    prob = StrategyProblem(CLOSE, family, freq="1h", ranges=ranges)
    ga = GA(prob.space, 200, seed=1)
    rng = np.random.default_rng(2)
    for _ in range(6):
        X = ga.ask()
        assert violations(family, prob.space.decode(X)) == []
        # a fitness that rewards fast >= slow would drive the old encoding there
        p = prob.space.decode(X)
        a, b = ("lower", "upper") if family == "rsi" else ("fast", "slow")
        ga.tell(X, -(p[a] - p[b]).astype(float) + rng.normal(0, 1e-3, len(X)))


def test_ma_cross_slow_is_spread_over_its_feasible_range():
    # Not piled up on slow = fast + 1 (which a clip-to-the-boundary repair would do): every
    # feasible slow has one or two of the 191 genomes of the default range 10..200.
    space = StrategyProblem(CLOSE, "ma_cross", freq="1h").space
    raw = np.arange(10, 201)
    X = np.column_stack([np.full(raw.size, 40.0), raw, np.zeros(raw.size)])
    counts = np.bincount(space.decode(X)["slow"], minlength=201)
    assert counts[:41].sum() == 0 and counts[41:].min() >= 1 and counts.max() <= 2
    assert np.all(np.diff(space.decode(X)["slow"]) >= 0)  # monotone: neighbours stay neighbours


def test_keys_are_equal_exactly_when_decoded_strategies_are():
    space = StrategyProblem(CLOSE, "ma_cross", freq="1h").space
    X = space.sample(5000, np.random.default_rng(3))
    p = space.decode(X)
    tuples = set(zip(p["fast"].tolist(), p["slow"].tolist(), p["ma"].tolist()))
    first, _ = keyed_batch(space, X).group()
    assert len(first) == len(tuples)
    cache = FitnessCache("1MB")
    fit = p["slow"] * 1000.0 + p["fast"]  # a function of the decoded strategy
    cache.add(space, X[:2500], fit[:2500])
    found, values = cache.get(space, X)
    assert np.array_equal(values[found], fit[found]) and found[2500:].any()


def test_workers_rebuild_the_same_space():
    prob = StrategyProblem(CLOSE, "macd", stops=True, freq="1h", ranges=OVERLAPPING["macd"])
    twin = StrategyProblem.from_shared(prob.shared_arrays(), prob.shared_config())
    X = prob.space.sample(300, np.random.default_rng(4))
    assert twin.space == prob.space
    np.testing.assert_array_equal(twin.evaluate(X), prob.evaluate(X))


@pytest.mark.parametrize(
    ("family", "ranges", "fragments"),
    [
        ("rsi", {"windw": [5, 10]}, ["'windw'", "window"]),
        ("rsi", {"stop_loss": [0.01, 0.1]}, ["stop_loss", "--stops"]),
        ("rsi", {"window": [50, 10]}, ["window", "[50, 10]"]),
        ("rsi", {"window": [1, 10]}, ["window", ">= 2", "[1, 10]"]),
        ("rsi", {"upper": [60, 101]}, ["upper", "<= 100"]),
        ("rsi", {"lower": [10, 95]}, ["lower", "upper", "[10, 95]"]),
        ("rsi", {"window": [5.5, 10]}, ["window", "whole"]),
        ("rsi", {"window": "5..10"}, ["window", "[low, high]"]),
        ("ma_cross", {"fast": [5, 300]}, ["fast", "slow", "[5, 300]", "[10, 200]"]),
        ("ma_cross", {"ma": [0, 1]}, ["ma", "choice"]),
        ("bollinger", {"k": [0.0, 2.0]}, ["k", "> 0"]),
    ],
)
def test_bad_ranges_are_one_clear_error(family, ranges, fragments):
    with pytest.raises(ConfigError) as err:
        StrategyProblem(CLOSE, family, freq="1h", ranges=ranges)
    assert all(f in str(err.value) for f in fragments), str(err.value)
    assert "np." not in str(err.value)


def test_stop_ranges_with_stops():
    prob = StrategyProblem(
        CLOSE, "breakout", stops=True, freq="1h",
        ranges={"stop_loss": [0.01, 0.02], "take_profit": [1.0, 3.0]},
    )  # fmt: skip
    p = prob.space.decode(prob.space.sample(500, np.random.default_rng(5)))
    assert 0.01 <= p["stop_loss"].min() and p["stop_loss"].max() <= 0.02
    assert 1.0 <= p["take_profit"].min() and p["take_profit"].max() <= 3.0


def test_check_params_accepts_valid_strategies_outside_the_search_box():
    from genepool.backtest.constraints import check_params, params_ranges

    for family, params in [
        ("rsi", {"window": 60, "lower": 35, "upper": 65}),
        ("rsi", {"window": 2, "lower": 0, "upper": 100}),
        ("ma_cross", {"fast": 100, "slow": 200, "ma": "sma"}),
        ("ma_cross", {"fast": 1, "slow": 2, "ma": "ema"}),
        ("macd", {"fast": 30, "slow": 31, "signal": 2}),
        ("bollinger", {"window": 300, "k": 0.1, "stop_loss": 0.5, "take_profit": 9.0}),
    ]:
        valid = check_params(family, params, n_bars=len(CLOSE))
        prob = StrategyProblem(
            CLOSE, family, freq="1h", stops="stop_loss" in valid,
            ranges=params_ranges(family, valid),
        )  # fmt: skip
        x = prob.space.encode(valid)
        assert prob.space.decode_row(x[0]) == valid


@pytest.mark.parametrize(
    ("family", "params", "fragments"),
    [
        ("ma_cross", {"fast": 50, "slow": 20, "ma": "sma"}, ["fast", "slow", "50", "20"]),
        ("ma_cross", {"fast": 20, "slow": 20, "ma": "sma"}, ["fast < slow"]),
        ("rsi", {"window": 14, "lower": 70, "upper": 30}, ["lower < upper"]),
        ("rsi", {"window": 1, "lower": 30, "upper": 70}, ["window", ">= 2", "1"]),
        ("rsi", {"window": 14, "lower": -5, "upper": 70}, ["lower", "-5"]),
        ("rsi", {"window": 14.5, "lower": 30, "upper": 70}, ["window", "14.5"]),
        ("bollinger", {"window": 20, "k": 0}, ["k", "> 0"]),
        ("bollinger", {"window": 20, "k": 2, "stop_loss": 1.5, "take_profit": 0.1}, ["stop_loss"]),
        ("bollinger", {"window": 20, "k": 2, "stop_loss": 0.1}, ["take_profit"]),
        ("macd", {"fast": 12, "slow": 26, "signal": 9, "sigal": 3}, ["'sigal'"]),
    ],
)
def test_check_params_rejects_invalid_strategies(family, params, fragments):
    from genepool.backtest.constraints import check_params

    with pytest.raises(ConfigError) as err:
        check_params(family, params)
    assert all(f in str(err.value) for f in fragments), str(err.value)


def test_check_params_needs_data_long_enough_for_the_windows():
    from genepool.backtest.constraints import check_params

    with pytest.raises(DataError, match="700 bars.*slow 800"):
        check_params("ma_cross", {"fast": 5, "slow": 800, "ma": "sma"}, n_bars=700)
    assert check_params("ma_cross", {"fast": 5, "slow": 699, "ma": "sma"}, n_bars=700)


def test_encode_names_an_unordered_pair():
    space = StrategyProblem(CLOSE, "ma_cross", freq="1h").space
    with pytest.raises(GenepoolError, match=r"fast \(40\) must be below slow \(30\)"):
        space.encode({"fast": 40, "slow": 30, "ma": "sma"})
