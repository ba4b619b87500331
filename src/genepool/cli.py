"""The ``genepool`` command line (typer + rich).

Usage errors and genepool errors print one line ``genepool: error: ...`` on stderr and exit
with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from enum import Enum

import numpy as np
import typer

from . import __version__, problems
from ._progress import ProgressReporter
from .algorithms import GA
from .errors import GenepoolError
from .memory import format_size
from .run import minimize

app = typer.Typer(
    name="genepool",
    help="Evolutionary optimization at very large population sizes with bounded memory.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ProblemName = Enum("ProblemName", {n: n for n in problems.names()}, type=str)  # type: ignore[misc]


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


@app.command()
def evolve(
    problem: ProblemName = typer.Option(  # type: ignore[valid-type]
        ..., "--problem", help="Benchmark problem to minimize."
    ),
    dims: int = typer.Option(30, "--dims", min=1, help="Number of dimensions."),
    population: int = typer.Option(1000, "--population", min=2, help="Population size."),
    generations: int = typer.Option(50, "--generations", min=1, help="Generations to run."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Random seed (default: fresh entropy)."
    ),
    memory_limit: str | None = typer.Option(
        None, "--memory-limit", help="Memory budget of the process, e.g. 2GB or 512MiB."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON line."),
) -> None:
    """Evolve a population on a benchmark problem and print the best individual."""
    prob = problems.get(problem.value, dims)
    ga = GA(prob.space, population, seed=seed)
    reporter = ProgressReporter(
        ("bar" if sys.stdout.isatty() else "lines") if progress and not json_out else None,
        stream=sys.stdout if not sys.stdout.isatty() else sys.stderr,
    )
    result = minimize(
        prob, ga, generations=generations, memory_limit=memory_limit, progress=reporter
    )
    rate = result.n_evaluations / max(result.elapsed, 1e-9)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "problem": problem.value,
                    "dims": dims,
                    "population": population,
                    "seed": seed,
                    "best_fitness": result.best_fitness,
                    "best_x": result.best_x.tolist(),
                    "n_evaluations": result.n_evaluations,
                    "n_generations": result.n_generations,
                    "stop_reason": result.stop_reason,
                    "elapsed": result.elapsed,
                    "peak_rss": result.memory.peak_rss if result.memory else None,
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
        f"stopped by {result.stop_reason}; peak RSS "
        f"{format_size(result.memory.peak_rss) if result.memory else 'n/a'}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``genepool`` command; returns the exit code."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        rv = command.main(args=args, prog_name="genepool", standalone_mode=False)
    except GenepoolError as exc:
        if debug:
            raise
        print(f"genepool: error: {exc}", file=sys.stderr)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        print("genepool: interrupted", file=sys.stderr)
        return 130
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


def _is_usage_error(exc: Exception) -> bool:
    # click's UsageError (typer >= 0.22 vendors its own click, so match by behaviour).
    return getattr(exc, "exit_code", None) == 2 and hasattr(exc, "format_message")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
