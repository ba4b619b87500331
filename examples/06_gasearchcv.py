"""Tune a RandomForest with GASearchCV, then an MLPClassifier's architecture (the hybrid).

GASearchCV is a scikit-learn search: same fit/predict/cv_results_ as RandomizedSearchCV, but the
candidates come from a genetic algorithm and duplicate parameter sets are never refitted.

Run: python examples/06_gasearchcv.py
"""

import warnings

from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import genepool as gp
from genepool.ml import GASearchCV

# The README's snippet (under a minute on 2 cores: 24 candidates x 3 folds, one line per
# generation on stderr with verbose=1).
X, y = load_digits(return_X_y=True)
forest = GASearchCV(
    RandomForestClassifier(random_state=0),
    {"n_estimators": gp.Integer("n_estimators", 10, 60),
     "max_depth": [None, 4, 8, 16],
     "max_features": gp.Real("max_features", 0.05, 0.5)},
    population_size=8, n_iter=24, cv=3, seed=0, verbose=1,  # 24 candidates x 3 folds
).fit(X, y)  # fmt: skip
res = forest.cv_results_
print(
    f"forest: best CV accuracy {forest.best_score_:.3f} with {forest.best_params_}; "
    f"{len(res['params'])} distinct candidates over {forest.search_result_.n_generations} "
    f"generations ({forest.search_result_.n_evaluations} proposed)"
)

# The hybrid: a GA over an MLP's architecture and training hyperparameters.
mlp = GASearchCV(
    make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, random_state=0)),
    {
        "mlpclassifier__hidden_layer_sizes": [(16,), (32,), (32, 16)],
        "mlpclassifier__learning_rate_init": loguniform(1e-4, 1e-1),
        "mlpclassifier__alpha": loguniform(1e-6, 1e-1),
        "mlpclassifier__activation": ["relu", "tanh"],
    },
    population_size=4,
    generations=3,
    cv=3,
    seed=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    mlp.fit(X, y)
print(f"mlp: best CV accuracy {mlp.best_score_:.3f} with {mlp.best_params_}")
