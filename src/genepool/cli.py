"""The ``genepool`` command line (typer + rich).

Usage errors and genepool errors print one line ``genepool: error: ...`` on stderr and exit
with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Mapping
from enum import Enum

import numpy as np
import typer

from . import __version__, problems
from .algorithms._storage import STORAGES
from .backtest.gpu import DEVICES
from .errors import ConfigError, GenepoolError, WriteError
from .evolve import DEMO, EvolveConfig, RunOutcome, resume_evolution, run_evolution
from .evolve._rundir import check_new_run_dir, existing_run_dir
from .evolve.benchmark import is_benchmark_run, resume_benchmark, run_benchmark, start_benchmark
from .evolve.planning import profile_benchmark, profile_evolution
from .evolve.records import NO_VALID
from .evolve.report_data import write_run_report
from .evolve.runner import EXIT_NO_VALID
from .evolve.single import backtest_one
from .memory import format_size
from .profiling import Profile, parse_sizes
from .profiling._format import write_html
from .run.progress import ProgressReporter
from .run.result import Result

app = typer.Typer(
    name="genepool",
    help="Evolutionary optimization at very large population sizes with bounded memory.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ProblemName = Enum("ProblemName", {n: n for n in problems.names()}, type=str)  # type: ignore[misc]
StorageName = Enum("StorageName", {n: n for n in STORAGES}, type=str)  # type: ignore[misc]
DeviceName = Enum("DeviceName", {n: n for n in DEVICES}, type=str)  # type: ignore[misc]


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"genepool {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(
        None,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Show the version and exit.",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """genepool command line."""
    _STATE["debug"] = debug


_STATE = {"debug": False}


def _reporter(progress: bool, quiet: bool = False) -> ProgressReporter:
    """A rich bar on a terminal (on stderr), plain lines otherwise (on stdout)."""
    tty = sys.stdout.isatty()
    return ProgressReporter(
        ("bar" if tty else "lines") if progress and not quiet else None,
        stream=sys.stderr if tty else sys.stdout,
    )


_CACHE = typer.Option(
    None,
    "--cache/--no-cache",
    help="The exact fitness cache: on for the whole run, or off (default: on, off again "
    "when it does not pay).",
)
_DRY_RUN = typer.Option(
    False,
    "--dry-run",
    help="Print the plan of the run (chunks, memory, time, disk, executor), measured on "
    "short probes at small populations, and exit without evolving or writing anything.",
)
# -- the options of a run (evolve and profile share them) -------------------------------------
_DEMO = typer.Option(False, "--demo", help="Evolve RSI strategies on the embedded demo data.")
_DATA = typer.Option(
    None,
    "--data",
    help="Price bars: CSV (optionally .gz/.zip) or Parquet with a close column.",
)
_STORE = typer.Option(
    None,
    "--store",
    help="A market data store (genepool data import): evolve over a universe of its "
    "symbols (docs/data.md, Universes).",
)
_SYMBOLS = typer.Option(
    None, "--symbols", help="The store's symbols, e.g. AAPL,MSFT, or all (default)."
)
_AGGREGATE = typer.Option(
    None,
    "--aggregate",
    help="Fitness over the symbols: mean (default), median or worst of each metric.",
)
_RUN_TIME_COLUMN = typer.Option(
    None, "--time-column", help="Column holding the bar times (default: found by name)."
)
_RUN_SEP = typer.Option(None, "--sep", help="CSV separator, e.g. ';' or tab (default: detected).")
_RUN_PRICE_COLUMN = typer.Option(
    None, "--price-column", help='Column traded as close, e.g. "Adj Close" (default close).'
)
_BARS_PER_YEAR = typer.Option(
    None,
    "--bars-per-year",
    help="Annualization, e.g. 252 for daily stocks (default: counted on the data's calendar).",
)
_STRATEGY = typer.Option(
    None, "--strategy", help="Strategy family: rsi, ma_cross, bollinger, macd, breakout."
)
_OBJECTIVE = typer.Option(None, "--objective", help="Metric to maximize (default sharpe_ratio).")
_OBJECTIVES = typer.Option(
    None,
    "--objectives",
    help="Two or more metrics, e.g. sharpe_ratio,max_drawdown: a multi-objective run "
    "(NSGA-II) whose Pareto front is reported; each metric in its natural sense "
    "(docs/multiobjective.md).",
)
_PROBLEM = typer.Option(
    None, "--problem", help="Minimize a benchmark function instead of evolving strategies."
)
_DIMS = typer.Option(30, "--dims", min=1, help="Dimensions of --problem.")
_POPULATION = typer.Option(None, "--population", min=2, help="Population size.")
_STORAGE = typer.Option(
    None,
    "--storage",
    help="Where the population's genes live: memory (default) or disk (memory-mapped "
    "files in the run directory's population/ folder, docs/memory.md).",
)
_DEVICE = typer.Option(
    None,
    "--device",
    help="Where the strategies are backtested: cpu (default) or cuda (an NVIDIA GPU; "
    "pip install 'genepool[gpu]', docs/backtest.md).",
)
_GENERATIONS = typer.Option(None, "--generations", min=1, help="Generations to run.")
_FEES = typer.Option(None, "--fees", help="Fees per order (0.001 = 0.1 %).")
_SLIPPAGE = typer.Option(None, "--slippage", help="Slippage per order.")
_MIN_TRADES = typer.Option(
    None,
    "--min-trades",
    help="Fewer trades in sample is an invalid strategy (default: 2 per year of training "
    "data, at most 1 per 20 bars, at least 3).",
)
_STOPS = typer.Option(
    None, "--stops/--no-stops", help="Evolve stop-loss and take-profit levels too."
)
_RANGES = typer.Option(
    None,
    "--ranges",
    help='Search ranges as JSON, e.g. \'{"window": [5, 100], "upper": [60, 95]}\'.',
)
_SEED = typer.Option(None, "--seed", min=0, help="Random seed (default: drawn and recorded).")
_MEMORY_LIMIT = typer.Option(
    None, "--memory-limit", help="Memory budget of the process, e.g. 2GB or 512MiB."
)
_OUT = typer.Option(None, "--out", help="Run directory (default runs/<strategy>-<date>-<time>).")
_OVERWRITE = typer.Option(
    False, "--overwrite", help="Replace the genepool run already in --out (never other files)."
)
_CONFIG = typer.Option(
    None, "--config", help="TOML file with the same settings; flags override it."
)
_TRAIN_FRAC = typer.Option(
    None, "--train-frac", help="Share of the bars the GA sees (default 0.7)."
)
_WALK_FORWARD = typer.Option(None, "--walk-forward", help="Walk-forward with this many folds.")
_ANCHORED = typer.Option(
    None, "--anchored/--rolling", help="Walk-forward training windows (default rolling)."
)
_HALL_OF_FAME = typer.Option(
    None,
    "--hall-of-fame",
    help="Distinct strategies re-evaluated out of sample (default 20; with --objectives: "
    "the front's strategies reported).",
)
_CHECKPOINT_EVERY = typer.Option(
    None, "--checkpoint-every", help="Generations between checkpoints (default 1)."
)
_EXECUTOR = typer.Option(None, "--executor", help="serial (default), processes or dask.")
_WORKERS = typer.Option(None, "--workers", min=1, help="Worker processes.")
_SCHEDULER = typer.Option(
    None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786."
)
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show progress.")
_NO_REPORT = typer.Option(False, "--no-report", help="Skip the HTML report.")
_JSON_OUT = typer.Option(False, "--json", help="Print the result as one JSON line.")


@app.command()
def evolve(
    demo: bool = _DEMO,
    data: str | None = _DATA,
    store: str | None = _STORE,
    symbols: str | None = _SYMBOLS,
    aggregate: str | None = _AGGREGATE,
    time_column: str | None = _RUN_TIME_COLUMN,
    sep: str | None = _RUN_SEP,
    price_column: str | None = _RUN_PRICE_COLUMN,
    bars_per_year: float | None = _BARS_PER_YEAR,
    strategy: str | None = _STRATEGY,
    objective: str | None = _OBJECTIVE,
    objectives: str | None = _OBJECTIVES,
    problem: ProblemName | None = _PROBLEM,
    dims: int = _DIMS,
    population: int | None = _POPULATION,
    storage: StorageName | None = _STORAGE,
    device: DeviceName | None = _DEVICE,
    generations: int | None = _GENERATIONS,
    fees: float | None = _FEES,
    slippage: float | None = _SLIPPAGE,
    min_trades: int | None = _MIN_TRADES,
    stops: bool | None = _STOPS,
    ranges: str | None = _RANGES,
    seed: int | None = _SEED,
    memory_limit: str | None = _MEMORY_LIMIT,
    out: str | None = _OUT,
    overwrite: bool = _OVERWRITE,
    config: str | None = _CONFIG,
    train_frac: float | None = _TRAIN_FRAC,
    walk_forward: int | None = _WALK_FORWARD,
    anchored: bool | None = _ANCHORED,
    hall_of_fame: int | None = _HALL_OF_FAME,
    checkpoint_every: int | None = _CHECKPOINT_EVERY,
    executor: str | None = _EXECUTOR,
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
    progress: bool = _PROGRESS,
    no_report: bool = _NO_REPORT,
    json_out: bool = _JSON_OUT,
    cache: bool | None = _CACHE,
    dry_run: bool = _DRY_RUN,
) -> None:
    """Evolve trading strategies on price data (or minimize a benchmark --problem).

    Exit codes: 0 done (warnings, e.g. walk-forward folds without a valid strategy, go to
    stderr); 2 usage or data error; 3 no valid strategy found (too few trades: lower
    --min-trades, give more data or fewer --walk-forward folds; no verdict is given);
    74 a file could not be written (disk full: the line names it, the last checkpoint is
    intact); 130 interrupted (continue with genepool resume).
    """
    if problem is not None:
        _check_benchmark_flags(demo, data, store, config, ranges, objectives, device, executor,
                               cache)  # fmt: skip
        pop, gens = population or 1000, generations or 50
        store_kind = storage.value if storage else "memory"
        if dry_run:
            if out is not None:
                check_new_run_dir(out, overwrite=overwrite)
            prof = profile_benchmark(problem.value, dims, pop, gens, memory_limit, store_kind,
                                     None, dry_run=True, writes=out or False,
                                     progress=_profile_progress())  # fmt: skip
            _print_profile(prof, json_out)
            return
        _evolve_benchmark(
            problem.value, dims, pop, gens, seed, memory_limit,
            progress, json_out, out, overwrite, store_kind,
        )  # fmt: skip
        return
    given = _config_flags(locals())
    cfg = _strategy_config(demo, data, store, config, given, "evolve")
    if dry_run:
        if cfg.out is not None:  # a run that would be refused is refused here too
            check_new_run_dir(cfg.out, overwrite=overwrite)
        plan = profile_evolution(cfg, None, dry_run=True, progress=_profile_progress())
        _print_profile(plan, json_out)
        return
    echo = (lambda _: None) if json_out else typer.echo
    outcome = run_evolution(
        cfg,
        progress=_reporter(progress, json_out),
        echo=echo,
        report=not no_report,
        overwrite=overwrite,
    )
    _print_outcome(outcome, json_out)


def _check_benchmark_flags(
    demo: bool,
    data: str | None,
    store: str | None,
    config: str | None,
    ranges: str | None,
    objectives: str | None,
    device: DeviceName | None,
    executor: str | None = None,
    cache: bool | None = None,
) -> None:
    """Refuse strategy flags with ``--problem``."""
    if demo or data or config or store:
        raise ConfigError("--problem cannot be combined with --demo, --data, --store or --config")
    if ranges is not None:
        raise ConfigError("--ranges applies to strategy runs, not to --problem")
    if objectives is not None:
        raise ConfigError("--objectives applies to strategy runs, not to --problem")
    if device is not None and device.value != "cpu":
        raise ConfigError("--device applies to strategy runs (backtests), not to --problem")
    if executor is not None and executor != "serial":
        # a benchmark function costs microseconds per candidate: it is evaluated here
        raise ConfigError("--executor applies to strategy runs, not to --problem")
    if cache is not None:
        raise ConfigError("--cache/--no-cache applies to strategy runs, not to --problem")


def _config_flags(values: Mapping[str, object]) -> dict[str, object]:
    """The :class:`EvolveConfig` settings among a command's parameters: enums as their values,
    ``--ranges`` parsed, ``--anchored/--rolling`` as ``walk_forward_mode``; ``--demo`` is the
    preset's (:func:`_strategy_config`), not a setting a flag overrides."""
    keys = set(EvolveConfig.keys()) - {"demo"}
    out = {k: v for k, v in values.items() if k in keys}
    for key in ("storage", "device"):
        value = out.get(key)
        if isinstance(value, Enum):
            out[key] = value.value
    if "ranges" in out:
        out["ranges"] = _json_ranges(out["ranges"])  # type: ignore[arg-type]
    anchored = values.get("anchored")
    if anchored is not None:
        out["walk_forward_mode"] = "anchored" if anchored else "rolling"
    return out


def _strategy_config(
    demo: bool,
    data: str | None,
    store: str | None,
    config: str | None,
    given: Mapping[str, object],
    verb: str,
) -> EvolveConfig:
    """The EvolveConfig of a strategy run from its flags (over ``--config`` and the demo's
    preset), with errors in flag terms."""
    if not (demo or data or config or store):
        raise ConfigError(
            f"nothing to {verb}: give --demo, --data prices.csv, --store DIR (or --config "
            "run.toml), or --problem NAME for a benchmark function"
        )
    if store is not None and (demo or data):
        raise ConfigError(
            f"give either --store (a universe of symbols) or {'--data' if data else '--demo'}, "
            "not both"
        )
    preset = dict(DEMO) if demo else {}
    flags = {k: v for k, v in given.items() if v is not None}
    try:
        return EvolveConfig.from_sources(config, **{**preset, **flags})
    except ConfigError as exc:
        raise ConfigError(_in_flags(str(exc), flags)) from None


def _profile_progress() -> Callable[[str], None] | None:
    """Progress lines of a profile on standard error, when it is a terminal (a log or a pipe
    gets the report alone, and an error stays one line)."""
    if not sys.stderr.isatty():
        return None
    return lambda line: print(f"genepool: {line} ...", file=sys.stderr, flush=True)


def _print_profile(prof: Profile, json_out: bool, report: str | None = None) -> None:
    """The profile (or plan) as text, or one JSON line; its HTML page to ``report``."""
    if report is not None:
        write_html(prof, report)
    if json_out:
        typer.echo(json.dumps(prof.to_dict(), default=str))
        return
    typer.echo(str(prof))
    if report is not None:
        typer.echo(f"report {report}")


_POPULATIONS = typer.Option(
    None,
    "--populations",
    help="Population sizes to probe, e.g. 1000,10000,100000 (10k and 1e5 work too; default: "
    "small sizes chosen within --time-budget).",
)
_PROBE_GENERATIONS = typer.Option(
    4, "--probe-generations", min=1, help="Generations measured at each probed size."
)
_TIME_BUDGET = typer.Option(
    None, "--time-budget", min=1.0, help="Seconds of probing when --populations is not given."
)
_COLD_START = typer.Option(
    False,
    "--cold-start",
    help="Also measure the compile of a cold start (two fresh processes with an empty numba "
    "cache; a minute or two for a backtest).",
)
_REPORT = typer.Option(
    None, "--report", help="Also write the report with its plot to this HTML file (new file)."
)


@app.command()
def profile(
    demo: bool = _DEMO,
    data: str | None = _DATA,
    store: str | None = _STORE,
    symbols: str | None = _SYMBOLS,
    aggregate: str | None = _AGGREGATE,
    time_column: str | None = _RUN_TIME_COLUMN,
    sep: str | None = _RUN_SEP,
    price_column: str | None = _RUN_PRICE_COLUMN,
    bars_per_year: float | None = _BARS_PER_YEAR,
    strategy: str | None = _STRATEGY,
    objective: str | None = _OBJECTIVE,
    objectives: str | None = _OBJECTIVES,
    problem: ProblemName | None = _PROBLEM,
    dims: int = _DIMS,
    populations: str | None = _POPULATIONS,
    population: int | None = _POPULATION,
    storage: StorageName | None = _STORAGE,
    device: DeviceName | None = _DEVICE,
    generations: int | None = _GENERATIONS,
    fees: float | None = _FEES,
    slippage: float | None = _SLIPPAGE,
    min_trades: int | None = _MIN_TRADES,
    stops: bool | None = _STOPS,
    ranges: str | None = _RANGES,
    memory_limit: str | None = _MEMORY_LIMIT,
    config: str | None = _CONFIG,
    train_frac: float | None = _TRAIN_FRAC,
    walk_forward: int | None = _WALK_FORWARD,
    checkpoint_every: int | None = _CHECKPOINT_EVERY,
    executor: str | None = _EXECUTOR,
    workers: int | None = _WORKERS,
    scheduler: str | None = _SCHEDULER,
    probe_generations: int = _PROBE_GENERATIONS,
    time_budget: float | None = _TIME_BUDGET,
    cache: bool | None = _CACHE,
    cold_start: bool = _COLD_START,
    report: str | None = _REPORT,
    json_out: bool = _JSON_OUT,
) -> None:
    """Measure a run's stages at a few population sizes and project the run you configure:
    peak memory, time, disk and compile cost, with their uncertainty, and the flags it needs.

    Takes the flags of evolve (the run to project: --population, --generations,
    --memory-limit, ...) plus --populations, the sizes to probe. Nothing is evolved and no
    run directory is written (docs/profile.md).
    """
    sizes = None if populations is None else parse_sizes(populations, "--populations")
    if report is not None and os.path.exists(report):
        raise ConfigError(
            f"--report {report} exists; give a new file name (nothing is overwritten)"
        )
    if report is not None and not os.path.isdir(os.path.dirname(os.path.abspath(report))):
        raise ConfigError(f"--report {report}: its folder does not exist")
    if problem is not None:
        _check_benchmark_flags(demo, data, store, config, ranges, objectives, device, executor,
                               cache)  # fmt: skip
        pop = population or (max(sizes) if sizes else 1000)
        prof = profile_benchmark(
            problem.value, dims, pop, generations or 50, memory_limit,
            storage.value if storage else "memory", sizes,
            probe_generations=probe_generations, time_budget=time_budget, cold_start=cold_start,
            progress=_profile_progress(),
        )  # fmt: skip
        _print_profile(prof, json_out, report)
        return
    given = _config_flags(locals())
    cfg = _strategy_config(demo, data, store, config, given, "profile")
    target = population or (max(sizes) if sizes and config is None and not demo else None)
    prof = profile_evolution(cfg, sizes, population=target, probe_generations=probe_generations,
                             time_budget=time_budget, cold_start=cold_start,
                             progress=_profile_progress())  # fmt: skip
    _print_profile(prof, json_out, report)


@app.command()
def resume(
    run_dir: str = typer.Argument(..., help="The run directory to continue."),
    generations: int | None = typer.Option(
        None, "--generations", min=1, help="Run this many generations in all (extend a run)."
    ),
    bars_per_year: float | None = typer.Option(
        None, "--bars-per-year", help="Must equal the run's own (it cannot change mid-run)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON line."),
) -> None:
    """Continue a run from its last checkpoint (after a crash, kill or Ctrl-C).

    Exit codes as for evolve: 0 done, 2 error, 3 no valid strategy found, 74 a file could not
    be written, 130 interrupted.
    """
    if is_benchmark_run(run_dir):  # a `genepool evolve --problem ... --out DIR` run
        settings, result = resume_benchmark(run_dir, generations, _reporter(progress, json_out))
        _print_benchmark(settings, result, json_out, run_dir)
        return
    echo = (lambda _: None) if json_out else typer.echo
    outcome = resume_evolution(
        run_dir,
        generations=generations,
        bars_per_year=bars_per_year,
        progress=_reporter(progress, json_out),
        echo=echo,
        report=not no_report,
    )
    _print_outcome(outcome, json_out)


@app.command()
def report(run_dir: str = typer.Argument(..., help="The run directory.")) -> None:
    """Write (again) the HTML report of a run directory."""
    with existing_run_dir(run_dir, command="report"):  # not while another command writes it
        typer.echo(str(write_run_report(run_dir).resolve()))


@app.command()
def backtest(
    params: str = typer.Option(
        ...,
        "--params",
        help='Parameters as JSON, e.g. \'{"window": 14, "lower": 30, "upper": 70}\'.',
    ),
    demo: bool = typer.Option(False, "--demo", help="Use the embedded demo data."),
    data: str | None = typer.Option(None, "--data", help="Price bars: CSV or Parquet."),
    time_column: str | None = typer.Option(
        None, "--time-column", help="Column holding the bar times (default: found by name)."
    ),
    sep: str | None = typer.Option(None, "--sep", help="CSV separator (default: detected)."),
    price_column: str | None = typer.Option(
        None, "--price-column", help='Column traded as close, e.g. "Adj Close" (default close).'
    ),
    bars_per_year: float | None = typer.Option(
        None, "--bars-per-year", help="Annualization (default: counted on the data's calendar)."
    ),
    strategy: str = typer.Option("rsi", "--strategy", help="Strategy family."),
    fees: float = typer.Option(0.001, "--fees", help="Fees per order."),
    slippage: float = typer.Option(0.0, "--slippage", help="Slippage per order."),
    out: str | None = typer.Option(None, "--out", help="Directory for the report."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the genepool output already in --out."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the metrics as one JSON line."),
) -> None:
    """Backtest one strategy and write its report."""
    try:
        values = json.loads(params)
    except ValueError as exc:
        raise ConfigError(f"--params is not valid JSON ({exc}): {params!r}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"--params must be a JSON object of parameters, got {params!r}")
    for key, value in values.items():
        if isinstance(value, (list, dict)):
            raise ConfigError(f"--params {key} must be a single value, got {json.dumps(value)}")
    outcome = backtest_one(
        values, demo=demo, data=data, strategy=strategy, fees=fees, slippage=slippage, out=out,
        overwrite=overwrite,
        bars_per_year=bars_per_year, time_column=time_column, sep=sep, price_column=price_column,
        echo=(lambda _: None) if json_out else typer.echo,
    )  # fmt: skip
    _print_outcome(outcome, json_out)


data_app = typer.Typer(
    name="data",
    help="Market data stores: import price files, summarize, verify checksums (docs/data.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")


#: Options that data import and data append share.
_SYMBOL_COLUMN = typer.Option(
    None, "--symbol-column", help="Column naming each row's symbol (long tables)."
)
_SORT = typer.Option(False, "--sort", help="Sort each file's bars by time.")
_TIME_COLUMN = typer.Option(
    None, "--time-column", help="Column holding the bar times (default: found by name)."
)
_PRICE_COLUMN = typer.Option(
    None, "--price-column", help='Column traded as close, e.g. "Adj Close" (default close).'
)
_SEP = typer.Option(None, "--sep", help="CSV separator (default: detected).")
_CHUNK_ROWS = typer.Option(
    1_000_000, "--chunk-rows", min=1, help="Rows of a long table read at a time."
)
_QUIET = typer.Option(False, "--quiet", "-q", help="Print only the summary line.")


@data_app.command("import")
def data_import(
    files: list[str] = typer.Argument(
        ..., help="CSV or Parquet files: one per symbol (named by the file), or long tables."
    ),
    store: str = typer.Option(
        ..., "--store", help="The store directory (new or empty; with --append an existing store)."
    ),
    symbol_column: str | None = _SYMBOL_COLUMN,
    append: bool = typer.Option(
        False, "--append", help="Add bars after each symbol's last one, and new symbols."
    ),
    sort: bool = _SORT,
    time_column: str | None = _TIME_COLUMN,
    price_column: str | None = _PRICE_COLUMN,
    sep: str | None = _SEP,
    chunk_rows: int = _CHUNK_ROWS,
    quiet: bool = _QUIET,
) -> None:
    """Import OHLCV files into a memory-mapped store (streaming: files may exceed memory).

    Exit codes: 0 done; 2 a usage or data error (the line names the file, symbol, row and
    time); 74 a file could not be written (disk full: nothing was imported, an appended store
    is as it was).
    """
    _import_files(files, store, symbol_column, append, sort, time_column, price_column, sep,
                  chunk_rows, quiet)  # fmt: skip


@data_app.command("append")
def data_append(
    store: str = typer.Argument(..., help="The existing store directory."),
    files: list[str] = typer.Argument(..., help="CSV or Parquet files, as for data import."),
    symbol_column: str | None = _SYMBOL_COLUMN,
    sort: bool = _SORT,
    time_column: str | None = _TIME_COLUMN,
    price_column: str | None = _PRICE_COLUMN,
    sep: str | None = _SEP,
    chunk_rows: int = _CHUNK_ROWS,
    quiet: bool = _QUIET,
) -> None:
    """Append bars to a store (same as data import --append --store STORE): each symbol's new
    bars must come after its last one; new symbols are added. Nothing already stored is
    rewritten; a failure leaves the store as it was. Exit codes as for data import."""
    _import_files(files, store, symbol_column, True, sort, time_column, price_column, sep,
                  chunk_rows, quiet)  # fmt: skip


def _import_files(
    files: list[str],
    store: str,
    symbol_column: str | None,
    append: bool,
    sort: bool,
    time_column: str | None,
    price_column: str | None,
    sep: str | None,
    chunk_rows: int,
    quiet: bool,
) -> None:
    import time

    from .backtest.store import import_store

    if sort and symbol_column is not None:
        raise ConfigError(
            "--sort needs a whole file in memory and a long table (--symbol-column) is "
            "streamed: sort the table by time first"
        )
    if append and not os.path.exists(os.path.join(store, "manifest.json")):
        raise ConfigError(f"{store} is not a genepool data store (no manifest.json) to append to")
    started = time.perf_counter()
    result = import_store(
        files, store, symbol_column=symbol_column, append=append, sort=sort,
        progress=None if quiet else typer.echo, time_column=time_column,
        price_column=price_column, chunk_rows=chunk_rows,
        **({} if sep is None else {"sep": sep}),
    )  # fmt: skip
    info = result.info()
    typer.echo(
        f"store {store}: {info['n_symbols']:,} symbols, {info['n_bars']:,} bars, "
        f"{format_size(info['bytes'])} ({time.perf_counter() - started:.1f} s)"
    )


@data_app.command("info")
def data_info(
    store: str = typer.Argument(..., help="The store directory."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON line."),
) -> None:
    """Summarize a store: one line per symbol (bars, time range, spacing, bars per year, size)
    and the totals."""
    from .backtest.calendar import format_bars
    from .backtest.store import open_store

    info = open_store(store).info()
    if json_out:
        typer.echo(json.dumps(info))
        return
    header = ("symbol", "bars", "start", "end", "freq", "bars/year", "size")
    rows = [
        (
            r["symbol"],
            f"{r['n_bars']:,}",
            r["start"],
            r["end"],
            r["freq"] or "-",
            "-" if r["bars_per_year"] is None else format_bars(r["bars_per_year"]),
            format_size(r["bytes"]),
        )
        for r in info["symbols"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    right = {1, 5, 6}
    for row in (header, *rows):
        cells = [
            str(x).rjust(w) if j in right else str(x).ljust(w)
            for j, (x, w) in enumerate(zip(row, widths))
        ]
        typer.echo("  ".join(cells).rstrip())
    typer.echo(
        f"total: {info['n_symbols']:,} symbols, {info['n_bars']:,} bars, "
        f"{format_size(info['bytes'])} ({info['path']}, updated {info['updated']})"
    )


@data_app.command("verify")
def data_verify(store: str = typer.Argument(..., help="The store directory.")) -> None:
    """Check every file of a store against its manifest's sizes and sha256 checksums.

    Exit codes: 0 every file intact; 2 a file is missing, truncated or damaged (the line names
    the symbol and the file).
    """
    import time

    from .backtest.store import open_store

    started = time.perf_counter()
    opened = open_store(store)
    opened.verify()
    typer.echo(
        f"ok: {len(opened.symbols):,} symbols, {format_size(opened.nbytes)} verified in "
        f"{time.perf_counter() - started:.1f} s"
    )


def _json_ranges(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--ranges is not valid JSON ({exc}): {text!r}") from None
    if not isinstance(values, dict):
        raise ConfigError(
            f"--ranges must be a JSON object like '{{\"window\": [5, 100]}}', got {text!r}"
        )
    return values


def _in_flags(message: str, flags: Mapping[str, object]) -> str:
    """A settings message that starts with a setting given as a flag, in the flag's name
    (``bars_per_year must be > 0`` -> ``--bars-per-year must be > 0``)."""
    name = message.split(" ", 1)[0]
    if name in flags and name.isidentifier():
        return "--" + name.replace("_", "-") + message[len(name) :]
    return message


def _print_outcome(outcome: RunOutcome, json_out: bool) -> None:
    from .evolve._files import _jsonable  # non-finite floats as "inf"/"nan", like best.json

    record = outcome.record
    if json_out:
        typer.echo(
            json.dumps(
                _jsonable(
                    {
                        "run_dir": os.path.abspath(outcome.run_dir),
                        "report": outcome.report and os.path.abspath(outcome.report),
                        **record.to_dict(),
                    }
                ),
                default=str,
            )
        )
    else:
        params = ", ".join(f"{k}={_short(v)}" for k, v in record.params.items())
        ins, oos = record.in_sample or {}, record.out_of_sample
        invalid = "" if record.valid else " (not valid)"
        pick = getattr(record, "pick", None)
        if pick is not None and pick.get("pareto_size"):  # multi-objective: front and pick
            typer.echo(
                f"front: {pick.get('pareto_size')} non-dominated strategies in sample at "
                f"{pick.get('pareto_points')} points, {pick.get('front_size')} re-evaluated out "
                "of sample (the pick, the ends and the most spread out, one per point); the "
                "pick is the knee point, chosen in sample"
            )
            typer.echo(f"pick {record.strategy}{invalid}: {params}")
        else:
            typer.echo(f"best {record.strategy}{invalid}: {params}")
        extra = [o["name"] for o in (getattr(record, "objectives", None) or [])]
        extra = [m for m in extra if m not in ("sharpe_ratio", "total_return", "n_trades")]
        block = getattr(record, "symbols", None)  # a universe: aggregated metrics
        over = (
            f" ({block.get('aggregate')} of {len(block.get('names') or ())} symbols)"
            if block
            else ""
        )
        line = f"in sample{over}: Sharpe {_short(ins.get('sharpe_ratio'))}"
        line += "".join(f", {m} {_short(ins.get(m))}" for m in extra)
        line += f", return {_pct(ins.get('total_return'))}, trades {_short(ins.get('n_trades'))}"
        typer.echo(line)
        if oos:
            stitched = getattr(record, "walk_forward", None) is not None
            line = f"out of sample{'' if stitched else over}: "
            line += f"Sharpe {_short(oos.get('sharpe_ratio'))}"
            line += "".join(f", {m} {_short(oos.get(m))}" for m in extra)
            line += f", return {_pct(oos.get('total_return'))}"
            if oos.get("n_trades") is not None:
                line += f", trades {_short(oos.get('n_trades'))}"
            typer.echo(line)
        verdict = record.verdict.text if record.verdict else record.verdict_reason
        typer.echo(f"verdict: {verdict}")
        if outcome.report is not None:
            typer.echo(f"report: {os.path.abspath(outcome.report)}")  # once, absolute
    for warning in record.warnings:
        print(f"genepool: warning: {warning}", file=sys.stderr)
    if outcome.status == "interrupted":
        print(
            f"genepool: interrupted; resume with: genepool resume {outcome.run_dir}",
            file=sys.stderr,
        )
        raise typer.Exit(130)
    if outcome.status == NO_VALID:
        raise typer.Exit(EXIT_NO_VALID)


def _short(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "n/a" if v is None else str(v)


def _pct(v: object) -> str:
    return f"{v:.2%}" if isinstance(v, (int, float)) else "n/a"


def _evolve_benchmark(
    problem: str,
    dims: int,
    population: int,
    generations: int,
    seed: int | None,
    memory_limit: str | None,
    progress: bool,
    json_out: bool,
    out: str | None = None,
    overwrite: bool = False,
    storage: str = "memory",
) -> None:
    settings, run_dir = start_benchmark(
        problem, dims, population, generations, seed, memory_limit, out, overwrite, storage
    )
    if not json_out:  # the seed first, so that even an interrupted run can be repeated
        where = f"; run directory {run_dir}" if run_dir is not None else ""
        typer.echo(f"seed {settings['seed']}{where}")
    result = run_benchmark(
        settings, run_dir, progress=_reporter(progress, json_out), overwrite=overwrite
    )
    _print_benchmark(settings, result, json_out, run_dir)


def _print_benchmark(
    settings: dict[str, object], result: Result, json_out: bool, run_dir: object = None
) -> None:
    rate = result.n_evaluations / max(result.elapsed, 1e-9)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "problem": settings["problem"],
                    "dims": settings["dims"],
                    "population": settings["population"],
                    "seed": settings["seed"],
                    "run_dir": None if run_dir is None else str(run_dir),
                    "best_fitness": result.best_fitness,
                    "best_x": result.best_x.tolist(),
                    "n_evaluations": result.n_evaluations,
                    "n_generations": result.n_generations,
                    "stop_reason": result.stop_reason,
                    "elapsed": result.elapsed,
                    "peak_rss": result.memory.peak_rss if result.memory else None,
                    "peak_anon": result.memory.peak_anon if result.memory else None,
                    "peak_file": result.memory.peak_file if result.memory else None,
                }
            )
        )
        return
    x = np.array2string(result.best_x, precision=4, threshold=12, edgeitems=4)
    typer.echo(
        f"best fitness {result.best_fitness:.6g} after {result.n_generations} generations"
        f" ({result.n_evaluations:,} evaluations, {result.elapsed:.2f} s, "
        f"{rate:,.0f} evals/s)"
    )
    typer.echo(f"best x {x}")
    typer.echo(
        f"stopped by {result.stop_reason}; "
        + (
            f"peak anonymous memory {format_size(result.memory.peak_anon)} (budgeted), "
            f"RSS {format_size(result.memory.peak_rss)}"
            if result.memory
            else "peak memory n/a"
        )
    )


#: Exit code of a command stopped by a file it could not write (disk full, quota, read-only
#: directory): sysexits' EX_IOERR. Usage and data errors exit with 2, interruptions with 130.
EXIT_WRITE = 74


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``genepool`` command; returns the exit code.

    Exit codes: 0 success, 2 a usage, settings or data error (one line ``genepool: error:``),
    74 a file could not be written (the line names it; a run's last checkpoint is intact),
    130 interrupted. ``--debug`` anywhere on the line shows the traceback instead.
    """
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is an option of the root command; accept it after the subcommand too.
    debug = "--debug" in args[: args.index("--")] if "--" in args else "--debug" in args
    if debug:
        args = ["--debug"] + [a for a in args if a != "--debug"]
    try:
        rv = command.main(args=args, prog_name="genepool", standalone_mode=False)
    except WriteError as exc:
        if debug:
            raise
        line = _write_failure(exc.path, str(exc), exc.errno)
        print(f"genepool: error: {line}", file=sys.stderr)
        return EXIT_WRITE
    except GenepoolError as exc:
        if debug:
            raise
        # the message in flags rather than Python arguments, where the error has one
        print(f"genepool: error: {exc.cli_message or exc}", file=sys.stderr)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        print("genepool: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # not wrapped by a genepool writer or reader: still one line
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        reason = exc.strerror or str(exc)
        if exc.errno in _WRITE_ERRNOS:
            print(
                f"genepool: error: {_write_failure(exc.filename, where + reason, exc.errno)}",
                file=sys.stderr,
            )
            return EXIT_WRITE
        print(f"genepool: error: {where}{reason}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not _is_usage_error(exc):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())  # type: ignore[attr-defined]
            return 0
        if debug:
            raise
        msg = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
        print(f"genepool: error: {msg} (see 'genepool --help')", file=sys.stderr)
        return 2
    return rv if isinstance(rv, int) else 0


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def _write_failure(path: str | None, message: str, code: int | None) -> str:
    """The one line for a file that could not be written: what is intact and what to do."""
    run_dir, checkpoint = _enclosing_run(path)
    fix = (
        "free some space"
        if code in (errno.ENOSPC, errno.EDQUOT)
        else "make the directory writable"
    )
    if run_dir is None:
        return f"{message}; {fix} and run the command again"
    if checkpoint is not None:
        return (
            f"{message}; nothing was half-written and the last checkpoint (generation "
            f"{checkpoint}) is intact: {fix}, then run `genepool resume {run_dir}`"
        )
    return (
        f"{message}; nothing was half-written: {fix}, then run "
        f"`genepool resume {run_dir}` (no checkpoint yet: it starts the run again)"
    )


def _enclosing_run(path: str | None) -> tuple[str | None, int | None]:
    """The outermost resumable run directory around ``path`` (an evolve run's ``config.json``
    up to three levels up: a walk-forward fold sits in its run) and the generation of the
    newest checkpoint of the innermost one (the run or fold being written)."""
    from pathlib import Path

    from .run.checkpoint import list_checkpoints

    runs = []
    for parent in list(Path(path).absolute().parents)[:4] if path else []:
        try:
            doc = json.loads((parent / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("config"), dict):
            if doc["config"].get("command", "evolve") == "evolve":
                runs.append(parent)
    if not runs:
        return None, None
    newest = list_checkpoints(runs[0] / "checkpoint")[:1]
    relative = not Path(str(path)).is_absolute()
    shown = os.path.relpath(runs[-1]) if relative else str(runs[-1])
    return shown, (newest[0][0] if newest else None)


def _is_usage_error(exc: Exception) -> bool:
    # click's UsageError (typer >= 0.22 vendors its own click, so match by behaviour).
    return getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
