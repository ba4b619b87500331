"""genepool.ml.GASearchCV: the scikit-learn contract, the cache, quality vs random search."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

import genepool as gp
from genepool.errors import ConfigError
from genepool.ml import GASearchCV, to_space


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X), y


TREE_SPACE = {
    "max_depth": gp.Integer("max_depth", 1, 12),
    "min_samples_leaf": gp.Integer("min_samples_leaf", 1, 20),
    "criterion": ["gini", "entropy"],
}


def tree_search(**kw):
    kw = {"population_size": 8, "generations": 4, "cv": 3, "seed": 0, **kw}
    return GASearchCV(DecisionTreeClassifier(random_state=0), TREE_SPACE, **kw)


# -- param_space conversion ------------------------------------------------------------------
def test_to_space_maps_scipy_distributions_lists_and_genes():
    space, lookup = to_space(
        {
            "C": stats.loguniform(1e-3, 1e2),
            "n": stats.randint(2, 6),
            "f": stats.uniform(0.1, 0.5),
            "b": stats.beta(2, 3),
            "kernel": ["rbf", {"a": 1}, None],
            "g": gp.Real("whatever", 0.0, 1.0),
        }
    )
    assert space["C"] == gp.Real("C", 1e-3, 1e2, log=True)
    assert space["n"] == gp.Integer("n", 2, 5)  # randint's high is exclusive
    assert space["f"].low == pytest.approx(0.1) and space["f"].high == pytest.approx(0.6)
    assert (space["b"].low, space["b"].high) == (0.0, 1.0)
    assert space["g"].name == "g"  # the key names the parameter
    assert lookup == {"kernel": ["rbf", {"a": 1}, None]}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"C": stats.norm(0, 1)}, r"param_space\['C'\].*unbounded"),
        ({"C": []}, r"param_space\['C'\].*empty"),
        ({"C": 3.0}, r"param_space\['C'\] must be"),
        ({"C": stats.randint(3, 4)}, r"param_space\[.C.\].*one value"),
        ({}, "param_space is empty"),
        ("C", "param_space must be a dict"),
    ],
)
def test_bad_param_space_names_the_parameter(spec, match):
    with pytest.raises(ConfigError, match=match):
        to_space(spec)


def test_unknown_parameter_is_named_with_a_suggestion(wine):
    search = GASearchCV(LogisticRegression(), {"C_": gp.Real("C_", 0.1, 1.0)}, cv=2)
    with pytest.raises(ConfigError, match=r"param_space\['C_'\].*no parameter 'C_'.*'C'"):
        search.fit(*wine)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"population_size": 1}, "population_size must be >= 2"),
        ({"generations": 0}, "generations must be >= 1"),
        ({"n_iter": 0}, "n_iter must be >= 1"),
        ({"optimizer": "cmaes"}, "optimizer must be one of"),
        ({"executor": "gpu"}, "executor must be"),
        ({"memory_limit": "lots"}, "lots"),
        ({"optimizer_options": {"mutation": "nope"}}, "unknown mutation"),
        ({"optimizer_options": {"initial": "sobol"}}, r"initial.. must be one of"),
    ],
)
def test_bad_arguments_raise_config_errors(wine, kw, match):
    with pytest.raises(ConfigError, match=match):
        tree_search(**kw).fit(*wine)


def test_multimetric_needs_refit_metric(wine):
    search = tree_search(scoring=["accuracy", "f1_macro"], refit=True)
    with pytest.raises(ConfigError, match="refit must name the metric"):
        search.fit(*wine)
    search = tree_search(scoring=["accuracy", "f1_macro"], refit="f1_macro").fit(*wine)
    assert search.best_score_ == np.max(search.cv_results_["mean_test_f1_macro"])


# -- the search contract ---------------------------------------------------------------------
def test_fitted_attributes_and_delegation(wine):
    X, y = wine
    search = tree_search().fit(X, y)
    res = search.cv_results_
    assert search.n_splits_ == 3
    assert search.best_params_ == res["params"][search.best_index_]
    assert search.best_score_ == np.nanmax(res["mean_test_score"])
    assert res["rank_test_score"][search.best_index_] == 1
    assert search.best_estimator_.get_params()["max_depth"] == search.best_params_["max_depth"]
    assert search.refit_time_ > 0
    np.testing.assert_array_equal(search.classes_, np.unique(y))
    assert search.n_features_in_ == X.shape[1]
    assert search.predict(X).shape == y.shape
    assert search.predict_proba(X).shape == (len(y), 3)
    assert 0.0 <= search.score(X, y) <= 1.0
    assert not hasattr(search, "transform")  # DecisionTree has none: available_if
    assert callable(search.scorer_)
    assert set(res["generation"]) <= set(range(4))
    assert res["generation"][0] == 0 and np.all(np.diff(res["generation"]) >= 0)
    assert search.search_result_.n_generations == 4


def test_cv_results_have_gridsearchcv_keys_and_shapes(wine):
    X, y = wine
    search = tree_search(return_train_score=True).fit(X, y)
    grid = GridSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": [2, 3], "min_samples_leaf": [1, 2], "criterion": ["gini"]},
        cv=3,
        return_train_score=True,
    ).fit(X, y)
    ours, theirs = search.cv_results_, grid.cv_results_
    assert set(ours) == set(theirs) | {"generation"}
    n = len(ours["params"])
    for key, value in theirs.items():
        assert type(ours[key]) is type(value), key
        assert np.shape(ours[key]) == (n,), key
        if isinstance(value, np.ma.MaskedArray):
            assert ours[key].dtype == value.dtype or value.dtype == object, key
    # one entry per distinct parameter set
    keys = {tuple(sorted(p.items())) for p in ours["params"]}
    assert len(keys) == n


def test_same_seed_same_search(wine):
    X, y = wine
    a = tree_search(seed=3).fit(X, y)
    b = tree_search(seed=3).fit(X, y)
    assert a.best_params_ == b.best_params_
    assert a.cv_results_["params"] == b.cv_results_["params"]
    for key in ("mean_test_score", "split0_test_score", "rank_test_score", "generation"):
        np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])
    c = tree_search(seed=4).fit(X, y)
    assert c.cv_results_["params"] != a.cv_results_["params"]


class CountingTree(DecisionTreeClassifier):
    """Counts fits across clones (a class attribute)."""

    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


def test_duplicates_are_never_refitted(wine):
    X, y = wine
    CountingTree.fits = 0
    # a tiny space: 3 x 2 = 6 parameter sets, 12 x 6 = 72 candidates proposed
    space = {"max_depth": gp.Integer("max_depth", 1, 3), "criterion": ["gini", "entropy"]}
    search = GASearchCV(
        CountingTree(random_state=0), space, population_size=12, generations=6, cv=3, seed=0
    ).fit(X, y)
    n = len(search.cv_results_["params"])
    assert n <= 6
    assert CountingTree.fits == 3 * n + 1  # n candidates x 3 folds + the refit
    stats_ = search.search_result_.memory.evaluations
    assert stats_["requested"] == 72 and stats_["evaluated"] == n


def test_cache_off_refits(wine):
    X, y = wine
    CountingTree.fits = 0
    space = {"max_depth": gp.Integer("max_depth", 1, 2)}
    GASearchCV(
        CountingTree(random_state=0),
        space,
        population_size=4,
        generations=2,
        cv=2,
        cache=False,
        refit=False,
        seed=0,
    ).fit(X, y)
    assert CountingTree.fits == 4 * 2 * 2


def test_n_iter_budget_is_exact(wine):
    X, y = wine
    search = tree_search(population_size=8, generations=50, n_iter=13).fit(X, y)
    assert len(search.cv_results_["params"]) == 13
    assert search.search_result_.stop_reason.startswith("callback")


# -- small budgets: space-filling start, no repeated proposals, the whole n_iter spent ---------
def test_n_iter_alone_spends_the_whole_budget(wine):
    X, y = wine
    search = tree_search(generations=None, n_iter=37).fit(X, y)  # 8 + 29 new, 5 generations
    res = search.cv_results_
    assert len(res["params"]) == 37
    assert len({tuple(sorted(p.items())) for p in res["params"]}) == 37
    evaluations = search.search_result_.memory.evaluations
    assert evaluations["requested"] == evaluations["evaluated"]  # no proposal was a repeat
    assert search.search_result_.stop_reason.startswith("callback")


def test_first_generation_is_a_latin_hypercube(wine):
    space = {
        "max_depth": gp.Integer("max_depth", 1, 9),
        "criterion": ["gini", "entropy", "log_loss"],
    }
    search = GASearchCV(
        DecisionTreeClassifier(random_state=0), space, population_size=9, n_iter=9, cv=2, seed=1
    ).fit(*wine)
    params = search.cv_results_["params"]
    assert set(search.cv_results_["generation"]) == {0}
    assert sorted(p["max_depth"] for p in params) == list(range(1, 10))  # one per stratum
    assert sorted(p["criterion"] for p in params) == sorted(["gini", "entropy", "log_loss"] * 3)


def test_first_generation_is_capped_by_n_iter(wine):
    search = tree_search(population_size=8, generations=None, n_iter=5).fit(*wine)
    assert list(search.cv_results_["generation"]) == [0] * 5
    assert search.search_result_.n_generations == 1


def test_exhausted_space_ends_the_search(wine):
    space = {"max_depth": gp.Integer("max_depth", 1, 3), "criterion": ["gini", "entropy"]}
    search = GASearchCV(
        DecisionTreeClassifier(random_state=0), space, population_size=4, n_iter=50, cv=2, seed=0
    ).fit(*wine)
    assert len(search.cv_results_["params"]) == 6  # all there is
    assert search.search_result_.stop_reason.startswith("callback")
    assert search.search_result_.n_generations <= 2 + 3  # 6 sets, then 3 empty generations


def test_search_defaults_give_way_to_optimizer_options():
    search = tree_search(optimizer_options={"mutation": "gaussian", "initial": "random"})
    space, _ = to_space(TREE_SPACE)
    ga = search._make_optimizer(space)
    assert ga.mutation_name == "gaussian" and ga.initial == "random"
    assert ga._num_rate.max() == pytest.approx(0.5)  # search default: min(0.5, 3 / d)
    ga = tree_search(optimizer_options={"mutation_rate": 0.1})._make_optimizer(space)
    assert ga.mutation_name == "polynomial" and ga.initial == "lhs"
    assert ga._num_rate.max() == pytest.approx(0.1)


def test_pipeline_with_dunder_names_and_fit_params(wine):
    X, y = wine
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
    space = {
        "clf__C": stats.loguniform(1e-3, 1e2),
        "scale__with_mean": gp.Bool("m"),
    }
    search = GASearchCV(pipe, space, population_size=6, generations=2, cv=3, seed=0)
    search.fit(X, y, clf__sample_weight=np.ones(len(y)))
    assert set(search.best_params_) == {"clf__C", "scale__with_mean"}
    assert isinstance(search.best_params_["scale__with_mean"], bool)
    assert 1e-3 <= search.best_params_["clf__C"] <= 1e2
    assert "param_clf__C" in search.cv_results_
    assert search.best_estimator_.named_steps["clf"].C == search.best_params_["clf__C"]
    assert search.decision_function(X).shape == (len(y), 3)


def test_search_inside_a_pipeline(wine):
    X, y = wine
    inner = GASearchCV(
        KNeighborsClassifier(),
        {"n_neighbors": gp.Integer("k", 1, 15)},
        population_size=4,
        generations=2,
        cv=2,
        seed=0,
    )
    pipe = Pipeline([("scale", StandardScaler()), ("search", inner)]).fit(X, y)
    assert pipe.score(X, y) > 0.8
    assert clone(pipe).get_params()["search__population_size"] == 4


def test_clone_and_set_params():
    search = tree_search(population_size=5)
    assert clone(search).get_params()["population_size"] == 5
    search.set_params(estimator__max_features=3, n_iter=7)
    assert search.estimator.max_features == 3 and search.n_iter == 7
    assert not hasattr(search, "cv_results_")


class Flaky(ClassifierMixin, BaseEstimator):
    """A tree whose fit fails when ``fail`` is true."""

    def __init__(self, fail=False, max_depth=1):
        self.fail = fail
        self.max_depth = max_depth

    def fit(self, X, y):
        if self.fail:
            raise ValueError("flaky failure")
        self.tree_ = DecisionTreeClassifier(max_depth=self.max_depth, random_state=0).fit(X, y)
        self.classes_ = self.tree_.classes_
        return self

    def predict(self, X):
        return self.tree_.predict(X)


def test_error_score_nan_warns_and_failed_candidates_rank_last(wine):
    X, y = wine
    space = {"fail": gp.Bool("fail"), "max_depth": gp.Integer("max_depth", 1, 6)}
    search = GASearchCV(Flaky(), space, population_size=8, generations=3, cv=2, seed=0)
    with pytest.warns(FitFailedWarning):
        search.fit(X, y)
    res = search.cv_results_
    failed = np.array([p["fail"] for p in res["params"]])
    assert failed.any() and not failed.all()
    assert np.isnan(res["mean_test_score"][failed]).all()
    assert res["rank_test_score"][failed].min() > res["rank_test_score"][~failed].max()
    assert search.best_params_["fail"] is False
    hist = search.search_result_.history
    assert np.isfinite(hist["mean"]).all()  # failed candidates are left out of the mean


def test_error_score_number_is_the_fold_score(wine):
    space = {"fail": [True], "max_depth": gp.Integer("max_depth", 1, 3)}
    search = GASearchCV(Flaky(), space, population_size=2, generations=1, cv=2, error_score=0.25)
    with pytest.raises(ValueError, match="All the .* fits failed"):
        search.fit(*wine)  # like sklearn: every fit of the search failed


def test_error_score_raise(wine):
    space = {"fail": [True], "max_depth": gp.Integer("max_depth", 1, 3)}
    search = GASearchCV(
        Flaky(), space, population_size=2, generations=1, cv=2, error_score="raise"
    )
    with pytest.raises(ValueError, match="flaky failure"):
        search.fit(*wine)


def test_pso_optimizer(wine):
    search = tree_search(optimizer="pso").fit(*wine)
    assert search.best_score_ > 0.8
    assert type(search.search_result_).__name__ == "Result"


def test_processes_executor_gives_the_serial_results(wine):
    X, y = wine
    a = tree_search(generations=2).fit(X, y)
    b = tree_search(generations=2, executor="processes", workers=2).fit(X, y)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    np.testing.assert_array_equal(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"]
    )


def test_memory_limit_and_verbose(wine, capsys):
    search = tree_search(generations=2, memory_limit="4GB", verbose=2).fit(*wine)
    assert search.search_result_.memory.limit == 4 * 10**9 or search.search_result_.memory.limit
    assert "Fitting 3 folds" in capsys.readouterr().out  # scikit-learn's, from verbose=2


def _progress_lines(err):
    return [line for line in err.splitlines() if line.startswith("GASearchCV gen")]


def test_verbose_1_prints_one_line_per_generation(wine, capsys):
    search = tree_search(generations=4, verbose=1).fit(*wine)
    out, err = capsys.readouterr()
    lines = _progress_lines(err)
    assert len(lines) == search.search_result_.n_generations == 4
    gens = search.cv_results_["generation"]
    best_so_far = np.maximum.accumulate(
        [search.cv_results_["mean_test_score"][gens <= g].max() for g in range(4)]
    )
    for g, line in enumerate(lines):
        n = int((gens <= g).sum())  # distinct candidates cross-validated so far
        assert line.startswith(f"GASearchCV gen {g + 1}/4  best score {best_so_far[g]:.4f}  ")
        assert f"candidates {n}  fits {3 * n}  " in line and line.endswith(" s")
    assert "refitting" in err
    assert "Fitting" not in out  # scikit-learn's own line comes at verbose=2
    assert search.get_params()["verbose"] == 1  # restored after fit


def test_verbose_shows_the_n_iter_budget_and_level_0_is_silent(wine, capsys):
    tree_search(generations=None, n_iter=12, verbose=2, refit=False).fit(*wine)
    err = capsys.readouterr().err
    lines = _progress_lines(err)
    assert lines[-1].split("candidates ")[1].startswith("12/12  fits 36")
    assert all("proposed" in line for line in lines) and "refitting" not in err
    tree_search(generations=2).fit(*wine)
    assert capsys.readouterr() == ("", "")


# -- quality: at least as good as RandomizedSearchCV with the same number of fits ----------------
def _versus_random(estimator, space, X, y, n_iter, seeds, cv=3):
    """Median best CV score of GASearchCV (its defaults, only ``n_iter`` given) and of
    RandomizedSearchCV, both with ``n_iter`` candidates x ``cv`` folds, over ``seeds``."""
    ours, theirs = [], []
    for seed in seeds:
        ga = GASearchCV(estimator, space, n_iter=n_iter, cv=cv, refit=False, seed=seed).fit(X, y)
        assert len(ga.cv_results_["params"]) == n_iter  # the whole budget, no repeats
        rnd = RandomizedSearchCV(
            estimator, space, n_iter=n_iter, cv=cv, refit=False, random_state=seed
        ).fit(X, y)
        ours.append(ga.best_score_)
        theirs.append(rnd.best_score_)
    return float(np.median(ours)), float(np.median(theirs))


KNN_SPACE = {
    "n_neighbors": stats.randint(1, 40),
    "weights": ["uniform", "distance"],
    "p": [1, 2],
}


TREE_DIST_SPACE = {
    "max_depth": stats.randint(2, 30),
    "min_samples_leaf": stats.randint(1, 30),
    "min_samples_split": stats.randint(2, 30),
    "max_features": stats.uniform(0.1, 0.9),
    "criterion": ["gini", "entropy", "log_loss"],
}
LOADERS = {"digits": load_digits, "wine": load_wine, "breast_cancer": load_breast_cancer}
ESTIMATORS = {
    "tree": (DecisionTreeClassifier(random_state=0), TREE_DIST_SPACE),
    "knn": (KNeighborsClassifier(), KNN_SPACE),
}


# Measured medians over seeds 0-2, 30 candidates x 3 folds, standardized X (GA vs random):
# wine-tree 0.905 vs 0.871, digits-tree 0.784 vs 0.772, breast_cancer-tree 0.947 vs 0.946,
# wine-knn 0.972 vs 0.966. Before the space-filling start, the repeat-free offspring and the
# larger mutation (population 10 of random rows, GA defaults), the last two were 0.942 vs
# 0.946 and 0.966 vs 0.972 (xfails). Over 30 seeds and 30/60/100 fits: docs/ml.md.
@pytest.mark.parametrize(
    ("dataset", "kind"),
    [("wine", "tree"), ("digits", "tree"), ("breast_cancer", "tree"), ("wine", "knn")],
)
def test_at_least_as_good_as_random_search(dataset, kind):
    X, y = LOADERS[dataset](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ga, rnd = _versus_random(*ESTIMATORS[kind], X, y, 30, seeds=range(3))
    assert ga >= rnd - 1e-12, (ga, rnd)


# Measured medians over seeds 0-9, 3 folds (GA vs random), at 30 | 100 candidates:
#   tree  digits 0.784 vs 0.776 | 0.803 vs 0.786   knn digits 0.949 vs 0.949 | 0.951 vs 0.950
#   tree  wine   0.896 vs 0.874 | 0.916 vs 0.910   knn wine   0.969 vs 0.966 | 0.972 vs 0.969
#   tree  b.c.   0.946 vs 0.945 | 0.951 vs 0.947   knn b.c.   0.970 vs 0.969 | 0.970 vs 0.970
# (12 cases, ~6 min on 2 cores.)
@pytest.mark.slow
@pytest.mark.parametrize("n_iter", [30, 100])
@pytest.mark.parametrize("kind", ["tree", "knn"])
@pytest.mark.parametrize("dataset", ["digits", "wine", "breast_cancer"])
def test_at_least_as_good_as_random_search_slow(dataset, kind, n_iter):
    X, y = LOADERS[dataset](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ga, rnd = _versus_random(*ESTIMATORS[kind], X, y, n_iter, seeds=range(10))
    assert ga >= rnd - 1e-12, (ga, rnd)


# -- scikit-learn's estimator checks ---------------------------------------------------------
def _small_searches():
    yield GASearchCV(
        Ridge(),
        {"alpha": gp.Real("alpha", 0.1, 10.0, log=True)},
        population_size=3,
        generations=2,
        cv=2,
        seed=0,
    )
    yield GASearchCV(
        LogisticRegression(),
        {"C": gp.Real("C", 0.1, 10.0, log=True)},
        population_size=3,
        generations=2,
        cv=2,
        seed=0,
    )


# The one check scikit-learn itself expects GridSearchCV and RandomizedSearchCV to fail
# (sklearn/utils/_test_common/instance_generator.py): a meta-estimator cannot know whether
# its inner estimator handles a 2-D y, so it raises no DataConversionWarning of its own.
META_XFAIL = {"check_supervised_y_2d": "DataConversionWarning not caught (as GridSearchCV)"}


@parametrize_with_checks(list(_small_searches()), expected_failed_checks=lambda est: META_XFAIL)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
