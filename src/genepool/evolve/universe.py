"""``genepool evolve --store DIR --symbols ...``: evolution over a universe of symbols.

The runner splits its data by bar positions (``data.iloc[fold.train]``); a universe is split
the same way on its **union calendar**: the sorted distinct bar times of the selected symbols
(UTC). A split at union position ``b`` is the time ``t = index[b]``: each symbol's bars before
``t`` are in sample, its bars from ``t`` on out of sample. With one symbol this is exactly the
split of that symbol's frame (``--data``), and a symbol on a sparser calendar (daily bars among
hourly ones) is cut at the same moment as every other.

Each training or test range becomes a :class:`~genepool.backtest.StrategyProblem` on the
store with ``start=``/``end=`` (memory-mapped, evaluated block by block), whose fitness is the
aggregate (``--aggregate``) of the per-symbol metrics. The best strategy's equity, drawdown and
the returns its verdict is drawn from are those of the **equal-weight portfolio** of its
per-symbol runs: each symbol starts with the initial cash, a symbol is held in cash before its
first bar and carried at its last value after its last bar, and the portfolio is their mean, on
the union calendar (no rebalancing).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from ..backtest.calendar import BarsPerYear, infer_bars_per_year
from ..backtest.enums import METRICS, TRADE_DTYPE
from ..backtest.trace import Trace, trace_strategy, trades_frame
from ..backtest.universe import AGGREGATES
from ..errors import ConfigError, DataError

__all__ = [
    "SYMBOLS_FILE",
    "SYMBOLS_TOP",
    "Bars",
    "UniverseData",
    "check_aggregate",
    "check_splits",
    "open_universe",
    "portfolio_tracer",
    "symbols_block",
    "universe_annualization",
    "universe_info",
    "write_symbol_metrics",
]

#: The per-symbol metrics of the hall of fame's best strategies, in and out of sample.
SYMBOLS_FILE = "symbols.parquet"
#: Strategies of the hall of fame (or front) whose per-symbol metrics are kept.
SYMBOLS_TOP = 5


def check_aggregate(value: Any) -> str:
    """``value`` if it is an aggregate (:data:`~genepool.backtest.universe.AGGREGATES`),
    else ConfigError naming the closest one."""
    if value in AGGREGATES:
        return str(value)
    close = difflib.get_close_matches(str(value), AGGREGATES, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {value!r}{hint}")


def symbol_names(value: Any) -> str:
    """``--symbols`` as one comma-separated text (a TOML list is joined), checked not empty."""
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"symbols must be names (text), got {value!r}")
        value = ",".join(value)
    if not isinstance(value, str):
        raise ConfigError(f"symbols must be names like 'AAPL,MSFT' or 'all', got {value!r}")
    names = [s.strip() for s in value.split(",")]
    if not any(names):
        raise ConfigError("symbols is empty: name at least one symbol (AAPL,MSFT), or all")
    if not all(names):
        raise ConfigError(f"symbols has an empty name in {value!r}; separate names by commas")
    return ",".join(names)


@dataclass(frozen=True)
class UniverseData:
    """The selected symbols' bars in ``[index[0], end)``, split like a frame by position.

    ``index`` is the union calendar (UTC) of the symbols' bars in the range; ``len`` and
    ``iloc[a:b]`` work on it as on a DataFrame of prices (the runner's splits).
    """

    store: Any
    symbols: tuple[str, ...]
    index: pd.DatetimeIndex
    end: pd.Timestamp | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def start(self) -> pd.Timestamp:
        return self.index[0]

    @property
    def iloc(self) -> _Positions:
        return _Positions(self)


#: What the runner evolves on: one series' bars, or a universe of a store's symbols.
Bars = Union[pd.DataFrame, UniverseData]


class _Positions:
    def __init__(self, data: UniverseData) -> None:
        self.data = data

    def __getitem__(self, where: slice) -> UniverseData:
        if not isinstance(where, slice) or where.step not in (None, 1):
            raise TypeError("a universe is cut by slices of bar positions")
        d = self.data
        lo, hi, _ = where.indices(len(d.index))
        end = d.index[hi] if hi < len(d.index) else d.end
        return UniverseData(d.store, d.symbols, d.index[lo:hi], end)


def open_universe(store_dir: str, symbols: str) -> UniverseData:
    """The universe of ``symbols`` (``"all"`` or names) in the store at ``store_dir``.

    Raises DataError naming the directory when it is not a store, or the unknown symbol with
    the closest names.
    """
    from ..backtest.store import open_store

    path = Path(store_dir)
    if not path.is_dir():
        raise DataError(f"--store {store_dir}: no such directory")
    store = open_store(path.resolve())  # workers (processes, Dask) open it by this path
    if symbols.strip().lower() == "all":
        names = tuple(store.symbols)
        if not names:
            raise DataError(f"--store {store_dir} holds no symbols")
    else:
        names = tuple(s.strip() for s in symbols.split(","))
        dupes = sorted({s for s in names if names.count(s) > 1})
        if dupes:
            raise ConfigError(f"symbols lists {', '.join(dupes)} more than once")
        for name in names:
            if name not in store:
                close = difflib.get_close_matches(name, store.symbols, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise DataError(
                    f"--symbols: {name!r} is not in the store {store_dir}{hint} (its symbols: "
                    f"{_listing(store.symbols)}; genepool data info {store_dir})"
                )
    return UniverseData(store, names, union_index(store, names))


def min_bars(strategy: str, stops: bool, ranges: Any) -> int:
    """Bars a symbol needs in a range: one more than the family's longest indicator window
    (as :class:`~genepool.backtest.StrategyProblem` requires)."""
    from ..backtest.constraints import strategy_space
    from ..backtest.strategies import get_family

    space = strategy_space(strategy, stops, ranges)
    highs = {}
    for gene in space.genes:
        high = getattr(gene, "high", None)
        if isinstance(high, int):
            highs[gene.name] = np.array([high])
    return int(get_family(strategy).longest_window(highs)) + 1


def check_splits(data: UniverseData, splits: Sequence[Any], need: int = 1) -> None:
    """DataError naming the first symbol with no bars (or fewer than ``need``) in a training
    or test range of ``splits`` (:class:`~genepool.backtest.walk_forward.Fold`), before
    anything runs."""
    ranges = []
    for fold in splits:
        name = f"fold {fold.index + 1} " if len(splits) > 1 else ""
        ranges.append((f"{name}training range", data.iloc[fold.train]))
        if fold.test is not None:
            ranges.append((f"{name}test range", data.iloc[fold.test]))
    for symbol in data.symbols:
        times = data.store.times(symbol)
        for what, part in ranges:
            lo = int(np.searchsorted(times, part.start.value, side="left"))
            hi = (
                len(times)
                if part.end is None
                else int(np.searchsorted(times, part.end.value, side="left"))
            )
            if hi - lo < need:
                first, last = (pd.Timestamp(int(times[i]), tz="UTC") for i in (0, -1))
                has = "no bars" if hi <= lo else f"only {hi - lo:,} bars"
                why = "" if hi <= lo else f"; at least {need:,} are needed (the longest window)"
                raise DataError(
                    f"--symbols: {symbol} has {has} in the {what} {part.index[0]} .. "
                    f"{part.index[-1]} (its bars run from {first} to {last}){why}; leave it "
                    "out of --symbols, or change --train-frac / --walk-forward"
                )


def _listing(names: Sequence[str], most: int = 10) -> str:
    shown = ", ".join(names[:most])
    return shown + (f", ... ({len(names):,} in all)" if len(names) > most else "")


def union_index(store: Any, names: Sequence[str]) -> pd.DatetimeIndex:
    """Sorted distinct bar times (UTC) of ``names``: one pass per symbol, O(union) memory."""
    union: np.ndarray | None = None
    for name in names:
        times = np.asarray(store.times(name))
        if union is None:
            union = np.array(times)
        elif len(times) != len(union) or not np.array_equal(times, union):
            union = np.union1d(union, times)
    assert union is not None
    return pd.DatetimeIndex(union.view("M8[ns]"), name="time").tz_localize("UTC")


def universe_annualization(data: UniverseData, given: float | None) -> BarsPerYear:
    """The run's bars per year: given, else counted on the union calendar (what the portfolio
    and its verdict are annualized with; each symbol's own metrics use its own calendar)."""
    if given is not None:
        return BarsPerYear(float(given), "given with --bars-per-year (every symbol)")
    found = infer_bars_per_year(data.index)
    return BarsPerYear(
        found.value,
        f"the union calendar of {len(data.symbols):,} symbol"
        f"{'s' if len(data.symbols) != 1 else ''} ({found.method}); each symbol's metrics by "
        "its own calendar",
    )


def universe_info(data: UniverseData, store_dir: str, aggregate: str) -> dict[str, Any]:
    """What ``config.json`` records of a universe: the store, symbols, aggregate, the union
    calendar's size and span, and a SHA-256 over the symbols' manifest entries (their bars'
    checksums), which ``genepool resume`` checks."""
    h = hashlib.sha256()
    for name in data.symbols:
        entry = data.store.manifest["symbols"][name]
        h.update(json.dumps([name, entry], sort_keys=True, default=str).encode())
    return {
        "source": str(Path(store_dir).resolve()),
        "sha256": h.hexdigest(),
        "n_bars": len(data),
        "start": data.index[0],
        "end": data.index[-1],
        "store": str(Path(store_dir).resolve()),
        "symbols": list(data.symbols),
        "aggregate": aggregate,
    }


# -- the problem of one range ---------------------------------------------------------------------
def universe_problem(kind: type, data: UniverseData, objective: Any, **options: Any) -> Any:
    """``kind`` (a StrategyProblem class) on the store's symbols in ``data``'s range."""
    return kind(
        data.store,
        objective=objective,
        symbols=list(data.symbols),
        start=data.start,
        end=data.end,
        **options,
    )


# -- the equal-weight portfolio of one strategy's per-symbol runs --------------------------------
class _Tracer:
    """Replays strategies on each symbol of a universe problem and averages their values on
    the union calendar ``index`` (computed once, shared by every strategy traced)."""

    def __init__(self, problem: Any, index: pd.DatetimeIndex | None) -> None:
        from ..backtest.store import open_store

        self.problem = problem
        self.store = open_store(problem.store_path)
        self.views = [_symbol_view(problem, s) for s in problem.universe]
        self.times = [
            np.asarray(self.store.times(s.name)[s.first : s.first + s.n_bars])
            for s in problem.universe
        ]
        if index is None:
            index = pd.DatetimeIndex(
                np.unique(np.concatenate(self.times)).view("M8[ns]"), name="time"
            ).tz_localize("UTC")
        self.index = index
        self.union = index.asi8 if index.tz is not None else index.tz_localize("UTC").asi8

    def trace(self, params: dict[str, Any], bar_offsets: Sequence[int] | None = None) -> Trace:
        cash = float(self.problem.init_cash)
        total = np.zeros(len(self.union))
        trades = []
        for k, (view, times) in enumerate(zip(self.views, self.times)):
            sym_index = pd.DatetimeIndex(times.view("M8[ns]"), name="time").tz_localize("UTC")
            offset = 0 if bar_offsets is None else int(bar_offsets[k])
            tr = trace_strategy(view, params, index=sym_index, bar_offset=offset)
            value = tr.value.to_numpy()
            if len(times) == len(self.union):  # the union's calendar itself: no carrying
                total += value
            else:  # cash before the symbol's first bar, its last value between and after
                at = np.searchsorted(times, self.union, side="right") - 1
                total += np.where(at >= 0, value[np.maximum(at, 0)], cash)
            if len(tr.trades):
                trades.append(tr.trades.assign(symbol=view.symbol_name))
        value = total / len(self.views)
        prev = np.concatenate(([cash], value[:-1]))
        returns = (value - prev) / prev
        frame = (
            pd.concat(trades, ignore_index=True)
            if trades
            else trades_frame(np.zeros(0, dtype=TRADE_DTYPE), self.index).assign(symbol="")
        )
        if len(frame) and "entry_time" in frame:
            frame = frame.sort_values(["entry_time", "symbol"], kind="stable", ignore_index=True)
        return Trace(
            pd.Series(value, index=self.index, name="value"),
            returns,
            frame,
            np.zeros(0, dtype=TRADE_DTYPE),
        )


def _symbol_view(problem: Any, series: Any) -> Any:
    """``problem`` on one symbol's arrays (a shallow copy: nothing copied, nothing read)."""
    view = copy.copy(problem)
    data = {k: np.asarray(v) for k, v in series.arrays.items()}
    for name in ("close", "high", "low"):
        data.setdefault(name, data["close"])
    view.data = data
    view.universe = None
    view.n_bars = series.n_bars
    view.ann_factor = series.ann_factor
    view.index = None
    view.symbol_name = series.name
    return view


def portfolio_tracer(problem: Any, index: pd.DatetimeIndex | None = None) -> _Tracer:
    """A tracer of ``problem``'s strategies as equal-weight portfolios of their per-symbol
    runs on the union calendar ``index`` (default: the problem's symbols' bars)."""
    return _Tracer(problem, index)


# -- per-symbol metrics of the best strategies ----------------------------------------------------
def symbol_table(problem: Any, test_problem: Any, top_X: np.ndarray) -> pd.DataFrame:
    """``rank, symbol, is_<metric>..., oos_<metric>...`` of the first :data:`SYMBOLS_TOP`
    strategies of ``top_X`` on every symbol (in the problem's symbol order)."""
    X = top_X[:SYMBOLS_TOP]
    is_m = problem.symbol_metrics(X)
    table = pd.DataFrame({"rank": is_m["strategy"].to_numpy() + 1, "symbol": is_m["symbol"]})
    for m in METRICS:
        table[f"is_{m}"] = is_m[m].to_numpy()
    if test_problem is not None:
        oos_m = test_problem.symbol_metrics(X)
        for m in METRICS:
            table[f"oos_{m}"] = oos_m[m].to_numpy()
    order = {s: i for i, s in enumerate(problem.symbols)}
    table["_order"] = table["symbol"].map(order)
    return (
        table.sort_values(["rank", "_order"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def symbols_block(table: pd.DataFrame, aggregate: str, trials_factor: int) -> dict[str, Any]:
    """``best.json``'s ``symbols``: the aggregate, the names and the best strategy's metrics
    on each symbol, in and out of sample."""
    best = table[table["rank"] == 1]
    out: dict[str, Any] = {
        "aggregate": aggregate,
        "names": [str(s) for s in best["symbol"]],
        "trials_per_strategy": trials_factor,
        "in_sample": {},
        "out_of_sample": None,
    }
    has_oos = any(c.startswith("oos_") for c in table.columns)
    if has_oos:
        out["out_of_sample"] = {}
    for _, row in best.iterrows():
        name = str(row["symbol"])
        out["in_sample"][name] = {m: row[f"is_{m}"] for m in METRICS}
        if has_oos:
            out["out_of_sample"][name] = {m: row[f"oos_{m}"] for m in METRICS}
    return out


def write_symbol_metrics(
    run_dir: Path, problem: Any, test_problem: Any, top_X: np.ndarray
) -> dict[str, Any] | None:
    """Write ``symbols.parquet`` of a universe run and return its ``best.json`` block (None,
    and nothing written, for a run on one series)."""
    from . import _files as F

    if getattr(problem, "universe", None) is None:
        return None
    table = symbol_table(problem, test_problem, top_X)
    F.write_frame(run_dir / SYMBOLS_FILE, table)
    from .verdicts import symbols_per_trial

    return symbols_block(table, problem.aggregate, symbols_per_trial(problem))
