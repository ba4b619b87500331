"""What a report shows: the :class:`ReportData` container and its validation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..run.direction import Direction
from ._format import is_number

__all__ = ["HISTORY_COLUMNS", "MEMORY_COLUMNS", "TRADE_COLUMNS", "ReportData", "validate"]

HISTORY_COLUMNS = ("generation", "best", "mean", "std")
MEMORY_COLUMNS = ("generation", "rss")
TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "pnl",
    "return",
    "sample",
)


@dataclass
class ReportData:
    """Everything the HTML report of one strategy-evolution run shows.

    Parameters
    ----------
    title : str
        Headline of the report, e.g. ``"rsi on prices.csv, seed 7"``.
    config : dict
        Run configuration; nested dicts are shown flattened (``{"a": {"b": 1}}`` as ``a.b``).
    history : DataFrame
        One row per generation with columns ``generation, best, mean, std`` in the user's sign;
        other columns are ignored.
    memory : DataFrame
        One row per generation with columns ``generation, rss`` (bytes) and optionally
        ``chunk_size`` (0 or NaN when unknown), ``anon`` (the budgeted anonymous memory) and
        ``file`` (file-backed residency: memory-mapped data). May be empty.
    memory_limit : int or None
        Memory budget in bytes; drawn as a line over the budgeted memory (``anon`` when
        present, else the RSS) when set.
    equity_in : Series of shape (n_bars_in,)
        Portfolio value per bar of the best strategy in sample (DatetimeIndex or a numeric
        index).
    equity_out : Series of shape (n_bars_out,) or None
        The same out of sample; None when the run had no test split.
    population : DataFrame of shape (n_individuals, n_genes + 1)
        Final population: one column per gene (float, int, str or bool) and ``fitness``.
    trades : DataFrame
        Trades of the best strategy with columns ``entry_time, exit_time, entry_price,
        exit_price, pnl, return, sample`` (``sample`` is ``"in"`` or ``"out"``). May be empty.
    best : dict
        ``{"params": {...}, "in_sample": {metric: value}, "out_of_sample": {...} or None}``.
    hall_of_fame : DataFrame
        Top strategies: parameter columns and in-/out-of-sample metric columns.
    verdict : dict
        ``{"text": str, "significant": bool or None, "dsr": float or None,
        "pbo": float or None, ...}``; further keys are shown as extra statistics.
    walk_forward : DataFrame or None, optional
        One row per fold: ``fold, train_start, train_end, test_start, test_end`` and metrics.
        The section is left out when None.
    walk_forward_metrics : sequence of str or None, optional
        Columns of ``walk_forward`` drawn as per-fold bars; by default the numeric columns whose
        names start with ``test``/``oos``/``out`` (all numeric metric columns when none does).
    subtitle : str or None, optional
        One line under the title (e.g. when and where the run was made).
    status : str or None, optional
        Outcome of the run (``"complete"``, ``"interrupted"``, ``"no valid strategy"``, ...);
        anything but ``"complete"`` is shown as a warning at the top.
    warnings : sequence of str, optional
        Warnings of the run, shown prominently at the top.
    facts : dict, optional
        What the header states, from the run's own record (``best.json``), checked against
        what is plotted: ``generations`` (int, all folds together), ``folds`` (int, folds
        done) and ``split`` (timestamp where out of sample starts). A disagreement is shown as
        a warning and fails the self-check.
    initial_cash : float or None, optional
        Cash each segment starts with. When given, the out-of-sample equity is drawn continuing
        from the in-sample end value (scaled by ``equity_in[-1] / initial_cash``); when None it
        is drawn as it is, restarting, after a marked split.
    equity_in_label : str or None, optional
        What the in-sample curve is, when not simply "In sample" (e.g. the first
        walk-forward fold's training segment).
    direction : Direction, optional
        The sense of the fitness (default: maximized, as strategy evolution does): which end
        of ``population['fitness']`` is the best when ``best`` has no ``fitness``.
    front : DataFrame or None, optional
        A multi-objective run's reported Pareto front, one row per strategy, the pick first:
        ``pick`` (bool) and, per objective ``name`` of ``objectives``, ``is_<name>`` (in
        sample) and ``oos_<name>`` (out of sample, optional); other columns are the
        strategies' parameters, shown in its table. The section "Pareto front" is
        drawn when given; ``history`` then holds the hypervolume as ``best`` (``mean`` and
        ``std`` NaN) and ``population`` needs no ``fitness``.
    objectives : sequence of (name, sense), optional
        The objectives of ``front`` and their senses (``"maximize"`` / ``"minimize"``).
    front_note : str or None, optional
        How the pick was chosen and how many strategies the whole front holds.
    symbols : DataFrame or None, optional
        A universe run's per-symbol metrics of its best strategies: ``rank`` (1 the best),
        ``symbol``, ``is_<metric>`` and optionally ``oos_<metric>``. The section "Symbols" (a
        plot of the best strategy's Sharpe ratio per symbol and the table) is drawn when given.
    symbols_note : str or None, optional
        What the universe is: how many symbols, how the fitness aggregates them.
    """

    title: str
    config: dict[str, Any]
    history: pd.DataFrame
    memory: pd.DataFrame
    memory_limit: int | None
    equity_in: pd.Series
    equity_out: pd.Series | None
    population: pd.DataFrame
    trades: pd.DataFrame
    best: dict[str, Any]
    hall_of_fame: pd.DataFrame
    verdict: dict[str, Any]
    walk_forward: pd.DataFrame | None = None
    walk_forward_metrics: Sequence[str] | None = field(default=None)
    subtitle: str | None = None
    status: str | None = None
    warnings: Sequence[str] = ()
    facts: Mapping[str, Any] | None = None
    initial_cash: float | None = None
    equity_in_label: str | None = None
    direction: Direction = field(default_factory=Direction.maximize)
    front: pd.DataFrame | None = None
    objectives: Sequence[tuple[str, str]] = ()
    front_note: str | None = None
    symbols: pd.DataFrame | None = None
    symbols_note: str | None = None


def _frame(name: str, value: Any) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise ConfigError(
            f"ReportData.{name} must be a pandas DataFrame, got {type(value).__name__}"
        )
    return value


def _columns(name: str, df: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        have = [str(c) for c in df.columns]
        raise ConfigError(f"ReportData.{name} is missing column(s) {missing}; it has {have}")


def _series(name: str, value: Any) -> pd.Series:
    if not isinstance(value, pd.Series):
        raise ConfigError(f"ReportData.{name} must be a pandas Series, got {type(value).__name__}")
    if len(value) and not (
        pd.api.types.is_numeric_dtype(value.dtype) and not pd.api.types.is_bool_dtype(value.dtype)
    ):
        raise ConfigError(f"ReportData.{name} must hold numbers, got dtype {value.dtype}")
    return value


def _mapping(name: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, Mapping):
        raise ConfigError(f"ReportData.{name} must be a dict, got {type(value).__name__}")


def validate(data: ReportData) -> None:
    """Raise :class:`~genepool.errors.ConfigError` naming the first field of ``data`` that a
    report cannot be made of (wrong type or missing columns)."""
    if not isinstance(data, ReportData):
        raise ConfigError(f"expected a ReportData, got {type(data).__name__}")
    if not isinstance(data.title, str):
        raise ConfigError(f"ReportData.title must be a str, got {type(data.title).__name__}")
    if data.subtitle is not None and not isinstance(data.subtitle, str):
        raise ConfigError(f"ReportData.subtitle must be a str or None, got {data.subtitle!r}")
    _mapping("config", data.config)

    _columns("history", _frame("history", data.history), HISTORY_COLUMNS)
    memory = _frame("memory", data.memory)
    if len(memory):
        _columns("memory", memory, MEMORY_COLUMNS)
    limit = data.memory_limit
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit <= 0
    ):
        raise ConfigError(f"ReportData.memory_limit must be a positive int or None, got {limit!r}")

    _series("equity_in", data.equity_in)
    if data.equity_out is not None:
        _series("equity_out", data.equity_out)

    population = _frame("population", data.population)
    if data.front is None and (len(population) or len(population.columns)):
        _columns("population", population, ("fitness",))
    trades = _frame("trades", data.trades)
    if len(trades):
        _columns("trades", trades, TRADE_COLUMNS)

    _mapping("best", data.best)
    if "params" not in data.best or "in_sample" not in data.best:
        raise ConfigError(
            f"ReportData.best needs the keys 'params' and 'in_sample', got {list(data.best)}"
        )
    _mapping("best['params']", data.best["params"])
    _mapping("best['in_sample']", data.best["in_sample"])
    _mapping("best['out_of_sample']", data.best.get("out_of_sample"), optional=True)

    _frame("hall_of_fame", data.hall_of_fame)
    _mapping("verdict", data.verdict)
    if not isinstance(data.verdict.get("text"), str):
        raise ConfigError(
            f"ReportData.verdict['text'] must be a str, got {data.verdict.get('text')!r}"
        )

    if data.status is not None and not isinstance(data.status, str):
        raise ConfigError(f"ReportData.status must be a str or None, got {data.status!r}")
    if isinstance(data.warnings, str) or not all(isinstance(w, str) for w in data.warnings):
        raise ConfigError(f"ReportData.warnings must be a sequence of str, got {data.warnings!r}")
    _mapping("facts", data.facts, optional=True)
    if data.equity_in_label is not None and not isinstance(data.equity_in_label, str):
        raise ConfigError(
            f"ReportData.equity_in_label must be a str or None, got {data.equity_in_label!r}"
        )
    if not isinstance(data.direction, Direction):
        raise ConfigError(f"ReportData.direction must be a Direction, got {data.direction!r}")
    cash = data.initial_cash
    if cash is not None and (not is_number(cash) or not float(cash) > 0):
        raise ConfigError(f"ReportData.initial_cash must be a positive number, got {cash!r}")

    if data.front is not None:
        _frame("front", data.front)
        if len(data.objectives) < 2:
            raise ConfigError(
                f"ReportData.objectives must name the front's 2+ objectives, got "
                f"{list(data.objectives)!r}"
            )
        _columns("front", data.front, ["pick"] + [f"is_{n}" for n, _ in data.objectives])

    if data.symbols is not None:
        _columns("symbols", _frame("symbols", data.symbols), ("rank", "symbol"))
    if data.symbols_note is not None and not isinstance(data.symbols_note, str):
        raise ConfigError(
            f"ReportData.symbols_note must be a str or None, got {data.symbols_note!r}"
        )

    if data.walk_forward is not None:
        wf = _frame("walk_forward", data.walk_forward)
        if len(wf):
            _columns("walk_forward", wf, ("fold",))
        if data.walk_forward_metrics is not None:
            if isinstance(data.walk_forward_metrics, str):
                raise ConfigError(
                    "ReportData.walk_forward_metrics must be a sequence of column names, "
                    f"got the string {data.walk_forward_metrics!r}"
                )
            _columns("walk_forward", wf, list(data.walk_forward_metrics))
