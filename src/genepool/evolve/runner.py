"""Strategy evolution end to end: data -> GA on the training bars -> honest results on disk.

A run directory holds::

    config.json           every setting, the seed, versions, the data's source and SHA-256
    history.parquet/      one row per generation (best, mean, std, diversity, evaluations, RSS)
    checkpoint/           the newest two checkpoints (npz + JSON), for `genepool resume`
    hall_of_fame.parquet  the best distinct strategies, metrics in and out of sample
    population.parquet    the final population (decoded parameters and fitness)
    equity.parquet        the best strategy's value and drawdown per bar, in and out of sample
    trades.parquet        its trades
    memory.parquet        anonymous, file-backed and RSS memory, chunk size per generation
    best.json             the best strategy, its metrics, deflated Sharpe, PBO and the verdict,
                          its status (``complete``, ``interrupted``, ``no valid strategy``),
                          ``valid`` and ``warnings`` (docs/evolve.md, "Statuses")
    report.html           all of it, self-contained
    folds/fold-NN/        with --walk-forward: one such directory per fold
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from ..algorithms import GA, Optimizer
from ..backtest import StrategyProblem, demo_data, load_ohlcv
from ..backtest.calendar import BarsPerYear, format_bars, infer_bars_per_year
from ..backtest.walk_forward import (
    Fold,
    holdout_split,
    walk_forward_min_bars,
    walk_forward_splits,
)
from ..errors import ConfigError, DataError
from ..run import Direction, maximize
from ..run.checkpoint import list_checkpoints
from ..run.progress import ProgressReporter
from ..run.result import Result
from ..run.state import CHECKPOINT_DIR
from . import _files as F
from ._rundir import check_new_run_dir, existing_run_dir, new_run_dir
from .callbacks import HallOfFame, TrialSketch
from .config import (
    MIN_TRADES_RULE,
    EvolveConfig,
    auto_min_trades,
    check_types,
    objective_senses,
)
from .multi import (
    MetricObjectives,
    StrategyNSGA2,
    finish_multi,
    problem_names,
)
from .out_of_sample import (  # INIT_CASH: re-exported, it was defined here
    ADVICE,
    INIT_CASH,  # noqa: F401
    hall_of_fame_table,
    invalid_reason,
    metrics_dict,
    most_active,
    population_frame,
    trace_best,
)
from .records import (
    COMPLETE,
    FINISHED,
    INTERRUPTED,
    NO_VALID,
    Annualization,
    BestRecord,
    RunRecord,
    Span,
    WalkForwardRecord,
    read_best,
    write_best,
)
from .universe import (
    Bars,
    UniverseData,
    check_splits,
    min_bars,
    open_universe,
    universe_annualization,
    universe_info,
    universe_problem,
    write_symbol_metrics,
)
from .verdicts import psr_verdict, search_verdict  # noqa: F401 (psr_verdict was here)
from .walk_forward_summary import fold_dir, summarize_walk_forward

__all__ = ["RunOutcome", "resume_evolution", "run_evolution"]

log = logging.getLogger("genepool")

#: ``genepool evolve`` maximizes its objective (``maximize`` below); the GA holds the negation.
DIRECTION = Direction.maximize()

#: The CLI's exit status when a run or every fold finished without a valid strategy
#: (``status`` :data:`~genepool.evolve.records.NO_VALID`).
EXIT_NO_VALID = 3


@dataclass
class RunOutcome:
    """Where a run went and what it found.

    ``record`` is the run's ``best.json`` (:mod:`genepool.evolve.records`); ``best`` is the
    same as a plain dict, ``status`` its status.
    """

    run_dir: Path
    record: BestRecord
    report: Path | None

    @property
    def best(self) -> dict[str, Any]:
        """The content of ``best.json`` (without its schema version)."""
        return self.record.to_dict()

    @property
    def status(self) -> str:
        return str(self.record.status)


Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# -- entry points --------------------------------------------------------------------------------
def run_evolution(
    config: EvolveConfig,
    *,
    progress: ProgressReporter | None = None,
    echo: Echo = _quiet,
    report: bool = True,
    overwrite: bool = False,
) -> RunOutcome:
    """Start a run: write ``config.json``, evolve, and write the results and the report.

    An existing non-empty ``config.out`` is refused, unless ``overwrite`` and it holds a
    genepool run (then genepool's files in it are replaced); see ``_rundir``.
    """
    config = dataclasses.replace(config)  # the caller's config stays as it was given
    config.validate()
    if config.seed is None:
        config.seed = secrets.randbelow(2**31)
    out = Path(config.out or f"runs/{config.strategy}-{time.strftime('%Y%m%d-%H%M%S')}")
    check_new_run_dir(out, overwrite=overwrite)  # refuse at once, before the data load
    config.out = str(out)
    data = _load(config)  # before the directory is made: a bad file leaves nothing behind
    if isinstance(data, UniverseData):  # every symbol has bars in every range, or nothing runs
        need = min_bars(config.strategy, config.stops, config.ranges)
        check_splits(data, _splits(len(data), config), need)
    annual = _annualization(config, data)
    with new_run_dir(out, command="evolve", overwrite=overwrite):
        _write_run_config(out, config, data, annual)
        echo(f"run directory {out}")
        echo(f"annualization: {annual}")
        if not isinstance(data, UniverseData):  # a universe: each symbol's own calendar
            config.bars_per_year = annual.value  # every problem of the run uses it
        return _execute(
            out, config, data, resume=False, progress=progress, echo=echo, report=report
        )


def _write_run_config(out: Path, config: EvolveConfig, data: Bars, annual: BarsPerYear) -> None:
    doc = {
        "config": config.to_dict(),
        "data": _data_info(config, data),
        "annualization": {"bars_per_year": annual.value, "method": annual.method},
        "versions": F.versions(),
        "created": pd.Timestamp.now(tz="UTC"),
    }
    F.write_json(out / F.CONFIG, doc)


def resume_evolution(
    run_dir: str | Path,
    *,
    generations: int | None = None,
    bars_per_year: float | None = None,
    progress: ProgressReporter | None = None,
    echo: Echo = _quiet,
    report: bool = True,
) -> RunOutcome:
    """Continue the run in ``run_dir`` from its last checkpoint (optionally for longer).

    Refused (:class:`~genepool.errors.ConfigError`, nothing changed) when ``run_dir`` is not
    an unfinished evolve run, is finished and ``generations`` is not above its own, its
    ``config.json`` is damaged, or another process holds its lock. The run keeps the bars per
    year it was started with (``bars_per_year``, when given, must equal it); a run recorded
    before bars per year were recorded keeps vectorbt's 365-day annualization, so that it
    continues exactly as it began.
    """
    with existing_run_dir(run_dir, command="resume", generations=generations):
        out = Path(run_dir)
        doc = F.read_json(out / F.CONFIG)
        config = _run_config(out / F.CONFIG, doc)
        annual = _recorded_annualization(out, doc, bars_per_year, echo)  # refused: no writes
        if generations is not None:
            config.generations = generations
            doc["config"] = config.to_dict()
        try:
            config.validate()
        except ConfigError as exc:
            raise ConfigError(f"{out / F.CONFIG}: {exc}") from None
        data = _load(config)
        if _data_info(config, data)["sha256"] != doc["data"]["sha256"]:
            raise DataError(
                f"the data of {out} changed since the run started ({doc['data']['source']} no "
                f"longer has SHA-256 {doc['data']['sha256'][:12]}...); start a new run instead"
            )
        if generations is not None:  # otherwise config.json stays byte for byte as it was
            F.write_json(out / F.CONFIG, doc)
        if not isinstance(data, UniverseData) or config.bars_per_year is not None:
            config.bars_per_year = annual
        return _execute(
            out, config, data, resume=True, progress=progress, echo=echo, report=report
        )


#: Settings every evolve run's config.json has had; the others take their defaults (a run
#: written before a setting existed still resumes).
REQUIRED_SETTINGS = ("data", "demo", "strategy", "objective", "population", "generations", "seed")


def _run_config(path: Path, doc: Any) -> EvolveConfig:
    """The :class:`EvolveConfig` recorded in ``path`` (a run's config.json), or ConfigError
    naming the file and the key that is missing, unknown or of the wrong type."""
    settings = doc.get("config") if isinstance(doc, dict) else None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path} has no 'config' object; is this a genepool run directory?")
    command = settings.get("command", "evolve")
    if command != "evolve":
        raise ConfigError(
            f"{path} was written by `genepool {command}`, not `genepool evolve`: "
            f"there is no evolution to resume"
        )
    settings = {k: v for k, v in settings.items() if k != "command"}
    unknown = sorted(set(settings) - set(EvolveConfig.keys()))
    missing = [k for k in REQUIRED_SETTINGS if k not in settings]
    if unknown or missing:
        raise ConfigError(
            f"{path} is not an evolve run's configuration: "
            + (f"unknown key(s) {unknown}" if unknown else f"missing key(s) {missing}")
        )
    check_types(settings, f"{path}: ")
    info = doc.get("data")
    if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
        raise ConfigError(f"{path} lacks the data's identity ('data': {{'sha256': ...}})")
    info.setdefault("source", "the data")
    return EvolveConfig(**settings)


# -- data and splits -----------------------------------------------------------------------------
def _data_info(config: EvolveConfig, data: Bars) -> dict[str, Any]:
    """What config.json records of the data (its ``sha256`` is checked on resume)."""
    if isinstance(data, UniverseData):
        assert config.store is not None and config.aggregate is not None
        return universe_info(data, config.store, config.aggregate)
    return F.data_info(data, None if config.demo else config.data)


def _load(config: EvolveConfig) -> Bars:
    if config.store is not None:
        assert isinstance(config.symbols, str)  # normalized by validate()
        return open_universe(config.store, config.symbols)
    if config.demo:
        return demo_data()
    options: dict[str, Any] = {"sep": config.sep} if config.sep else {}
    return load_ohlcv(
        config.data,  # type: ignore[arg-type]
        min_bars=2,  # a one-row file is "too short", before anything else
        time_column=config.time_column,
        price_column=config.price_column,
        **options,
    )


def _annualization(config: EvolveConfig, data: Bars) -> BarsPerYear:
    """Bars per year of a new run: ``--bars-per-year``, else counted on the whole data's
    calendar once (so training and test data, and every fold, use the same figure); a
    universe's symbols keep their own calendars (the union calendar's figure is the
    portfolio's)."""
    if isinstance(data, UniverseData):
        return universe_annualization(data, config.bars_per_year)
    if config.bars_per_year is not None:
        return BarsPerYear(float(config.bars_per_year), "given with --bars-per-year")
    return infer_bars_per_year(data.index)


def _recorded_annualization(
    out: Path, doc: dict[str, Any], given: float | None, echo: Echo
) -> float | None:
    """Bars per year a resumed run continues with; None: the 365-day rule of older runs."""
    recorded = doc.get("annualization")
    if recorded is None:
        if given is not None:
            raise ConfigError(
                f"{out} was started before bars per year were recorded and continues with "
                "its 365-day annualization; --bars-per-year needs a new run (genepool evolve)"
            )
        echo(
            "annualization: 365 days / median bar spacing, as when this run was started "
            "(before bars per year were recorded)"
        )
        return None
    annual = BarsPerYear(float(recorded["bars_per_year"]), str(recorded["method"]))
    if given is not None and not math.isclose(float(given), annual.value, rel_tol=1e-12):
        raise ConfigError(
            f"{out} was evolved with {format_bars(annual.value)} bars/year; --bars-per-year "
            f"{given:g} would change every "
            f"fitness in the middle of the run: start a new run with it instead (genepool "
            "evolve --bars-per-year ...)"
        )
    echo(f"annualization: {annual}")
    return annual.value


def _splits(n: int, config: EvolveConfig) -> list[Fold]:
    """The run's training and test ranges: one hold-out split, or one per walk-forward fold."""
    if not config.walk_forward:
        return [holdout_split(n, config.train_frac)]
    k = config.walk_forward
    if n < walk_forward_min_bars(k):
        raise DataError(
            f"--walk-forward {k} needs at least {walk_forward_min_bars(k):,} bars (k + 1 "
            f"segments of 2), the data has {n:,}; use fewer folds or more data"
        )
    return walk_forward_splits(n, k, config.walk_forward_mode)


def _problem(config: EvolveConfig, df: Bars, what: str) -> StrategyProblem:
    assert config.min_trades is not None  # resolved by _run_one
    kind, objective = StrategyProblem, config.objective
    if config.multi_objective and config.objectives:  # one column per metric, in its sense
        kind = MetricObjectives
        objective = ",".join(problem_names(objective_senses(config.objectives)))
    if isinstance(df, UniverseData):
        try:
            return cast(
                StrategyProblem,
                universe_problem(
                    kind,
                    df,
                    objective if kind is StrategyProblem else objective.split(","),
                    family=config.strategy,
                    fees=config.fees,
                    slippage=config.slippage,
                    min_trades=config.min_trades,
                    stops=config.stops,
                    bars_per_year=config.bars_per_year,
                    ranges=config.ranges,
                    aggregate=config.aggregate,
                    device=config.device,
                ),
            )
        except DataError as exc:
            span = f"{df.index[0]} .. {df.index[-1]}, {len(df):,} bars of the union calendar"
            raise DataError(f"{what} ({span}): {exc}") from None
    try:
        return kind(
            df,
            config.strategy,
            objective if kind is StrategyProblem else objective.split(","),
            fees=config.fees,
            slippage=config.slippage,
            min_trades=config.min_trades,
            stops=config.stops,
            # None only when resuming a run from before bars per year: its 365-day rule
            **(
                {"bars_per_year": config.bars_per_year}
                if config.bars_per_year is not None
                else {"year": "365 days"}
            ),
            ranges=config.ranges,
            device=config.device,
        )
    except DataError as exc:
        text = str(exc)  # "data has 21 bars; ..." -> "the training data has 21 bars; ..."
        text = text[5:] if text.startswith("data ") else f"({len(df):,} bars): {text}"
        raise DataError(f"{what} {text}") from None


# -- the run ------------------------------------------------------------------------------------
def _execute(
    out: Path,
    config: EvolveConfig,
    data: Bars,
    *,
    resume: bool,
    progress: ProgressReporter | None,
    echo: Echo,
    report: bool,
) -> RunOutcome:
    splits = _splits(len(data), config)
    steps = _Steps(resume=resume, progress=progress, echo=echo, report=report)
    if config.walk_forward:
        record: BestRecord = _walk_forward(out, config, data, splits, steps)
    else:
        split = splits[0]
        test = None if split.test is None else data.iloc[split.test]
        record = _run_one(out, config, data.iloc[split.train], test, config.seed, steps)
    path = _write_report(out, echo) if report else None
    return RunOutcome(out, record, path)


@dataclass(frozen=True)
class _Steps:
    """How each GA run of a command goes: resumed or new, its progress, messages, reports."""

    resume: bool
    progress: ProgressReporter | None
    echo: Echo
    report: bool


def _walk_forward(
    out: Path, config: EvolveConfig, data: Bars, splits: list[Fold], steps: _Steps
) -> WalkForwardRecord:
    """Run the folds in turn (a finished fold is kept on resume), then sum them up."""
    folds: list[RunRecord] = []
    for fold in splits:
        record = _run_fold(out, config, data, fold, len(splits), steps)
        folds.append(record)
        if record.status not in FINISHED:
            break
    summary = summarize_walk_forward(out, config, data, splits, folds)
    write_best(out, summary)  # a single run wrote its own best.json
    return summary


def _run_fold(
    out: Path, config: EvolveConfig, data: Bars, fold: Fold, n_folds: int, steps: _Steps
) -> RunRecord:
    assert fold.test is not None and config.seed is not None  # drawn before any run
    train, test = data.iloc[fold.train], data.iloc[fold.test]
    i, path = fold.index, fold_dir(out, fold.index)
    steps.echo(
        f"fold {i + 1}/{n_folds}: train {train.index[0]} .. {train.index[-1]}, "
        f"test {test.index[0]} .. {test.index[-1]}"
    )
    finished = _finished_fold(path) if steps.resume else None
    if finished is not None:
        return finished
    path.mkdir(parents=True, exist_ok=True)
    _write_fold_config(out, path, fold, n_folds, train, test)
    record = _run_one(path, config, train, test, int(config.seed) + i, steps)
    if steps.report:
        _write_report(path, echo=_quiet)
    if not record.valid:
        steps.echo(f"fold {i + 1}/{n_folds}: {record.warnings[0]}")
    return record


def _finished_fold(path: Path) -> RunRecord | None:
    """The record of a fold that finished before (kept when its run is resumed), or None."""
    if not (path / F.BEST).exists():
        return None
    record = read_best(path)
    if not isinstance(record, RunRecord):
        raise ConfigError(f"{path / F.BEST} is not the record of a walk-forward fold")
    return record if record.status in FINISHED else None


def _write_fold_config(
    out: Path, path: Path, fold: Fold, n_folds: int, train: Bars, test: Bars
) -> None:
    """The fold's config.json: the run's, with the fold's place and bars."""
    doc = F.read_json(out / F.CONFIG)
    doc["fold"] = {"index": fold.index, "of": n_folds, "train_bars": fold.n_train}
    doc["data"].update(start=train.index[0], end=test.index[-1], n_bars=fold.n_train + fold.n_test)
    F.write_json(path / F.CONFIG, doc)


def _run_one(
    run_dir: Path,
    config: EvolveConfig,
    train: Bars,
    test: Bars | None,
    seed: Any,
    steps: _Steps,
) -> RunRecord:
    """Evolve on ``train``, re-evaluate on ``test``, write the results and ``best.json``."""
    auto = config.min_trades is None
    if auto:  # resolved per training window (per fold); resume recomputes the same value
        config = dataclasses.replace(config, min_trades=auto_min_trades(train.index))
    problem = _problem(config, train, "the training data")
    test_problem = None if test is None else _problem(config, test, "the test data")
    sketch = TrialSketch(problem.space)
    if config.multi_objective:
        record, result = _run_multi(
            run_dir, config, problem, test_problem, train, test, seed, sketch, steps
        )
    else:
        ga = GA(problem.space, config.population, seed=int(seed), storage=config.storage)
        hof = HallOfFame(problem.space, config.hall_of_fame, invalid=problem.invalid_fitness)
        result = _evolve(run_dir, config, problem, ga, [hof, sketch], steps)
        _save_memory(run_dir, result)
        record = _finish(run_dir, config, problem, test_problem, train, test, ga, hof, sketch)
    status = INTERRUPTED if result.stop_reason.startswith("interrupted") else COMPLETE
    record = dataclasses.replace(
        record,
        min_trades=config.min_trades,
        min_trades_rule=MIN_TRADES_RULE if auto else "--min-trades",
        status=NO_VALID if status == COMPLETE and not record.valid else status,
        stop_reason=result.stop_reason,
        n_generations=result.n_generations,
        n_evaluations=result.n_evaluations,
        elapsed=result.elapsed,
        peak_rss=result.memory.peak_rss if result.memory else None,
        # the cache statistics, as best.json keeps them (a JSON object)
        cache=cast("dict[str, Any] | None", result.memory.cache if result.memory else None),
    )
    write_best(run_dir, record)
    return record


def _evolve(
    run_dir: Path,
    config: EvolveConfig,
    problem: StrategyProblem,
    ga: Optimizer,
    callbacks: list[Any],
    steps: _Steps,
    **options: Any,
) -> Result:
    """The GA (or NSGA-II) run itself, from the last checkpoint of ``run_dir`` when
    resuming; ``options`` go to :func:`~genepool.maximize` (``objectives=``)."""
    has_checkpoint = bool(list_checkpoints(run_dir / CHECKPOINT_DIR))
    if steps.resume and not has_checkpoint:  # killed before its first checkpoint: start again
        shutil.rmtree(run_dir / F.HISTORY, ignore_errors=True)
    return maximize(
        problem,
        ga,
        **options,
        generations=config.generations,
        memory_limit=config.memory_limit,
        cache=config.cache,
        run_dir=run_dir,
        checkpoint_every=config.checkpoint_every,
        resume=steps.resume and has_checkpoint,
        callbacks=callbacks,
        progress=steps.progress if steps.progress is not None else False,
        **_executor_kwargs(config),
    )


def _user_fitness(ga: GA) -> np.ndarray:
    """The final population's fitness in the user's sense (the GA holds the internal scale)."""
    return DIRECTION.to_user(ga.state.fitness)


def _executor_kwargs(config: EvolveConfig) -> dict[str, Any]:
    """Executor settings for ``maximize``: a ``tcp://`` scheduler address selects that Dask
    cluster (``--scheduler`` implies ``--executor dask``)."""
    if config.scheduler:
        if config.executor not in ("serial", "dask"):
            raise ConfigError(
                f"--scheduler needs --executor dask, got --executor {config.executor}"
            )
        return {"executor": config.scheduler, "workers": config.workers}
    if config.executor == "serial":
        return {}
    return {"executor": config.executor, "workers": config.workers}


def _save_memory(run_dir: Path, result: Result) -> None:
    if result.memory is None:
        return
    samples = result.memory.samples
    old = F.read_frame(run_dir / F.MEMORY)
    if old is not None and len(samples):
        samples = pd.concat([old[old["generation"] < samples["generation"].min()], samples])
    elif old is not None:
        samples = old
    F.write_frame(run_dir / F.MEMORY, samples)


def _finish(
    run_dir: Path,
    config: EvolveConfig,
    problem: StrategyProblem,
    test_problem: StrategyProblem | None,
    train: Bars,
    test: Bars | None,
    ga: GA,
    hof: HallOfFame,
    sketch: TrialSketch,
) -> RunRecord:
    """Population, hall of fame in and out of sample, the best strategy's trace, DSR, PBO:
    to disk; the run's record without its run statistics (status, generations, ...)."""
    fitness = _user_fitness(ga)
    F.write_frame(run_dir / F.POPULATION, population_frame(problem.space, ga.state.X, fitness))
    if len(hof.X):
        top_X, top_f = hof.X, hof.fitness
    else:  # no strategy was ever valid: the closest to valid, the most active of the population
        top_X, top_f = most_active(problem, ga.state.X, fitness)
    is_m = problem.metrics(top_X)
    oos_m = None if test_problem is None else test_problem.metrics(top_X)
    F.write_frame(run_dir / F.HALL_OF_FAME, hall_of_fame_table(problem.space, top_f, is_m, oos_m))
    symbols = write_symbol_metrics(run_dir, problem, test_problem, top_X)
    params = problem.space.decode_row(top_X[0])
    best = trace_best(problem, test_problem, params, train, test)
    F.write_frame(run_dir / F.EQUITY, best.equity)
    F.write_frame(run_dir / F.TRADES, best.trades)
    assert config.min_trades is not None  # resolved by _run_one
    fitness0, min_trades = float(top_f[0]), config.min_trades
    why = invalid_reason(fitness0, is_m.iloc[0], problem, config.objective, min_trades)
    record = RunRecord(
        strategy=config.strategy,
        objective=config.objective,
        valid=why is None,
        invalid_reason=why,
        params=params,
        fitness=fitness0,
        in_sample=metrics_dict(is_m.iloc[0]),
        out_of_sample=None if oos_m is None else metrics_dict(oos_m.iloc[0]),
        train=_span(train),
        test=None if test is None else _span(test),
        annualization=_run_annualization(run_dir, problem),
        symbols=symbols,
    )
    return _judged(record, problem, sketch, best.in_sample.returns, min_trades)


def _run_multi(
    run_dir: Path,
    config: EvolveConfig,
    problem: StrategyProblem,
    test_problem: StrategyProblem | None,
    train: Bars,
    test: Bars | None,
    seed: Any,
    sketch: TrialSketch,
    steps: _Steps,
) -> tuple[RunRecord, Result]:
    """NSGA-II on the objectives, then the front in and out of sample and the pick's verdict
    (:mod:`genepool.evolve.multi`)."""
    assert isinstance(problem, MetricObjectives) and config.min_trades is not None
    assert config.objectives is not None
    assert test_problem is None or isinstance(test_problem, MetricObjectives)
    senses = objective_senses(config.objectives)
    nsga = StrategyNSGA2(problem.space, config.population, seed=int(seed))
    result = _evolve(run_dir, config, problem, nsga, [sketch], steps, objectives=dict(senses))
    _save_memory(run_dir, result)
    base = RunRecord(
        train=_span(train),
        test=None if test is None else _span(test),
        annualization=_run_annualization(run_dir, problem),
    )
    record, best = finish_multi(run_dir, config, problem, test_problem, train, test, nsga, base)
    return _judged(record, problem, sketch, best.in_sample.returns, config.min_trades), result


def _judged(
    record: RunRecord,
    problem: StrategyProblem,
    sketch: TrialSketch,
    best_returns: np.ndarray,
    min_trades: int,
) -> RunRecord:
    """The record with its verdict: the trials, DSR, PBO and the verdict when its best is
    valid; otherwise the warnings and why there is no verdict (none from invalid ones)."""
    why = record.invalid_reason
    if why is not None:
        tried = f"{sketch.n_distinct:,}{'' if sketch.exact else ' (about)'}"
        return dataclasses.replace(
            record,
            warnings=[f"no valid strategy among {tried} tried: {why}", ADVICE],
            verdict_reason=f"No verdict: no valid strategy ({why}).",
        )
    stats = search_verdict(problem, sketch, best_returns, min_trades)
    return dataclasses.replace(
        record,
        trials=stats.trials,
        deflated_sharpe=stats.deflated_sharpe,
        pbo=stats.pbo,
        verdict=stats.verdict,
    )


def _span(df: Bars) -> Span:
    return Span(start=df.index[0], end=df.index[-1], n_bars=len(df))


def _run_annualization(run_dir: Path, problem: StrategyProblem) -> Annualization | None:
    """The bars per year recorded in the run's config.json (the problem's for older runs)."""
    recorded = F.read_json(run_dir / F.CONFIG).get("annualization")
    if recorded:
        return Annualization.from_dict(recorded)
    return Annualization(problem.bars_per_year, problem.annualization.method)


def _write_report(run_dir: Path, echo: Echo) -> Path:
    from .report_data import write_run_report

    return write_run_report(run_dir).resolve()  # the CLI prints it once, absolute
