"""Moved to :mod:`genepool.run.progress`; kept for ``genepool.evolve``'s imports until they
name the new module (then delete this file)."""

from __future__ import annotations

from .run.progress import ProgressReporter, choose_mode, fit_fields

__all__ = ["ProgressReporter", "choose_mode", "fit_fields"]
