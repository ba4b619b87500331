"""The compile cost of a cold start, measured: the warm-up run in fresh processes whose numba
cache is an empty folder (``NUMBA_CACHE_DIR``), so that every kernel the run needs compiles.

The problem and a small copy of the optimizer travel to the child pickled (with cloudpickle
where installed, as the process pool sends them); a problem that cannot be pickled is not
measured, and the profile says so. Each child prints one JSON line: the seconds numba spent
compiling, the kernels compiled, and its peak resident memory.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["COLD_REPEATS", "measure_cold_start"]

#: Fresh processes measured: their spread is the uncertainty of the compile time.
COLD_REPEATS = 2

_CHILD = """
import json, pickle, sys
from pathlib import Path
from genepool.profiling._probe import warm_up
from genepool.memory._proc import read_status
with open(sys.argv[1], "rb") as f:
    problem, optimizer, config, size, limit = pickle.load(f)
jit = warm_up(problem, optimizer, config, size, limit, Path(sys.argv[2]))
r = read_status()
print(json.dumps({"seconds": jit.compile_seconds, "compiled": jit.compiled,
                  "hwm": r.hwm if r is not None else 0}))
"""


def _dumps(payload: Any) -> bytes:
    try:
        import cloudpickle

        return bytes(cloudpickle.dumps(payload))
    except ImportError:
        return pickle.dumps(payload)


def measure_cold_start(
    problem: Any, optimizer: Any, config: Any, size: int, limit: int | None
) -> tuple[list[dict[str, float]], str | None]:
    """Compile measurements of :data:`COLD_REPEATS` fresh processes, or ([], why not)."""
    try:
        payload = _dumps((problem, optimizer.resized(size), config, size, limit))
    except Exception as exc:  # a lambda without cloudpickle, an open file, ...
        return [], f"the problem cannot be sent to a fresh process ({type(exc).__name__})"
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="genepool-cold-") as tmp:
        path = Path(tmp) / "payload.pkl"
        path.write_bytes(payload)
        for i in range(COLD_REPEATS):
            cache = Path(tmp) / f"numba-cache-{i}"
            cache.mkdir()
            env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(Path(tmp) / f"scratch-{i}")],
                capture_output=True,
                text=True,
                env=env,
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                return runs, f"a fresh process failed: {last}"
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs, None
