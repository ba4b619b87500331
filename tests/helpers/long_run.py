"""Child process: RSS of a long run at generation 100 and at the end (bytes), as JSON."""

from __future__ import annotations

import json
import sys
import tempfile

import psutil

import genepool as gp


def main() -> None:
    generations = int(sys.argv[1])
    rss = {}
    proc = psutil.Process()

    def probe(info: gp.Generation) -> None:
        if info.generation in (100, generations // 2, generations):
            rss[info.generation] = proc.memory_info().rss

    space = gp.Space.box(-1.0, 1.0, 3)
    with tempfile.TemporaryDirectory() as d:
        res = gp.minimize(
            gp.problems.sphere,
            gp.GA(space, 8, seed=0),
            generations=generations,
            run_dir=d,
            history_capacity=50,
            callbacks=[probe],
            progress=False,
        )
        n_rows = len(res.history)
    print(json.dumps({"rss": rss, "rows": n_rows, "leak": res.memory.leak_detected}))


if __name__ == "__main__":
    main()
