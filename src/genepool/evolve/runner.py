"""Strategy evolution end to end: data -> GA on the training bars -> honest results on disk.

A run directory holds::

    config.json           every setting, the seed, versions, the data's source and SHA-256
    history.parquet/      one row per generation (best, mean, std, diversity, evaluations, RSS)
    checkpoint/           the newest two checkpoints (npz + JSON), for `genepool resume`
    hall_of_fame.parquet  the best distinct strategies, metrics in and out of sample
    population.parquet    the final population (decoded parameters and fitness)
    equity.parquet        the best strategy's value and drawdown per bar, in and out of sample
    trades.parquet        its trades
    memory.parquet        RSS and chunk size per generation
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
from typing import Any

import numpy as np
import pandas as pd

from .._progress import ProgressReporter
from .._run_state import CHECKPOINT_DIR
from ..algorithms import GA
from ..backtest import METRICS, StrategyProblem, demo_data, load_ohlcv
from ..backtest import overfitting as ovf
from ..backtest.calendar import BarsPerYear, format_bars, infer_bars_per_year
from ..backtest.trace import trace_strategy
from ..backtest.walk_forward import (
    Fold,
    holdout_split,
    walk_forward_min_bars,
    walk_forward_splits,
)
from ..checkpoint import list_checkpoints
from ..errors import ConfigError, DataError, GenepoolError
from ..run import maximize
from . import _files as F
from ._rundir import check_new_run_dir, existing_run_dir, new_run_dir
from .callbacks import HallOfFame, TrialSketch
from .config import MIN_TRADES_RULE, EvolveConfig, auto_min_trades, check_types

__all__ = ["RunOutcome", "resume_evolution", "run_evolution"]

log = logging.getLogger("genepool")

PBO_BLOCKS = 16
PBO_STRATEGIES = 256  # trials (a uniform sample of the distinct strategies) in the CSCV
INIT_CASH = 10_000.0  # StrategyProblem's default initial cash, which runs use

#: ``best.json["status"]`` of a run or fold that finished without a valid strategy (its best has
#: the invalid fitness: fewer trades than ``min_trades``, or a non-finite objective); the CLI
#: exits with ``EXIT_NO_VALID``. Runs that end with these statuses are finished (not resumed).
NO_VALID = "no valid strategy"
FINISHED = ("complete", NO_VALID)
EXIT_NO_VALID = 3


@dataclass
class RunOutcome:
    """Where a run went and what it found (``best`` is the content of ``best.json``)."""

    run_dir: Path
    best: dict[str, Any]
    status: str
    report: Path | None


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
    config.validate()
    if config.seed is None:
        config.seed = secrets.randbelow(2**31)
    out = Path(config.out or f"runs/{config.strategy}-{time.strftime('%Y%m%d-%H%M%S')}")
    check_new_run_dir(out, overwrite=overwrite)  # refuse at once, before the data load
    config.out = str(out)
    data = _load(config)  # before the directory is made: a bad file leaves nothing behind
    annual = _annualization(config, data)
    with new_run_dir(out, command="evolve", overwrite=overwrite):
        doc = {
            "config": config.to_dict(),
            "data": F.data_info(data, None if config.demo else config.data),
            "annualization": {"bars_per_year": annual.value, "method": annual.method},
            "versions": F.versions(),
            "created": pd.Timestamp.now(tz="UTC"),
        }
        F.write_json(out / F.CONFIG, doc)
        echo(f"run directory {out}")
        echo(f"annualization: {annual}")
        config.bars_per_year = annual.value  # in memory: every problem of the run uses it
        return _execute(
            out, config, data, resume=False, progress=progress, echo=echo, report=report
        )


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
        if F.data_hash(data) != doc["data"]["sha256"]:
            raise DataError(
                f"the data of {out} changed since the run started ({doc['data']['source']} no "
                f"longer has SHA-256 {doc['data']['sha256'][:12]}...); start a new run instead"
            )
        if generations is not None:  # otherwise config.json stays byte for byte as it was
            F.write_json(out / F.CONFIG, doc)
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
def _load(config: EvolveConfig) -> pd.DataFrame:
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


def _annualization(config: EvolveConfig, data: pd.DataFrame) -> BarsPerYear:
    """Bars per year of a new run: ``--bars-per-year``, else counted on the whole data's
    calendar once (so training and test data, and every fold, use the same figure)."""
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


def _problem(config: EvolveConfig, df: pd.DataFrame, what: str) -> StrategyProblem:
    assert config.min_trades is not None  # resolved by _run_one
    try:
        return StrategyProblem(
            df,
            config.strategy,
            config.objective,
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
        )
    except DataError as exc:
        text = str(exc)  # "data has 21 bars; ..." -> "the training data has 21 bars; ..."
        text = text[5:] if text.startswith("data ") else f"({len(df):,} bars): {text}"
        raise DataError(f"{what} {text}") from None


# -- the run ------------------------------------------------------------------------------------
def _execute(
    out: Path,
    config: EvolveConfig,
    data: pd.DataFrame,
    *,
    resume: bool,
    progress: ProgressReporter | None,
    echo: Echo,
    report: bool,
) -> RunOutcome:
    splits = _splits(len(data), config)
    if not config.walk_forward:
        train, test = splits[0].train, splits[0].test
        best = _run_one(
            out,
            config,
            data.iloc[train],
            None if test is None else data.iloc[test],
            config.seed,
            resume=resume,
            progress=progress,
            echo=echo,
        )
    else:
        assert config.seed is not None  # drawn by run_evolution before any run
        folds = []
        for i, (train, test) in enumerate((f.train, f.test) for f in splits):
            assert test is not None  # every walk-forward fold has a test range
            fold_dir = out / "folds" / f"fold-{i:02d}"
            echo(
                f"fold {i + 1}/{len(splits)}: train {data.index[train][0]} .. "
                f"{data.index[train][-1]}, test {data.index[test][0]} .. {data.index[test][-1]}"
            )
            done = fold_dir / F.BEST
            finished = F.read_json(done) if resume and done.exists() else None
            if finished is not None and finished.get("status") in FINISHED:
                folds.append(finished)
                continue
            fold_dir.mkdir(parents=True, exist_ok=True)
            fold_doc = F.read_json(out / F.CONFIG)
            fold_doc["fold"] = {
                "index": i,
                "of": len(splits),
                "train_bars": train.stop - train.start,
            }
            fold_doc["data"].update(
                start=data.index[train][0],
                end=data.index[test][-1],
                n_bars=test.stop - train.start,
            )
            F.write_json(fold_dir / F.CONFIG, fold_doc)
            fold_best = _run_one(
                fold_dir, config, data.iloc[train], data.iloc[test],
                int(config.seed) + i, resume=resume, progress=progress, echo=echo,
            )  # fmt: skip
            if report:
                _write_report(fold_dir, echo=_quiet)
            folds.append(fold_best)
            if not fold_best["valid"]:
                echo(f"fold {i + 1}/{len(splits)}: {fold_best['warnings'][0]}")
            if fold_best["status"] not in FINISHED:
                break
        best = _walk_forward_summary(out, config, data, splits, folds)
        F.write_json(out / F.BEST, best)  # a single run wrote its own best.json
    path = _write_report(out, echo) if report else None
    return RunOutcome(out, best, best["status"], path)


def _run_one(
    run_dir: Path,
    config: EvolveConfig,
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    seed: Any,
    *,
    resume: bool,
    progress: ProgressReporter | None,
    echo: Echo,
) -> dict[str, Any]:
    auto = config.min_trades is None
    if auto:  # resolved per training window (per fold); resume recomputes the same value
        config = dataclasses.replace(config, min_trades=auto_min_trades(train.index))
    problem = _problem(config, train, "the training data")
    test_problem = None if test is None else _problem(config, test, "the test data")
    ga = GA(problem.space, config.population, seed=int(seed))
    hof = HallOfFame(problem.space, config.hall_of_fame, invalid=problem.invalid_fitness)
    sketch = TrialSketch(problem.space)
    has_checkpoint = bool(list_checkpoints(run_dir / CHECKPOINT_DIR))
    if resume and not has_checkpoint:  # killed before its first checkpoint: start it again
        shutil.rmtree(run_dir / F.HISTORY, ignore_errors=True)
    result = maximize(
        problem,
        ga,
        generations=config.generations,
        memory_limit=config.memory_limit,
        run_dir=run_dir,
        checkpoint_every=config.checkpoint_every,
        resume=resume and has_checkpoint,
        callbacks=[hof, sketch],
        progress=progress if progress is not None else False,
        **_executor_kwargs(config),
    )
    status = "interrupted" if result.stop_reason.startswith("interrupted") else "complete"
    _save_memory(run_dir, result)
    best = _finish(run_dir, config, problem, test_problem, train, test, ga, hof, sketch)
    if status == "complete" and not best["valid"]:
        status = NO_VALID
    best.update(
        min_trades=config.min_trades,
        min_trades_rule=MIN_TRADES_RULE if auto else "--min-trades",
        status=status,
        stop_reason=result.stop_reason,
        n_generations=result.n_generations,
        n_evaluations=result.n_evaluations,
        elapsed=result.elapsed,
        peak_rss=result.memory.peak_rss if result.memory else None,
        cache=result.memory.cache if result.memory else None,
    )
    F.write_json(run_dir / F.BEST, best)
    return best


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


def _save_memory(run_dir: Path, result: Any) -> None:
    if result.memory is None:
        return
    samples = result.memory.samples
    old = F.read_frame(run_dir / F.MEMORY)
    if old is not None and len(samples):
        samples = pd.concat([old[old["generation"] < samples["generation"].min()], samples])
    elif old is not None:
        samples = old
    F.write_frame(run_dir / F.MEMORY, samples)


def _metrics_dict(row: pd.Series) -> dict[str, Any]:
    return {m: row[m] for m in METRICS}


def _finish(
    run_dir: Path,
    config: EvolveConfig,
    problem: StrategyProblem,
    test_problem: StrategyProblem | None,
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    ga: GA,
    hof: HallOfFame,
    sketch: TrialSketch,
) -> dict[str, Any]:
    """Hall of fame in and out of sample, the best strategy's trace, DSR, PBO: to disk."""
    space = problem.space
    # final population
    pop = pd.DataFrame(space.decode(ga.state.X))
    pop["fitness"] = -ga.state.fitness  # the GA minimizes the negated fitness
    F.write_frame(run_dir / F.POPULATION, pop)
    # hall of fame, re-evaluated out of sample
    if len(hof.X):
        top_X, top_f = hof.X, hof.fitness
    else:  # no strategy was ever valid: the closest to valid, the most active of the population
        X = ga.state.X  # in chunks, like the run's evaluation, to stay within its memory
        n = [problem.metrics_array(X[i : i + 10_000])[:, METRICS.index("n_trades")]
             for i in range(0, len(X), 10_000)]  # fmt: skip
        k = int(np.argmax(np.concatenate(n)))
        top_X, top_f = ga.state.X[k : k + 1], -ga.state.fitness[k : k + 1]
    is_m = problem.metrics(top_X)
    table = is_m[list(space.names)].copy()
    table.insert(0, "rank", np.arange(1, len(top_X) + 1))
    table["fitness"] = top_f
    for m in METRICS:
        table[f"is_{m}"] = is_m[m].to_numpy()
    oos_m = None if test_problem is None else test_problem.metrics(top_X)
    if oos_m is not None:
        for m in METRICS:
            table[f"oos_{m}"] = oos_m[m].to_numpy()
    F.write_frame(run_dir / F.HALL_OF_FAME, table)
    # the best strategy bar by bar
    params = space.decode_row(top_X[0])
    tr_in = trace_strategy(problem, params, index=train.index)
    frames, trades = [_equity_frame(tr_in, "in")], [tr_in.trades.assign(sample="in")]
    oos = None
    if test_problem is not None and test is not None and oos_m is not None:
        # bar numbers count from the first training bar, like the in-sample trades'
        tr_out = trace_strategy(test_problem, params, index=test.index, bar_offset=len(train))
        frames.append(_equity_frame(tr_out, "out"))
        trades.append(tr_out.trades.assign(sample="out"))
        oos = _metrics_dict(oos_m.iloc[0])
    F.write_frame(run_dir / F.EQUITY, pd.concat(frames))
    F.write_frame(run_dir / F.TRADES, pd.concat(trades))
    why = _invalid_reason(float(top_f[0]), is_m.iloc[0], problem, config)
    if why is None:
        stats = _honesty(problem, sketch, tr_in.returns, config)
        warnings = []
    else:  # nothing valid was found: no DSR, PBO or verdict computed from invalid strategies
        stats = {"deflated_sharpe": None, "pbo": None, "verdict": None}
        tried = f"{sketch.n_distinct:,}{'' if sketch.exact else ' (about)'}"
        warnings = [f"no valid strategy among {tried} tried: {why}", ADVICE]
    return {
        "strategy": config.strategy,
        "objective": config.objective,
        "valid": why is None,
        "invalid_reason": why,
        "warnings": warnings,
        "verdict_reason": None if why is None else f"No verdict: no valid strategy ({why}).",
        "params": params,
        "fitness": float(top_f[0]),
        "in_sample": _metrics_dict(is_m.iloc[0]),
        "out_of_sample": oos,
        "train": {"start": train.index[0], "end": train.index[-1], "n_bars": len(train)},
        "test": None
        if test is None
        else {"start": test.index[0], "end": test.index[-1], "n_bars": len(test)},
        "annualization": F.read_json(run_dir / F.CONFIG).get("annualization")
        or {"bars_per_year": problem.bars_per_year, "method": problem.annualization.method},
        **stats,
    }


ADVICE = (
    "to find one: lower --min-trades, give the GA more training bars (more data, a larger "
    "--train-frac, fewer --walk-forward folds), or try another --strategy"
)


def _invalid_reason(
    fitness: float, metrics: pd.Series, problem: StrategyProblem, config: EvolveConfig
) -> str | None:
    """Why the best strategy is not valid (None when it is): fewer trades than ``min_trades``
    or a non-finite objective (which :class:`StrategyProblem` gives the invalid fitness)."""
    n_trades = int(metrics["n_trades"])
    assert config.min_trades is not None  # resolved by _run_one
    if n_trades < config.min_trades:
        return (
            f"the most active made {n_trades} trades in sample, --min-trades is "
            f"{config.min_trades}"
        )
    if not math.isfinite(fitness) or fitness == problem.invalid_fitness:
        name = config.objective.lstrip("-")
        return f"the best has a non-finite {name} ({metrics.get(name, fitness)}) in sample"
    return None


def _equity_frame(tr: Any, sample: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": tr.value.index,
            "value": tr.value.to_numpy(),
            "drawdown": tr.drawdown.to_numpy(),
            "sample": sample,
        }
    )


def _honesty(
    problem: StrategyProblem,
    sketch: TrialSketch,
    best_returns: np.ndarray,
    config: EvolveConfig,
) -> dict[str, Any]:
    """Deflated Sharpe of the best strategy and PBO by CSCV over a sample of the trials.

    - Trials: the distinct strategies evaluated (``TrialSketch``). The variance of their
      Sharpe ratios is taken under the null hypothesis of the test (no strategy has skill):
      an estimated per-bar Sharpe then has variance 1 / (T - 1) (Lo 2002; Mertens 2002 with
      SR = 0). The variance measured across the GA's trials is reported too, but not used: with
      a real edge it is mostly the spread of real skill between strategies, which would make a
      stronger edge look less significant (tests/test_honesty.py).
    - PBO: CSCV over up to ``PBO_STRATEGIES`` valid strategies of the sketch's uniform sample of
      the trials (the set CSCV assumes), not over the hall of fame, whose near-identical top
      strategies chosen on the whole training sample bias it towards 1.
    """
    per_bar = math.sqrt(problem.ann_factor)
    m = problem.metrics_array(sketch.X)
    assert config.min_trades is not None  # resolved by _run_one
    sr = m[:, METRICS.index("sharpe_ratio")] / per_bar
    valid = np.isfinite(sr) & (m[:, METRICS.index("n_trades")] >= max(config.min_trades, 1))
    n_trials = sketch.n_distinct
    n_obs = len(best_returns)
    out: dict[str, Any] = {
        "trials": {
            "n_distinct": n_trials,
            "exact": sketch.exact,
            "sample": len(sketch.X),
            "sample_valid": int(valid.sum()),
            "sharpe_variance_measured": float(np.var(sr[valid], ddof=1))
            if valid.sum() >= 2
            else None,
        }
    }
    dsr = pbo = None
    try:
        dsr = ovf.deflated_sharpe_ratio(best_returns, n_trials, 1.0 / max(n_obs - 1, 1))
    except GenepoolError as exc:
        out["deflated_sharpe"] = {"error": str(exc)}
    moments = []
    for x in sketch.X[valid][:PBO_STRATEGIES]:
        r = trace_strategy(problem, problem.space.decode_row(x)).returns
        if np.std(r) > 0:
            moments.append(ovf.block_moments(r, PBO_BLOCKS))
    if len(moments) >= 2:
        try:
            pbo = ovf.probability_of_backtest_overfitting(np.stack(moments))
        except GenepoolError as exc:
            out["pbo"] = {"error": str(exc)}
    if dsr is not None:
        out["deflated_sharpe"] = {
            "dsr": dsr.dsr,
            "sharpe_per_bar": dsr.sr,
            "expected_max_sharpe_per_bar": dsr.sr0,
            "n_trials": dsr.n_trials,
            "var_trials": dsr.var_trials,
            "n_obs": dsr.n_obs,
            "skew": dsr.skew,
            "kurtosis": dsr.kurtosis,
            "significant": dsr.significant(),
        }
    if pbo is not None:
        out["pbo"] = {
            "pbo": pbo.pbo,
            "n_strategies": pbo.n_strategies,
            "n_blocks": pbo.n_blocks,
            "n_combinations": pbo.n_combinations,
        }
    if dsr is not None:
        text = ovf.verdict(dsr, pbo)
    else:
        text = "No verdict: no strategy with trades and varying returns was found."
    out["verdict"] = {
        "text": text,
        "significant": None if dsr is None else bool(dsr.significant()),
        "dsr": None if dsr is None else dsr.dsr,
        "pbo": None if pbo is None else pbo.pbo,
    }
    return out


def _write_report(run_dir: Path, echo: Echo) -> Path:
    from .report_data import write_run_report

    return write_run_report(run_dir).resolve()  # the CLI prints it once, absolute


def psr_verdict(returns: np.ndarray, what: str) -> tuple[dict[str, Any], Any]:
    """Verdict where nothing was selected: the probabilistic Sharpe ratio against zero."""
    try:
        st = ovf.sharpe_stats(returns)
    except GenepoolError as exc:
        none = {"text": f"No verdict: {exc}", "significant": None, "dsr": None, "pbo": None}
        return none, None
    psr = ovf.probabilistic_sharpe_ratio(st.sr, 0.0, st.n_obs, st.skew, st.kurtosis)
    significant = psr > 0.95
    text = (
        f"{'Significant' if significant else 'Not significant'}: the probability that the "
        f"true Sharpe ratio of {what} is above zero is {psr:.0%} ({st.n_obs:,} bars; "
        f"{'>' if significant else '<='} 95%)."
    )
    verdict = {"text": text, "significant": bool(significant), "psr": psr, "dsr": None}
    return verdict | {"pbo": None}, st


def _fold_why(i: int, fold: dict[str, Any], config: EvolveConfig) -> str:
    n = fold["in_sample"].get("n_trades")
    n = 0 if n is None or not math.isfinite(n) else int(n)
    if fold.get("min_trades") is not None and n < fold["min_trades"]:
        return f"fold {i + 1} made {n} trades"
    return f"fold {i + 1} has a non-finite {config.objective.lstrip('-')}"


def _walk_forward_summary(
    out: Path,
    config: EvolveConfig,
    data: pd.DataFrame,
    splits: list[Fold],
    folds: list[dict[str, Any]],
) -> dict[str, Any]:
    """Per-fold table, the stitched out-of-sample equity, and the verdict on it.

    A fold without a valid strategy trades nothing: its test segment is held in cash (return 0)
    in the stitched equity and left out of the verdict, which is over the valid folds only (none
    when no fold is valid). The run is ``complete`` when at least one fold is valid (with a
    warning naming the others), ``no valid strategy`` when none is.
    """
    rows = []
    returns_parts = []
    valid_parts = []
    for i, fold in enumerate(folds):
        train, test = splits[i].train, splits[i].test
        valid = bool(fold.get("valid", True))
        rows.append(
            {
                "fold": i,
                "status": fold["status"],
                "valid": valid,
                "min_trades": fold.get("min_trades"),
                "train_start": data.index[train][0],
                "train_end": data.index[train][-1],
                "test_start": data.index[test][0],
                "test_end": data.index[test][-1],
                **{f"param_{k}": v for k, v in fold["params"].items()},
                **{f"is_{m}": fold["in_sample"][m] for m in METRICS},
                **{f"oos_{m}": (fold["out_of_sample"] or {}).get(m) for m in METRICS},
                "dsr": (fold.get("deflated_sharpe") or {}).get("dsr"),
                "pbo": (fold.get("pbo") or {}).get("pbo"),
            }
        )
        eq = F.read_frame(out / "folds" / f"fold-{i:02d}" / F.EQUITY)
        assert eq is not None  # every finished fold wrote its equity
        seg = eq[eq["sample"] == "out"]
        v = seg["value"].to_numpy()
        prev = np.concatenate(([INIT_CASH], v[:-1]))
        r = pd.Series(v / prev - 1.0, index=pd.DatetimeIndex(seg["time"]))
        returns_parts.append(r if valid else pd.Series(0.0, index=r.index))  # nothing traded
        if valid:
            valid_parts.append(r)
    F.write_frame(out / F.WALK_FORWARD, pd.DataFrame(rows))
    returns = pd.concat(returns_parts)
    stitched = INIT_CASH * (1.0 + returns).cumprod()
    stitched_eq = pd.DataFrame(
        {
            "time": stitched.index,
            "value": stitched.to_numpy(),
            "drawdown": (stitched / stitched.cummax() - 1.0).to_numpy(),
            "sample": "out",
        }
    )
    last = folds[-1]
    last_dir = out / "folds" / f"fold-{len(folds) - 1:02d}"
    in_eq = F.read_frame(last_dir / F.EQUITY)
    assert in_eq is not None  # every finished fold wrote its equity
    F.write_frame(out / F.EQUITY, pd.concat([in_eq[in_eq["sample"] == "in"], stitched_eq]))
    for name in (F.TRADES, F.POPULATION, F.HALL_OF_FAME, F.MEMORY):
        src = last_dir / name
        if src.exists():
            shutil.copyfile(src, out / name)
    valid_folds = [i for i, f in enumerate(folds) if f.get("valid", True)]
    # finished without one (an interrupted fold may still find one when resumed)
    invalid_folds = [
        i for i, f in enumerate(folds) if i not in valid_folds and f["status"] in FINISHED
    ]
    warnings = []
    if invalid_folds:
        why = ", ".join(_fold_why(i, folds[i], config) for i in invalid_folds)
        mins = "/".join(sorted({str(folds[i].get("min_trades")) for i in invalid_folds}))
        warnings = [
            f"{len(invalid_folds)} of {len(splits)} walk-forward folds found no valid strategy "
            f"(most active in sample: {why}; --min-trades {mins}): "
            f"{'their test segments are' if len(invalid_folds) > 1 else 'its test segment is'} "
            f"held in cash and left out of the verdict",
            ADVICE,
        ]
    verdict, stats, verdict_reason = None, None, None
    if valid_parts:
        what = f"the stitched out-of-sample returns of {len(valid_folds)} walk-forward folds"
        if invalid_folds:
            what += f" (of {len(folds)}; the folds without a valid strategy left out)"
        verdict, stats = psr_verdict(pd.concat(valid_parts).to_numpy(), what)
    else:
        verdict_reason = "No verdict: no walk-forward fold found a valid strategy."
    oos_sr = None if stats is None else stats.sr
    per_year = (last.get("annualization") or {}).get("bars_per_year") or config.bars_per_year
    oos_trades: list[Any] = [(f.get("out_of_sample") or {}).get("n_trades") for f in folds]
    if len(folds) < len(splits) or any(f["status"] not in FINISHED for f in folds):
        status = "interrupted"
    else:
        status = "complete" if valid_folds else NO_VALID
    return {
        "strategy": config.strategy,
        "objective": config.objective,
        "walk_forward": {
            "folds": len(splits),
            "done": len(folds),
            "mode": config.walk_forward_mode,
            "fold_status": [f["status"] for f in folds],
            "valid_folds": valid_folds,
            "invalid_folds": invalid_folds,
        },
        "valid": bool(last.get("valid", True)),
        "warnings": warnings,
        "verdict_reason": verdict_reason,
        "min_trades": last.get("min_trades"),
        "min_trades_rule": last.get("min_trades_rule"),
        "params": last["params"],
        "fitness": last["fitness"],
        "in_sample": last["in_sample"],
        "out_of_sample": {
            "total_return": float(stitched.iloc[-1] / INIT_CASH - 1.0),
            "sharpe_per_bar": oos_sr,
            # annualized with the run's bars per year, over the folds the verdict covers
            "sharpe_ratio": None
            if oos_sr is None or not per_year
            else float(oos_sr * math.sqrt(per_year)),
            "max_drawdown": float(stitched_eq["drawdown"].min()),
            "n_trades": None
            if any(n is None for n in oos_trades)
            else int(sum(oos_trades[i] for i in valid_folds)),
        },
        "verdict": verdict,
        "annualization": last.get("annualization"),
        "status": status,
        "n_generations": sum(f.get("n_generations", 0) for f in folds),
        "n_evaluations": sum(f.get("n_evaluations", 0) for f in folds),
    }
