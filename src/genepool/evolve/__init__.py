"""Strategy evolution end to end (what ``genepool evolve`` runs): run directories, checkpoints,
out-of-sample re-evaluation, deflated Sharpe ratio and PBO, and the HTML report."""

from .callbacks import HallOfFame, TrialSketch
from .config import DEMO, EvolveConfig, load_toml
from .report_data import report_data, write_run_report
from .runner import RunOutcome, resume_evolution, run_evolution

__all__ = [
    "DEMO",
    "EvolveConfig",
    "HallOfFame",
    "RunOutcome",
    "TrialSketch",
    "load_toml",
    "report_data",
    "resume_evolution",
    "run_evolution",
    "write_run_report",
]
