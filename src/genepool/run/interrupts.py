"""SIGINT/SIGTERM during a run that writes checkpoints: finish the generation, checkpoint, stop."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

__all__ = ["Interrupts"]

log = logging.getLogger("genepool")


class Interrupts:
    """SIGINT/SIGTERM -> finish the generation, write a checkpoint, stop (second signal: now).

    Installed only in the main thread and only when the run writes checkpoints; the previous
    handlers come back with :meth:`restore`.
    """

    def __init__(self, enabled: bool) -> None:
        self.received: str | None = None
        self._previous: dict[int, Any] = {}
        if not enabled or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):  # pragma: no cover - unusual embedding
                pass

    def _handle(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            self.restore()
            raise KeyboardInterrupt(f"second {name}: stopping now")
        self.received = name
        log.warning(
            "%s received: finishing this generation and writing a checkpoint "
            "(send it again to stop at once)",
            name,
        )

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
