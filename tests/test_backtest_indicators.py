"""Indicator kernels (``genepool.backtest.nb``) and their wrappers (``backtest.indicators``).

Three oracles: the naive twins in ``tests/naive.py`` (textbook loops, exact sums), pandas
(rolling/ewm, within 1e-12 relative where pandas has the indicator) and vectorbt (bit for bit for
``MA`` and ``RSI(ewm=False)``, 1e-9 elsewhere where the definitions coincide).

Definition differences with vectorbt, asserted below rather than bent:

- ``vbt.ATR`` smooths the true range with an EMA of span ``window`` (or an SMA with
  ``ewm=False``) over all bars, bar 0's ``high - low`` included; ours is Wilder's (TA-Lib):
  alpha ``1 / window``, seeded with the mean of the true ranges of bars ``1..window``.
- ``vbt.MACD`` defaults to SMAs (``macd_ewm=False, signal_ewm=False``); ours is the EMA MACD,
  which is ``vbt.MACD(macd_ewm=True, signal_ewm=True)``.
- ``vbt.BBANDS``'s rolling std (pandas' running Welford update) keeps residue on flat windows
  that follow a move (1e-6 instead of 0 on prices near 100); ours is a two-pass sum per window,
  exact 0 there. On windows that are not flat the two agree within 1e-9.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from genepool.backtest import indicators as ind
from genepool.backtest import nb
from genepool.errors import ConfigError, DataError

# -- data -----------------------------------------------------------------------------------------


def walk(n: int, seed: int = 0, flat: bool = False) -> np.ndarray:
    """Seeded geometric random walk around 100; ``flat`` freezes 15 bars after a third."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    if flat and n > 30:
        close[n // 3 : n // 3 + 15] = close[n // 3]
    return close


def bars(n: int, seed: int = 0, flat: bool = False):
    """(high, low, close) around a walk; gaps make the previous close matter to the true range."""
    rng = np.random.default_rng(seed + 1000)
    close = walk(n, seed, flat)
    high = close * (1.0 + np.abs(rng.normal(0.0, 0.004, n)))
    low = close * (1.0 - np.abs(rng.normal(0.0, 0.004, n)))
    if flat and n > 30:
        sl = slice(n // 3, n // 3 + 15)
        high[sl] = low[sl] = close[sl]
    return high, low, close


# (n, window): a single bar, window 1, window == n, and ordinary cases.
CASES = sorted({(n, w) for n in (1, 2, 15, 300) for w in (1, 2, 3, 14, n) if w <= n})


def close_to(actual, expected, rtol: float = 1e-12, atol: float = 0.0) -> None:
    """Equal within tolerance with NaN in the same places."""
    np.testing.assert_allclose(
        actual, np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol, equal_nan=True
    )


def bit_equal(actual, expected) -> None:
    assert np.array_equal(actual, np.asarray(expected), equal_nan=True)


# -- kernels against the naive twins ------------------------------------------------------------


@pytest.mark.parametrize(("n", "w"), CASES)
def test_sma_ema_rolling_against_naive(n, w):
    a = walk(n, seed=n + w, flat=True)
    close_to(nb.sma_1d_nb(a, w), naive.sma(a.tolist(), w))
    close_to(nb.ema_1d_nb(a, w), naive.ema(a.tolist(), w))
    bit_equal(nb.rolling_min_1d_nb(a, w), naive.rolling_min(a.tolist(), w))
    bit_equal(nb.rolling_max_1d_nb(a, w), naive.rolling_max(a.tolist(), w))


@pytest.mark.parametrize(("n", "w"), CASES)
def test_rsi_against_naive(n, w):
    c = walk(n, seed=n * w, flat=True)
    close_to(nb.rsi_1d_nb(c, w, True), naive.rsi_wilder(c.tolist(), w), atol=1e-12)
    # The SMA method differences one running cumsum (as vectorbt): absolute error ~ eps * sum.
    close_to(nb.rsi_1d_nb(c, w, False), naive.rsi_sma(c.tolist(), w), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("n", "w"), CASES)
def test_bollinger_atr_stoch_against_naive(n, w):
    high, low, close = bars(n, seed=7 * n + w, flat=True)
    for got, want in zip(nb.bollinger_1d_nb(close, w, 2.0), naive.bollinger(close.tolist(), w, 2)):
        close_to(got, want)
    close_to(nb.true_range_1d_nb(high, low, close), naive.true_range(high, low, close))
    close_to(nb.atr_1d_nb(high, low, close, w), naive.atr_wilder(high, low, close, w))
    d_window = min(3, n)
    k, d = nb.stoch_1d_nb(high, low, close, w, d_window)
    want_k, want_d = naive.stochastic(high.tolist(), low.tolist(), close.tolist(), w, d_window)
    close_to(k, want_k, atol=1e-11)  # %K near 0: absolute error of the subtraction
    close_to(d, want_d, atol=1e-11)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(1, 2, 1), (3, 7, 4), (12, 26, 9)])
@pytest.mark.parametrize("n", [30, 300])
def test_macd_against_naive(fast, slow, signal, n):
    c = walk(n, seed=fast + slow + n)
    want = naive.macd(c.tolist(), fast, slow, signal)
    for got, want_line in zip(nb.macd_1d_nb(c, fast, slow, signal), want):
        close_to(got, want_line, rtol=1e-9, atol=1e-11)  # MACD crosses 0: relative error is moot


def test_warm_up_lengths():
    high, low, close = bars(60)
    assert np.isnan(nb.sma_1d_nb(close, 5)[:4]).all() and not np.isnan(nb.sma_1d_nb(close, 5)[4])
    for wilder in (True, False):
        r = nb.rsi_1d_nb(close, 5, wilder)
        assert np.isnan(r[:5]).all() and not np.isnan(r[5:]).any()
    a = nb.atr_1d_nb(high, low, close, 5)
    assert np.isnan(a[:5]).all() and not np.isnan(a[5:]).any()
    m, s, _ = nb.macd_1d_nb(close, 3, 7, 4)
    assert np.isnan(m[:6]).all() and not np.isnan(m[6:]).any()
    assert np.isnan(s[:9]).all() and not np.isnan(s[9:]).any()  # slow + signal - 2 bars


def test_single_bar_and_empty_series():
    one = np.array([101.0])
    bit_equal(nb.sma_1d_nb(one, 1), one)
    bit_equal(nb.ema_1d_nb(one, 1), one)
    assert np.isnan(nb.rsi_1d_nb(one, 1, True)).all()
    assert np.isnan(nb.rsi_1d_nb(one, 1, False)).all()
    assert np.isnan(nb.atr_1d_nb(one + 1, one - 1, one, 1)).all()
    bit_equal(nb.bollinger_1d_nb(one, 1, 2.0)[1], one)
    bit_equal(nb.stoch_1d_nb(one + 1, one - 1, one, 1, 1)[0], [50.0])
    empty = np.empty(0)
    for out in (
        nb.sma_1d_nb(empty, 3),
        nb.ema_1d_nb(empty, 3),
        nb.rsi_1d_nb(empty, 3, True),
        nb.rsi_1d_nb(empty, 3, False),
        nb.atr_1d_nb(empty, empty, empty, 3),
        nb.rolling_max_1d_nb(empty, 3),
        *nb.macd_1d_nb(empty, 2, 3, 2),
        *nb.bollinger_1d_nb(empty, 3, 2.0),
        *nb.stoch_1d_nb(empty, empty, empty, 3, 2),
    ):
        assert out.shape == (0,)


@pytest.mark.parametrize("wilder", [True, False])
def test_rsi_flat_rising_falling(wilder):
    flat = np.full(40, 100.0)
    assert np.isnan(nb.rsi_1d_nb(flat, 14, wilder)).all()  # no gain, no loss: undefined
    rising = np.linspace(100.0, 140.0, 40)
    bit_equal(nb.rsi_1d_nb(rising, 14, wilder)[14:], np.full(26, 100.0))  # no loss: 100
    bit_equal(nb.rsi_1d_nb(rising[::-1], 14, wilder)[14:], np.zeros(26))  # no gain: 0
    # A rise then flat: the loss stays 0, so 100 as long as some gain is averaged in.
    step = np.r_[np.full(20, 100.0), np.full(20, 101.0)]
    r = nb.rsi_1d_nb(step, 5, wilder)
    if wilder:  # Wilder's average gain decays but never reaches 0 here
        bit_equal(r[20:], np.full(20, 100.0))
        assert np.isnan(r[5:20]).all()
    else:  # the simple mean forgets the rise after 5 bars
        bit_equal(r[20:25], np.full(5, 100.0))
        assert np.isnan(r[25:]).all() and np.isnan(r[5:20]).all()


def test_flat_prices_bollinger_stoch():
    high, low, close = bars(90, flat=True)  # bars 30..44 flat with high == low == close
    middle, upper, lower = nb.bollinger_1d_nb(close, 10, 2.0)
    bit_equal(upper[39:45], middle[39:45])  # std exactly 0 on flat windows
    bit_equal(lower[39:45], middle[39:45])
    k, d = nb.stoch_1d_nb(high, low, close, 10, 3)
    assert np.isnan(k[39:45]).all() and np.isnan(d[39:47]).all()  # zero range: NaN, documented
    assert not np.isnan(k[45]) and not np.isnan(d[47])


def test_rolling_extremes_long_windows_and_nan():
    a = walk(500, seed=3)
    for w in (1, 7, 64, 499, 500):
        bit_equal(nb.rolling_max_1d_nb(a, w), pd.Series(a).rolling(w).max())
        bit_equal(nb.rolling_min_1d_nb(a, w), pd.Series(a).rolling(w).min())
    a[100] = np.nan  # NaN anywhere in the window -> NaN, as pandas with min_periods=window
    bit_equal(nb.rolling_max_1d_nb(a, 9), pd.Series(a).rolling(9).max())
    bit_equal(nb.rolling_min_1d_nb(a, 9), pd.Series(a).rolling(9).min())


# -- against pandas -------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [1, 2, 9, 14, 50, 400])
def test_against_pandas(w):
    high, low, close = bars(400, seed=w)
    s = pd.Series(close)
    close_to(nb.sma_1d_nb(close, w), s.rolling(w).mean())
    close_to(nb.ema_1d_nb(close, w), s.ewm(span=w, adjust=False, min_periods=w).mean())
    bit_equal(nb.rolling_min_1d_nb(low, w), pd.Series(low).rolling(w).min())
    bit_equal(nb.rolling_max_1d_nb(high, w), pd.Series(high).rolling(w).max())
    middle, upper, lower = nb.bollinger_1d_nb(close, w, 2.5)
    close_to(middle, s.rolling(w).mean())
    # pandas' running std carries ~1e-11 relative error: compare the bands, not the std
    close_to(upper, s.rolling(w).mean() + 2.5 * s.rolling(w).std(ddof=0), rtol=1e-12)
    close_to(lower, s.rolling(w).mean() - 2.5 * s.rolling(w).std(ddof=0), rtol=1e-12)
    lo, hi = pd.Series(low).rolling(w).min(), pd.Series(high).rolling(w).max()
    k = 100 * (s - lo) / (hi - lo)
    got_k, got_d = nb.stoch_1d_nb(high, low, close, w, 3)
    close_to(got_k, k)
    close_to(got_d, k.rolling(3).mean())


def _wilder_pandas(x: pd.Series, w: int) -> pd.Series:
    """Wilder's smoothing by pandas: ewm(alpha=1/w, adjust=False) started from the mean of
    ``x[1..w]`` placed at bar ``w``."""
    seeded = x.copy()
    seeded.iloc[: w + 1] = np.nan
    seeded.iloc[w] = x.iloc[1 : w + 1].mean()
    return seeded.ewm(alpha=1.0 / w, adjust=False).mean()


@pytest.mark.parametrize("w", [1, 2, 14, 100])
def test_wilder_rsi_atr_against_pandas(w):
    high, low, close = bars(400, seed=w + 11)
    delta = pd.Series(close).diff()
    gain = _wilder_pandas(delta.clip(lower=0.0), w)
    loss = _wilder_pandas((-delta).clip(lower=0.0), w)
    close_to(nb.rsi_1d_nb(close, w, True), 100 - 100 / (1 + gain / loss), atol=1e-12)
    prev = pd.Series(close).shift(1)
    tr = pd.concat(
        [pd.Series(high - low), (pd.Series(high) - prev).abs(), (pd.Series(low) - prev).abs()],
        axis=1,
    ).max(axis=1)
    close_to(nb.atr_1d_nb(high, low, close, w), _wilder_pandas(tr, w))


# -- against vectorbt -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vbt():
    return pytest.importorskip("vectorbt")


@pytest.mark.parametrize("n", [15, 300, 2000])
def test_vectorbt_rsi_and_ma_bit_for_bit(vbt, n):
    c = walk(n, seed=n, flat=True)
    for w in sorted({w for w in (1, 2, 3, 14, 50, n) if w <= n}):
        bit_equal(nb.rsi_1d_nb(c, w, False), vbt.RSI.run(c, window=w, ewm=False).rsi.to_numpy())
        bit_equal(nb.sma_1d_nb(c, w), vbt.MA.run(c, w).ma.to_numpy())


def test_vectorbt_rsi_special_series(vbt):
    series = [
        np.full(30, 50.0),  # flat: NaN
        np.linspace(1.0, 2.0, 30),  # only gains: 100
        np.linspace(2.0, 1.0, 30),  # only losses: 0
        np.r_[np.full(10, 5.0), np.full(20, 6.0)],  # gain then flat: 100 then NaN
    ]
    gappy = walk(100, seed=5)
    gappy[[0, 40, 41, 77]] = np.nan  # the kernel keeps vectorbt's NaN handling too
    for c in [*series, gappy]:
        for w in (1, 3, 14):
            got = nb.rsi_1d_nb(c, w, False)
            bit_equal(got, vbt.RSI.run(c, window=w, ewm=False).rsi.to_numpy())
            bit_equal(nb.sma_1d_nb(c, w), vbt.MA.run(c, w).ma.to_numpy())


@pytest.mark.parametrize("w", [2, 14, 50])
def test_vectorbt_bbands_macd_stoch(vbt, w):
    high, low, close = bars(600, seed=w)
    bb = vbt.BBANDS.run(close, window=w, alpha=2.0)
    middle, upper, lower = nb.bollinger_1d_nb(close, w, 2.0)
    bit_equal(middle, bb.middle.to_numpy())
    close_to(upper, bb.upper.to_numpy(), rtol=1e-9)
    close_to(lower, bb.lower.to_numpy(), rtol=1e-9)

    m = vbt.MACD.run(close, w, w + 12, 9, macd_ewm=True, signal_ewm=True)
    macd, signal, hist = nb.macd_1d_nb(close, w, w + 12, 9)
    close_to(macd, m.macd.to_numpy(), rtol=1e-9, atol=1e-12)
    close_to(signal, m.signal.to_numpy(), rtol=1e-9, atol=1e-12)
    close_to(hist, m.hist.to_numpy(), rtol=1e-9, atol=1e-12)

    flat = bars(600, seed=w, flat=True)
    for h, lo, c in ((high, low, close), flat):
        st_ = vbt.STOCH.run(h, lo, c, k_window=w, d_window=3)
        k, d = nb.stoch_1d_nb(h, lo, c, w, 3)
        close_to(k, st_.percent_k.to_numpy(), rtol=1e-9)  # zero range: NaN in both (0/0)
        close_to(d, st_.percent_d.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("w", [1, 14])
def test_vectorbt_atr_definition_difference(vbt, w):
    high, low, close = bars(300, seed=w)
    tr = nb.true_range_1d_nb(high, low, close)
    for ewm, smooth in ((False, nb.sma_1d_nb), (True, nb.ema_1d_nb)):
        out = vbt.ATR.run(high, low, close, window=w, ewm=ewm)
        close_to(tr, out.tr.to_numpy(), rtol=1e-12)
        # vectorbt's ATR is an SMA/EMA of the true range, bar 0 included ...
        close_to(smooth(tr, w), out.atr.to_numpy(), rtol=1e-9)
    # ... ours is Wilder's: the same only for window 1, where every smoothing is the identity.
    ours = nb.atr_1d_nb(high, low, close, w)
    if w == 1:
        close_to(ours[1:], tr[1:])
    else:
        assert not np.allclose(ours[w:], out.atr.to_numpy()[w:], rtol=1e-6)


def test_vectorbt_bbands_flat_window_residue(vbt):
    close = walk(300, flat=True)  # bars 100..114 flat after a move
    bb = vbt.BBANDS.run(close, window=10, alpha=2.0)
    middle, upper, _ = nb.bollinger_1d_nb(close, 10, 2.0)
    bit_equal(upper[109:115], middle[109:115])  # ours: std exactly 0
    width = bb.upper.to_numpy()[109:115] - bb.middle.to_numpy()[109:115]
    assert np.all(np.abs(width) < 1e-4)  # vectorbt: close to 0, not necessarily 0


# -- tables ---------------------------------------------------------------------------------------


def test_tables_match_the_1d_kernels():
    a = walk(400, seed=9, flat=True)
    windows = np.array([1, 3, 14, 50, 400], dtype=np.int64)
    tables = {
        nb.sma_1d_nb: nb.sma_table_nb(a, windows),
        nb.ema_1d_nb: nb.ema_table_nb(a, windows),
        nb.rolling_min_1d_nb: nb.rolling_min_table_nb(a, windows),
        nb.rolling_max_1d_nb: nb.rolling_max_table_nb(a, windows),
    }
    for kernel, table in tables.items():
        assert table.shape == (5, 400)
        for r, w in enumerate(windows):
            bit_equal(table[r], kernel(a, w))
    for wilder in (True, False):
        table = nb.rsi_table_nb(a, windows, wilder)
        assert table.shape == (5, 400)
        for r, w in enumerate(windows):
            bit_equal(table[r], nb.rsi_1d_nb(a, w, wilder))
    assert nb.rsi_table_nb(a, np.empty(0, dtype=np.int64), True).shape == (0, 400)


# -- wrappers -------------------------------------------------------------------------------------


def test_wrappers_keep_the_input_kind():
    high, low, close = bars(120, seed=4)
    index = pd.date_range("2024-01-01", periods=120, freq="D")
    s = pd.Series(close, index=index, name="close")
    h, lo = pd.Series(high, index=index), pd.Series(low, index=index)

    out = ind.rsi(s)
    assert isinstance(out, pd.Series) and out.index.equals(index) and out.name == "close"
    bit_equal(out.to_numpy(), nb.rsi_1d_nb(close, 14, True))
    bit_equal(ind.rsi(close, 10, method="sma"), nb.rsi_1d_nb(close, 10, False))
    bit_equal(ind.sma(s, 5).to_numpy(), nb.sma_1d_nb(close, 5))
    bit_equal(ind.ema(close, 5), nb.ema_1d_nb(close, 5))
    bit_equal(ind.atr(h, lo, s).to_numpy(), nb.atr_1d_nb(high, low, close, 14))

    m = ind.macd(s)
    assert isinstance(m, ind.MACD) and all(isinstance(x, pd.Series) for x in m)
    bit_equal(m.hist.to_numpy(), nb.macd_1d_nb(close, 12, 26, 9)[2])
    bands = ind.bollinger(close, 20, 2)
    assert isinstance(bands.upper, np.ndarray)
    bit_equal(bands.lower, nb.bollinger_1d_nb(close, 20, 2.0)[2])
    k, d = ind.stochastic(h, lo, s, 14, 3)
    assert k.index.equals(index)
    bit_equal(d.to_numpy(), nb.stoch_1d_nb(high, low, close, 14, 3)[1])
    dc = ind.donchian(h, lo, 20)
    bit_equal(dc.upper.to_numpy(), pd.Series(high).rolling(20).max())
    bit_equal(dc.middle.to_numpy(), (dc.upper + dc.lower).to_numpy() / 2)


def test_wrappers_convert_ints_and_strided_views():
    a = np.arange(40)[::2]  # int64, not contiguous
    bit_equal(ind.sma(a, 3), nb.sma_1d_nb(np.arange(0.0, 40.0, 2.0), 3))
    bit_equal(ind.donchian(a, a, 1).middle, a.astype(float))


CLOSE = walk(30)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ind.sma(CLOSE, 0), "window must be >= 1, got 0"),
        (lambda: ind.sma(CLOSE, 2.5), "window must be an integer, got 2.5"),
        (lambda: ind.ema(CLOSE, True), "window must be an integer, got True"),
        (lambda: ind.ema(CLOSE, 31), r"window=31 is larger than the series \(30 bars\)"),
        (lambda: ind.rsi(CLOSE, 14, method="ema"), "method must be one of .* got 'ema'"),
        (lambda: ind.rsi(CLOSE, -1), "window must be >= 1, got -1"),
        (lambda: ind.macd(CLOSE, 26, 12), "fast must be smaller than slow, got fast=26, slow=12"),
        (lambda: ind.macd(CLOSE, 12, 12), "fast must be smaller than slow"),
        (lambda: ind.macd(CLOSE[:20], 12, 26, 9), r"slow=26 is larger than the series \(20"),
        (lambda: ind.macd(CLOSE, 2, 5, 0), "signal must be >= 1, got 0"),
        (lambda: ind.bollinger(CLOSE, 5, 0), "k must be > 0.0, got 0"),
        (lambda: ind.bollinger(CLOSE, 5, -2.0), "k must be > 0.0, got -2.0"),
        (lambda: ind.bollinger(CLOSE, 5, math.nan), "k must be a finite number, got nan"),
        (lambda: ind.stochastic(CLOSE, CLOSE, CLOSE, 3, 0), "d_window must be >= 1, got 0"),
        (lambda: ind.donchian(CLOSE, CLOSE, 40), r"window=40 is larger than the series"),
        (lambda: ind.atr(CLOSE, CLOSE, CLOSE, "14"), "window must be an integer, got '14'"),
    ],
)
def test_wrappers_reject_bad_parameters(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_wrappers_reject_bad_prices():
    bad = CLOSE.copy()
    bad[3] = np.nan
    with pytest.raises(DataError, match="close has a non-finite value nan at row 3"):
        ind.rsi(bad)
    bad[3] = np.inf
    with pytest.raises(DataError, match="a has a non-finite value inf at row 3"):
        ind.sma(bad, 2)
    s = pd.Series(bad, index=pd.date_range("2024-01-01", periods=30, freq="D"))
    with pytest.raises(DataError, match="2024-01-04"):
        ind.ema(s, 2)
    with pytest.raises(DataError, match="must be 1-D"):
        ind.sma(np.ones((3, 2)), 1)
    with pytest.raises(DataError, match="must be numeric"):
        ind.sma(np.array(["a", "b"]), 1)
    with pytest.raises(DataError, match="differ in length"):
        ind.atr(CLOSE, CLOSE[:-1], CLOSE)
    s1 = pd.Series(CLOSE)
    with pytest.raises(DataError, match="different indexes"):
        ind.stochastic(s1, s1, pd.Series(CLOSE, index=np.arange(1, 31)))


# -- properties -----------------------------------------------------------------------------------

prices = st.lists(st.floats(0.01, 1e6), min_size=1, max_size=80).map(np.array)


@settings(max_examples=60, deadline=None)
@given(prices, st.integers(1, 80), st.booleans())
def test_rsi_is_in_range_or_nan(close, window, wilder):
    window = min(window, close.shape[0])
    r = nb.rsi_1d_nb(close, window, wilder)
    assert np.isnan(r[:window]).all()
    finite = r[~np.isnan(r)]
    assert ((finite >= 0.0) & (finite <= 100.0)).all()
    bit_equal(r, ind.rsi(close, window, "wilder" if wilder else "sma"))


@settings(max_examples=60, deadline=None)
@given(prices, st.integers(1, 80))
def test_channels_contain_the_prices(close, window):
    window = min(window, close.shape[0])
    hi, lo = nb.rolling_max_1d_nb(close, window), nb.rolling_min_1d_nb(close, window)
    ok = ~np.isnan(hi)
    assert ok.sum() == close.shape[0] - window + 1
    assert (hi[ok] >= close[ok]).all() and (lo[ok] <= close[ok]).all()
    bit_equal(hi, naive.rolling_max(close.tolist(), window))
    middle, upper, lower = nb.bollinger_1d_nb(close, window, 2.0)
    assert (upper[ok] >= middle[ok]).all() and (middle[ok] >= lower[ok]).all()
