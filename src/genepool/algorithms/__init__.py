"""Optimizers: ask/tell state machines built from :mod:`genepool.operators`."""

from .base import Optimizer
from .ga import GA, GAState

__all__ = ["GA", "GAState", "Optimizer"]
