"""Memory as a parameter: size parsing, the process monitor, bounded history."""

from ._size import format_size, parse_size
from .history import RingHistory
from .monitor import MemoryMonitor, malloc_trim

__all__ = ["MemoryMonitor", "RingHistory", "format_size", "malloc_trim", "parse_size"]
