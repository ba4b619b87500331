"""genepool: evolutionary optimization at very large population sizes with bounded memory.

Populations are numpy arrays, operators are vectorized, and one seed fixes a run.

>>> import genepool as gp
>>> space = gp.Space.box(-5.12, 5.12, 10)
>>> result = gp.minimize(gp.problems.sphere, gp.GA(space, 100, seed=0), generations=20,
...                      progress=False)
>>> result.n_generations
20
"""

from __future__ import annotations

from . import checkpoint, errors, evaluation, indicators, memory, operators, problems  # noqa: F401
from ._version import __version__
from .algorithms import GA, NSGA2, PSO, GAState, NSGA2State, Optimizer, PSOState
from .evaluation import Evaluator, FitnessCache
from .problem import ElementwiseProblem, FunctionProblem, Problem, elementwise
from .profiling import Profile, plan, profile
from .run import Generation, MemoryReport, Result, maximize, minimize
from .space import Bool, Categorical, Gene, Integer, Real, Space

__all__ = [
    "GA",
    "NSGA2",
    "PSO",
    "Bool",
    "Categorical",
    "ElementwiseProblem",
    "Evaluator",
    "FitnessCache",
    "FunctionProblem",
    "GAState",
    "Gene",
    "Generation",
    "Integer",
    "MemoryReport",
    "NSGA2State",
    "Optimizer",
    "PSOState",
    "Problem",
    "Profile",
    "Real",
    "Result",
    "Space",
    "__version__",
    "elementwise",
    "errors",
    "evaluation",
    "indicators",
    "maximize",
    "memory",
    "minimize",
    "operators",
    "plan",
    "problems",
    "profile",
]
