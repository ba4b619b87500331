"""``StrategyProblem``: a population of strategies evaluated by the fused numba backtest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .._stages import stage
from ..errors import ConfigError, DataError, check_float, check_int
from ..memory import parse_size
from ..problem import Problem
from .blocked import (
    DEFAULT_BLOCK_MEMORY,
    KERNELS,
    block_bars_for,
    bytes_per_bar,
    run_blocks,
    run_portfolio,
)
from .calendar import BarsPerYear, infer_bars_per_year
from .constraints import strategy_space
from .data import validate_ohlcv
from .enums import METRICS, N_METRICS, N_STATE, Metric
from .gpu import check_device
from .simulate import TimeSpan, annualization_factor, check_prices, metrics_frame
from .strategies import get_family
from .stream import table_stream
from .universe import (
    AGGREGATES,
    SymbolSeries,
    TimeBound,
    aggregate_metrics,
    is_store,
    select_series,
)

__all__ = ["INVALID_FITNESS", "PriceData", "StrategyProblem"]

#: OHLC bars (a DataFrame with a ``close`` column), a Series of closes or an array of closes.
PriceData = Union[pd.DataFrame, pd.Series, ArrayLike]
#: Search ranges by gene name, ``{"window": [5, 100]}``.
Ranges = Mapping[str, Sequence[float]]

#: Fitness of a strategy with too few trades or a non-finite objective (finite, so that
#: population statistics stay meaningful; far below any real metric).
INVALID_FITNESS = -1e12


def _prices(data: Any, needs_high_low: bool) -> tuple[dict[str, np.ndarray], Any]:
    """Contiguous float64 close (and high/low) arrays, and the time index if any."""
    if isinstance(data, pd.DataFrame) and isinstance(data.index, pd.DatetimeIndex):
        data = validate_ohlcv(data)  # columns, prices, sorted unique times: errors name rows
    if isinstance(data, pd.DataFrame):
        cols = {str(c).strip().lower(): c for c in data.columns}
        if "close" not in cols:
            raise DataError(f"data has no 'close' column (columns: {list(data.columns)})")
        out = {"close": data[cols["close"]].to_numpy(dtype=np.float64)}
        for name in ("high", "low"):
            out[name] = (
                data[cols[name]].to_numpy(dtype=np.float64) if name in cols else out["close"]
            )
        index = data.index
    else:
        close = (
            data.to_numpy(dtype=np.float64)
            if isinstance(data, pd.Series)
            else np.asarray(data, dtype=np.float64)
        )
        if close.ndim != 1:
            raise DataError(f"close prices must be one series of shape (T,), got {close.shape}")
        out = {"close": close, "high": close, "low": close}
        index = data.index if isinstance(data, pd.Series) else None
    for name in ("close", "high", "low") if needs_high_low else ("close",):
        arr = np.ascontiguousarray(out[name])
        if arr.size == 0:
            raise DataError("data has no bars")
        check_prices(arr, name)
        out[name] = arr
    return out, index


def _annualization(bars_per_year: Any, freq: Any, year: Any, index: Any) -> BarsPerYear:
    """Given bars per year, else vectorbt's ``year / freq``, else the data's calendar."""
    if bars_per_year is not None:
        value = check_float("bars_per_year", bars_per_year, low=0.0, low_inclusive=False)
        return BarsPerYear(value, "given")
    if freq is not None or year is not None:
        year = "365 days" if year is None else year
        value = annualization_factor(freq, year, index)
        bar = "the median bar spacing" if freq is None else f"a bar of {freq}"
        return BarsPerYear(value, f"{year} / {bar} (vectorbt's convention)")
    if isinstance(index, pd.DatetimeIndex):
        return infer_bars_per_year(index)
    raise ConfigError(
        "cannot annualize prices without times: pass bars_per_year (e.g. 252 for daily stock "
        "bars), or freq (e.g. '1h'), or data with a DatetimeIndex"
    )


class StrategyProblem(Problem):
    """Evolve trading strategies of one family on price data (fitness to maximize).

    Every evaluation decodes the population, computes each unique indicator once (tables of
    shape (U, T) for U unique indicator parameters), then one numba kernel, parallel over
    strategies, streams over the bars with O(1) state per strategy: peak memory is
    O(U * T + N * 13), never O(T * N). The metrics equal :func:`simulate_signals` on the
    strategy's explicit signals (tested), which equals ``vectorbt.Portfolio.from_signals``.

    Parameters
    ----------
    data : DataFrame with a ``close`` column (and ``high``/``low`` for ``breakout``), Series,
        array of closes (memory-mapped arrays are read block by block, never copied), or a
        market data store (:func:`~genepool.backtest.open_store`): see ``symbols``
    family : {"rsi", "ma_cross", "bollinger", "macd", "breakout"}
        Signal rules and genes (see :mod:`genepool.backtest.strategies`).
    objective : str or sequence of str, default "sharpe_ratio"
        Metric column(s) to maximize; prefix a name with ``-`` to minimize it
        (``"-annualized_volatility"``). Several names give a multi-objective fitness (n, m).
    fees, slippage, init_cash : float
        As in :func:`simulate_signals`; fees default to 0.1 % per order.
    min_trades : int, default 1
        Strategies with fewer trades get ``INVALID_FITNESS`` (-1e12), as do non-finite
        objective values (e.g. the +inf Sharpe of a strategy without variance): never +inf.
    stops : bool, default False
        Add ``stop_loss`` and ``take_profit`` genes.
    ranges : mapping of gene name to [low, high], optional
        Search ranges replacing the family's defaults (``{"window": [5, 100]}``), validated
        against the family's constraints (:func:`genepool.backtest.constraints.strategy_space`).
        Every decoded strategy keeps its family's order constraints (``fast < slow``).
    block_bars : int, optional
        Bars per block of the time-blocked backtest (:mod:`genepool.backtest.blocked`). Default:
        as many as fit ``block_memory``. Results are bit-identical for every block length.
    block_memory : int or str, optional
        Memory for the indicator tables of one block (``"256MiB"``); default 128 MiB, or an
        eighth of the run's ``memory_limit`` when that is smaller (:meth:`fit_memory`). Peak
        memory of an evaluation is about this plus 400 bytes per strategy, whatever the
        number of bars.
    symbols : list of str, str or "all", optional
        With a store as ``data``: the symbols every strategy is evaluated on (names, a
        comma-separated string, or ``"all"``, the default); a universe
        (:mod:`genepool.backtest.universe`).
    aggregate : {"mean", "median", "worst", "portfolio"}, default "mean"
        How a universe's per-symbol metrics become one row per strategy (each metric's mean,
        median, or worst symbol in the metric's sense), or the metrics of one equal-weight
        portfolio of the per-symbol runs (symbols on one calendar). Per-symbol metrics:
        :meth:`symbol_metrics`.
    start, end : time, optional
        With a store: the bars with ``start <= time < end`` of each symbol (UTC when naive).
    rsi_method : {"wilder", "sma"}
        RSI smoothing (``"sma"`` is vectorbt's RSI, bit for bit).
    kernel : {"simd", "scalar"}, default "simd"
        The CPU kernel: ``"simd"`` advances the strategies that share an indicator row bar by
        bar together in SIMD lanes (:mod:`genepool.backtest._lanes_nb`), ``"scalar"`` one
        strategy at a time (its oracle twin). Their metrics are bit-identical; see
        docs/backtest.md, "Speed".
    device : {"cpu", "cuda"}, default "cpu"
        ``"cuda"`` evaluates on an NVIDIA GPU (:mod:`genepool.backtest.gpu`; the ``gpu`` extra,
        numba-cuda): the prices are uploaded once, the indicator tables are built on the
        device and one thread per strategy streams over the bars. A ``ConfigError`` where CUDA
        is not available. Not for ``aggregate="portfolio"`` nor memory-mapped blocks: a device
        holds every bar of a series.
    bars_per_year : float, optional
        Bars per year for the annualized metrics (Sharpe, Sortino, annualized return and
        volatility, Calmar), e.g. 252 for daily stock bars. Default: counted on the calendar of
        the data's DatetimeIndex (:func:`~genepool.backtest.calendar.infer_bars_per_year`),
        unless ``freq`` or ``year`` is given.
    freq, year : str or Timedelta, optional
        vectorbt's convention instead: ``year / freq`` bars per year (``year`` defaults to
        "365 days", ``freq`` to the median spacing of the DatetimeIndex), as
        :func:`simulate_signals` uses. Needed for data without times when ``bars_per_year`` is
        not given. See docs/backtest.md, "Annualization".

    Attributes
    ----------
    bars_per_year : float
        The annualization factor used (also ``ann_factor``).
    annualization : BarsPerYear
        The same with ``method``, a sentence saying how it was found.

    Examples
    --------
    >>> import numpy as np, genepool as gp
    >>> from genepool.backtest import StrategyProblem
    >>> close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 2000)))
    >>> prob = StrategyProblem(close, "rsi", freq="1h")
    >>> prob.space.names
    ('window', 'lower', 'upper')
    >>> y = prob.evaluate(prob.space.sample(8, np.random.default_rng(1)))
    >>> y.shape
    (8,)
    """

    def __init__(
        self,
        data: PriceData,
        family: str = "rsi",
        objective: str | Sequence[str] = "sharpe_ratio",
        *,
        fees: float = 0.001,
        slippage: float = 0.0,
        init_cash: float = 10_000.0,
        min_trades: int = 1,
        stops: bool = False,
        rsi_method: str = "wilder",
        bars_per_year: float | None = None,
        freq: TimeSpan | None = None,
        year: TimeSpan | None = None,
        ranges: Ranges | None = None,
        block_bars: int | None = None,
        block_memory: int | str | None = None,
        symbols: str | Sequence[str] | None = None,
        aggregate: str = "mean",
        start: TimeBound | None = None,
        end: TimeBound | None = None,
        kernel: str = "simd",
        device: str = "cpu",
    ) -> None:
        self._configure(
            family,
            objective,
            fees=fees,
            slippage=slippage,
            init_cash=init_cash,
            min_trades=min_trades,
            stops=stops,
            rsi_method=rsi_method,
            ranges=ranges,
            block_bars=block_bars,
            block_memory=block_memory,
            kernel=kernel,
            device=device,
        )
        self.universe: list[SymbolSeries] | None = None
        self.aggregate = aggregate
        if self.device == "cuda" and aggregate == "portfolio":
            raise ConfigError(
                "device='cuda' evaluates each symbol's runs apart: aggregate='portfolio' "
                "(one equal-weight portfolio a bar) runs on the CPU; use device='cpu'"
            )
        self.store_path: str | None = None
        if is_store(data):
            if freq is not None or year is not None:
                raise ConfigError(
                    "freq/year do not apply to a store: each symbol is annualized by its own "
                    "calendar; pass bars_per_year to use one value for all"
                )
            self._use_store(data, symbols, start, end, bars_per_year)
            return
        if symbols is not None or start is not None or end is not None:
            raise ConfigError(
                "symbols, start and end select bars of a market data store: pass "
                "genepool.backtest.open_store(DIR) as the data"
            )
        self.data, index = _prices(data, self.family.needs_high_low)
        self.n_bars = self.data["close"].shape[0]
        #: Times of the bars (the data's DatetimeIndex or Series index; None for an array):
        #: what :func:`~genepool.backtest.trace.trace_strategy` labels its curve with.
        self.index: pd.Index | None = None if index is None else pd.Index(index)
        longest = self._longest_window()
        if self.n_bars <= longest:  # before annualizing: too short is the message that helps
            raise DataError(
                f"data has {self.n_bars:,} bar{'s' if self.n_bars != 1 else ''}; at least "
                f"{longest + 1} are needed: the longest indicator window of the "
                f"{self.family.name!r} family is {longest}"
            )
        self.annualization = _annualization(bars_per_year, freq, year, index)
        self.ann_factor = self.annualization.value

    def _longest_window(self) -> int:
        return int(
            self.family.longest_window(
                {
                    g.name: np.array([g.high])
                    for g in self.space.genes
                    if hasattr(g, "high") and isinstance(g.high, int)
                }
            )
        )

    def _use_store(
        self, store: Any, symbols: Any, start: Any, end: Any, bars_per_year: Any
    ) -> None:
        """Evaluate on the symbols of a market data store (memory-mapped, read by blocks)."""
        if self.aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        given = (
            None
            if bars_per_year is None
            else check_float("bars_per_year", bars_per_year, low=0.0, low_inclusive=False)
        )
        fields = ("close", "high", "low") if self.family.needs_high_low else ("close",)
        self.universe = select_series(
            store, symbols, fields, start=start, end=end, bars_per_year=given
        )
        self.store_path = str(store.path)
        self.start, self.end = start, end
        longest = self._longest_window()
        for series in self.universe:
            if series.n_bars <= longest:
                raise DataError(
                    f"symbol {series.name!r} has {series.n_bars:,} bars in the selected range; "
                    f"at least {longest + 1} are needed: the longest indicator window of the "
                    f"{self.family.name!r} family is {longest}"
                )
        if self.aggregate == "portfolio" and len(self.universe) > 1:
            self._check_one_calendar(store)
        first = self.universe[0]
        self.data = dict(first.arrays)
        for name in ("close", "high", "low"):
            self.data.setdefault(name, self.data["close"])
        self.n_bars = first.n_bars
        self.index = None  # times stay in the store: store.index(symbol)
        if given is not None:
            self.annualization = BarsPerYear(given, "given")
        else:
            factors = {s.ann_factor for s in self.universe}
            how = (
                "each symbol by its own calendar (the store's bars_per_year; this figure is "
                f"{first.name}'s)"
            )
            if len(factors) == 1:
                method = store.bars_per_year(first.name).method
                how = f"the store's calendar of every symbol ({method})"
            self.annualization = BarsPerYear(first.ann_factor, how)
        self.ann_factor = self.annualization.value

    def _check_one_calendar(self, store: Any) -> None:
        """An equal-weight portfolio is one equity curve: the selected bars of every symbol
        must have the same times (DataError naming the first symbol and time that differ)."""
        assert self.universe is not None
        first = self.universe[0]
        ref = store.times(first.name)[first.first : first.first + first.n_bars]
        for series in self.universe[1:]:
            times = store.times(series.name)[series.first : series.first + series.n_bars]
            if series.n_bars == first.n_bars and np.array_equal(times, ref):
                continue
            k = min(series.n_bars, first.n_bars)
            diff = np.flatnonzero(np.asarray(times[:k]) != np.asarray(ref[:k]))
            at = int(diff[0]) if diff.size else k
            when = (
                str(pd.Timestamp(int(ref[at]), tz="UTC"))
                if at < first.n_bars
                else str(pd.Timestamp(int(times[at]), tz="UTC"))
            )
            raise DataError(
                f"aggregate='portfolio' needs one calendar, but symbol {series.name!r} "
                f"({series.n_bars:,} bars) and {first.name!r} ({first.n_bars:,} bars) differ "
                f"from bar {at:,} ({when}); select symbols that share a calendar, a time range "
                "where they do, or another aggregate (mean, median, worst)"
            )

    @property
    def symbols(self) -> tuple[str, ...] | None:
        """The symbols of a universe (None for one series given as data)."""
        return None if self.universe is None else tuple(s.name for s in self.universe)

    def _configure(
        self,
        family: str,
        objective: str | Sequence[str],
        *,
        fees: float,
        slippage: float,
        init_cash: float,
        min_trades: int,
        stops: bool,
        rsi_method: str,
        ranges: Ranges | None = None,
        block_bars: int | None = None,
        block_memory: int | str | None = None,
        kernel: str = "simd",
        device: str = "cpu",
    ) -> None:
        """Everything but the data: family, objectives, costs, space, blocks, kernel and
        device (validated)."""
        self.family = get_family(family)
        names = [objective] if isinstance(objective, str) else list(objective)
        if not names:
            raise ConfigError("objective must name at least one metric")
        self.objectives: list[tuple[int, float]] = []
        for name in names:
            sign, metric = (-1.0, name[1:]) if name.startswith("-") else (1.0, name)
            if metric not in METRICS:
                raise ConfigError(f"unknown objective {name!r}; metrics are {list(METRICS)}")
            self.objectives.append((int(Metric[metric.upper()]), sign))
        self.objective_names = names
        self.fees = check_float("fees", fees, low=0.0, high=1.0, high_inclusive=False)
        self.slippage = check_float("slippage", slippage, low=0.0, high=1.0, high_inclusive=False)
        self.init_cash = check_float("init_cash", init_cash, low=0.0, low_inclusive=False)
        self.min_trades = check_int("min_trades", min_trades, minimum=0)
        if rsi_method not in ("wilder", "sma"):
            raise ConfigError(f"rsi_method must be 'wilder' or 'sma', got {rsi_method!r}")
        self.options = {"rsi_method": rsi_method}
        self.stops = bool(stops)
        self.space = strategy_space(self.family.name, self.stops, ranges)
        self.ranges = None if ranges is None else {k: list(v) for k, v in ranges.items()}
        self.block_bars = (
            None if block_bars is None else check_int("block_bars", block_bars, minimum=1)
        )
        if block_memory is not None:
            try:
                parse_size(block_memory)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"block_memory: {exc}") from None
        self.block_memory = block_memory
        self.block_memory_given = block_memory is not None
        if kernel not in KERNELS:
            raise ConfigError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")
        self.kernel = kernel
        self.device = check_device(device)
        #: One :class:`~genepool.backtest.gpu.DeviceBacktest` per price series (prices
        #: uploaded once per problem), made on first use.
        self._devices: dict[int, Any] = {}
        self._memory_limit: int | None = None  # the run's, given by fit_memory

    # -- sharing with workers (executor="processes"/"dask") ----------------------------------
    def shared_arrays(self) -> dict[str, np.ndarray]:
        """The price arrays (``close``, ``high``, ``low``; one copy when they are the same);
        none for a store: each worker memory-maps the store from its path."""
        return {} if self.universe is not None else dict(self.data)

    def shared_config(self) -> dict[str, Any]:
        return {
            "family": self.family.name,
            "objective": list(self.objective_names or ()),
            "fees": self.fees,
            "slippage": self.slippage,
            "init_cash": self.init_cash,
            "min_trades": self.min_trades,
            "stops": self.stops,
            "rsi_method": self.options["rsi_method"],
            "ann_factor": self.ann_factor,
            "ranges": self.ranges,
            "block_bars": self.block_bars,
            "block_memory": self.block_memory,
            "kernel": self.kernel,
            "device": self.device,
            "store": None if self.universe is None else self._store_config(),
        }

    def _store_config(self) -> dict[str, Any]:
        assert self.universe is not None
        given = self.annualization.method == "given"
        return {
            "path": self.store_path,
            "symbols": list(self.symbols or ()),
            "aggregate": self.aggregate,
            "start": None if self.start is None else str(pd.Timestamp(self.start)),
            "end": None if self.end is None else str(pd.Timestamp(self.end)),
            "bars_per_year": self.ann_factor if given else None,
        }

    @classmethod
    def from_shared(cls, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> StrategyProblem:
        """Rebuild from :meth:`shared_arrays` (not copied, not re-validated) and the config."""
        self = cls.__new__(cls)
        settings = {k: v for k, v in config.items() if k not in ("family", "objective")}
        self.ann_factor = float(settings.pop("ann_factor"))
        self.annualization = BarsPerYear(self.ann_factor, "as in the parent process")
        store = settings.pop("store", None)
        self._configure(config["family"], config["objective"], **settings)
        self.universe = None
        self.aggregate = "mean"
        self.store_path = None
        if store is not None:  # the worker maps the store itself: no prices were shipped
            from .store import open_store

            self.aggregate = store["aggregate"]
            self._use_store(
                open_store(store["path"]),
                store["symbols"],
                store["start"],
                store["end"],
                store["bars_per_year"],
            )
            return self
        self.data = {name: arrays[name] for name in ("close", "high", "low")}
        self.n_bars = self.data["close"].shape[0]
        self.index = None  # workers only evaluate: the times stay with the parent
        return self

    def warm_up(self) -> None:
        """Load (or compile) the numba kernels once, on one strategy at the centre of the space."""
        self.evaluate(((self.space.lower + self.space.upper) / 2)[None, :])

    def fit_memory(self, memory_limit: int) -> None:
        """Unless ``block_memory`` was given, a block's tables take at most an eighth of the
        run's ``memory_limit`` (and at most the 128 MiB default): the rest is for the
        population, the strategies' state and the interpreter. On a device, the limit also
        bounds a chunk's host staging arrays (:class:`~genepool.backtest.gpu.DeviceBacktest`)."""
        self._memory_limit = int(memory_limit)
        for device in self._devices.values():
            device.memory_limit = self._memory_limit
        if self.block_memory_given:
            return
        self.block_memory = int(min(DEFAULT_BLOCK_MEMORY, memory_limit // 8))

    @property
    def bars_per_year(self) -> float:
        """Bars per year of the annualized metrics (``annualization.value``)."""
        return self.ann_factor

    #: Fitness of invalid strategies; the run loop leaves it out of the mean/std it reports.
    invalid_fitness = INVALID_FITNESS

    # -- Problem API -------------------------------------------------------------------------
    def bytes_per_candidate(self) -> int:
        # A state row, one metrics row per symbol (and the aggregate) and a few parameter
        # columns; a portfolio keeps a state row per symbol. The block's tables (at most
        # block_memory) are measured by the evaluator's calibration.
        n_symbols = 1 if self.universe is None else len(self.universe)
        states = n_symbols if self.aggregate == "portfolio" else 1
        return 8 * (N_METRICS * (n_symbols + 1) + N_STATE * states + 16)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Fitness (to maximize) of each strategy: shape (n,) or (n, n_objectives)."""
        m = self.metrics_array(X)
        with stage("objective"):
            cols = [sign * m[:, j] for j, sign in self.objectives]
            fit = np.stack(cols, axis=1)
            invalid = (m[:, Metric.N_TRADES] < self.min_trades)[:, None] | ~np.isfinite(fit)
            fit[invalid] = INVALID_FITNESS
        return fit[:, 0] if fit.shape[1] == 1 else fit

    def metrics_array(self, X: np.ndarray) -> np.ndarray:
        """All metrics of each strategy, shape (n, N_METRICS): columns ``enums.Metric``."""
        with stage("decode"):
            X = self.space.check(X)
            params = self.space.decode(X)
        n = X.shape[0]
        out = np.empty((n, N_METRICS))
        if n == 0:
            return out
        if self.universe is None:
            out[:] = self._run(params, n, self.data, self.n_bars, self.ann_factor)
        elif self.aggregate == "portfolio":
            out[:] = self._portfolio(params, n)
        else:
            out[:] = aggregate_metrics(self._symbol_metrics(params, n), self.aggregate)
        return out

    def _run(
        self, params: dict[str, Any], n: int, arrays: dict[str, np.ndarray], n_bars: int,
        ann_factor: float,
    ) -> np.ndarray:  # fmt: skip
        """Metrics of one decoded batch on one series, block by block (or on the device)."""
        sl, tp = self._stops(params, n)
        if self.device == "cuda":
            return self._device_for(arrays, ann_factor).metrics(self.family.name, params, sl, tp)
        with stage("indicator tables"):  # the unique rows of the batch
            stream = table_stream(self.family.name, params, self.options)
        bars = self.block_bars or block_bars_for(stream, n_bars, self.block_memory)
        return run_blocks(
            int(self.family.code),  # a plain int64: one compiled kernel for every family
            stream,
            arrays,
            n_bars,
            bars,
            sl,
            tp,
            fees=self.fees,
            slippage=self.slippage,
            init_cash=self.init_cash,
            ann_factor=ann_factor,
            kernel=self.kernel,
        )

    def _device_for(self, arrays: dict[str, np.ndarray], ann_factor: float) -> Any:
        """The series' :class:`~genepool.backtest.gpu.DeviceBacktest`: its prices go up to the
        device on the first evaluation, never again."""
        key = id(arrays["close"])
        if key not in self._devices:
            from .gpu import DeviceBacktest

            self._devices[key] = DeviceBacktest(
                arrays,
                fees=self.fees,
                slippage=self.slippage,
                init_cash=self.init_cash,
                ann_factor=ann_factor,
                rsi_method=self.options["rsi_method"],
                memory_limit=self._memory_limit,
            )
        return self._devices[key]

    def _stops(self, params: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Stop-loss and take-profit of each strategy of a batch (zeros: no stops)."""
        if not self.stops:
            return np.zeros(n), np.zeros(n)
        return (
            np.asarray(params["stop_loss"], dtype=np.float64),
            np.asarray(params["take_profit"], dtype=np.float64),
        )

    def _portfolio(self, params: dict[str, Any], n: int) -> np.ndarray:
        """Metrics of the equal-weight portfolio of each strategy's runs on the symbols."""
        assert self.universe is not None
        streams = [table_stream(self.family.name, params, self.options) for _ in self.universe]
        sl, tp = self._stops(params, n)
        tables = bytes_per_bar(streams[0]) * len(streams)
        bars = self.block_bars or block_bars_for(
            streams[0], self.n_bars, self.block_memory, extra_per_bar=8 * n + tables
        )
        return run_portfolio(
            int(self.family.code),
            streams,
            [s.arrays for s in self.universe],
            self.n_bars,
            bars,
            sl,
            tp,
            fees=self.fees,
            slippage=self.slippage,
            init_cash=self.init_cash,
            ann_factor=self.ann_factor,
        )

    def _symbol_metrics(self, params: dict[str, Any], n: int) -> np.ndarray:
        assert self.universe is not None
        out = np.empty((len(self.universe), n, N_METRICS))
        for k, series in enumerate(self.universe):
            out[k] = self._run(params, n, series.arrays, series.n_bars, series.ann_factor)
        return out

    def symbol_metrics_array(self, X: np.ndarray) -> np.ndarray:
        """Metrics of each strategy on each symbol, shape (S, n, N_METRICS) (S = 1 for one
        series given as data)."""
        X = self.space.check(X)
        params = self.space.decode(X)
        n = X.shape[0]
        if self.universe is None:
            return self._run(params, n, self.data, self.n_bars, self.ann_factor)[None]
        return self._symbol_metrics(params, n)

    def symbol_metrics(self, X: np.ndarray) -> pd.DataFrame:
        """Metrics of each strategy on each symbol: one row per (strategy, symbol), the
        columns ``strategy`` (row of ``X``), ``symbol``, the metrics."""
        m = self.symbol_metrics_array(X)
        names = self.symbols or ("",)
        frames = []
        for k, name in enumerate(names):
            df = metrics_frame(m[k])
            df.insert(0, "symbol", name)
            df.insert(0, "strategy", np.arange(m.shape[1]))
            frames.append(df)
        return pd.concat(frames, ignore_index=True).sort_values(
            ["strategy", "symbol"], kind="stable", ignore_index=True
        )

    def metrics(self, X: np.ndarray) -> pd.DataFrame:
        """All metrics of each strategy with its decoded parameters, as a DataFrame."""
        df = metrics_frame(self.metrics_array(X))
        params = pd.DataFrame(self.space.decode(np.asarray(X).reshape(-1, self.space.dims)))
        return pd.concat([params, df], axis=1)

    def signals(self, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Explicit (entries, exits) of one strategy, built with numpy from its indicators.

        Stops are not signals: pass ``stop_loss``/``take_profit`` to the naive simulator or
        use :meth:`metrics`.
        """
        return self.family.signals(params, self.data, self.options)
