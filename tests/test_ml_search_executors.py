"""GASearchCV's (candidate x fold) fits run through the chosen executor, with serial results."""

from __future__ import annotations

import logging
import pickle
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import genepool as gp
from genepool.ml import GASearchCV

SPACE = {
    "max_depth": gp.Integer("max_depth", 1, 12),
    "min_samples_leaf": gp.Integer("min_samples_leaf", 1, 20),
    "criterion": ["gini", "entropy"],
}


class WhereTree(DecisionTreeClassifier):
    """Records where each fit ran: a Dask worker's address, or "here" (a class attribute,
    shared with in-process workers)."""

    where: ClassVar[list[str]] = []

    def fit(self, X, y, sample_weight=None):
        try:
            from distributed import get_worker

            place = get_worker().address
        except (ImportError, ValueError):
            place = "here"
        type(self).where.append(place)
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def search(**kw):
    kw = {"population_size": 6, "generations": 2, "cv": 3, "seed": 5, **kw}
    return GASearchCV(WhereTree(random_state=0), SPACE, **kw)


@pytest.fixture(scope="module")
def serial(wine):
    return search().fit(*wine)


def assert_same_search(a, b):
    assert a.best_params_ == b.best_params_
    assert a.cv_results_["params"] == b.cv_results_["params"]
    for key in ("mean_test_score", "split0_test_score", "rank_test_score", "generation"):
        np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])


def test_dask_client_runs_every_cv_fit_on_the_cluster(wine, serial):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        WhereTree.where = []
        got = search(executor=client).fit(*wine)
        workers = set(client.scheduler_info()["workers"])
        # scikit-learn pickles the search with every fit; its Client travels as the address
        assert pickle.loads(pickle.dumps(got)).executor == client.scheduler.address
    assert_same_search(serial, got)
    n_cv = len(serial.cv_results_["params"]) * 3  # candidates x folds, then the refit here
    assert len(WhereTree.where) == n_cv + 1
    assert set(WhereTree.where[:n_cv]) <= workers
    assert len(set(WhereTree.where[:n_cv])) == 2  # both workers took fits
    assert WhereTree.where[n_cv] == "here"


def test_dask_executor_starts_a_local_cluster(wine, serial):
    pytest.importorskip("distributed")
    got = search(executor="dask", workers=2).fit(*wine)
    assert_same_search(serial, got)


def test_threads_give_the_serial_search(wine, serial):
    # processes: test_ml_search.py::test_processes_executor_gives_the_serial_results
    assert_same_search(serial, search(executor="threads", workers=2).fit(*wine))
