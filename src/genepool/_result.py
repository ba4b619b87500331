"""Moved to :mod:`genepool.run.result`; kept for ``genepool.evolve``'s imports until they
name the new module (then delete this file)."""

from __future__ import annotations

from .run.result import Generation, MemoryReport, Result

__all__ = ["Generation", "MemoryReport", "Result"]
