"""Starting spawned workers: what a worker prints before it is ready, and scripts on stdin.

A spawned child first re-imports the parent's ``__main__`` (multiprocessing's bootstrap), then
unpickles its arguments; an error there kills it with exit code 1 before any genepool code runs,
and its traceback would only reach the terminal. So each worker starts with its standard error
going to a private temporary file, and switches back to the real one once it has loaded the
problem: a worker that dies while starting is reported with its own last lines of output.

A script piped on standard input (``python - < script.py``) has ``__main__.__file__ ==
"<stdin>"``, a file that does not exist: the child's bootstrap would try to run it and die
(``FileNotFoundError``). Nothing in such a script can be re-imported anyway, so workers are
started as from an interactive session (the problem travels by value with cloudpickle).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from multiprocessing import process
from multiprocessing.connection import Connection
from typing import IO, Any

__all__ = [
    "capture_start",
    "error_line",
    "forward",
    "read_tail",
    "restore_stderr",
    "start_hint",
    "unimportable_main",
]

log = logging.getLogger("genepool.evaluation")

TAIL_LINES = 12

WHAT_TO_DO = (
    'put the code in a file and run it under `if __name__ == "__main__":`, '
    'or use executor="serial"'
)


def unimportable_main() -> str | None:
    """The path of ``__main__`` when a spawned child would fail to run it (stdin, ``-c``-like
    pseudo files), else None."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return None
    path = getattr(main, "__file__", None)
    if not isinstance(path, str):
        return None  # interactive sessions and notebooks: the child imports nothing
    base = getattr(process, "ORIGINAL_DIR", None) or ""  # the cwd the children resolve from
    full = path if os.path.isabs(path) else os.path.join(base, path)
    return None if os.path.exists(full) else path


@contextlib.contextmanager
def _main_file_hidden() -> Iterator[None]:
    path = unimportable_main()
    if path is None:
        yield
        return
    main = sys.modules["__main__"]
    log.info("__main__ is %r (not a file): workers start as from an interactive session", path)
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


@contextlib.contextmanager
def capture_start() -> Iterator[tuple[IO[bytes] | None, Connection | None]]:
    """Around ``Process.start()``: the child's stderr goes to a temporary file (yielded) and
    the child gets the real stderr back as a connection (yielded) to restore once ready."""
    saved = -1
    if os.name == "posix":
        with contextlib.suppress(OSError):
            saved = os.dup(2)
    if saved < 0:  # no stderr to stand in for (closed), or not POSIX: start as is
        with _main_file_hidden():
            yield None, None
        return
    log_file = tempfile.TemporaryFile()
    handle = Connection(os.dup(saved), readable=False)
    try:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(log_file.fileno(), 2)
        with _main_file_hidden():
            yield log_file, handle
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        handle.close()  # the child holds its own duplicate


def restore_stderr(handle: Connection | None) -> None:
    """In the worker: send standard error to the parent's again."""
    if handle is None:
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        os.dup2(handle.fileno(), 2)
    handle.close()


def read_tail(log_file: IO[bytes] | None, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines a worker wrote while starting ("" if none)."""
    if log_file is None:
        return ""
    try:
        size = os.fstat(log_file.fileno()).st_size
        data = os.pread(log_file.fileno(), min(size, 64 * 1024), max(0, size - 64 * 1024))
    except (OSError, ValueError):
        return ""
    text = data.decode("utf-8", "replace").rstrip()
    return "\n".join(text.splitlines()[-lines:])


def error_line(text: str) -> str:
    """The last exception in a worker's output, on one line (else its last line)."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b:?", lines[i]):
            words = [lines[i].strip()]
            for more in lines[i + 1 : i + 6]:
                if not more.strip():
                    if len(words) > 1:
                        break
                    continue
                words.append(more.strip())
            return " ".join(words)
    return lines[-1].strip() if lines else ""


def start_hint(text: str) -> str:
    """What to do about a worker's start error, from its own output ("" if nothing known)."""
    if "bootstrapping phase" in text or "freeze_support" in text:
        return (
            "the workers re-ran the main script, which starts workers itself: "
            'put the code that runs the optimization under `if __name__ == "__main__":`'
        )
    if "__main__" in text or "__mp_main__" in text or "<stdin>" in text:
        return (
            "the workers cannot import what the main script defines (a script piped on "
            f"standard input or typed interactively has no file to import): {WHAT_TO_DO}, "
            "or install cloudpickle"
        )
    return ""


def forward(log_file: Any) -> None:
    """Pass on what a worker printed while starting (warnings) once it is ready."""
    text = read_tail(log_file, lines=200)
    if text:
        print(text, file=sys.stderr)
