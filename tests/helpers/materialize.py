"""Child process for the memory-budget tests: a fitness that allocates per candidate.

Usage: python materialize.py LIMIT|none POPULATION MB_PER_CANDIDATE GENERATIONS [--hint]
Prints one JSON line with genepool's own peaks (RSS, anonymous, file-backed) and the chunk sizes.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import genepool as gp


class Materializing(gp.Problem):
    """Touches ``mb`` MiB per candidate at once, like a backtest building T x N arrays."""

    def __init__(self, mb: float, hint: bool) -> None:
        self.space = gp.Space.box(-1.0, 1.0, 4)
        self.per = int(mb * 2**20)
        self.hint = hint

    def evaluate(self, X):
        block = np.ones((X.shape[0], self.per // 8))  # written, so resident
        return block[:, :4].sum(axis=1) * 0 + (X**2).sum(axis=1)

    def bytes_per_candidate(self):
        return self.per if self.hint else None


def main() -> None:
    limit = None if sys.argv[1] == "none" else sys.argv[1]
    pop, mb, gens = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    prob = Materializing(mb, hint="--hint" in sys.argv)
    res = gp.minimize(
        prob, gp.GA(prob.space, pop, seed=0), generations=gens, memory_limit=limit, progress=False
    )
    print(
        json.dumps(
            {
                "peak_rss": res.memory.peak_rss,
                "peak_anon": res.memory.peak_anon,
                "peak_file": res.memory.peak_file,
                "chunk_sizes": res.memory.chunk_sizes,
                "best": res.best_fitness,
                "start_rss": res.memory.start_rss,
                "bytes_per_candidate": res.memory.bytes_per_candidate,
            }
        )
    )


if __name__ == "__main__":
    main()
