"""Before/after of a benchmark in one run: the same script at two git revisions, interleaved.

A redesign that must cost nothing is measured here: ``bench_engine.py`` or ``bench_backtest.py``
runs at the base revision (checked out in a temporary ``git worktree``, imported through
``PYTHONPATH``) and at the working tree, alternating base/new/new/base ... for ``--rounds``
rounds, so that load drift and thermal state hit both alike. Each benchmark's own method is
kept (warm-up, median of its repeats, fresh subprocesses); this script takes, per row, the
median over the rounds of each side's ``median_s`` and prints the ratio new/base (below 1:
faster now). The benchmark's own JSON of every round is kept beside the summary.

Usage::

    python benchmarks/bench_compare.py --base 72fd0f7 --bench engine -- --sizes 1000,100000 \\
        --peers none --repeats 5
    python benchmarks/bench_compare.py --base 72fd0f7 --bench backtest -- --quick --no-vectorbt

Writes ``benchmarks/results/bench_compare_<bench>.json`` (``--json`` to change).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
#: the columns that identify a row of each benchmark's JSON
KEYS = {"engine": ("library", "P"), "backtest": ("library", "T", "N")}


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _run(tree: Path, bench: str, extra: list[str], out: Path) -> list[dict[str, Any]]:
    """One run of ``bench_<bench>.py`` from ``tree`` (its own ``src`` first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    script = tree / "benchmarks" / f"bench_{bench}.py"
    cmd = [sys.executable, str(script), *extra, "--json", str(out)]
    print(f"# {tree.name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["rows"]


def _key(row: dict[str, Any], bench: str) -> tuple[Any, ...]:
    return tuple(row[k] for k in KEYS[bench])


def summarize(
    base: list[list[dict[str, Any]]], new: list[list[dict[str, Any]]], bench: str
) -> list[dict[str, Any]]:
    """Per row: each side's median over rounds of the benchmark's ``median_s``, and new/base."""
    times: dict[tuple[Any, ...], dict[str, list[float]]] = {}
    for side, runs in (("base", base), ("new", new)):
        for rows in runs:
            for r in rows:
                if r.get("median_s"):
                    times.setdefault(_key(r, bench), {"base": [], "new": []})[side].append(
                        float(r["median_s"])
                    )
    out = []
    for key, t in times.items():
        if not (t["base"] and t["new"]):
            continue
        b, n = statistics.median(t["base"]), statistics.median(t["new"])
        out.append(
            {
                **dict(zip(KEYS[bench], key)),
                "base_s": b,
                "new_s": n,
                "ratio": n / b,
                "base_runs": t["base"],
                "new_runs": t["new"],
            }
        )
    return out


def table(rows: list[dict[str, Any]], bench: str) -> str:
    head = [*KEYS[bench], "base s", "new s", "new/base", "spread base", "spread new"]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        spread = [f"{min(r[s]):.4g}-{max(r[s]):.4g}" for s in ("base_runs", "new_runs")]
        lines.append(
            " | ".join(
                [
                    *(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in KEYS[bench]),
                    f"{r['base_s']:.4g}",
                    f"{r['new_s']:.4g}",
                    f"{r['ratio']:.3f}",
                    *spread,
                ]
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--bench", choices=sorted(KEYS), required=True)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each side (interleaved)")
    ap.add_argument("--json", type=Path, default=None, help="summary output")
    ap.add_argument("extra", nargs="*", help="arguments for the benchmark (after --)")
    args = ap.parse_args(argv)
    base_rev = _git("rev-parse", "--short", args.base)
    head_rev = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    out_json = args.json or RESULTS / f"bench_compare_{args.bench}.json"
    with tempfile.TemporaryDirectory(prefix="genepool-bench-") as tmp:
        base_tree = Path(tmp) / f"base-{base_rev}"
        _git("worktree", "add", "--detach", str(base_tree), base_rev)
        try:
            base_runs: list[list[dict[str, Any]]] = []
            new_runs: list[list[dict[str, Any]]] = []
            for k in range(args.rounds):  # ABBA: base, new, new, base, ...
                order = [("base", base_tree), ("new", ROOT)]
                for side, tree in order if k % 2 == 0 else order[::-1]:
                    rows = _run(tree, args.bench, args.extra, Path(tmp) / f"{side}-{k}.json")
                    (base_runs if side == "base" else new_runs).append(rows)
        finally:
            _git("worktree", "remove", "--force", str(base_tree))
    rows = summarize(base_runs, new_runs, args.bench)
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "bench": args.bench,
        "base": base_rev,
        "new": head_rev + ("+dirty" if dirty else ""),
        "rounds": args.rounds,
        "rows": rows,
        "raw": {"base": base_runs, "new": new_runs},
    }
    print(f"# bench_{args.bench}: base {base_rev} vs {doc['new']}, {args.rounds} rounds each")
    print(table(rows, args.bench))
    ratios = [r["ratio"] for r in rows]
    if ratios:
        print(f"median ratio new/base over rows: {statistics.median(ratios):.3f}")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(doc, indent=1, default=str))
    print(f"wrote {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
