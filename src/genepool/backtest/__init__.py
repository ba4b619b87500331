"""Backtests of populations of trading strategies: data, indicators, a fused numba simulator.

- :func:`simulate_signals` backtests explicit signals (vectorbt's ``from_signals`` rules).
- :class:`StrategyProblem` evaluates a GA population of strategies of one family in one fused
  pass per strategy, with each unique indicator computed once.
- :func:`import_store` and :func:`open_store` keep many symbols' bars in a memory-mapped store.
- :func:`walk_forward_splits` and :func:`holdout_split` cut bars into training and test ranges.
"""

from . import indicators
from .calendar import BarsPerYear, infer_bars_per_year
from .data import demo_data, load_ohlcv, synthetic_ohlcv, validate_ohlcv
from .enums import METRICS
from .problem import INVALID_FITNESS, StrategyProblem
from .simulate import annualization_factor, simulate_signals
from .store import MarketStore, import_store, open_store
from .strategies import family_names, get_family
from .walk_forward import Fold, holdout_split, walk_forward_splits

__all__ = [
    "INVALID_FITNESS",
    "METRICS",
    "BarsPerYear",
    "Fold",
    "MarketStore",
    "StrategyProblem",
    "annualization_factor",
    "demo_data",
    "family_names",
    "get_family",
    "holdout_split",
    "import_store",
    "indicators",
    "infer_bars_per_year",
    "load_ohlcv",
    "open_store",
    "simulate_signals",
    "synthetic_ohlcv",
    "validate_ohlcv",
    "walk_forward_splits",
]
