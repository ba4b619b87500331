"""Optimizers: ask/tell state machines built from :mod:`genepool.operators`."""

from .archive import ParetoArchive
from .base import Optimizer
from .ga import GA, GAState
from .nsga2 import NSGA2, NSGA2State
from .pso import PSO, PSOState

__all__ = [
    "GA",
    "NSGA2",
    "PSO",
    "GAState",
    "NSGA2State",
    "Optimizer",
    "PSOState",
    "ParetoArchive",
]
