"""What a run directory's ``best.json`` holds, as dataclasses with one versioned JSON schema.

Every reader and writer of ``best.json`` goes through :func:`read_best` and :func:`write_best`.
Three kinds of record share :class:`BestRecord`'s fields:

- :class:`RunRecord`: one ``genepool evolve`` run, or one walk-forward fold of one
  (``folds/fold-NN/best.json``): the best strategy in and out of sample, the trials, the
  deflated Sharpe ratio, PBO and the verdict; a multi-objective run (``--objectives``) adds
  ``objectives``, ``pick`` and ``front`` (its best strategy is then the recommended pick: a
  version-1 reader reads it as the best strategy, which it is, and keeps the new keys in
  ``extra``, so the schema version stays 1);
- :class:`WalkForwardRecord`: the summary of a walk-forward run over its folds;
- :class:`BacktestRecord`: ``genepool backtest`` (one strategy, no search).

``to_dict`` writes each kind's keys in the order they have always had; ``best.json`` adds
``"schema_version"`` (:data:`SCHEMA_VERSION`). A file written before the version existed (no
such key) is read as version 1, and keys a run of an older version did not write are None;
keys this version does not know are kept in ``extra``. Non-finite floats are written as
``"inf"``/``"-inf"``/``"nan"`` and read back as floats (``_files``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError
from . import _files as F

__all__ = [
    "COMPLETE",
    "FINISHED",
    "INTERRUPTED",
    "NO_VALID",
    "SCHEMA_VERSION",
    "VERSION_KEY",
    "Annualization",
    "BacktestRecord",
    "BestRecord",
    "DeflatedSharpeRecord",
    "FoldRow",
    "PboRecord",
    "RunRecord",
    "Span",
    "Trials",
    "Verdict",
    "WalkForwardInfo",
    "WalkForwardRecord",
    "read_best",
    "read_best_or_none",
    "record_from_dict",
    "write_best",
]

#: The version of ``best.json``'s layout; a file without ``VERSION_KEY`` is version 1.
SCHEMA_VERSION = 1
VERSION_KEY = "schema_version"

#: ``status`` of a run or fold: it ran to the end; it was stopped (Ctrl-C, a budget) and can be
#: resumed; it finished without a valid strategy (its best has the invalid fitness: fewer
#: trades than ``min_trades``, or a non-finite objective). The last two are finished.
COMPLETE = "complete"
INTERRUPTED = "interrupted"
NO_VALID = "no valid strategy"
FINISHED = (COMPLETE, NO_VALID)

Metrics = dict[str, Any]  # a metric name of genepool.backtest.METRICS -> its value
R = TypeVar("R", bound="_Section")


class _Section:
    """A JSON object of ``best.json``: its keys are the dataclass fields, in order."""

    #: Fields that hold a nested section (read with that section's ``from_dict``).
    NESTED: ClassVar[dict[str, type[_Section]]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[R], doc: dict[str, Any]) -> R:
        """The section of ``doc``; a key it lacks is None (or the field's default)."""
        return cls(**cls._values(doc))

    @classmethod
    def _values(cls, doc: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in doc:
                nested = cls.NESTED.get(f.name)
                values[f.name] = doc[f.name] if nested is None else _section(nested, doc[f.name])
        return values


def _encode(value: Any) -> Any:
    return value.to_dict() if isinstance(value, _Section) else value


def _section(kind: type[R], value: Any) -> R | None:
    """``value`` read as a ``kind`` section; None when it is not a non-empty JSON object."""
    return kind.from_dict(value) if isinstance(value, dict) and value else None


class _ErrorOr:
    """A statistic's section: ``{"error": why}`` when it could not be computed, else its values
    (without the ``error`` key). Needs an ``error`` field; adds no field of its own."""

    error: str | None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"error": self.error}
        return {k: v for k, v in super().to_dict().items() if k != "error"}  # type: ignore[misc]


@dataclass(frozen=True)
class Span(_Section):
    """The first and last bar of a range of bars (timestamps) and its length."""

    start: Any = None
    end: Any = None
    n_bars: int | None = None


@dataclass(frozen=True)
class Annualization(_Section):
    """Bars per year of a run and how they were found (``BarsPerYear``)."""

    bars_per_year: float | None = None
    method: str | None = None


@dataclass(frozen=True)
class Trials(_Section):
    """The distinct strategies a run evaluated, behind its deflated Sharpe ratio and PBO."""

    n_distinct: int | None = None
    exact: bool | None = None
    sample: int | None = None
    sample_valid: int | None = None
    sharpe_variance_measured: float | None = None
    #: A universe run: the symbols each strategy was evaluated on (its fitness aggregated
    #: their results), and the trials the deflated Sharpe counts, ``n_distinct * symbols``.
    #: Absent for a run on one series.
    symbols: int | None = None
    n_trials: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for key in ("symbols", "n_trials"):
            if out[key] is None:  # a run on one series: best.json as it was
                del out[key]
        return out


@dataclass(frozen=True)
class DeflatedSharpeRecord(_ErrorOr, _Section):
    """The deflated Sharpe ratio of a run's best strategy, or why it could not be computed."""

    dsr: float | None = None
    sharpe_per_bar: float | None = None
    expected_max_sharpe_per_bar: float | None = None
    n_trials: int | None = None
    var_trials: float | None = None
    n_obs: int | None = None
    skew: float | None = None
    kurtosis: float | None = None
    significant: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class PboRecord(_ErrorOr, _Section):
    """The probability of backtest overfitting (CSCV) of a run, or why it could not be."""

    pbo: float | None = None
    n_strategies: int | None = None
    n_blocks: int | None = None
    n_combinations: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Verdict(_Section):
    """What the statistics say about the best strategy, in one sentence.

    A search's verdict rests on the deflated Sharpe ratio and PBO (``dsr``, ``pbo``); where
    nothing was selected (a backtest, the stitched walk-forward returns) on the probabilistic
    Sharpe ratio against zero (``psr``, written only then). ``significant`` is None when no
    statistic could be computed.
    """

    text: str = "No verdict."
    significant: bool | None = None
    dsr: float | None = None
    pbo: float | None = None
    psr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "significant": self.significant}
        if self.psr is not None:
            out["psr"] = self.psr
        return out | {"dsr": self.dsr, "pbo": self.pbo}


@dataclass(frozen=True)
class WalkForwardInfo(_Section):
    """How far a walk-forward run got and which folds found a valid strategy."""

    folds: int | None = None
    done: int | None = None
    mode: str | None = None
    fold_status: list[str | None] = field(default_factory=list)
    valid_folds: list[int] = field(default_factory=list)
    invalid_folds: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class BestRecord(_Section):
    """Fields every ``best.json`` has (or, for older runs, may lack: then None)."""

    #: The keys a kind writes, in their order (a subclass's own).
    KEYS: ClassVar[tuple[str, ...]] = ()
    #: Keys left out of the file when their value is None.
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ()
    NESTED: ClassVar[dict[str, type[_Section]]] = {
        "verdict": Verdict,
        "annualization": Annualization,
    }

    strategy: str | None = None
    objective: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fitness: float | None = None
    in_sample: Metrics | None = None
    out_of_sample: Metrics | None = None
    verdict: Verdict | None = None
    status: str | None = None
    n_generations: int | None = None
    n_evaluations: int | None = None
    annualization: Annualization | None = None
    valid: bool = True
    warnings: list[str] = field(default_factory=list)
    verdict_reason: str | None = None
    min_trades: int | None = None
    min_trades_rule: str | None = None
    #: Keys of the file this version does not know (kept, and written back after the others).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record as ``best.json`` holds it (without the version key)."""
        out = {}
        for key in self.KEYS:
            value = getattr(self, key)
            if value is None and key in self.OMIT_IF_NONE:
                continue
            out[key] = _encode(value)
        return out | self.extra

    @classmethod
    def _values(cls, doc: dict[str, Any]) -> dict[str, Any]:
        known = {f.name for f in dataclasses.fields(cls)}
        return super()._values(doc) | {
            "valid": bool(doc.get("valid", True)),  # older runs: valid unless they said not
            "warnings": _strings(doc.get("warnings")),
            "params": doc["params"] if isinstance(doc.get("params"), dict) else {},
            "extra": {k: v for k, v in doc.items() if k not in known and k != VERSION_KEY},
        }


def _strings(value: Any) -> list[str]:
    if not value:
        return []
    return [str(w) for w in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class RunRecord(BestRecord):
    """``best.json`` of one ``genepool evolve`` run, or of one of its walk-forward folds."""

    KEYS: ClassVar[tuple[str, ...]] = (
        "strategy", "objective", "valid", "invalid_reason", "warnings", "verdict_reason",
        "params", "fitness", "in_sample", "out_of_sample", "train", "test", "annualization",
        "trials", "deflated_sharpe", "pbo", "verdict", "min_trades", "min_trades_rule",
        "status", "stop_reason", "n_generations", "n_evaluations", "elapsed", "peak_rss",
        "cache", "objectives", "pick", "front", "symbols",
    )  # fmt: skip
    #: no trials: no valid strategy; no objectives, pick, front: a single-objective run; no
    #: symbols: a run on one series
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("trials", "objectives", "pick", "front", "symbols")
    NESTED: ClassVar[dict[str, type[_Section]]] = {
        **BestRecord.NESTED,
        "train": Span,
        "test": Span,
        "trials": Trials,
        "deflated_sharpe": DeflatedSharpeRecord,
        "pbo": PboRecord,
    }

    invalid_reason: str | None = None
    train: Span | None = None
    test: Span | None = None
    trials: Trials | None = None
    deflated_sharpe: DeflatedSharpeRecord | None = None
    pbo: PboRecord | None = None
    stop_reason: str | None = None
    elapsed: float | None = None
    peak_rss: int | None = None
    cache: dict[str, Any] | None = None
    #: A multi-objective run (``--objectives``): ``[{"name": metric, "sense": "maximize" |
    #: "minimize"}, ...]``; its ``params``, ``in_sample``, ``out_of_sample`` and verdict are
    #: those of the recommended pick, and ``fitness`` is None.
    objectives: list[dict[str, Any]] | None = None
    #: How the pick was chosen (``rule``), the size of the whole in-sample Pareto set
    #: (``pareto_size`` distinct strategies at ``pareto_points`` distinct points in objective
    #: space) and how many strategies ``front`` lists (``front_size``).
    pick: dict[str, Any] | None = None
    #: The reported front, the pick first: ``[{"params": {...}, "in_sample": {objective:
    #: value}, "out_of_sample": {...} or None}, ...]`` (objectives in the metrics' own sign).
    front: list[dict[str, Any]] | None = None
    #: A universe run (``--store``): ``{"aggregate", "names", "trials_per_strategy",
    #: "in_sample": {symbol: {metric: value}}, "out_of_sample": {...} or None}``, the best
    #: strategy's metrics on each symbol (the top strategies' are in symbols.parquet).
    symbols: dict[str, Any] | None = None


@dataclass(frozen=True)
class WalkForwardRecord(BestRecord):
    """``best.json`` of a walk-forward run: the last fold's strategy, the stitched
    out-of-sample returns of every fold and the verdict on the valid folds' returns."""

    KEYS: ClassVar[tuple[str, ...]] = (
        "strategy", "objective", "walk_forward", "valid", "warnings", "verdict_reason",
        "min_trades", "min_trades_rule", "params", "fitness", "in_sample", "out_of_sample",
        "verdict", "annualization", "status", "n_generations", "n_evaluations", "symbols",
    )  # fmt: skip
    OMIT_IF_NONE: ClassVar[tuple[str, ...]] = ("symbols",)
    NESTED: ClassVar[dict[str, type[_Section]]] = {
        **BestRecord.NESTED,
        "walk_forward": WalkForwardInfo,
    }

    walk_forward: WalkForwardInfo | None = None
    #: A universe run: the last fold's ``symbols`` block (as :class:`RunRecord`'s).
    symbols: dict[str, Any] | None = None


@dataclass(frozen=True)
class BacktestRecord(BestRecord):
    """``best.json`` of ``genepool backtest``: one strategy on all the bars, no search."""

    KEYS: ClassVar[tuple[str, ...]] = (
        "strategy", "objective", "params", "fitness", "in_sample", "out_of_sample", "verdict",
        "status", "n_generations", "n_evaluations", "annualization",
    )  # fmt: skip


@dataclass(frozen=True)
class FoldRow:
    """One row of ``walk_forward.parquet``: a fold's ranges, strategy and results."""

    fold: int
    status: str | None
    valid: bool
    min_trades: int | None
    train_start: Any
    train_end: Any
    test_start: Any
    test_end: Any
    params: dict[str, Any]
    in_sample: Metrics
    out_of_sample: Metrics
    dsr: float | None
    pbo: float | None

    def to_row(self, metrics: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """The flat row: ``param_<name>``, ``is_<metric>`` and ``oos_<metric>`` columns."""
        head = {f: getattr(self, f) for f in ("fold", "status", "valid", "min_trades",
                "train_start", "train_end", "test_start", "test_end")}  # fmt: skip
        return {
            **head,
            **{f"param_{k}": v for k, v in self.params.items()},
            **{f"is_{m}": self.in_sample[m] for m in metrics},
            **{f"oos_{m}": self.out_of_sample.get(m) for m in metrics},
            "dsr": self.dsr,
            "pbo": self.pbo,
        }


def record_from_dict(doc: dict[str, Any]) -> BestRecord:
    """The record of a ``best.json`` object, of the kind its keys say."""
    version = doc.get(VERSION_KEY, 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ConfigError(
            f"best.json has {VERSION_KEY} {version!r}; this genepool reads up to "
            f"{SCHEMA_VERSION}: upgrade genepool"
        )
    if isinstance(doc.get("walk_forward"), dict):
        return WalkForwardRecord.from_dict(doc)
    if any(k in doc for k in ("train", "stop_reason", "trials", "deflated_sharpe", "valid")):
        return RunRecord.from_dict(doc)
    if doc.get("n_generations") == 0 and "params" in doc:
        return BacktestRecord.from_dict(doc)
    return RunRecord.from_dict(doc)


def read_best(run_dir: str | Path) -> BestRecord:
    """The record in ``run_dir/best.json``.

    Raises
    ------
    ConfigError
        The file is missing, cannot be read, is not a JSON object, has no ``params`` object
        (damaged, or not a genepool run file), or has a newer ``schema_version``; the message
        names the file.
    """
    path = Path(run_dir) / F.BEST
    doc = F.read_json(path)
    F.require(path, doc, {"params": dict})
    try:
        return record_from_dict(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def read_best_or_none(run_dir: str | Path) -> BestRecord | None:
    """The record in ``run_dir/best.json``, or None when there is none or it is no JSON
    object (a run that crashed before writing it, or a damaged file)."""
    path = Path(run_dir) / F.BEST
    try:
        doc = F.read_json(path)
        return record_from_dict(doc) if isinstance(doc, dict) else None
    except ConfigError:
        return None


def write_best(run_dir: str | Path, record: BestRecord) -> None:
    """Write ``record`` to ``run_dir/best.json`` (atomically), with the schema version."""
    F.write_json(Path(run_dir) / F.BEST, {VERSION_KEY: SCHEMA_VERSION, **record.to_dict()})
