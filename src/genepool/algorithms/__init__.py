"""Optimizers: ask/tell state machines built from :mod:`genepool.operators`."""

from .base import Optimizer
from .ga import GA, GAState
from .pso import PSO, PSOState

__all__ = ["GA", "PSO", "GAState", "Optimizer", "PSOState"]
