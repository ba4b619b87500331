"""Market data: ``load_ohlcv`` round trips and errors, ``validate_ohlcv`` rules (every error names
its row), ``synthetic_ohlcv`` (determinism, bar consistency, per-regime volatility against the
configured one, the Markov kernel against a naive twin) and ``demo_data``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genepool.backtest.data import (
    COLUMNS,
    _markov_path_nb,
    _stationary,
    demo_data,
    load_ohlcv,
    synthetic_ohlcv,
    validate_ohlcv,
)
from genepool.errors import ConfigError, DataError

HOURS_PER_YEAR = 8760.0


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return synthetic_ohlcv(40, "1h", seed=11)


def _raw(n: int = 30) -> pd.DataFrame:
    """Hand-made valid bars with a time column, as a file would hold them."""
    time = pd.date_range("2021-03-01", periods=n, freq="1h")
    close = 100.0 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "time": time,
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.arange(n, dtype=float) * 10.0,
        }
    )


def _row17() -> str:
    return "row 17 (time 2021-03-01 17:00:00)"


# ---------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("ending", [".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".CSV"])
def test_csv_round_trip(tmp_path, bars, ending):
    path = tmp_path / f"bars{ending}"
    bars.to_csv(path)
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)


@pytest.mark.parametrize("ending", [".parquet", ".pq", ".PARQUET"])
def test_parquet_round_trip_keeps_the_time_zone(tmp_path, bars, ending):
    berlin = bars.tz_localize("Europe/Berlin")
    path = tmp_path / f"bars{ending}"
    berlin.to_parquet(path)
    loaded = load_ohlcv(path)
    pd.testing.assert_frame_equal(loaded, berlin)
    assert str(loaded.index.tz) == "Europe/Berlin"


def test_parquet_time_as_column(tmp_path, bars):
    path = tmp_path / "bars.parquet"
    bars.reset_index(names="Timestamp").to_parquet(path, index=False)
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)


def test_csv_keeps_utc_and_converts_varying_offsets_to_utc(tmp_path, bars):
    utc = bars.tz_localize("UTC")
    utc.to_csv(tmp_path / "utc.csv")
    pd.testing.assert_frame_equal(load_ohlcv(tmp_path / "utc.csv"), utc)
    # Local times across the spring DST change: offsets +01:00 then +02:00.
    local = synthetic_ohlcv(6, "1h", seed=1, start=pd.Timestamp("2021-03-28", tz="Europe/Paris"))
    local.to_csv(tmp_path / "local.csv")
    loaded = load_ohlcv(tmp_path / "local.csv")
    assert str(loaded.index.tz) == "UTC"
    assert loaded.index.equals(local.index.tz_convert("UTC"))
    np.testing.assert_array_equal(loaded.to_numpy(), local.to_numpy())


def test_headers_are_case_insensitive_and_trimmed(tmp_path, bars):
    text = bars.reset_index().to_csv(index=False)
    body = text.split("\n", 1)[1]
    path = tmp_path / "shouty.csv"
    path.write_text(" DATE ,Open,  HIGH,low ,Close,Volume\n" + body)
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)
    # Excel's byte order mark and snake/kebab case.
    path.write_text("\ufeffDate_Time,OPEN,High,Low,CLOSE,vol\n" + body, encoding="utf-8")
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)


def test_format_override_and_reader_options(tmp_path, bars):
    path = tmp_path / "bars.txt"
    bars.to_csv(path, sep=";")
    pd.testing.assert_frame_equal(load_ohlcv(path, format="csv", sep=";"), bars)
    pd.testing.assert_frame_equal(load_ohlcv(path, format="csv"), bars)  # ';' detected
    with pytest.raises(DataError, match=r"bars\.txt: no close column.*pass sep=';'") as info:
        load_ohlcv(path, format="csv", sep=",")
    assert info.value.cli_message.endswith("use --sep ';'")  # what the command line shows
    with pytest.raises(ConfigError, match="format must be 'csv' or 'parquet'"):
        load_ohlcv(path, format="xlsx")
    with pytest.raises(ConfigError, match="unexpected keyword argument 'bogus'"):
        load_ohlcv(path, format="csv", bogus=1)


def test_parquet_folder(tmp_path, bars):
    folder = tmp_path / "bars.parquet"
    folder.mkdir()
    bars.iloc[:20].to_parquet(folder / "part-0.parquet")
    bars.iloc[20:].to_parquet(folder / "part-1.parquet")
    pd.testing.assert_frame_equal(load_ohlcv(folder), bars)


# ---------------------------------------------------------------------------------------------
# columns and time


def test_time_column_index_and_named_index_agree(bars):
    as_column = bars.reset_index(names="timestamp")
    as_text_index = bars.set_axis(bars.index.astype(str).rename("Date"), axis=0)
    assert not isinstance(as_text_index.index, pd.DatetimeIndex)
    for frame in (as_column, as_text_index, bars):
        pd.testing.assert_frame_equal(validate_ohlcv(frame), bars)


def test_date_and_time_columns_are_joined(bars):
    raw = bars.reset_index(drop=True).assign(
        Date=bars.index.strftime("%Y-%m-%d"), Time=bars.index.strftime("%H:%M")
    )
    pd.testing.assert_frame_equal(validate_ohlcv(raw), bars)


@pytest.mark.parametrize(("unit", "scale"), [("s", 10**9), ("ms", 10**6), ("us", 10**3)])
def test_epoch_numbers_by_magnitude(bars, unit, scale):
    raw = bars.reset_index(drop=True).assign(timestamp=bars.index.asi8 // scale)
    pd.testing.assert_frame_equal(validate_ohlcv(raw), bars)


def test_yyyymmdd_integers():
    raw = pd.DataFrame({"date": [20240102, 20240103, 20240105], "close": [1.0, 2.0, 3.0]})
    index = validate_ohlcv(raw).index
    assert list(index) == list(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-05"]))


def test_canonical_output_shape_dtypes_and_defaults():
    raw = pd.DataFrame(
        {
            "Note": ["a", "b", "c"],
            "time": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "close": pd.array([3, 4, 5], dtype="Int64"),
        }
    )
    out = validate_ohlcv(raw)
    assert tuple(out.columns) == COLUMNS
    assert (out.dtypes == np.float64).all()
    assert out.index.name == "time" and out.index.dtype == "datetime64[ns]"
    for c in ("open", "high", "low"):
        np.testing.assert_array_equal(out[c], [3.0, 4.0, 5.0])
    assert out["volume"].isna().all()


def test_missing_high_low_come_from_open_and_close():
    raw = pd.DataFrame(
        {"date": ["2024-01-01", "2024-01-02"], "open": [10.0, 12.0], "close": [11.0, 9.0]}
    )
    out = validate_ohlcv(raw)
    np.testing.assert_array_equal(out["high"], [11.0, 12.0])
    np.testing.assert_array_equal(out["low"], [10.0, 9.0])


def test_adj_close_only_when_close_is_missing():
    raw = _raw(3)
    adjusted = raw["close"] * 0.5
    with_both = raw.assign(**{"Adj Close": adjusted})
    np.testing.assert_array_equal(validate_ohlcv(with_both)["close"], raw["close"])
    only_adj = raw.drop(columns=["open", "high", "low", "close"]).assign(adj_close=adjusted)
    np.testing.assert_array_equal(validate_ohlcv(only_adj)["close"], adjusted)


def test_numeric_text_is_accepted():
    raw = pd.DataFrame({"date": ["2024-01-01", "2024-01-02"], "close": ["1.5", " 2 "]})
    np.testing.assert_array_equal(validate_ohlcv(raw)["close"], [1.5, 2.0])


def test_input_is_not_modified_and_validation_is_idempotent():
    raw = _raw()
    before = raw.copy(deep=True)
    once = validate_ohlcv(raw)
    pd.testing.assert_frame_equal(raw, before)
    pd.testing.assert_frame_equal(validate_ohlcv(once), once)
    once.iloc[0, 0] = 1.0
    pd.testing.assert_frame_equal(raw, before)


def test_sort_option_sorts_instead_of_rejecting():
    raw = _raw()
    shuffled = raw.iloc[np.random.default_rng(0).permutation(len(raw))]
    with pytest.raises(DataError, match="pass sort=True"):
        validate_ohlcv(shuffled)
    pd.testing.assert_frame_equal(validate_ohlcv(shuffled, sort=True), validate_ohlcv(raw))


# ---------------------------------------------------------------------------------------------
# validation errors, each naming the row


def _set(column, value):
    def edit(raw):
        raw[column] = raw[column].astype(object) if isinstance(value, str) else raw[column]
        raw.loc[17, column] = value
        return raw

    return edit


_ROW_ERRORS = {
    "nan close": (_set("close", np.nan), "close is missing (NaN) at " + _row17()),
    "inf high": (_set("high", np.inf), "high is infinite at " + _row17()),
    "-inf low": (_set("low", -np.inf), "low is infinite at " + _row17()),
    "zero open": (_set("open", 0.0), "open is not positive (0.0) at " + _row17()),
    "negative close": (_set("close", -3.0), "close is not positive (-3.0) at " + _row17()),
    "text close": (_set("close", "abc"), "column 'close' is not numeric: 'abc' at " + _row17()),
    "high < low": (_set("high", 50.0), "high < low (50.0 < 116.0) at " + _row17()),
    "close above high": (_set("close", 119.0), "close 119.0 is above high 118.0 at " + _row17()),
    "close below low": (_set("close", 115.0), "close 115.0 is below low 116.0 at " + _row17()),
    "open above high": (_set("open", 118.5), "open 118.5 is above high 118.0 at " + _row17()),
    "negative volume": (_set("volume", -1.0), "volume is negative (-1.0) at " + _row17()),
    "inf volume": (_set("volume", np.inf), "volume is infinite (inf) at " + _row17()),
    "unsorted": (
        _set("time", pd.Timestamp("2021-03-01 15:30")),
        "time goes backwards at row 17 (time 2021-03-01 15:30:00 comes after "
        "2021-03-01 16:00:00 at row 16)",
    ),
    "duplicate": (
        _set("time", pd.Timestamp("2021-03-01 16:00")),
        "duplicate time 2021-03-01 16:00:00 at rows 16 and 17",
    ),
    "bad time": (_set("time", "garbage"), "cannot parse time 'garbage' at row 17"),
    "missing time": (_set("time", None), "missing time (NaT) at row 17"),
}


@pytest.mark.parametrize("case", list(_ROW_ERRORS))
def test_error_names_the_problem_and_the_row(case):
    edit, fragment = _ROW_ERRORS[case]
    with pytest.raises(DataError) as info:
        validate_ohlcv(edit(_raw()), name="prices")
    assert str(info.value).startswith("prices: ")
    assert fragment in str(info.value)


def test_error_counts_the_other_bad_rows():
    raw = _raw()
    raw.loc[[5, 9, 20], "close"] = np.nan
    with pytest.raises(DataError, match=r"at row 5 \(time 2021-03-01 05:00:00\) and 2 more rows"):
        validate_ohlcv(raw)


def test_row_is_the_position_before_sorting():
    raw = _raw().iloc[::-1].reset_index(drop=True)
    raw.loc[3, "close"] = np.nan
    with pytest.raises(DataError, match=r"close is missing \(NaN\) at row 3 \(time"):
        validate_ohlcv(raw, sort=True)
    raw = _raw().iloc[::-1].reset_index(drop=True)
    raw.loc[4, "time"] = raw.loc[10, "time"]
    with pytest.raises(DataError, match="duplicate time 2021-03-01 19:00:00 at rows 4 and 10"):
        validate_ohlcv(raw, sort=True)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda r: r.drop(columns="close"), "no close column among ['time', 'open'"),
        (lambda r: r.iloc[:0], "is empty: it has no rows"),
        (lambda r: pd.DataFrame(), "is empty"),
        (lambda r: r.assign(CLOSE=1.0), "columns 'close', 'CLOSE' all mean 'close'"),
        (lambda r: r.drop(columns="time"), "no time column"),
        (lambda r: r.assign(Datetime=1), "several time columns ['time', 'Datetime']"),
        (lambda r: r.set_index("time").assign(date=1), "both the index and column 'date'"),
        (lambda r: r.assign(close=True), "column 'close' has dtype bool, expected numbers"),
        (lambda r: r.assign(time=True), "the time column holds booleans"),
    ],
)
def test_frame_level_errors(edit, fragment):
    with pytest.raises(DataError) as info:
        validate_ohlcv(edit(_raw()))
    assert fragment in str(info.value)


def test_min_bars():
    raw = _raw(30)
    assert len(validate_ohlcv(raw, min_bars=30)) == 30
    with pytest.raises(DataError, match="has 30 bars; at least 31 are needed"):
        validate_ohlcv(raw, min_bars=31)
    for bad in (0, 2.5, True):
        with pytest.raises(ConfigError, match="min_bars"):
            validate_ohlcv(raw, min_bars=bad)
    with pytest.raises(ConfigError, match="must be a pandas DataFrame"):
        validate_ohlcv(raw["close"])


# ---------------------------------------------------------------------------------------------
# file errors


def test_unknown_extension_names_path_and_formats(tmp_path):
    path = tmp_path / "bars.xlsx"
    path.write_bytes(b"whatever")
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    message = str(info.value)
    assert str(path) in message and ".csv.gz" in message and ".parquet" in message


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_ohlcv(tmp_path / "nope.csv")
    for name in ("empty.csv", "empty.parquet", "empty.csv.gz"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(DataError, match=r"empty\.(csv|parquet).* is empty \(0 bytes\)"):
            load_ohlcv(tmp_path / name)
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(DataError, match=r"blank\.csv is empty"):
        load_ohlcv(tmp_path / "blank.csv")
    (tmp_path / "header.csv").write_text("date,close\n")
    with pytest.raises(DataError, match=r"header\.csv is empty: it has no rows"):
        load_ohlcv(tmp_path / "header.csv")
    with pytest.raises(ConfigError, match="path must be"):
        load_ohlcv(123)


@pytest.mark.parametrize(
    ("name", "content", "original"),
    [
        ("bad.parquet", b"this is not parquet", "ArrowInvalid"),
        ("bad.csv.gz", b"this is not gzip", "BadGzipFile"),
        ("bad.csv", b'a,b\n"unterminated', "ParserError"),
    ],
)
def test_corrupt_file_wraps_the_parser_error(tmp_path, name, content, original):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    message = str(info.value)
    assert message.startswith(f"cannot read {path} as ")
    assert original in message
    assert info.value.__cause__ is not None
    assert type(info.value.__cause__).__name__ == original


def test_validation_errors_from_a_file_name_the_path(tmp_path):
    raw = _raw()
    raw.loc[17, "close"] = np.nan
    path = tmp_path / "bars.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_ohlcv(path)
    assert str(info.value) == f"{path}: close is missing (NaN) at {_row17()}"
    _raw().to_csv(path, index=False)
    assert len(load_ohlcv(path, min_bars=30)) == 30
    with pytest.raises(DataError, match=r"bars\.csv has 30 bars; at least 99 are needed"):
        load_ohlcv(path, min_bars=99)


# ---------------------------------------------------------------------------------------------
# synthetic data


def naive_markov_path(u, pi, matrix):
    """Slow twin of ``_markov_path_nb``: walk the cumulative probabilities one by one."""

    def pick(probs, x):
        total = 0.0
        for j, p in enumerate(probs):
            total += p
            if x < total:
                return j
        return len(probs) - 1

    states = [pick(pi, u[0])]
    for t in range(1, len(u)):
        states.append(pick(matrix[states[-1]], u[t]))
    return np.array(states)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_markov_kernel_matches_naive_twin(k):
    rng = np.random.default_rng(k)
    matrix = rng.random((k, k)) ** 3
    matrix[:, 0] = 0.0  # a state that is never entered
    matrix /= matrix.sum(axis=1, keepdims=True)
    pi = _stationary(matrix)
    u = rng.random(2000)
    u[:5] = [0.0, 0.999999, 0.5, 0.0, 0.25]
    got = _markov_path_nb(u, np.cumsum(pi), np.cumsum(matrix, axis=1))
    np.testing.assert_array_equal(got, naive_markov_path(u, pi, matrix))
    assert not (got[1:] == 0).any()


def test_stationary_distribution():
    matrix = np.array([[0.9, 0.1], [0.3, 0.7]])
    np.testing.assert_allclose(_stationary(matrix), [0.75, 0.25])
    np.testing.assert_allclose(_stationary(np.eye(3)), [1 / 3] * 3)


def test_synthetic_is_deterministic():
    a, ra = synthetic_ohlcv(500, seed=5, return_regimes=True)
    b, rb = synthetic_ohlcv(500, seed=5, return_regimes=True)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(ra, rb)
    c = synthetic_ohlcv(500, seed=6)
    assert not np.allclose(a["close"], c["close"])
    from_generator = synthetic_ohlcv(500, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(from_generator, a)


def test_synthetic_bars_are_consistent_and_canonical():
    bars = synthetic_ohlcv(5000, "15min", seed=3, sigma=1.5, start="2022-06-01 09:30")
    o, h, low, c, v = (bars[col].to_numpy() for col in COLUMNS)
    assert (h >= np.maximum(o, c)).all() and (low <= np.minimum(o, c)).all()
    assert (h > np.maximum(o, c)).mean() > 0.99  # wicks are real, not clamped
    assert (v > 0).all() and np.isfinite(v).all()
    assert o[0] == 100.0
    np.testing.assert_array_equal(o[1:], c[:-1])
    assert bars.index[0] == pd.Timestamp("2022-06-01 09:30")
    assert (np.diff(bars.index.asi8) == 15 * 60 * 10**9).all()
    assert bars.index.name == "time" and bars.index.freq is None
    pd.testing.assert_frame_equal(validate_ohlcv(bars), bars)
    aware = synthetic_ohlcv(3, start="2022-06-01T00:00Z")
    assert str(aware.index.tz) == "UTC"


def test_single_regime_volatility_matches_sigma():
    bars = synthetic_ohlcv(30_000, "1h", seed=21, sigma=0.35, regimes=(1.0,))
    r = np.diff(np.log(bars["close"].to_numpy()))
    assert r.std() * math.sqrt(HOURS_PER_YEAR) == pytest.approx(0.35, rel=0.05)


def test_per_regime_volatility_matches_configured_sigma():
    matrix = [[0.98, 0.01, 0.01], [0.02, 0.97, 0.01], [0.005, 0.005, 0.99]]
    bars, regime = synthetic_ohlcv(
        60_000, "1h", seed=8, sigma=0.3, regimes=(0.5, 1.0, 3.0), switch_prob=matrix,
        return_regimes=True,
    )  # fmt: skip
    assert regime.shape == (60_000,) and set(np.unique(regime)) == {0, 1, 2}
    r = np.diff(np.log(bars["close"].to_numpy()))
    for k, mult in enumerate((0.5, 1.0, 3.0)):
        realized = r[regime[1:] == k].std() * math.sqrt(HOURS_PER_YEAR)
        assert realized == pytest.approx(0.3 * mult, rel=0.05), k
    # Transitions and occupancy follow the chain.
    counts = np.zeros((3, 3))
    np.add.at(counts, (regime[:-1], regime[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True), matrix, atol=0.006)
    occupancy = np.bincount(regime, minlength=3) / len(regime)
    np.testing.assert_allclose(occupancy, _stationary(np.array(matrix)), atol=0.06)


def test_switching_rate_and_fixed_regimes():
    _, regime = synthetic_ohlcv(50_000, seed=2, switch_prob=0.02, return_regimes=True)
    switches = np.count_nonzero(np.diff(regime))
    assert switches == pytest.approx(0.02 * 49_999, rel=0.1)
    _, never = synthetic_ohlcv(1000, seed=2, switch_prob=0.0, return_regimes=True)
    assert len(np.unique(never)) == 1
    _, single = synthetic_ohlcv(1000, seed=2, regimes=(1.0,), return_regimes=True)
    assert (single == 0).all()


def test_per_regime_drift_without_noise_is_exact():
    bars, regime = synthetic_ohlcv(
        400, "1D", seed=4, sigma=0.0, mu=(-0.5, 0.8), switch_prob=0.1, return_regimes=True
    )
    r = np.diff(np.log(bars["close"].to_numpy()))
    np.testing.assert_allclose(r, np.array([-0.5, 0.8])[regime[1:]] / 365.0, rtol=1e-9)
    np.testing.assert_array_equal(bars["high"], np.maximum(bars["open"], bars["close"]))
    np.testing.assert_array_equal(bars["low"], np.minimum(bars["open"], bars["close"]))


def test_high_wick_has_the_brownian_maximum_distribution():
    # Driftless log price: the bar's maximum over its open is |N(0, s^2)|, s = sigma sqrt(dt).
    sigma = 0.4
    bars = synthetic_ohlcv(40_000, "1h", seed=9, sigma=sigma, mu=sigma**2 / 2, regimes=(1.0,))
    s = sigma / math.sqrt(HOURS_PER_YEAR)
    up = np.log(bars["high"] / bars["open"]).to_numpy() / s
    down = np.log(bars["open"] / bars["low"]).to_numpy() / s
    for x in (up, down):
        assert x.mean() == pytest.approx(math.sqrt(2 / math.pi), rel=0.02)
        assert np.median(x) == pytest.approx(0.6745, rel=0.03)


def test_periods_per_year():
    daily = synthetic_ohlcv(20_000, "1D", seed=1, regimes=(1.0,), sigma=0.2)
    r = np.diff(np.log(daily["close"].to_numpy()))
    assert r.std() * math.sqrt(365) == pytest.approx(0.2, rel=0.05)
    business = synthetic_ohlcv(20_000, "B", seed=1, regimes=(1.0,), periods_per_year=252)
    r = np.diff(np.log(business["close"].to_numpy()))
    assert r.std() * math.sqrt(252) == pytest.approx(0.2, rel=0.05)
    assert business.index[:7].day_of_week.tolist() == [2, 3, 4, 0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_bars": 0}, "n_bars must be >= 1"),
        ({"sigma": -0.1}, "sigma must be >= 0"),
        ({"s0": 0.0}, "s0 must be > 0"),
        ({"regimes": ()}, "regimes must be"),
        ({"regimes": (1.0, -2.0)}, "regimes must be"),
        ({"switch_prob": 1.5}, "switch_prob must be <= 1"),
        ({"switch_prob": [[1.0]]}, "(2, 2) transition matrix"),
        ({"switch_prob": [[0.5, 0.6], [0.5, 0.5]]}, "rows must be probabilities summing to 1"),
        ({"mu": (0.1, 0.2, 0.3)}, "one per regime"),
        ({"freq": "B"}, "pass periods_per_year"),
        ({"freq": "not a freq"}, "freq must be a pandas frequency"),
        ({"freq": "-1h"}, "positive step"),
        ({"mu": 1e6, "n_bars": 100_000}, "out of float64 range"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_synthetic_bad_arguments(kwargs, fragment):
    kwargs = {"n_bars": 10, **kwargs}
    with pytest.raises(ConfigError) as info:
        synthetic_ohlcv(**kwargs)
    assert fragment in str(info.value)


def test_demo_data_is_fixed_and_valid():
    demo = demo_data()
    assert demo.shape == (20_000, 5)
    assert demo.index[0] == pd.Timestamp("2020-01-01") and demo.index.tz is None
    pd.testing.assert_frame_equal(demo_data(), demo)
    pd.testing.assert_frame_equal(validate_ohlcv(demo, min_bars=20_000), demo)
    # Pinned: a change here silently changes every example and documented result.
    assert demo["close"].iloc[0] == pytest.approx(99.54564578536773, rel=1e-9)
    assert demo["close"].iloc[-1] == pytest.approx(97.87803100181578, rel=1e-9)
    assert demo["volume"].sum() == pytest.approx(27440858.495129213, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# the files people have


def _sample_path(name: str) -> str:
    backtesting = pytest.importorskip("backtesting")
    import os

    return os.path.join(os.path.dirname(backtesting.__file__), "test", f"{name}.csv")


@pytest.mark.parametrize("name", ["GOOG", "EURUSD"])
def test_sample_files_in_pandas_default_layout(name):
    # backtesting.py ships DataFrame.to_csv() of an unnamed DatetimeIndex: header ",Open,..."
    path = _sample_path(name)
    with open(path) as f:
        assert f.readline().startswith(",Open")
    expected = pd.read_csv(path, index_col=0, parse_dates=True)
    loaded = load_ohlcv(path)
    np.testing.assert_array_equal(loaded.index.asi8, expected.index.as_unit("ns").asi8)
    np.testing.assert_array_equal(loaded["close"], expected["Close"])
    np.testing.assert_array_equal(loaded["volume"], expected["Volume"])


@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Tokyo", "America/New_York"])
def test_to_csv_of_an_unnamed_index_round_trips(tmp_path, bars, tz):
    frame = bars.rename_axis(None)
    frame = frame if tz is None else frame.tz_localize("UTC").tz_convert(tz)
    path = tmp_path / "bars.csv"
    frame.to_csv(path)
    loaded = load_ohlcv(path)
    # same instants; a CSV keeps UTC offsets, not zone names (varying offsets come back as UTC)
    np.testing.assert_array_equal(loaded.index.asi8, frame.index.as_unit("ns").asi8)
    assert (loaded.index.tz is None) == (tz is None)
    np.testing.assert_array_equal(loaded.to_numpy(), frame.to_numpy())


def test_an_unnamed_row_counter_is_not_time(tmp_path, bars):
    path = tmp_path / "counted.csv"
    bars.reset_index(drop=True).to_csv(path)  # "Unnamed: 0" = 0, 1, 2, ...: no time at all
    with pytest.raises(DataError, match="no time column") as info:
        load_ohlcv(path)
    assert "time_column=" in str(info.value) and "time_column" not in info.value.cli_message
    assert info.value.cli_message.endswith("--time-column")
    bars.reset_index().to_csv(path)  # a counter and a time column
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)


@pytest.mark.parametrize(
    "header", ["Date", "Datetime", "TIME", "Timestamp", "Gmt time", "date_time", "Open time"]
)
def test_time_column_names(tmp_path, bars, header):
    path = tmp_path / "bars.csv"
    bars.reset_index(names=header).to_csv(path, index=False)
    loaded = load_ohlcv(path)
    expected = bars.tz_localize("UTC") if "gmt" in header.lower() else bars
    pd.testing.assert_frame_equal(loaded, expected)


def test_dukascopy_gmt_time_is_day_first_and_utc(tmp_path, bars):
    # Dukascopy exports "Gmt time" as dd.mm.yyyy: 04.05.2003 is the 4th of May
    index = pd.date_range("2003-05-04 21:00", periods=len(bars), freq="h")
    text = index.strftime("%d.%m.%Y %H:%M:%S.000")
    raw = bars.reset_index(drop=True).rename(columns=str.title)
    raw.insert(0, "Gmt time", text)
    path = tmp_path / "EURUSD_Candlestick_1_Hour_BID.csv"
    raw.to_csv(path, index=False)
    loaded = load_ohlcv(path)
    assert loaded.index.equals(pd.DatetimeIndex(index, tz="UTC").as_unit("ns").rename("time"))
    # the same day-month order on its own line: 13 can only be a day
    one = pd.DataFrame({"Date": ["12.05.2003", "13.05.2003"], "Close": [1.0, 2.0]})
    assert list(validate_ohlcv(one).index.month) == [5, 5]
    # and US month-first dates stay month-first
    us = pd.DataFrame({"Date": ["05/12/2003", "05/13/2003"], "Close": [1.0, 2.0]})
    assert list(validate_ohlcv(us).index.day) == [12, 13]


@pytest.mark.parametrize(("unit", "scale"), [("s", 10**9), ("ms", 10**6)])
def test_epoch_time_in_a_file(tmp_path, bars, unit, scale):
    path = tmp_path / "klines.csv"
    stamps = bars.index.asi8 // scale
    bars.reset_index(drop=True).assign(**{"Open time": stamps}).to_csv(path, index=False)
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)


@pytest.mark.parametrize(
    ("options", "ending"),
    [
        ({"sep": ";", "decimal": ","}, ".csv"),  # Excel in a European locale
        ({"sep": ";"}, ".csv"),
        ({"sep": "\t"}, ".tsv"),
        ({"sep": "|", "decimal": ","}, ".txt"),
        ({"sep": ";", "decimal": ","}, ".csv.gz"),
    ],
)
def test_separator_and_decimal_comma_are_detected(tmp_path, bars, options, ending):
    path = tmp_path / f"bars{ending}"
    bars.to_csv(path, **options)
    pd.testing.assert_frame_equal(load_ohlcv(path), bars)


def test_thousands_dots_with_decimal_commas(tmp_path):
    path = tmp_path / "index.csv"
    path.write_text("Date;Close\n2024-01-02;1.234,5\n2024-01-03;1.240,25\n")
    np.testing.assert_array_equal(load_ohlcv(path)["close"], [1234.5, 1240.25])


def test_adj_close_beside_close(tmp_path):
    raw = _raw(6)
    raw["Adj Close"] = raw["close"] * np.linspace(0.5, 0.6, 6)  # dividends and splits
    path = tmp_path / "yahoo.csv"
    raw.to_csv(path, index=False)
    plain = load_ohlcv(path)
    np.testing.assert_array_equal(plain["close"], raw["close"])  # default: close
    adjusted = load_ohlcv(path, price_column="Adj Close")
    ratio = (raw["Adj Close"] / raw["close"]).to_numpy()
    np.testing.assert_allclose(adjusted["close"], raw["Adj Close"])
    for c in ("open", "high", "low"):
        np.testing.assert_allclose(adjusted[c], raw[c] * ratio, rtol=1e-15)
    assert (adjusted["high"] >= adjusted["close"]).all() and (
        adjusted["low"] <= adjusted["close"]
    ).all()
    np.testing.assert_array_equal(adjusted["volume"], raw["volume"])
    # another column: flat bars at that price
    mid = validate_ohlcv(raw.assign(mid=raw["close"] + 0.25), price_column="mid")
    np.testing.assert_array_equal(mid["close"], raw["close"] + 0.25)
    np.testing.assert_array_equal(mid["open"], mid["close"])
    with pytest.raises(DataError, match="no price column 'Bid'"):
        validate_ohlcv(raw, price_column="Bid")


def test_time_column_option_chooses_among_several(bars):
    raw = bars.reset_index(names="timestamp").assign(Date=bars.index + pd.Timedelta("1D"))
    with pytest.raises(DataError, match="several time columns") as info:
        validate_ohlcv(raw)
    assert "--time-column" in info.value.cli_message and "time_column=" not in (
        info.value.cli_message
    )
    pd.testing.assert_frame_equal(validate_ohlcv(raw, time_column="timestamp"), bars)
    shifted = validate_ohlcv(raw, time_column="Date")
    assert shifted.index.equals(bars.index + pd.Timedelta("1D"))
    with pytest.raises(DataError, match="no time column 'when'"):
        validate_ohlcv(raw, time_column="when")


def test_parquet_with_an_unnamed_index_or_a_time_column(tmp_path, bars):
    berlin = bars.tz_localize("Europe/Berlin").rename_axis(None)
    berlin.to_parquet(tmp_path / "a.parquet")  # worked before: kept as a guard
    pd.testing.assert_frame_equal(load_ohlcv(tmp_path / "a.parquet"), berlin.rename_axis("time"))
    raw = bars.reset_index(names="Gmt time").rename(columns=str.title)
    raw.to_parquet(tmp_path / "b.parquet", index=False)  # naive times in a GMT column: UTC
    pd.testing.assert_frame_equal(load_ohlcv(tmp_path / "b.parquet"), bars.tz_localize("UTC"))
    raw["Adj Close"] = raw["Close"] / 2
    raw.to_parquet(tmp_path / "c.parquet", index=False)
    halved = load_ohlcv(tmp_path / "c.parquet", price_column="adj_close")
    np.testing.assert_allclose(halved[["open", "high", "low", "close"]], bars.iloc[:, :4] / 2)


def test_bare_gz_and_zip_names(tmp_path, bars):
    import zipfile

    bars.to_csv(tmp_path / "bars.gz", compression="gzip")
    pd.testing.assert_frame_equal(load_ohlcv(tmp_path / "bars.gz"), bars)
    with zipfile.ZipFile(tmp_path / "export.zip", "w") as archive:  # a member of another name
        archive.writestr("EURUSD_H1.csv", bars.to_csv(sep=";", decimal=","))
    pd.testing.assert_frame_equal(load_ohlcv(tmp_path / "export.zip"), bars)


def test_command_line_hints_speak_in_flags():
    raw = _raw()
    shuffled = raw.iloc[::-1]
    with pytest.raises(DataError) as info:
        validate_ohlcv(shuffled)
    assert "sort=True" in str(info.value) and "sort=True" not in info.value.cli_message
    for message in (str(info.value), info.value.cli_message):
        assert "np.float64" not in message


def test_cli_flags_reach_the_loader(tmp_path, bars, capsys):
    from genepool.cli import main

    long = synthetic_ohlcv(400, "1h", seed=3)
    path = tmp_path / "export.txt"
    table = long.reset_index(names="when")
    table[[*long.columns, "when"]].to_csv(path, sep=";", index=False)  # time last: not found
    params = '{"window": 14, "lower": 30, "upper": 70}'
    code = main(["backtest", "--data", str(path), "--params", params, "--out",
                 str(tmp_path / "no")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--time-column" in err and "time_column" not in err
    flags = ["--time-column", "when", "--sep", ";", "--price-column", "open"]
    code = main(["backtest", "--data", str(path), "--params", params, *flags, "--out",
                 str(tmp_path / "ok")])  # fmt: skip
    assert code == 0
    import json

    config = json.loads((tmp_path / "ok" / "config.json").read_text())["config"]
    assert (config["time_column"], config["sep"], config["price_column"]) == ("when", ";", "open")


def test_first_column_of_dates_under_another_name(tmp_path):
    """A German export: ``Datum``, ``;`` and decimal commas; the dates are found unnamed."""
    bars = synthetic_ohlcv(40, "1D", seed=3)
    path = tmp_path / "kurse.csv"
    bars.rename_axis("Datum").rename(columns=str.title).to_csv(path, sep=";", decimal=",")
    loaded = load_ohlcv(path)
    pd.testing.assert_index_equal(loaded.index, bars.index)
    np.testing.assert_allclose(loaded["close"], bars["close"], rtol=1e-15)
    numbers = bars.reset_index(drop=True).rename_axis("Nummer")  # counts rows: not times
    numbers.to_csv(tmp_path / "rows.csv")
    with pytest.raises(DataError, match="no time column"):
        load_ohlcv(tmp_path / "rows.csv")
