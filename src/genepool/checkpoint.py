"""Checkpoint files (public path): see :mod:`genepool.run.checkpoint`, where they are written."""

from __future__ import annotations

from .run.checkpoint import (
    Checkpoint,
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    write_checkpoint,
)

__all__ = [
    "Checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "read_checkpoint",
    "write_checkpoint",
]
