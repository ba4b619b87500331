"""The summary of a walk-forward run over its folds: the fold table, the stitched
out-of-sample equity and the verdict on it.

A fold without a valid strategy trades nothing: its test segment is held in cash (return 0)
in the stitched equity and left out of the verdict, which is over the valid folds only (none
when no fold is valid). The run is ``complete`` when at least one fold is valid (with a
warning naming the others), ``no valid strategy`` when none is.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..backtest import METRICS
from ..backtest.walk_forward import Fold
from . import _files as F
from .config import EvolveConfig
from .out_of_sample import ADVICE, INIT_CASH
from .records import (
    COMPLETE,
    FINISHED,
    INTERRUPTED,
    NO_VALID,
    FoldRow,
    RunRecord,
    WalkForwardInfo,
    WalkForwardRecord,
)
from .universe import SYMBOLS_FILE
from .verdicts import psr_verdict

__all__ = ["fold_dir", "summarize_walk_forward"]


def fold_dir(out: Path, i: int) -> Path:
    """The run directory of fold ``i`` of the walk-forward run in ``out``."""
    return out / "folds" / f"fold-{i:02d}"


def summarize_walk_forward(
    out: Path,
    config: EvolveConfig,
    data: Any,
    splits: list[Fold],
    folds: list[RunRecord],
) -> WalkForwardRecord:
    """Write the run's walk_forward.parquet, equity.parquet (the last fold's in-sample curve
    and the stitched out-of-sample one) and copies of the last fold's other frames; return
    the run's record. ``folds`` are the records of the folds done so far, in order."""
    rows = [_fold_row(i, fold, splits[i], data) for i, fold in enumerate(folds)]
    F.write_frame(out / F.WALK_FORWARD, pd.DataFrame([r.to_row(METRICS) for r in rows]))
    returns = [_oos_returns(fold_dir(out, i)) for i in range(len(folds))]
    valid_folds = [i for i, f in enumerate(folds) if f.valid]
    # finished without one (an interrupted fold may still find one when resumed)
    invalid_folds = [i for i, f in enumerate(folds) if not f.valid and f.status in FINISHED]
    held = [r if i in valid_folds else pd.Series(0.0, index=r.index)  # nothing traded
            for i, r in enumerate(returns)]  # fmt: skip
    stitched = _stitched_equity(pd.concat(held))
    _write_last_fold_frames(out, len(folds) - 1, stitched)
    verdict, sharpe_per_bar = None, None
    if valid_folds:
        verdict, stats = psr_verdict(
            pd.concat([returns[i] for i in valid_folds]).to_numpy(),
            _verdict_subject(len(valid_folds), len(folds), bool(invalid_folds)),
        )
        sharpe_per_bar = None if stats is None else stats.sr
    last = folds[-1]
    return WalkForwardRecord(
        strategy=config.strategy,
        objective=config.objective,
        walk_forward=WalkForwardInfo(
            folds=len(splits),
            done=len(folds),
            mode=config.walk_forward_mode,
            fold_status=[f.status for f in folds],
            valid_folds=valid_folds,
            invalid_folds=invalid_folds,
        ),
        valid=last.valid,
        warnings=_warnings(folds, invalid_folds, len(splits), config.objective),
        verdict_reason=None
        if valid_folds
        else "No verdict: no walk-forward fold found a valid strategy.",
        min_trades=last.min_trades,
        min_trades_rule=last.min_trades_rule,
        params=last.params,
        fitness=last.fitness,
        in_sample=last.in_sample,
        out_of_sample=_stitched_metrics(stitched, sharpe_per_bar, folds, valid_folds, config),
        verdict=verdict,
        annualization=last.annualization,
        status=_status(folds, len(splits), valid_folds),
        n_generations=sum(f.n_generations or 0 for f in folds),
        n_evaluations=sum(f.n_evaluations or 0 for f in folds),
        symbols=last.symbols,
    )


def _fold_row(i: int, fold: RunRecord, split: Fold, data: Any) -> FoldRow:
    train, test = data.index[split.train], data.index[split.test]
    return FoldRow(
        fold=i,
        status=fold.status,
        valid=fold.valid,
        min_trades=fold.min_trades,
        train_start=train[0],
        train_end=train[-1],
        test_start=test[0],
        test_end=test[-1],
        params=fold.params,
        in_sample=fold.in_sample or {},
        out_of_sample=fold.out_of_sample or {},
        dsr=None if fold.deflated_sharpe is None else fold.deflated_sharpe.dsr,
        pbo=None if fold.pbo is None else fold.pbo.pbo,
    )


def _oos_returns(fold_path: Path) -> pd.Series:
    """A fold's out-of-sample returns per bar, from its equity.parquet."""
    eq = F.read_frame(fold_path / F.EQUITY)
    assert eq is not None  # every finished fold wrote its equity
    seg = eq[eq["sample"] == "out"]
    v = seg["value"].to_numpy()
    prev = np.concatenate(([INIT_CASH], v[:-1]))
    return pd.Series(v / prev - 1.0, index=pd.DatetimeIndex(seg["time"]))


def _stitched_equity(returns: pd.Series) -> pd.DataFrame:
    stitched = INIT_CASH * (1.0 + returns).cumprod()
    return pd.DataFrame(
        {
            "time": stitched.index,
            "value": stitched.to_numpy(),
            "drawdown": (stitched / stitched.cummax() - 1.0).to_numpy(),
            "sample": "out",
        }
    )


def _write_last_fold_frames(out: Path, last: int, stitched: pd.DataFrame) -> None:
    """equity.parquet: the last fold's in-sample curve, then the stitched one; the last
    fold's trades, population, hall of fame and memory copied."""
    last_dir = fold_dir(out, last)
    in_eq = F.read_frame(last_dir / F.EQUITY)
    assert in_eq is not None  # every finished fold wrote its equity
    F.write_frame(out / F.EQUITY, pd.concat([in_eq[in_eq["sample"] == "in"], stitched]))
    for name in (F.TRADES, F.POPULATION, F.HALL_OF_FAME, F.MEMORY, SYMBOLS_FILE):
        src = last_dir / name
        if src.exists():
            shutil.copyfile(src, out / name)


def _verdict_subject(n_valid: int, n_folds: int, some_invalid: bool) -> str:
    what = f"the stitched out-of-sample returns of {n_valid} walk-forward folds"
    if some_invalid:
        what += f" (of {n_folds}; the folds without a valid strategy left out)"
    return what


def _stitched_metrics(
    stitched: pd.DataFrame,
    sharpe_per_bar: float | None,
    folds: list[RunRecord],
    valid_folds: list[int],
    config: EvolveConfig,
) -> dict[str, Any]:
    last = folds[-1]
    per_year = (last.annualization.bars_per_year if last.annualization else None) or (
        config.bars_per_year
    )
    oos_trades: list[Any] = [(f.out_of_sample or {}).get("n_trades") for f in folds]
    value = stitched["value"]
    return {
        "total_return": float(value.iloc[-1] / INIT_CASH - 1.0),
        "sharpe_per_bar": sharpe_per_bar,
        # annualized with the run's bars per year, over the folds the verdict covers
        "sharpe_ratio": None
        if sharpe_per_bar is None or not per_year
        else float(sharpe_per_bar * math.sqrt(per_year)),
        "max_drawdown": float(stitched["drawdown"].min()),
        "n_trades": None
        if any(n is None for n in oos_trades)
        else int(sum(oos_trades[i] for i in valid_folds)),
    }


def _fold_why(i: int, fold: RunRecord, objective: str) -> str:
    n = (fold.in_sample or {}).get("n_trades")
    n = 0 if n is None or not math.isfinite(n) else int(n)
    if fold.min_trades is not None and n < fold.min_trades:
        return f"fold {i + 1} made {n} trades"
    return f"fold {i + 1} has a non-finite {objective.lstrip('-')}"


def _warnings(
    folds: list[RunRecord], invalid_folds: list[int], n_splits: int, objective: str
) -> list[str]:
    if not invalid_folds:
        return []
    why = ", ".join(_fold_why(i, folds[i], objective) for i in invalid_folds)
    mins = "/".join(sorted({str(folds[i].min_trades) for i in invalid_folds}))
    return [
        f"{len(invalid_folds)} of {n_splits} walk-forward folds found no valid strategy "
        f"(most active in sample: {why}; --min-trades {mins}): "
        f"{'their test segments are' if len(invalid_folds) > 1 else 'its test segment is'} "
        f"held in cash and left out of the verdict",
        ADVICE,
    ]


def _status(folds: list[RunRecord], n_splits: int, valid_folds: list[int]) -> str:
    if len(folds) < n_splits or any(f.status not in FINISHED for f in folds):
        return INTERRUPTED
    return COMPLETE if valid_folds else NO_VALID
