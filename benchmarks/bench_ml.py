"""genepool.ml benchmarks: GASearchCV vs RandomizedSearchCV, and neuroevolution throughput.

1. Search: RandomForest space on digits, both searches at the same number of candidates
   (``--n-iter``, x ``cv`` folds; GASearchCV with its defaults), each run in a fresh child
   process whose RSS is polled from outside: best CV score, wall time, peak RSS, cache hits
   (GASearchCV), and the median best CV score per search over ``--seeds``.
   sklearn-genetic-opt is run too when installed.
2. Neuroevolution: NeuralNetProblem (a 64-32-10 tanh MLP and the 64-10 linear softmax on
   digits' training split) evaluated for population sizes 10^2 .. 10^4 on each backend (numpy;
   torch on the CPU when installed; torch on CUDA with ``--cuda``): networks per second and
   peak RSS (child processes).

Run: python benchmarks/bench_ml.py [--quick] [--n-iter 40] [--seeds 3] [--skip-neuro]
     [--skip-search] [--cuda] [--budget 1GB] [--out FILE]
Writes benchmarks/results/bench_ml.json and prints a table. Fixed seeds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import dist_version, git_revision, run_polled

MARK = "BENCH_ML "


def child(cfg: dict) -> None:
    import warnings

    import numpy as np
    from sklearn.datasets import load_digits

    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    out: dict = {}
    if cfg["kind"] == "search":
        from scipy.stats import randint, uniform
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import RandomizedSearchCV

        from genepool.ml import GASearchCV

        space = {
            "max_depth": randint(2, 30),
            "min_samples_leaf": randint(1, 20),
            "max_features": uniform(0.05, 0.95),
            "criterion": ["gini", "entropy"],
            "bootstrap": [True, False],
        }
        est = RandomForestClassifier(n_estimators=cfg["trees"], random_state=0)
        common = {"cv": cfg["cv"], "refit": False}
        t0 = time.perf_counter()
        if cfg["search"] == "GASearchCV":
            # the search's defaults: only the budget is given, as to RandomizedSearchCV
            s = GASearchCV(est, space, n_iter=cfg["n_iter"], seed=cfg["seed"], **common).fit(X, y)
            mem = s.search_result_.memory.evaluations
            out["proposed"] = int(mem["requested"])
            out["cache_hits_or_duplicates"] = int(mem["requested"] - mem["evaluated"])
            out["generations"] = s.search_result_.n_generations
        elif cfg["search"] == "RandomizedSearchCV":
            s = RandomizedSearchCV(
                est, space, n_iter=cfg["n_iter"], random_state=cfg["seed"], **common
            ).fit(X, y)
        else:  # sklearn-genetic-opt
            from sklearn_genetic import GASearchCV as SGO
            from sklearn_genetic.space import Categorical, Continuous, Integer

            sgo_space = {
                "max_depth": Integer(2, 29),
                "min_samples_leaf": Integer(1, 19),
                "max_features": Continuous(0.05, 1.0),
                "criterion": Categorical(["gini", "entropy"]),
                "bootstrap": Categorical([True, False]),
            }
            gens = max(1, cfg["n_iter"] // cfg["population"] - 1)
            s = SGO(
                est,
                cv=cfg["cv"],
                param_grid=sgo_space,
                population_size=cfg["population"],
                generations=gens,
                refit=False,
                verbose=False,
            ).fit(X, y)
        out["wall_s"] = time.perf_counter() - t0
        out["best_score"] = float(s.best_score_)
        out["candidates"] = len(s.cv_results_["params"])
    else:
        import genepool as gp
        from genepool.ml import NeuralNetProblem

        p = NeuralNetProblem(
            X[:1347] / 16.0,
            y[:1347],
            hidden=tuple(cfg["hidden"]),
            activation="tanh",
            backend=cfg["backend"],
            device=cfg.get("device"),
        )
        W = p.space.sample(cfg["population"], np.random.default_rng(0))
        ev = gp.Evaluator(p, memory_limit=cfg.get("memory_limit"), cache=False)
        ev.evaluate(W[: min(100, len(W))])  # warm-up
        times = []
        for _ in range(cfg["repeats"]):
            t0 = time.perf_counter()
            ev.evaluate(W)
            times.append(time.perf_counter() - t0)
        out["median_s"] = statistics.median(times)
        out["networks_per_s"] = cfg["population"] / out["median_s"]
        out["chunk_sizes"] = {str(k): v for k, v in ev.chunk_sizes.items()}
        out["bytes_per_candidate"] = p.bytes_per_candidate()
    print(MARK + json.dumps(out), flush=True)


def _medians(rows: list[dict]) -> dict[str, float]:
    """Median best CV score per search over its seeds (rows without a score are skipped)."""
    scores: dict[str, list[float]] = {}
    for r in rows:
        if r["config"]["kind"] == "search" and "best_score" in r:
            scores.setdefault(r["config"]["search"], []).append(r["best_score"])
    return {k: statistics.median(v) for k, v in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n-iter", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--skip-neuro", action="store_true", help="only the search comparison")
    ap.add_argument("--skip-search", action="store_true", help="only the neuroevolution rows")
    ap.add_argument("--cuda", action="store_true", help="also torch on the CUDA device")
    ap.add_argument(
        "--budget",
        default="1GB",
        help="memory_limit of the budgeted neuroevolution rows (default 1GB; torch's own "
        "libraries take 180-550 MiB of it, a CUDA context ~350 MiB more)",
    )
    ap.add_argument(
        "--out",
        default=str(Path(__file__).parent / "results" / "bench_ml.json"),
        help="where the JSON goes (default benchmarks/results/bench_ml.json)",
    )
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    quick = args.quick
    rows = []
    searches = ["GASearchCV", "RandomizedSearchCV"]
    if dist_version("sklearn-genetic-opt"):
        searches.append("sklearn-genetic-opt")
    n_iter = 20 if quick else args.n_iter
    for seed in [] if args.skip_search else range(1 if quick else args.seeds):
        for search in searches:
            cfg = {
                "kind": "search",
                "search": search,
                "n_iter": n_iter,
                "cv": 3,
                "trees": 20,
                "population": 10,
                "seed": seed,
            }
            rows.append(run_polled(__file__, cfg, MARK, timeout=1200))
    backends: list[tuple[str, str | None]] = [("numpy", None)]
    if dist_version("torch"):
        backends.append(("torch", None))
        if args.cuda:
            backends.append(("torch", "cuda"))
    for hidden, (backend, device) in itertools.product([[32], []], backends):
        for pop in [] if args.skip_neuro else [100, 1000] if quick else [100, 1000, 10000]:
            for limit in [None, args.budget]:
                cfg = {
                    "kind": "neuro",
                    "hidden": hidden,
                    "backend": backend,
                    "device": device,
                    "population": pop,
                    "repeats": 5,
                    "memory_limit": limit,
                }
                rows.append(run_polled(__file__, cfg, MARK, timeout=1200))
    doc = {
        "benchmark": "bench_ml",
        "revision": git_revision(),
        "versions": {
            d: dist_version(d) for d in ("numpy", "scikit-learn", "sklearn-genetic-opt", "torch")
        },
        "note": "shared 2-core machine with other jobs running: timings are noisy",
        "rows": rows,
        "median_best_score": _medians(rows),
    }
    out = Path(args.out)
    out.write_text(json.dumps(doc, indent=1, default=str))
    print(
        f"{'search':22} {'seed':>4} {'cands':>5} {'best CV':>8} {'wall s':>7} "
        f"{'peak RSS MiB':>12} {'cache/dup':>9}"
    )
    for r in rows:
        c = r["config"]
        if c["kind"] != "search":
            continue
        print(
            f"{c['search']:22} {c['seed']:4d} {r.get('candidates', '-'):>5} "
            f"{r.get('best_score', float('nan')):8.4f} {r.get('wall_s', float('nan')):7.1f} "
            f"{r['peak_rss_outside'] / 2**20:12.0f} {r.get('cache_hits_or_duplicates', '-'):>9}"
            + (f"  ERROR {r['error']}" if "error" in r else "")
        )
    n_seeds = 1 if quick else args.seeds
    print(f"\nmedian best CV at {n_iter} candidates x 3 folds over {n_seeds} seed(s):")
    for search, median in doc["median_best_score"].items():
        print(f"  {search:22} {median:.4f}")
    print(
        f"\n{'layers':>9} {'backend':>10} {'networks':>8} {'budget':>7} {'net/s':>9} "
        f"{'peak RSS MiB':>12} chunks"
    )
    for r in rows:
        c = r["config"]
        if c["kind"] != "neuro":
            continue
        layers = "-".join(str(v) for v in [64, *c["hidden"], 10])
        backend = c["backend"] + (f"/{c['device']}" if c["device"] else "")
        print(
            f"{layers:>9} {backend:>10} {c['population']:8d} {c['memory_limit']!s:>7} "
            f"{r.get('networks_per_s', float('nan')):9.0f} "
            f"{r['peak_rss_outside'] / 2**20:12.0f} {r.get('chunk_sizes')}"
            + (f"  ERROR {r['error']}" if "error" in r else "")
        )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
