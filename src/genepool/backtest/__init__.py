"""Backtests of populations of trading strategies: data, indicators, a fused numba simulator."""
