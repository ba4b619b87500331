"""Splitting bars into training and test ranges: one hold-out split, or walk-forward folds.

The bars are cut into ``folds + 1`` equal segments (the last one takes the remainder). Fold
``i`` trains on segment ``i`` (``"rolling"``) or on segments ``0..i`` (``"anchored"``) and
is tested on segment ``i + 1``; the last fold's test range runs to the last bar. Test ranges
follow one another without overlap and together cover every bar after the first segment.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError, DataError

__all__ = [
    "MIN_SEGMENT_BARS",
    "WALK_FORWARD_MODES",
    "Fold",
    "holdout_split",
    "walk_forward_min_bars",
    "walk_forward_splits",
]

WALK_FORWARD_MODES = ("rolling", "anchored")
#: The fewest bars of one segment (a training or test range of one bar has no return).
MIN_SEGMENT_BARS = 2


@dataclass(frozen=True)
class Fold:
    """One training range and the test range after it, as slices of bar positions.

    Attributes
    ----------
    index : int
        The fold's number, from 0.
    train : slice
        The training bars, ``slice(start, stop)`` (``data.iloc[fold.train]``).
    test : slice or None
        The test bars, starting where ``train`` stops; None when a hold-out split keeps every
        bar for training (``train_frac`` 1).
    """

    index: int
    train: slice
    test: slice | None

    @property
    def n_train(self) -> int:
        """Number of training bars."""
        return int(self.train.stop - self.train.start)

    @property
    def n_test(self) -> int:
        """Number of test bars (0 without a test range)."""
        return 0 if self.test is None else int(self.test.stop - self.test.start)


def _check_n_bars(n_bars: int) -> int:
    if isinstance(n_bars, bool) or not isinstance(n_bars, int) or n_bars < 1:
        raise ConfigError(f"n_bars must be a positive integer, got {n_bars!r}")
    return int(n_bars)


def holdout_split(n_bars: int, train_frac: float) -> Fold:
    """The first ``round(n_bars * train_frac)`` bars for training, the rest for testing.

    Parameters
    ----------
    n_bars : int
        Number of bars (>= 1).
    train_frac : float
        Share of the bars to train on, in ``(0, 1]``; with 1 there is no test range.

    Returns
    -------
    Fold
        Fold 0; its ``test`` is None when no bar is left for testing.

    Examples
    --------
    >>> holdout_split(10, 0.7)
    Fold(index=0, train=slice(0, 7, None), test=slice(7, 10, None))
    >>> holdout_split(10, 1.0).test is None
    True
    """
    n = _check_n_bars(n_bars)
    if isinstance(train_frac, bool) or not isinstance(train_frac, (int, float)):
        raise ConfigError(f"train_frac must be a number in (0, 1], got {train_frac!r}")
    if not 0.0 < train_frac <= 1.0:
        raise ConfigError(f"train_frac must be in (0, 1], got {train_frac!r}")
    cut = round(n * train_frac)
    return Fold(0, slice(0, cut), slice(cut, n) if cut < n else None)


def walk_forward_min_bars(folds: int) -> int:
    """The fewest bars :func:`walk_forward_splits` accepts for ``folds`` folds."""
    return MIN_SEGMENT_BARS * (folds + 1)


def walk_forward_splits(n_bars: int, folds: int, mode: str = "rolling") -> list[Fold]:
    """Walk-forward folds over ``n_bars`` bars: train on the past, test on the next segment.

    Parameters
    ----------
    n_bars : int
        Number of bars; at least ``2 * (folds + 1)`` (:func:`walk_forward_min_bars`).
    folds : int
        Number of folds (>= 1). The bars are cut into ``folds + 1`` segments of
        ``n_bars // (folds + 1)`` bars; the last test range also takes the remainder.
    mode : {"rolling", "anchored"}
        ``"rolling"``: each fold trains on the one segment before its test range;
        ``"anchored"``: on every bar from the first one.

    Returns
    -------
    list of Fold
        ``folds`` folds in time order. Each test range starts where its training range stops
        and the test ranges do not overlap.

    Raises
    ------
    ConfigError
        ``n_bars``, ``folds`` or ``mode`` is not valid (the message names it).
    DataError
        Fewer than ``2 * (folds + 1)`` bars.

    Examples
    --------
    >>> for fold in walk_forward_splits(10, 2):
    ...     print(fold.index, fold.train, fold.test)
    0 slice(0, 3, None) slice(3, 6, None)
    1 slice(3, 6, None) slice(6, 10, None)
    >>> [f.train.start for f in walk_forward_splits(10, 2, mode="anchored")]
    [0, 0]
    """
    n = _check_n_bars(n_bars)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ConfigError(f"folds must be a positive integer, got {folds!r}")
    if mode not in WALK_FORWARD_MODES:
        raise ConfigError(f"mode must be one of {list(WALK_FORWARD_MODES)}, got {mode!r}")
    seg = n // (folds + 1)
    if seg < MIN_SEGMENT_BARS:
        raise DataError(
            f"n_bars is {n:,}: {folds} walk-forward folds need at least "
            f"{walk_forward_min_bars(folds):,} bars (folds + 1 segments of {MIN_SEGMENT_BARS})"
        )
    out = []
    for i in range(folds):
        start = 0 if mode == "anchored" else i * seg
        test_end = n if i == folds - 1 else (i + 2) * seg
        out.append(Fold(i, slice(start, (i + 1) * seg), slice((i + 1) * seg, test_end)))
    return out
