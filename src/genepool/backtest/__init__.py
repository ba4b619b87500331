"""Backtests of populations of trading strategies: data, indicators, a fused numba simulator.

- :func:`simulate_signals` backtests explicit signals (vectorbt's ``from_signals`` rules).
- :class:`StrategyProblem` evaluates a GA population of strategies of one family in one fused
  pass per strategy, with each unique indicator computed once.
"""

from . import indicators
from .calendar import BarsPerYear, infer_bars_per_year
from .data import demo_data, load_ohlcv, synthetic_ohlcv, validate_ohlcv
from .enums import METRICS
from .problem import INVALID_FITNESS, StrategyProblem
from .simulate import annualization_factor, simulate_signals
from .strategies import family_names, get_family

__all__ = [
    "INVALID_FITNESS",
    "METRICS",
    "BarsPerYear",
    "StrategyProblem",
    "annualization_factor",
    "demo_data",
    "family_names",
    "get_family",
    "indicators",
    "infer_bars_per_year",
    "load_ohlcv",
    "simulate_signals",
    "synthetic_ohlcv",
    "validate_ohlcv",
]
