"""Neuroevolution on scikit-learn's digits: a GA evolves the weights of softmax classifiers.

The whole population is evaluated with one matrix product per layer, in chunks sized by the
memory budget: with torch when it is installed (``pip install 'genepool[torch]'``), otherwise
numpy; ``--backend numpy|torch`` forces one and ``--device cuda`` runs on a GPU. Fitness is the
training cross-entropy; the held-out accuracy is reported.

Run: python examples/07_neuroevolution_digits.py [--backend auto] [--device cpu]
     [--memory-limit 2GB]
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import genepool as gp
from genepool.ml import NeuralNetProblem

ap = argparse.ArgumentParser()
ap.add_argument("--backend", default="auto", choices=["auto", "numpy", "torch"])
ap.add_argument("--device", default=None, help="torch device, e.g. cuda")
# torch's libraries alone take 180-550 MiB of a process (a CUDA context ~350 MiB more)
ap.add_argument("--memory-limit", default="2GB", help="the memory budget (default 2GB)")
args = ap.parse_args()

X, y = load_digits(return_X_y=True)
Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)

# 64 inputs -> 10 classes: 650 weights
problem = NeuralNetProblem(Xtr, ytr, hidden=(), backend=args.backend, device=args.device)
optimizer = gp.GA(
    problem.space,
    100,
    crossover="blend",
    mutation=("gaussian", {"sigma": 0.02}),
    mutation_rate=0.2,
    seed=0,
)
t0 = time.perf_counter()
result = problem.solve(optimizer, generations=300, memory_limit=args.memory_limit)
seconds = time.perf_counter() - t0
print(
    f"best network: training cross-entropy {result.best_fitness:.3f}, "
    f"train accuracy {problem.accuracy(result.best_x, Xtr, ytr):.3f}, "
    f"held-out accuracy {problem.holdout_accuracy(result, Xte, yte):.3f} "
    f"({result.n_evaluations:,} networks in {seconds:.1f} s, "
    f"{result.n_evaluations / seconds:,.0f} networks/s on {problem.backend} "
    f"({problem.device}), peak RSS {result.memory.peak_rss / 2**20:.0f} MiB)"
)
