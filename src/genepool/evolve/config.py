"""``EvolveConfig``: every setting of a strategy-evolution run, from flags and/or a TOML file."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..algorithms._storage import check_storage
from ..backtest.constraints import strategy_space
from ..backtest.enums import METRIC_SENSES, METRICS
from ..backtest.gpu import check_device
from ..backtest.strategies import family_names
from ..backtest.walk_forward import WALK_FORWARD_MODES
from ..errors import ConfigError, check_float, check_int
from ..evaluation.registry import is_executor_name, names_text
from ..memory._size import parse_size

__all__ = [
    "DEMO",
    "EvolveConfig",
    "auto_min_trades",
    "check_types",
    "load_toml",
    "objective_senses",
    "parse_objectives",
]


#: The default ``min_trades`` (see :func:`auto_min_trades`).
MIN_TRADES_FLOOR = 3  # fewer trades than this is never a strategy one can judge
MIN_TRADES_PER_YEAR = 2  # per year of training data
MIN_BARS_PER_TRADE = 20  # never ask for more than one trade per 20 bars (monthly, weekly data)
MIN_TRADES_RULE = (
    f"auto: {MIN_TRADES_PER_YEAR} per year of training data, at most 1 per "
    f"{MIN_BARS_PER_TRADE} bars, at least {MIN_TRADES_FLOOR}"
)


def auto_min_trades(index: pd.Index, bars_per_year: float | None = None) -> int:
    """The default ``min_trades`` of a run: an expected-trades floor for its training bars.

    ``max(3, min(ceil(2 * years), n_bars // 20))``: two trades per year of training data, so a
    strategy's Sharpe rests on more than a couple of bets, but never more than one trade per
    20 bars (a few years of monthly bars would otherwise ask for the impossible), and at least
    3. ``years`` is the calendar span of a DatetimeIndex, otherwise ``n_bars / bars_per_year``
    (the floor of 3 when neither is known).

    Examples
    --------
    >>> import pandas as pd
    >>> auto_min_trades(pd.bdate_range("2004-08-19", periods=430))  # 1.7 years of daily bars
    4
    >>> auto_min_trades(pd.date_range("2000-01-01", periods=120, freq="MS"))  # 10 years monthly
    6
    """
    n = len(index)
    if isinstance(index, pd.DatetimeIndex) and n >= 2:
        years = (index[-1] - index[0]) / pd.Timedelta(days=365.25)
    elif bars_per_year:
        years = n / bars_per_year
    else:
        return MIN_TRADES_FLOOR
    return max(
        MIN_TRADES_FLOOR, min(math.ceil(MIN_TRADES_PER_YEAR * years), n // MIN_BARS_PER_TRADE)
    )


@dataclass
class EvolveConfig:
    """Settings of ``genepool evolve`` (the same keys in a TOML ``--config`` file).

    Attributes
    ----------
    data : str or None
        CSV (optionally compressed) or Parquet file of OHLCV bars; None with ``demo``.
    time_column, price_column : str or None
        The data's time column and the column traded as close (default: found by name; see
        :func:`~genepool.backtest.validate_ohlcv`).
    sep : str or None
        The CSV separator (default: detected; ``\\t`` or ``tab`` for tabs).
    bars_per_year : float or None
        Annualization of the metrics; None: counted on the data's calendar
        (:func:`~genepool.backtest.infer_bars_per_year`).
    demo : bool
        Use the embedded demo data (20,000 hourly bars of a regime-switching random walk).
    strategy : str
        Strategy family: ``rsi``, ``ma_cross``, ``bollinger``, ``macd``, ``breakout``.
    objective : str
        Metric to maximize (``sharpe_ratio``, ``sortino_ratio``, ``calmar_ratio``,
        ``total_return``, ...; ``-name`` minimizes). In a multi-objective run, the objectives
        joined by commas (set by :meth:`validate`).
    objectives : list of str or None
        Two or more metrics: a multi-objective run (NSGA-II), each metric in its natural sense
        (:data:`~genepool.backtest.enums.METRIC_SENSES`; ``-name`` minimizes the metric's
        value instead). A comma-separated string is split. One name is the single-objective
        run of ``objective`` (the GA), in that metric's natural sense. None: ``objective``.
    population, generations : int
    storage : {"memory", "disk"}
        Where the GA's population lives: in memory, or on memory-mapped files in the run
        directory's ``population/`` folder (:class:`~genepool.GA`'s ``storage``).
    device : {"cpu", "cuda"}
        Where the strategies are backtested: the CPU kernel, or an NVIDIA GPU
        (:class:`~genepool.backtest.StrategyProblem`'s ``device``; the ``gpu`` extra).
    fees, slippage : float
        Per order, as fractions (0.001 = 0.1 %).
    min_trades : int or None
        Strategies with fewer trades in sample get the invalid fitness. None (or ``"auto"``):
        :func:`auto_min_trades` of the training bars (of each fold with ``walk_forward``).
    stops : bool
        Evolve stop-loss and take-profit levels too.
    memory_limit : str or None
        Memory budget of the process (``"2GB"``).
    seed : int or None
        Random seed; when None one is drawn and recorded in ``config.json``.
    out : str or None
        Run directory (default ``runs/<strategy>-<date>-<time>``).
    train_frac : float
        Share of the bars the GA sees (the rest is out of sample); 1.0 means no test split.
    walk_forward : int
        Number of walk-forward folds (0: a single train/test split).
    walk_forward_mode : {"rolling", "anchored"}
        Rolling: train on the segment before each test segment; anchored: on everything before.
    hall_of_fame : int
        Distinct strategies kept and re-evaluated out of sample.
    checkpoint_every : int
        Generations between checkpoints.
    executor : str
        ``serial`` (default), ``processes`` or ``dask``.
    workers : int or None
        Worker processes for the ``processes``/``dask`` executors.
    scheduler : str or None
        Address of a Dask scheduler (``tcp://host:8786``).
    cache : bool or None
        The exact fitness cache: None (default) on, turning itself off when it does not pay;
        False off (``--no-cache``); True on for the whole run (``--cache``).
    ranges : dict or None
        Search ranges replacing the family's defaults, ``{"window": [5, 100]}`` (TOML
        ``ranges = {window = [5, 100]}`` or an ``[evolve.ranges]`` table); validated against the
        family's constraints (``genepool.backtest.constraints``).
    """

    data: str | None = None
    demo: bool = False
    time_column: str | None = None
    sep: str | None = None
    price_column: str | None = None
    bars_per_year: float | None = None
    strategy: str = "rsi"
    objective: str = "sharpe_ratio"
    population: int = 2000
    storage: str = "memory"
    device: str = "cpu"
    generations: int = 30
    fees: float = 0.001
    slippage: float = 0.0
    min_trades: int | None = None
    stops: bool = False
    memory_limit: str | None = None
    seed: int | None = None
    out: str | None = None
    train_frac: float = 0.7
    walk_forward: int = 0
    walk_forward_mode: str = "rolling"
    hall_of_fame: int = 20
    checkpoint_every: int = 1
    executor: str = "serial"
    workers: int | None = None
    scheduler: str | None = None
    ranges: dict[str, list[float]] | None = None
    objectives: list[str] | None = None
    store: str | None = None
    symbols: str | list[str] | None = None
    aggregate: str | None = None
    cache: bool | None = None

    @property
    def multi_objective(self) -> bool:
        """Whether this is a multi-objective (NSGA-II) run: two or more ``objectives``."""
        return self.objectives is not None and len(self.objectives) > 1

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_sources(cls, config_file: str | Path | None = None, **overrides: Any) -> EvolveConfig:
        """Defaults, then the TOML file, then the ``overrides`` that are not None."""
        values: dict[str, Any] = {}
        if config_file is not None:
            values.update(load_toml(config_file))
            check_types(values, f"{config_file}: ")  # even values that flags override
            if "objective" in values and "objectives" in values:
                raise ConfigError(
                    f"{config_file}: give either objective (one metric) or objectives "
                    "(several), not both"
                )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "objective" in given and "objectives" in given:
            raise ConfigError(
                "--objective and --objectives exclude each other: give one metric with "
                "--objective, or several with --objectives sharpe_ratio,max_drawdown"
            )
        for key, other in (("objective", "objectives"), ("objectives", "objective")):
            if key in given:  # a flag replaces the file's choice of objective(s)
                values.pop(other, None)
        values.update(given)
        unknown = sorted(set(values) - set(cls.keys()))
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown}; settings are {cls.keys()}")
        check_types(values)
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting."""
        if self.demo and self.data:
            raise ConfigError("give either --demo or --data, not both")
        self._validate_universe()
        if not self.demo and not self.data and not self.store:
            raise ConfigError(
                "no price data: give --data prices.csv, --store DIR (a market data store), "
                "or --demo"
            )
        for key in ("time_column", "sep", "price_column"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{key} must be a non-empty string, got {value!r}")
        if self.sep in ("\\t", "tab"):
            self.sep = "\t"
        if self.bars_per_year is not None:
            self.bars_per_year = check_float(
                "bars_per_year", self.bars_per_year, low=0.0, low_inclusive=False
            )
        if self.strategy not in family_names():
            raise ConfigError(
                f"unknown strategy {self.strategy!r}; choose one of {family_names()}"
            )
        self.population = check_int("population", self.population, minimum=2)
        check_storage(self.storage, None)
        check_device(self.device)
        self.generations = check_int("generations", self.generations, minimum=1)
        self.fees = check_float("fees", self.fees, low=0.0, high=1.0, high_inclusive=False)
        self.slippage = check_float(
            "slippage", self.slippage, low=0.0, high=1.0, high_inclusive=False
        )
        if self.min_trades == "auto":
            self.min_trades = None
        if self.min_trades is not None:
            self.min_trades = check_int("min_trades", self.min_trades, minimum=0)
        if self.memory_limit is not None:
            parse_size(self.memory_limit)  # names the bad value
        if self.seed is not None:
            self.seed = check_int("seed", self.seed, minimum=0)
        self.train_frac = check_float(
            "train_frac", self.train_frac, low=0.1, high=1.0, low_inclusive=True
        )
        self.walk_forward = check_int("walk_forward", self.walk_forward, minimum=0)
        if self.walk_forward == 1:
            raise ConfigError("walk_forward must be 0 (off) or at least 2 folds, got 1")
        if self.walk_forward_mode not in WALK_FORWARD_MODES:
            raise ConfigError(
                f"walk_forward_mode must be one of {list(WALK_FORWARD_MODES)}, "
                f"got {self.walk_forward_mode!r}"
            )
        self.hall_of_fame = check_int("hall_of_fame", self.hall_of_fame, minimum=2)
        self.checkpoint_every = check_int("checkpoint_every", self.checkpoint_every, minimum=1)
        if not is_executor_name(self.executor):
            raise ConfigError(f"executor must be {names_text('or')}, got {self.executor!r}")
        if self.workers is not None:
            self.workers = check_int("workers", self.workers, minimum=1)
        if self.ranges is not None:
            strategy_space(self.strategy, self.stops, self.ranges)  # names the gene and values
            self.ranges = {k: list(v) for k, v in self.ranges.items()}
        if self.objectives is not None:
            names = parse_objectives(self.objectives)
            if len(names) == 1:  # one objective: the GA's run, as --objective would give
                metric, sense = objective_senses(names)[0]
                self.objective = metric if sense == "maximize" else f"-{metric}"
                self.objectives = None
            else:
                self.objectives = names
                self.objective = ",".join(names)
                if self.storage == "disk":
                    raise ConfigError(
                        "storage 'disk' is for single-objective runs (the GA): NSGA-II keeps "
                        "its population in memory"
                    )
                if self.walk_forward:
                    raise ConfigError(
                        "objectives with walk_forward is not supported: use one train/test "
                        "split (train_frac) with several objectives, or one objective with "
                        "walk-forward folds"
                    )

    def _validate_universe(self) -> None:
        """``store``, ``symbols`` and ``aggregate``: a store excludes ``data``/``demo``;
        symbols and aggregate need one (defaults ``all`` and ``mean``)."""
        from .universe import check_aggregate, symbol_names

        if self.store is None:
            for key in ("symbols", "aggregate"):
                if getattr(self, key) is not None:
                    raise ConfigError(f"{key} selects from a market data store: give --store DIR")
            return
        if not isinstance(self.store, (str, os.PathLike)) or not str(self.store):
            raise ConfigError(f"store must be a directory, got {self.store!r}")
        self.store = str(self.store)
        if self.data or self.demo:
            given = "--data" if self.data else "--demo"
            raise ConfigError(f"give either --store (a universe of symbols) or {given}, not both")
        self.symbols = symbol_names("all" if self.symbols is None else self.symbols)
        self.aggregate = check_aggregate("mean" if self.aggregate is None else self.aggregate)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if out["objectives"] is None:  # a single-objective run's config.json is as it was
            del out["objectives"]
        if out["store"] is None:  # and so is a run on one series'
            for key in ("store", "symbols", "aggregate"):
                del out[key]
        return out


def parse_objectives(value: Any) -> list[str]:
    """The objective names of ``objectives`` (a list of names, or one comma-separated
    string), checked: each a metric (``-`` in front minimizes its value), none twice.

    Raises
    ------
    ConfigError
        Starting with ``objectives`` and naming the bad name: empty, not a metric (with the
        closest metric and the list of metrics), or a metric given twice.
    """
    import difflib

    if isinstance(value, str):
        parts = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise ConfigError(
            f"objectives must be metric names (a list, or text like "
            f"'sharpe_ratio,max_drawdown'), got {value!r}"
        )
    names = [p.strip() for p in parts]
    if not names or any(not n or n == "-" for n in names):
        raise ConfigError(f"objectives has an empty name in {value!r}; separate names by commas")
    seen: dict[str, str] = {}
    for name in names:
        metric = name[1:] if name.startswith("-") else name
        if metric not in METRICS:
            close = difflib.get_close_matches(metric, METRICS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"objectives names an unknown metric {metric!r}{hint}; metrics are "
                f"{', '.join(METRICS)}"
            )
        if metric in seen:
            raise ConfigError(
                f"objectives names the metric {metric!r} twice ({seen[metric]!r} and "
                f"{name!r}); give each metric once"
            )
        seen[metric] = name
    return names


def objective_senses(names: list[str]) -> list[tuple[str, str]]:
    """``(metric, sense)`` of each objective name: the metric's natural sense
    (:data:`~genepool.backtest.enums.METRIC_SENSES`), or ``"minimize"`` for ``-metric``.

    Examples
    --------
    >>> objective_senses(["sharpe_ratio", "max_drawdown", "annualized_volatility"])
    [('sharpe_ratio', 'maximize'), ('max_drawdown', 'maximize'), \
('annualized_volatility', 'minimize')]
    """
    return [(n[1:], "minimize") if n.startswith("-") else (n, METRIC_SENSES[n]) for n in names]


#: ``genepool evolve --demo``: the RSI family on the demo data, about 20 s on 2 cores.
DEMO = {"demo": True, "strategy": "rsi", "population": 4000, "generations": 25, "seed": 7}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Settings from a TOML file (top-level keys, or an ``[evolve]`` table; ``-`` or ``_``)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    if isinstance(doc.get("evolve"), dict):
        doc = doc["evolve"]
    return {str(k).replace("-", "_"): v for k, v in doc.items()}


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str, os.PathLike),
    "bool": (bool, np.bool_),
    "int": (int, np.integer),
    "float": (int, float, np.integer, np.floating),
    "None": (type(None),),
}
_TYPE_WORDS = {"str": "text", "bool": "true or false", "int": "an integer", "float": "a number"}


def check_types(values: dict[str, Any], where: str = "") -> None:
    """Raise :class:`ConfigError` naming the first setting whose value has the wrong JSON/TOML
    type for its :class:`EvolveConfig` field (``"yes"`` for a bool, ``3`` for a path, ...).

    ``where`` prefixes the message (the file the values came from). Ranges and choices are
    checked later by :meth:`EvolveConfig.validate`.
    """
    for f in fields(EvolveConfig):
        if f.name not in values:
            continue
        names = [t.strip() for t in str(f.type).split("|")]
        if not all(t in _TYPES for t in names):
            continue  # a type this check does not know: validate() has the last word
        value = values[f.name]
        allowed = tuple(c for t in names for c in _TYPES[t])
        if f.name == "memory_limit":  # a size in bytes is fine too
            allowed += (int,)
        if f.name == "min_trades" and value == "auto":  # the default, spelled out
            continue
        if isinstance(value, bool) and bool not in allowed:
            ok = False
        else:
            ok = isinstance(value, allowed)
        if not ok:
            wanted = " or ".join(_TYPE_WORDS.get(t, "absent") for t in names if t != "None")
            raise ConfigError(f"{where}{f.name} must be {wanted}, got {value!r}")
