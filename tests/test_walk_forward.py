"""Walk-forward and hold-out splitting (genepool.backtest.walk_forward) against naive rules."""

from __future__ import annotations

import doctest
import itertools

import pytest

import genepool.backtest.walk_forward as wf_module
from genepool.backtest import Fold, holdout_split, walk_forward_splits
from genepool.errors import ConfigError, DataError


def reference_splits(n: int, k: int, mode: str) -> list[tuple[slice, slice]]:
    """The evolve runner's ``_splits`` as it was before it moved to the library."""
    seg = n // (k + 1)
    out = []
    for i in range(k):
        start = 0 if mode == "anchored" else i * seg
        test_end = n if i == k - 1 else (i + 2) * seg
        out.append((slice(start, (i + 1) * seg), slice((i + 1) * seg, test_end)))
    return out


GRID = [(n, k, mode) for n in (4, 5, 6, 7, 9, 10, 11, 31, 100, 1000, 1501)
        for k in (1, 2, 3, 4, 7) for mode in ("rolling", "anchored")
        if n >= 2 * (k + 1)]  # fmt: skip


@pytest.mark.parametrize(("n", "k", "mode"), GRID)
def test_same_splits_as_the_runner_had(n, k, mode):
    folds = walk_forward_splits(n, k, mode)
    assert [(f.train, f.test) for f in folds] == reference_splits(n, k, mode)
    assert [f.index for f in folds] == list(range(k))


@pytest.mark.parametrize(("n", "k", "mode"), GRID)
def test_folds_cover_the_data_in_order_without_overlap(n, k, mode):
    folds = walk_forward_splits(n, k, mode)
    tested = [b for f in folds for b in range(n)[f.test]]
    assert tested == list(range(n // (k + 1), n))  # every bar after the first segment, once
    for f in folds:
        train, test = range(n)[f.train], range(n)[f.test]
        assert len(train) >= 2 and len(test) >= 2
        assert max(train) < min(test) and f.train.stop == f.test.start  # train precedes test
        assert f.n_train == len(train) and f.n_test == len(test)
        assert train[0] == (0 if mode == "anchored" else f.index * (n // (k + 1)))
    for a, b in itertools.pairwise(folds):
        assert a.test.stop == b.test.start


def test_too_few_bars_names_the_numbers():
    assert len(walk_forward_splits(8, 3)) == 3  # 4 segments of 2
    with pytest.raises(DataError, match=r"n_bars is 7: 3 walk-forward folds need at least 8"):
        walk_forward_splits(7, 3)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: walk_forward_splits(100, 0), "folds must be a positive integer, got 0"),
        (lambda: walk_forward_splits(100, 2.0), "folds must be a positive integer, got 2.0"),
        (lambda: walk_forward_splits(0, 2), "n_bars must be a positive integer, got 0"),
        (lambda: walk_forward_splits(100, 2, "sliding"), "mode must be one of"),
        (lambda: holdout_split(100, 0.0), "train_frac must be in"),
        (lambda: holdout_split(100, "0.5"), "train_frac must be a number"),
    ],
)
def test_bad_arguments_name_the_field_and_value(call, field):
    with pytest.raises(ConfigError, match=field):
        call()


@pytest.mark.parametrize("n", [1, 2, 3, 10, 99, 1500])
@pytest.mark.parametrize("frac", [0.1, 0.5, 0.7, 0.99, 1.0])
def test_holdout_split(n, frac):
    fold = holdout_split(n, frac)
    cut = round(n * frac)
    assert fold == Fold(0, slice(0, cut), slice(cut, n) if cut < n else None)
    assert fold.n_train + fold.n_test == n


def test_fold_is_frozen():
    fold = walk_forward_splits(10, 2)[0]
    with pytest.raises(AttributeError):
        fold.index = 3  # type: ignore[misc]


def test_docstring_examples():
    assert doctest.testmod(wf_module).failed == 0
