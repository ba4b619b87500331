"""Evaluation: memory-aware chunking, the exact fitness cache, error policy."""

from .cache import FitnessCache
from .evaluator import ChunkPlan, Evaluator

__all__ = ["ChunkPlan", "Evaluator", "FitnessCache"]
