"""Shared test fixtures (imported as a plain module: tests/ is on sys.path)."""

from __future__ import annotations

import numpy as np

import genepool as gp

MIXED_SPACE = gp.Space(
    [
        gp.Real("a", -3.0, 3.0),
        gp.Real("lr", 1e-4, 1e-1, log=True),
        gp.Integer("n", 0, 9),
        gp.Categorical("c", ["x", "y", "z"]),
        gp.Bool("flag"),
    ]
)


def mixed_fitness(X: np.ndarray) -> np.ndarray:
    """A deterministic fitness on MIXED_SPACE with a unique optimum."""
    p = MIXED_SPACE.decode(X)
    return (
        (p["a"] - 1.0) ** 2
        + (np.log10(p["lr"]) + 2.0) ** 2
        + np.abs(p["n"] - 4)
        + (p["c"] != "z")
        + p["flag"]
    )


#: History columns that a seed fixes (wall_time and rss are measured, not computed).
DETERMINISTIC = [
    "generation",
    "best",
    "generation_best",
    "mean",
    "std",
    "diversity",
    "evaluations",
]


class CrashAt:
    """A callback that raises at one generation: a crash after the last checkpoint."""

    def __init__(self, generation: int) -> None:
        self.generation = generation

    def __call__(self, info: gp.Generation) -> None:
        if info.generation == self.generation:
            raise RuntimeError("simulated crash")
