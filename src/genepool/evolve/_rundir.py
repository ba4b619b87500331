"""Run directories: what a directory is, which command may write it, and the lock of a run.

The rules (docs/evolve.md, "Run directories are never overwritten"):

- ``evolve`` and ``backtest`` write into a missing or empty directory. An existing non-empty
  one is refused (exit 2) unless ``--overwrite`` is given, and even then only a directory that
  genepool wrote (an evolve run, a backtest, checkpoints of a ``--problem`` run) has its own files
  removed; any other file in it is kept, and a directory of other files is never written.
- ``resume`` continues only an unfinished evolve run; a finished one needs a larger
  ``--generations``. ``report`` rewrites ``report.html`` of an evolve run or a backtest.
- A command that writes a run directory holds ``.genepool.lock`` (JSON: PID, host, command,
  start time) from start to end; a second writer is refused with who holds it. A lock whose
  process is gone (same host, PID not running) is stale: it is explained and taken over, so
  ``kill -9`` never leaves a run that cannot be resumed. A lock of another host is never broken
  automatically.
- A new run directory is made only after the data loaded; if the command fails before the first
  checkpoint, what it made is removed again.

Taking and checking the lock is serialized by ``flock`` on the directory itself, held for
milliseconds (never for the whole run, so nothing is left held by a killed process). Where
``flock`` is missing (Windows, some network filesystems) the lock file alone is used, with a
race window of milliseconds between two commands started at the same instant.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..run.checkpoint import list_checkpoints
from ..run.objectives import PARETO_FILE
from ..run.state import CHECKPOINT_DIR
from . import _files as F
from .records import INTERRUPTED, BestRecord, read_best_or_none

__all__ = [
    "LOCK",
    "RunDir",
    "RunDirError",
    "RunLock",
    "RunLockedError",
    "check_new_run_dir",
    "classify",
    "existing_run_dir",
    "new_run_dir",
]

log = logging.getLogger("genepool")

LOCK = ".genepool.lock"
FOLDS = "folds"
# Every name genepool writes at the top of a run directory: --overwrite removes only these.
GENEPOOL_NAMES = frozenset(
    {
        F.CONFIG, F.BEST, F.HISTORY, F.HALL_OF_FAME, F.POPULATION, F.EQUITY, F.TRADES,
        F.MEMORY, F.WALK_FORWARD, F.REPORT, CHECKPOINT_DIR, FOLDS,
        "result.json",  # of a `genepool evolve --problem` run
        PARETO_FILE,  # of a multi-objective run (`--objectives`)
    }
)  # fmt: skip
MUTEX_WAIT = 10.0  # seconds: the directory's flock is held for milliseconds


class RunDirError(ConfigError):
    """A command may not use this directory (it holds something else, or is finished)."""


class RunLockedError(RunDirError):
    """Another process holds the lock of this run directory."""


# -- the lock file -------------------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks since boot)`` of a Linux process, None elsewhere."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return False
    stat = _proc_stat(pid)
    return stat is None or stat[0] not in ("Z", "X")  # a zombie is dead, only not yet reaped


def _my_info(command: str) -> dict[str, Any]:
    stat = _proc_stat(os.getpid())
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": f"genepool {command}",
        "argv": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "boot_id": _boot_id(),
        "proc_start": None if stat is None else stat[1],
        "token": secrets.token_hex(8),
    }


@dataclass
class LockInfo:
    """The content of a ``.genepool.lock`` file and what it means here."""

    raw: dict[str, Any]
    state: str  # "live", "stale", "foreign host", "unreadable"
    why: str = ""  # for "stale": why its process is known to be gone

    @property
    def who(self) -> str:
        r = self.raw
        since = str(r.get("started", "?")).replace("T", " ").replace("Z", " UTC")
        return (
            f"`{r.get('command', 'genepool')}` (PID {r.get('pid', '?')} on host "
            f"{r.get('host', '?')}, since {since})"
        )


def _judge(raw: Any) -> LockInfo:
    """Is the process that wrote this lock still running? Conservative: when in doubt, yes."""
    if not isinstance(raw, dict) or not isinstance(raw.get("pid"), int):
        return LockInfo(raw if isinstance(raw, dict) else {}, "unreadable")
    if raw.get("host") != socket.gethostname():
        return LockInfo(raw, "foreign host")
    pid = raw["pid"]
    boot = _boot_id()
    if raw.get("boot_id") and boot and raw["boot_id"] != boot:
        return LockInfo(raw, "stale", "the machine restarted since")
    if not _pid_running(pid):
        return LockInfo(raw, "stale", "no longer running")
    stat = _proc_stat(pid)
    if raw.get("proc_start") is not None and stat is not None and stat[1] != raw["proc_start"]:
        return LockInfo(raw, "stale", f"PID {pid} is now another process")
    return LockInfo(raw, "live")


def read_lock(path: Path) -> LockInfo | None:
    """The lock of run directory ``path`` judged, or None when it has none."""
    try:
        text = (path / LOCK).read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return LockInfo({"error": str(exc)}, "unreadable")
    try:
        return _judge(json.loads(text))
    except ValueError:
        return LockInfo({}, "unreadable")


def _locked_message(path: Path, lock: LockInfo, advice: str) -> str:
    if lock.state == "unreadable":
        return (
            f"{path} holds a lock file {LOCK} that cannot be read; if no genepool command is "
            f"using {path}, delete {path / LOCK}"
        )
    if lock.state == "foreign host":
        return (
            f"{path} is locked by {lock.who}; genepool cannot tell from here whether it still "
            f"runs: if it does not, delete {path / LOCK}"
        )
    return f"{path} is in use by {lock.who}; {advice}"


@contextmanager
def _dir_mutex(path: Path) -> Iterator[None]:
    """Serialize checking and writing the lock of ``path`` between processes (best effort)."""
    try:
        import fcntl
    except ImportError:  # Windows: the lock file alone
        yield
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + MUTEX_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RunLockedError(
                        f"{path} stays locked by another process for over {MUTEX_WAIT:.0f} s "
                        f"(a genepool command stopped with Ctrl-Z?); try again"
                    ) from None
                time.sleep(0.01)
            except OSError:  # no flock on this filesystem
                break
        yield
    finally:
        os.close(fd)  # releases the flock


def _write_new_lock(path: Path, info: dict[str, Any], replace: bool) -> None:
    """Write the lock file complete in one step: a reader never sees it half-written."""
    target = path / LOCK
    tmp = path / f"{LOCK}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        if replace:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)  # fails if a lock appeared meanwhile
        except FileExistsError:
            raise
        except OSError:  # no hard links here: exclusive create
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w") as fh:
                fh.write(tmp.read_text())
    except FileExistsError:
        raise
    except OSError as exc:
        raise RunDirError(f"cannot write the lock file {target}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


class RunLock:
    """The lock of one run directory, held by this process (a context manager).

    Parameters
    ----------
    path : path
        The run directory (it must exist).
    command : str
        What holds it (``"evolve"``, ``"resume"``, ...), shown to a second writer.
    advice : str
        What a refused second writer should do.
    """

    def __init__(self, path: str | Path, command: str, advice: str = "wait until it ends"):
        self.path = Path(path)
        self.command = command
        self.advice = advice
        self.info: dict[str, Any] | None = None

    def acquire(self) -> RunLock:
        with _dir_mutex(self.path):
            self._acquire_locked()
        return self

    def _acquire_locked(self) -> None:
        """Take the lock; the caller holds the directory's mutex."""
        for _ in range(3):
            lock = read_lock(self.path)
            if lock is not None and lock.state != "stale":
                raise RunLockedError(_locked_message(self.path, lock, self.advice))
            if lock is not None:
                log.warning("%s: removing a stale lock of %s: %s", self.path, lock.who, lock.why)
            info = _my_info(self.command)
            try:
                _write_new_lock(self.path, info, replace=lock is not None)
            except FileExistsError:  # taken meanwhile (only without flock): look again
                continue
            self.info = info
            return
        raise RunLockedError(f"{self.path} is being locked by another process; try again")

    def release(self) -> None:
        if self.info is None:
            return
        with _dir_mutex(self.path):
            try:
                mine = json.loads((self.path / LOCK).read_text()).get("token")
            except (OSError, ValueError, AttributeError):
                mine = None
            if mine == self.info["token"]:
                (self.path / LOCK).unlink(missing_ok=True)
        self.info = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


# -- what a directory is -------------------------------------------------------------------------
def _is_genepool_name(name: str) -> bool:
    if name in GENEPOOL_NAMES or name == LOCK or name.startswith(LOCK + "."):
        return True
    if name.endswith(".tmp"):  # atomic writes: name.tmp, .name.tmp, .name.<pid>.<hex>.tmp
        core = name[:-4].lstrip(".")
        return any(core == k or core.startswith(k + ".") for k in GENEPOOL_NAMES)
    return False


@dataclass
class RunDir:
    """What a directory is, for the commands that write run directories.

    ``kind`` is one of ``"missing"``, ``"file"``, ``"empty"``, ``"evolve"`` (a run of
    ``genepool evolve``), ``"backtest"`` (an output of ``genepool backtest``), ``"genepool"``
    (another command's run, named by ``"command"`` in its ``config.json``, or genepool's files
    without a ``config.json``: checkpoints of a Python API run, a half-made directory) and
    ``"foreign"`` (anything else non-empty). An evolve run's
    ``state`` is ``"finished"``, ``"interrupted"`` (Ctrl-C) or ``"crashed"`` (no ``best.json``);
    ``lock`` is its lock, if any (``lock.state == "live"``: in progress).
    """

    path: Path
    kind: str
    state: str | None = None
    lock: LockInfo | None = None
    entries: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    best: BestRecord | None = None  # its best.json

    @property
    def in_use(self) -> bool:
        return self.lock is not None and self.lock.state != "stale"

    @property
    def generations(self) -> int | None:
        g = self.config.get("generations")
        return g if isinstance(g, int) else None

    def describe(self) -> str:
        """What it is, in a few words (``"a finished evolve run (rsi, 40 generations)"``)."""
        if self.kind == "missing":
            return "a directory that does not exist"
        if self.kind == "file":
            return "a file, not a directory"
        if self.kind == "empty":
            return "an empty directory"
        if self.kind == "foreign":
            return f"a directory of other files ({_names(self.entries)})"
        if self.kind == "genepool" and self.config.get("command"):
            return f"a run of `genepool {self.config['command']}`"
        if self.kind == "genepool":
            if F.CONFIG in self.entries:
                return f"genepool files whose config.json is not a run's ({_names(self.entries)})"
            return f"genepool files without a config.json ({_names(self.entries)})"
        if self.kind == "backtest":
            return f"a backtest output of `genepool backtest` ({self.config.get('strategy')})"
        what = f"{self.config.get('strategy')}, {self.generations} generations"
        if self.state == "finished":
            return f"a finished evolve run ({what})"
        done = None if self.best is None else self.best.n_generations
        if self.state == "interrupted":
            return f"an interrupted evolve run ({what}, stopped after generation {done})"
        return f"an unfinished evolve run ({what}, {_checkpoint_note(self.path)})"


def _names(entries: list[str], most: int = 3) -> str:
    shown = ", ".join(entries[:most])
    return shown + (f" and {len(entries) - most} more" if len(entries) > most else "")


def _checkpoint_note(path: Path) -> str:
    found = list_checkpoints(path / CHECKPOINT_DIR)
    folds = sorted((path / FOLDS).glob("fold-*")) if (path / FOLDS).is_dir() else []
    if folds:
        return f"stopped in walk-forward fold {len(folds)}"
    return f"last checkpoint at generation {found[0][0]}" if found else "no checkpoint yet"


def _read_dict(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (:func:`_files.read_json`), or None when it is missing,
    unreadable or not an object: what a directory is must be told, never raised."""
    try:
        doc = F.read_json(path)
    except ConfigError:
        return None
    return doc if isinstance(doc, dict) else None


def classify(path: str | Path) -> RunDir:
    """Say what ``path`` is (without changing anything)."""
    path = Path(path)
    try:
        if not os.path.lexists(path):
            return RunDir(path, "missing")
        if not path.is_dir():
            return RunDir(path, "file")
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    lock = read_lock(path) if LOCK in names else None
    entries = [n for n in names if n != LOCK and not n.startswith(LOCK + ".")]
    if not entries:
        return RunDir(path, "empty", lock=lock)
    doc = _read_dict(path / F.CONFIG) or {}
    cfg = doc.get("config")
    if not isinstance(cfg, dict) or not isinstance(doc.get("versions"), dict):
        genepool = all(_is_genepool_name(n) for n in entries)
        return RunDir(path, "genepool" if genepool else "foreign", lock=lock, entries=entries)
    best = read_best_or_none(path)
    kind = cfg.get("command", "evolve")  # evolve runs store no command
    if kind not in ("evolve", "backtest"):  # another command's (e.g. `evolve --problem`)
        return RunDir(path, "genepool", lock=lock, entries=entries, config=cfg, best=best)
    state = None
    if kind == "evolve":
        state = "crashed" if best is None else "finished"
        if best is not None and best.status == INTERRUPTED:
            state = "interrupted"
    return RunDir(path, kind, state, lock, entries, cfg, best)


# -- the rules -----------------------------------------------------------------------------------
def _refuse_new(info: RunDir, overwrite: bool) -> str | None:
    """Why ``evolve``/``backtest`` may not write ``info.path`` (None: it may)."""
    p = info.path
    if info.kind == "file":
        return f"--out {p} is a file, not a directory; choose another --out"
    if info.in_use:
        return _locked_message(p, info.lock, "wait until it ends or choose another --out")  # type: ignore[arg-type]
    if info.kind in ("missing", "empty"):
        return None
    if info.kind == "foreign":
        return (
            f"--out {p} is not empty and not a genepool run directory (it holds "
            f"{_names(info.entries)}); choose another --out (genepool never deletes files it "
            f"did not write, --overwrite included)"
        )
    if overwrite:
        return None
    replace = "or pass --overwrite to replace it"
    if info.kind == "evolve" and info.state == "finished":
        return (
            f"--out {p} already holds {info.describe()}; choose another --out, run it longer "
            f"with `genepool resume {p} --generations N`, {replace}"
        )
    if info.kind == "evolve":
        return (
            f"--out {p} already holds {info.describe()}; continue it with `genepool resume "
            f"{p}`, choose another --out, {replace}"
        )
    return f"--out {p} already holds {info.describe()}; choose another --out {replace}"


def check_new_run_dir(path: str | Path, *, overwrite: bool = False) -> RunDir:
    """Raise :class:`RunDirError` if a new run may not be written to ``path`` (no change).

    Called before the data are loaded, so a refusal comes at once;
    :func:`new_run_dir` checks again under the lock.
    """
    info = classify(path)
    why = _refuse_new(info, overwrite)
    if why is not None:
        raise (RunLockedError if info.in_use else RunDirError)(why)
    return info


def _missing_parents(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    out = []
    for p in (path, *path.parents):
        if p.exists():
            break
        out.append(p)
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _has_checkpoint(path: Path) -> bool:
    if list_checkpoints(path / CHECKPOINT_DIR):
        return True
    folds = path / FOLDS
    return folds.is_dir() and any(list_checkpoints(f / CHECKPOINT_DIR) for f in folds.iterdir())


@contextmanager
def new_run_dir(path: str | Path, *, command: str, overwrite: bool = False) -> Iterator[Path]:
    """Make (or, with ``overwrite``, empty) the run directory ``path`` and hold its lock.

    Call it once the data loaded. With ``overwrite``, the files genepool wrote in an evolve
    run, a backtest or a ``--problem`` run are removed; other files stay. If the body raises
    before a checkpoint exists, what this call made is removed again (the directory itself
    when it made it), so a failed start leaves nothing behind. The lock is released at the end,
    also on errors and Ctrl-C.

    Raises
    ------
    RunDirError
        The directory may not be written (see :func:`check_new_run_dir`); nothing changed.
    RunLockedError
        Another process holds its lock.
    """
    path = Path(path)
    check_new_run_dir(path, overwrite=overwrite)
    made = _missing_parents(path)
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        made = []  # it exists (another command may have made it just now): never remove it
    except OSError as exc:
        raise RunDirError(f"output directory {str(path)!r} cannot be created: {exc}") from None
    lock = RunLock(path, command, "wait until it ends or choose another --out")
    try:
        with _dir_mutex(path):
            info = classify(path)  # again: another command may have started meanwhile
            why = _refuse_new(info, overwrite)
            if why is not None:
                raise (RunLockedError if info.in_use else RunDirError)(why)
            lock._acquire_locked()
            if info.kind not in ("missing", "empty"):
                _clear(info)
        before = set(os.listdir(path))
    except BaseException:
        lock.release()
        _rmdirs(made)
        raise
    failed = False
    try:
        yield path
    except BaseException:
        failed = not _has_checkpoint(path)
        if failed:  # nothing to resume: remove what this run wrote
            _remove_new(path, before)
        raise
    finally:
        lock.release()
        if failed:
            _rmdirs(made)


def _clear(info: RunDir) -> None:
    """--overwrite: remove the files genepool wrote in ``info.path``, keep any other."""
    log.warning("%s: replacing %s (--overwrite)", info.path, info.describe())
    for name in info.entries:
        if _is_genepool_name(name):
            try:
                _remove(info.path / name)
            except OSError as exc:
                raise RunDirError(f"--overwrite cannot remove {info.path / name}: {exc}") from None


def _remove_new(path: Path, before: set[str]) -> None:
    try:
        for name in set(os.listdir(path)) - before:
            if _is_genepool_name(name):
                _remove(path / name)
    except OSError:
        pass  # best effort: the error being raised matters more


def _rmdirs(made: list[Path]) -> None:
    """Remove the directories :func:`new_run_dir` made, deepest first, while they are empty."""
    for p in made:
        try:
            p.rmdir()
        except OSError:
            return


_WHAT_IT_DOES = {"resume": "nothing to resume", "report": "nothing to report"}


def _refuse_existing(info: RunDir, command: str, generations: int | None) -> str | None:
    """Why ``resume``/``report`` may not use ``info.path`` (None: it may)."""
    p = info.path
    nothing = _WHAT_IT_DOES[command]
    if info.kind == "missing":
        return f"{p} does not exist; {nothing}"
    if info.kind == "file":
        return f"{p} is a file, not a run directory; {nothing}"
    if info.in_use:
        return _locked_message(p, info.lock, "wait until it ends")  # type: ignore[arg-type]
    if info.kind == "empty":
        return f"{p} is an empty directory, not a genepool run; {nothing}"
    if info.kind == "foreign":
        return f"{p} is not a genepool run directory (it holds {_names(info.entries)}); {nothing}"
    if info.kind == "genepool" and command == "resume" and F.CONFIG in info.entries:
        return None  # a damaged config.json: resume's own check names the key that is wrong
    if info.kind == "genepool":
        return (
            f"{p} holds {info.describe()}, not a run of `genepool evolve` or `genepool "
            f"backtest`; {nothing}"
        )
    if command == "report":
        if info.best is None:
            return (
                f"{p} is {info.describe()} with no results yet; continue it with "
                f"`genepool resume {p}`, which writes the report"
            )
        return None
    if info.kind == "backtest":
        return f"{p} holds {info.describe()}, not an evolve run; {nothing}"
    if info.state == "finished":
        n = info.generations
        if generations is None or n is None or generations <= n:
            return (
                f"{p} is a finished evolve run ({n} generations); {nothing}: run it longer "
                f"with `genepool resume {p} --generations N` (N > {n})"
            )
    return None


@contextmanager
def existing_run_dir(
    path: str | Path, *, command: str, generations: int | None = None
) -> Iterator[RunDir]:
    """Hold the lock of the run in ``path`` for ``resume`` or ``report``, if they may use it.

    ``resume`` needs an unfinished evolve run, or a finished one with ``generations`` above its
    own; ``report`` needs an evolve run or a backtest with a ``best.json``. A stale lock is
    explained and taken over.

    Raises
    ------
    RunDirError
        ``path`` is not such a run (the message says what it is); nothing changed.
    RunLockedError
        Another process holds its lock.
    """
    path = Path(path)
    lock = RunLock(path, command)
    with _dir_mutex(path) if path.is_dir() else _no_mutex():
        info = classify(path)
        why = _refuse_existing(info, command, generations)
        if why is not None:
            raise (RunLockedError if info.in_use else RunDirError)(why)
        lock._acquire_locked()
    try:
        yield info
    finally:
        lock.release()


@contextmanager
def _no_mutex() -> Iterator[None]:
    yield
