"""Moved to :mod:`genepool.run.state`; kept for ``genepool.evolve``'s imports until they
name the new module (then delete this file)."""

from __future__ import annotations

from .run.state import CHECKPOINT_DIR

__all__ = ["CHECKPOINT_DIR"]
