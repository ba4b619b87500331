"""Bars per year from the data's calendar (``infer_bars_per_year``), against naive counts on
calendars built here and on the sample files of backtesting.py; its use by ``StrategyProblem``
and by the ``evolve``/``backtest``/``resume`` commands."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.holiday import USFederalHolidayCalendar

from genepool.backtest import StrategyProblem, annualization_factor, infer_bars_per_year
from genepool.cli import main
from genepool.errors import ConfigError, DataError

TRADING_DAY = pd.offsets.CustomBusinessDay(calendar=USFederalHolidayCalendar())


def naive_year_median(index: pd.DatetimeIndex, first: int, last: int) -> float:
    """Median bars per calendar year from first to last, leap years scaled by 365/366."""
    years = pd.Series(1, index=index).groupby(index.year).size()
    inside = years.loc[first:last]
    days = np.where(pd.to_datetime([f"{y}-12-31" for y in inside.index]).is_leap_year, 366, 365)
    return float(np.median(inside.to_numpy() * 365 / days))


def naive_full_week_mean(index: pd.DatetimeIndex) -> float:
    """Bars per Monday-to-Sunday week strictly inside the data, on average, times 365 / 7."""
    week = index.normalize() - pd.to_timedelta(index.day_of_week, unit="D")
    inside = (week > week[0]) & (week < week[-1])
    n_weeks = (week[-1] - week[0]).days // 7 - 1
    return inside.sum() / n_weeks * 365 / 7


def equity_days(start: str, end: str) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq=TRADING_DAY)


def minute_session(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """09:30 to 15:59, one bar a minute (390 a day), on each day."""
    minutes = np.arange(390) * np.timedelta64(1, "m") + np.timedelta64(570, "m")
    stamps = days.to_numpy()[:, None] + minutes[None, :]
    return pd.DatetimeIndex(stamps.ravel())


def fx_hours(start: str, end: str) -> pd.DatetimeIndex:
    """24 x 5: Sunday 22:00 to Friday 21:00 UTC, 120 hourly bars a week."""
    hours = pd.date_range(start, end, freq="h", inclusive="left")
    day, hour = hours.day_of_week, hours.hour
    keep = (day <= 3) | ((day == 4) & (hour < 22)) | ((day == 6) & (hour >= 22))
    return hours[keep]


def sample(name: str) -> pd.DataFrame:
    backtesting = pytest.importorskip("backtesting")
    path = os.path.join(os.path.dirname(backtesting.__file__), "test", f"{name}.csv")
    return pd.read_csv(path, index_col=0, parse_dates=True)


# ---------------------------------------------------------------------------------------------
# the calendars


def test_equity_daily_is_about_252():
    index = equity_days("2015-01-01", "2019-12-31")
    got = infer_bars_per_year(index)
    assert got.value == naive_year_median(index, 2015, 2019)
    assert 245 <= got.value <= 255
    assert "full calendar year (2015-2019, 5 years" in got.method


def test_equity_minutes_regular_session_is_about_98_000():
    days = equity_days("2018-01-01", "2019-12-31")
    got = infer_bars_per_year(minute_session(days))
    assert got.value == 390 * naive_year_median(days, 2018, 2019)
    assert got.value == pytest.approx(98_000, rel=0.02)


def test_fx_hourly_24x5_is_about_6_200():
    index = fx_hours("2014-12-28 22:00", "2019-01-01")
    got = infer_bars_per_year(index)
    assert got.value == naive_year_median(index, 2015, 2018)
    assert 6_100 <= got.value <= 6_300
    # under a year: 120 bars in every full week, exactly
    short = fx_hours("2021-03-07", "2021-06-01")
    assert infer_bars_per_year(short).value == pytest.approx(120 * 365 / 7, rel=1e-12)


@pytest.mark.parametrize(
    ("start", "end"), [("2019-07-01", "2021-07-01"), ("2020-01-01", "2021-01-01")]
)
def test_crypto_hourly_24_7_is_exactly_8760_even_over_a_leap_year(start, end):
    # 8,760 = 24 x 365: the 365-day year of vectorbt and of runs before bars per year existed
    # (8,766 would be the 365.25-day average). 2020 has 8,784 hours.
    index = pd.date_range(start, end, freq="h", inclusive="left")
    assert infer_bars_per_year(index).value == 8760.0
    assert infer_bars_per_year(index[:2000]).value == 8760.0  # under a year: 168 x 365 / 7


def test_weekly_is_52():
    index = pd.date_range("2010-01-01", "2019-12-31", freq="W-FRI")
    assert infer_bars_per_year(index).value == naive_year_median(index, 2010, 2019) == 52


def test_shorter_than_a_year_is_scaled_from_weeks_days_or_spacing():
    days = equity_days("2021-02-01", "2021-06-30")  # holidays inside: fewer than 5 a week
    got = infer_bars_per_year(days)
    assert got.value == pytest.approx(naive_full_week_mean(days), rel=1e-12)
    assert 240 < got.value < 5 * 365 / 7
    assert got.method.startswith("scaled from")
    # three sessions of minutes: 390 bars on the full day in the middle, 5 days a week
    session = minute_session(pd.bdate_range("2021-03-02", periods=3))
    assert infer_bars_per_year(session).value == pytest.approx(390 * 5 * 365 / 7)
    # monthly bars: 365 days over their median spacing
    months = pd.date_range("2021-01-31", periods=6, freq="ME")
    expected = pd.Timedelta(days=365) / pd.Series(months).diff().median()
    assert infer_bars_per_year(months).value == pytest.approx(expected)
    assert 11 < expected < 13


def test_one_two_and_degenerate_indexes():
    with pytest.raises(DataError, match="from 1 bar: at least 2 are needed"):
        infer_bars_per_year(pd.DatetimeIndex(["2024-01-02"]))
    two = infer_bars_per_year(pd.DatetimeIndex(["2024-01-02 10:00", "2024-01-02 11:00"]))
    assert two.value == 8760.0 and "median bar spacing of 1 h" in two.method
    with pytest.raises(DataError, match="same time"):
        infer_bars_per_year(pd.DatetimeIndex(["2024-01-02"] * 3))
    with pytest.raises(DataError, match="missing times"):
        infer_bars_per_year(pd.DatetimeIndex(["2024-01-02", None]))


def test_order_and_time_zone():
    index = minute_session(equity_days("2021-01-01", "2022-12-31"))
    expected = infer_bars_per_year(index)
    shuffled = index[np.random.default_rng(0).permutation(len(index))]
    assert infer_bars_per_year(shuffled) == expected
    # local sessions in New York (DST zone) and in a fixed offset count on their own calendar
    assert infer_bars_per_year(index.tz_localize("America/New_York")) == expected
    fixed = index.tz_localize("-05:00")
    assert infer_bars_per_year(fixed) == expected
    assert expected.value == 390 * naive_year_median(equity_days("2021", "2022-12-31"), 2021, 2022)


def test_sample_files_of_backtesting_py():
    goog = sample("GOOG").index  # daily, 2004-08 to 2013-03
    got = infer_bars_per_year(goog)
    assert got.value == naive_year_median(goog, 2005, 2012) == 252
    eurusd = sample("EURUSD").index  # hourly FX, 2017-04 to 2018-02
    got = infer_bars_per_year(eurusd)
    assert got.value == pytest.approx(naive_full_week_mean(eurusd), rel=1e-12)
    assert 6_000 < got.value < 6_300


# ---------------------------------------------------------------------------------------------
# StrategyProblem


def _daily_frame(n_years: int = 3) -> pd.DataFrame:
    index = equity_days("2015-01-01", f"{2015 + n_years - 1}-12-31")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(index))))
    return pd.DataFrame({"close": close}, index=index)


def test_strategy_problem_annualization_precedence():
    data = _daily_frame()
    inferred = StrategyProblem(data, "rsi")
    assert inferred.bars_per_year == inferred.ann_factor == infer_bars_per_year(data.index).value
    assert inferred.annualization.method.startswith("median of")
    given = StrategyProblem(data, "rsi", bars_per_year=260, freq="1h")  # given wins
    assert given.bars_per_year == 260 and given.annualization.method == "given"
    old = StrategyProblem(data, "rsi", freq="1D")  # freq/year keep vectorbt's meaning
    assert old.bars_per_year == annualization_factor("1D") == 365
    assert StrategyProblem(data, "rsi", year="365 days").bars_per_year == 365
    # annualized metrics follow: Sharpe scales with sqrt(bars per year), returns do not
    X = inferred.space.sample(20, np.random.default_rng(2))
    a, b = inferred.metrics(X), old.metrics(X)
    traded = a["n_trades"] > 0
    ratio = math.sqrt(inferred.bars_per_year / 365)
    np.testing.assert_allclose(a["sharpe_ratio"][traded], b["sharpe_ratio"][traded] * ratio)
    np.testing.assert_array_equal(a["total_return"], b["total_return"])


def test_strategy_problem_on_24_7_hourly_data_keeps_8760():
    index = pd.date_range("2020-01-01", periods=3000, freq="h")
    close = pd.Series(np.linspace(100, 130, 3000) + np.sin(np.arange(3000) / 7), index=index)
    assert StrategyProblem(close, "rsi").bars_per_year == 8760.0
    with pytest.raises(ConfigError, match="bars_per_year"):
        StrategyProblem(close.to_numpy(), "rsi")  # no times: say how to annualize
    with pytest.raises(ConfigError, match="bars_per_year must be > 0"):
        StrategyProblem(close, "rsi", bars_per_year=0)


def test_too_short_data_is_too_short_not_unannualizable():
    one = _daily_frame().iloc[:1]
    with pytest.raises(DataError, match=r"has 1 bar; at least \d+ are needed"):
        StrategyProblem(one, "rsi")


# ---------------------------------------------------------------------------------------------
# the command line


def test_backtest_prints_and_records_bars_per_year(tmp_path, capsys):
    path = tmp_path / "daily.csv"
    _daily_frame().to_csv(path)  # pandas' default layout: unnamed time column
    params = '{"window": 14, "lower": 30, "upper": 70}'
    assert main(["backtest", "--data", str(path), "--params", params, "--out",
                 str(tmp_path / "a")]) == 0  # fmt: skip
    out = capsys.readouterr().out
    expected = infer_bars_per_year(_daily_frame().index)
    assert f"annualization: {expected}" in out
    for name in ("config.json", "best.json"):
        doc = json.loads((tmp_path / "a" / name).read_text())
        assert doc["annualization"] == {"bars_per_year": expected.value, "method": expected.method}
    assert main(["backtest", "--data", str(path), "--params", params, "--bars-per-year", "260",
                 "--out", str(tmp_path / "b")]) == 0  # fmt: skip
    assert "annualization: 260 bars/year, given with --bars-per-year" in capsys.readouterr().out
    best = json.loads((tmp_path / "b" / "best.json").read_text())
    assert best["annualization"]["bars_per_year"] == 260


def test_one_row_file_says_too_short(tmp_path, capsys):
    path = tmp_path / "one.csv"
    _daily_frame().iloc[:1].to_csv(path)
    code = main(["evolve", "--data", str(path), "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert "has 1 bar; at least" in err and "freq" not in err and "annualiz" not in err


def test_evolve_records_and_resume_keeps_bars_per_year(tmp_path, capsys):
    path = tmp_path / "daily.csv"
    _daily_frame(4).to_csv(path)
    run = tmp_path / "run"
    args = ["--population", "30", "--generations", "1", "--min-trades", "0", "--no-progress",
            "--no-report"]  # fmt: skip
    assert main(["evolve", "--data", str(path), "--out", str(run), *args]) == 0
    expected = infer_bars_per_year(_daily_frame(4).index)  # once, on all the bars
    assert f"annualization: {expected}" in capsys.readouterr().out
    recorded = json.loads((run / "config.json").read_text())["annualization"]
    assert recorded == {"bars_per_year": expected.value, "method": expected.method}
    assert json.loads((run / "best.json").read_text())["annualization"] == recorded
    before = (run / "config.json").read_bytes()
    code = main(["resume", str(run), "--generations", "2", "--bars-per-year", "365"])
    assert code == 2 and "would change every fitness" in capsys.readouterr().err
    assert (run / "config.json").read_bytes() == before
    same = repr(expected.value)
    assert main(["resume", str(run), "--generations", "2", "--bars-per-year", same,
                 "--no-progress", "--no-report"]) == 0  # fmt: skip
    assert f"annualization: {expected}" in capsys.readouterr().out


def test_resume_of_a_run_without_recorded_bars_per_year_keeps_the_365_day_rule(tmp_path, capsys):
    path = tmp_path / "daily.csv"
    _daily_frame(4).to_csv(path)
    run = tmp_path / "run"
    args = ["--population", "30", "--generations", "1", "--min-trades", "0", "--no-progress",
            "--no-report"]  # fmt: skip
    assert main(["evolve", "--data", str(path), "--out", str(run), *args]) == 0
    doc = json.loads((run / "config.json").read_text())
    del doc["annualization"]  # as written before bars per year were recorded
    (run / "config.json").write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["resume", str(run), "--generations", "2", "--no-progress", "--no-report"]) == 0
    assert "365 days / median bar spacing" in capsys.readouterr().out
    best = json.loads((run / "best.json").read_text())
    assert best["annualization"]["bars_per_year"] == 365
    assert main(["resume", str(run), "--bars-per-year", "252"]) == 2


def test_toml_and_config_validation(tmp_path):
    from genepool.evolve import EvolveConfig

    toml = tmp_path / "run.toml"
    toml.write_text('data = "x.csv"\nbars-per-year = 252\nsep = "tab"\ntime-column = "Gmt time"\n')
    cfg = EvolveConfig.from_sources(toml)
    assert (cfg.bars_per_year, cfg.sep, cfg.time_column) == (252.0, "\t", "Gmt time")
    for bad, fragment in (({"bars_per_year": 0}, "bars_per_year must be > 0"),
                          ({"bars_per_year": "many"}, "bars_per_year must be a number"),
                          ({"sep": ""}, "sep must be a non-empty string")):  # fmt: skip
        with pytest.raises(ConfigError, match=fragment):
            EvolveConfig.from_sources(None, data="x.csv", **bad)


def test_price_errors_show_plain_numbers():
    close = np.linspace(1.0, 2.0, 500)
    close[5] = np.nan
    with pytest.raises(DataError) as info:
        StrategyProblem(close, "rsi", bars_per_year=252)
    assert "invalid price nan at row 5" in str(info.value) and "np." not in str(info.value)


def test_demo_data_keeps_the_annualization_of_earlier_runs():
    # `genepool evolve --demo` gives the same numbers as before bars per year were counted
    from genepool.backtest import demo_data

    bars = demo_data()
    for part in (bars, bars.iloc[:14_000], bars.iloc[14_000:]):  # whole, train, test
        assert infer_bars_per_year(part.index).value == annualization_factor("1h") == 8760


@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York", "+01:00"])
@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2019-03-01", periods=30_000, freq="h"),
        pd.date_range("2020-01-01", periods=5_000, freq="h"),
        pd.bdate_range("2015-01-01", periods=3_000),
        pd.date_range("2021-01-01", periods=900, freq="15min"),
    ],
    ids=["hours-3y", "hours-7m", "weekdays", "quarters-9d"],
)
def test_sorted_stamps_by_slices_equal_the_full_count(monkeypatch, tz, index):
    """A store's bounded-memory path (slices of 1,000 here) gives the same figures."""
    from genepool.backtest import calendar

    monkeypatch.setattr(calendar, "_SLICE", 1000)
    rng = np.random.default_rng(len(index))
    stamps = index.asi8
    for s in (stamps, stamps[np.sort(rng.choice(len(stamps), len(stamps) * 9 // 10, False))]):
        assert calendar.median_gap(s) == int(np.median(np.diff(s)))
        full = pd.DatetimeIndex(s.view("M8[ns]"))
        if tz is not None:
            full = full.tz_localize("UTC").tz_convert(tz)
        assert calendar.infer_bars_per_year_sorted(s, tz) == infer_bars_per_year(full)
