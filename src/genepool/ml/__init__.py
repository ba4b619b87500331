"""Machine learning with genepool: scikit-learn hyperparameter search and neuroevolution.

``GASearchCV`` is a scikit-learn search (like ``RandomizedSearchCV``) whose candidates come
from a genepool optimizer; ``NeuralNetProblem`` evolves the weights of a population of small
MLPs, evaluated with batched matrix products. Needs the ``ml`` extra
(``pip install 'genepool[ml]'``) for ``GASearchCV``; ``NeuralNetProblem`` needs only numpy.
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "genepool.ml needs scikit-learn, which is not installed: pip install 'genepool[ml]'"
    ) from exc

from ._space import to_space
from .neuro import NeuralNetProblem
from .search import GASearchCV

__all__ = ["GASearchCV", "NeuralNetProblem", "to_space"]
