"""What the run loop keeps across a checkpoint, and how it is saved and restored.

A checkpoint holds the run's direction, the optimizer's ``state_dict`` (arrays + JSON, RNG
included), the loop's counters (generation, evaluations, best so far, generations without
improvement, elapsed time), the history rows not yet spilled to Parquet, and the state of
stateful callbacks. The evaluator's cache is not saved: it only spares work, it never changes
a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np

from .._version import __version__
from ..algorithms.base import Optimizer
from ..errors import CheckpointError, ConfigError, check_int
from .checkpoint import Checkpoint, latest_checkpoint, list_checkpoints, write_checkpoint
from .direction import Direction

if TYPE_CHECKING:
    from .recorder import Recorder

__all__ = [
    "CHECKPOINT_DIR",
    "LoopState",
    "StatefulCallback",
    "find_checkpoint",
    "optimizer_stop",
    "pending_history",
    "restore",
    "save",
    "stateful_callbacks",
]

#: The checkpoints' folder in a run directory.
CHECKPOINT_DIR = "checkpoint"


class StatefulCallback(Protocol):
    """A callback whose state goes into checkpoints (e.g. :class:`~genepool.evolve.HallOfFame`):
    ``state_dict() -> (arrays, meta)``, ``meta`` JSON-compatible, and ``load_state_dict``."""

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]: ...

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None: ...


@dataclass
class LoopState:
    """The run loop's counters (``best`` on the internal, minimized scale), advanced in place
    by the run each generation and saved in its checkpoints."""

    generation: int = 0
    n_evaluations: int = 0
    best: float = np.inf
    best_x: np.ndarray | None = None
    since_improvement: int = 0
    elapsed: float = 0.0


def find_checkpoint(run_path: Path | None, resume: bool) -> Checkpoint | None:
    """With ``resume``, the checkpoint to continue from; without, None after checking that
    ``run_path`` holds no run that would be overwritten."""
    if run_path is None:
        return None
    folder = run_path / CHECKPOINT_DIR
    if resume:
        checkpoint = latest_checkpoint(folder)
        if checkpoint is None:
            raise CheckpointError(f"nothing to resume: {folder} holds no checkpoint")
        return checkpoint
    if list_checkpoints(folder) or any((run_path / "history.parquet").glob("part-*.parquet")):
        raise ConfigError(
            f"run_dir {str(run_path)!r} already holds a run; pass resume=True to continue it "
            f"or choose a new run_dir"
        )
    return None


def stateful_callbacks(callbacks: Sequence[object]) -> list[StatefulCallback]:
    """The callbacks whose state goes into checkpoints (``state_dict``/``load_state_dict``)."""
    return [
        cast(StatefulCallback, cb)
        for cb in callbacks
        if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict")
    ]


def optimizer_stop(optimizer: Optimizer) -> str | None:
    wants = optimizer.stop()
    return "; ".join(f"{k}: {v}" for k, v in wants.items()) if wants else None


def _fingerprint(optimizer: Optimizer) -> dict[str, Any]:
    try:
        size: int | None = optimizer.population_size
    except NotImplementedError:
        size = None
    return {
        "type": type(optimizer).__name__,
        "space": optimizer.space.to_dict(),
        "population_size": size,
    }


def save(
    run_path: Path,
    optimizer: Optimizer,
    callbacks: list[StatefulCallback],
    recorder: Recorder,
    loop: LoopState,
    stop_reason: str | None,
    direction: Direction,
) -> Path:
    """Write a checkpoint of the run as it stands after generation ``loop.generation``.

    The meta records the direction twice: ``sign`` (1.0 or -1.0, as always) and
    ``direction`` (:meth:`Direction.to_dict`); the history's own record is ``history.sense``
    (None for a run directory written before the history recorded its direction).
    """
    opt_arrays, opt_meta = optimizer.state_dict()
    arrays: dict[str, np.ndarray] = {f"optimizer.{k}": v for k, v in opt_arrays.items()}
    if loop.best_x is not None:
        arrays["run.best_x"] = loop.best_x
    pending = recorder.history.unflushed()
    for col in pending.dtype.names or ():
        arrays[f"history.{col}"] = pending[col]
    cb_meta = []
    for i, cb in enumerate(callbacks):
        a, m = cb.state_dict()
        arrays.update({f"callback.{i}.{k}": v for k, v in a.items()})
        cb_meta.append({"type": type(cb).__name__, "meta": m})
    meta = {
        "genepool": __version__,
        "sign": direction.shared_sign,
        "direction": direction.to_dict(),
        "loop": {
            "generation": loop.generation,
            "n_evaluations": loop.n_evaluations,
            "best": loop.best,
            "since_improvement": loop.since_improvement,
            "elapsed": loop.elapsed,
            "stop_reason": stop_reason,
        },
        "optimizer": {**_fingerprint(optimizer), "meta": opt_meta},
        "history": {"flushed": recorder.history.n_flushed, "sense": recorder.sense},
        "callbacks": cb_meta,
    }
    return write_checkpoint(run_path / CHECKPOINT_DIR, loop.generation, arrays, meta)


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    n = len(prefix)
    return {k[n:]: v for k, v in arrays.items() if k.startswith(prefix)}


def restore(
    checkpoint: Checkpoint,
    optimizer: Optimizer,
    callbacks: list[StatefulCallback],
    direction: Direction,
) -> LoopState:
    """Load ``checkpoint`` into a fresh ``optimizer`` and ``callbacks``; the loop's counters.

    A checkpoint of the other direction is refused (by its ``sign``, which every checkpoint
    holds, and by its ``direction`` record where it has one).
    """
    meta = checkpoint.meta
    try:
        saved, loop = meta["optimizer"], meta["loop"]
        cb_meta = meta["callbacks"]
        cb_types = [m["type"] for m in cb_meta]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {checkpoint.path} lacks {exc}") from None
    if not (isinstance(saved, dict) and isinstance(loop, dict)):
        raise CheckpointError(
            f"checkpoint {checkpoint.path}: 'optimizer' and 'loop' must be objects"
        )
    recorded = meta.get("direction")
    if meta.get("sign") != direction.shared_sign or (
        recorded is not None and recorded != direction.to_dict()
    ):
        sign = meta.get("sign")
        how = "minimize" if sign == 1.0 else "maximize" if sign == -1.0 else "mixed senses"
        if recorded is not None and (sign is None or direction.m > 1):
            how += f" with objectives {recorded.get('objectives')}"
        raise ConfigError(
            f"checkpoint {checkpoint.path} was written by {how}; resume it the same way"
        )
    mine = _fingerprint(optimizer)
    for key in ("type", "space", "population_size"):
        if saved.get(key) != mine[key]:
            raise ConfigError(
                f"the optimizer does not match checkpoint {checkpoint.path}: its {key} is "
                f"{mine[key]!r}, the checkpoint's is {saved.get(key)!r}"
            )
    if cb_types != [type(cb).__name__ for cb in callbacks]:
        raise ConfigError(
            f"checkpoint {checkpoint.path} holds the state of callbacks "
            f"{cb_types}, the run has {[type(c).__name__ for c in callbacks]}"
        )
    try:  # a checkpoint whose JSON parses but holds the wrong keys or values
        check_int("history.flushed", meta["history"]["flushed"], minimum=0)
        optimizer.load_state_dict(_prefixed(checkpoint.arrays, "optimizer."), saved["meta"])
        for i, cb in enumerate(callbacks):
            cb.load_state_dict(_prefixed(checkpoint.arrays, f"callback.{i}."), cb_meta[i]["meta"])
        best_x = checkpoint.arrays.get("run.best_x")
        return LoopState(
            generation=check_int("loop.generation", loop["generation"], minimum=0),
            n_evaluations=check_int("loop.n_evaluations", loop["n_evaluations"], minimum=0),
            best=float(loop["best"]),
            best_x=None if best_x is None else np.array(best_x, dtype=np.float64),
            since_improvement=check_int(
                "loop.since_improvement", loop["since_improvement"], minimum=0
            ),
            elapsed=float(loop["elapsed"]),
        )
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint {checkpoint.path}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        what = f"lacks {exc}" if isinstance(exc, KeyError) else f"is malformed ({exc})"
        raise CheckpointError(f"checkpoint {checkpoint.path} {what}") from None


def pending_history(checkpoint: Checkpoint, dtype: np.dtype) -> np.ndarray:
    """The history rows a checkpoint carried in memory (not yet on disk when it was written)."""
    cols = _prefixed(checkpoint.arrays, "history.")
    n = len(next(iter(cols.values()))) if cols else 0
    rows = np.zeros(n, dtype=dtype)
    assert dtype.names is not None  # the history dtype is structured
    for name in dtype.names:
        if name in cols:
            rows[name] = cols[name]
    return rows
