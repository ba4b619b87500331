"""Population files: an optimizer's ``(n, d)`` arrays on memory-mapped ``.npy`` files.

``storage="disk"`` (:class:`~genepool.GA`, :class:`~genepool.PSO`) keeps genes in files made
here, one file per array and generation, never rewritten in place: a generation writes new files,
and the old ones are removed once nothing refers to them. That makes checkpoints cheap and safe.
A checkpoint refers to the files of a completed generation by name (written before the JSON that
names them), and a file is removed only when neither the optimizer's state, the batch it handed
out, nor one of the last two checkpoints (``run.checkpoint`` keeps two) refers to it. After
``kill -9`` at any moment the newest valid checkpoint still finds its files; the files written
after it (orphans) are removed when the checkpoint is loaded.

Files are allocated in full when they are made (``posix_fallocate``), so a full disk fails there
with a :class:`~genepool.errors.WriteError` naming the file, instead of a ``SIGBUS`` when a page
of a sparse file is first written. Pages of these files are file-backed memory: the kernel writes
them back and drops them under pressure, and the memory monitor reports them apart from the
anonymous memory the budget counts (``docs/memory.md``).

Where the files live: ``path`` when the user gives one (only genepool's own files there are ever
removed), else ``<run_dir>/population`` for a run with a run directory, else a temporary
directory (``tempfile.mkdtemp``, honouring ``TMPDIR``) removed with the optimizer. Files of a run
with a run directory are kept at the end, wherever they are (its checkpoints refer to them).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import weakref
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

from ..errors import CheckpointError, ConfigError, WriteError
from ..memory._size import format_size

__all__ = ["STORAGES", "PopulationFiles", "check_storage"]

STORAGES = ("memory", "disk")
#: ``<kind>-<serial>.npy``; the serial grows by one with each file made in a folder.
_NAME = re.compile(r"^([a-z_]+)-(\d{8})\.npy$")
#: The lock file of a folder in use (``flock``); removed from a user's folder at the end.
LOCK_FILE = ".genepool-population.lock"
#: Checkpoints kept by ``run.checkpoint.write_checkpoint`` (its ``keep``): their files are kept.
PINNED_CHECKPOINTS = 2


def check_storage(storage: object, path: object) -> str:
    """``storage`` validated (``"memory"`` or ``"disk"``); ``path`` only goes with ``"disk"``."""
    if storage not in STORAGES:
        raise ConfigError(f"storage must be one of {list(STORAGES)}, got {storage!r}")
    if path is not None:
        if storage != "disk":
            raise ConfigError(f"path={path!r} needs storage='disk'")
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigError(f"path must be a folder name, got {path!r}")
    return str(storage)


def nearest_existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (where files made under ``path`` will go)."""
    path = Path(path).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


class PopulationFiles:
    """The folder of an optimizer's population files, and the files in it.

    Parameters
    ----------
    path : str or PathLike, optional
        The user's folder (made when missing). None: a run directory's ``population`` folder
        once :meth:`attach` is called, else a temporary directory made at the first file.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.user_path = None if path is None else Path(path).expanduser()
        self.folder: Path | None = self.user_path
        self.temporary = False
        self._kept = False  # a run directory's folder survives the optimizer
        self._serial = 0
        self._made = False  # a file was made or opened here
        self._lock_fd: int | None = None
        self._unlock: weakref.finalize
        self._finalizer: weakref.finalize | None = None
        #: file names of the last checkpoints written (oldest first)
        self._pinned: deque[frozenset[str]] = deque(maxlen=PINNED_CHECKPOINTS)

    # -- the folder ----------------------------------------------------------------------------
    def attach(self, run_folder: Path) -> None:
        """A run directory's checkpoints will refer to the files: keep them at the end. They
        go to ``run_folder`` (the run directory's ``population``) unless the user gave a
        path or files were already made elsewhere."""
        self._kept = True
        if self.user_path is None and self.folder is None:
            self.folder = Path(run_folder)

    def _ready(self) -> Path:
        """The folder, made when missing (a temporary one when none was chosen); once files
        were made in it, a folder that vanished is an error, not made again."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="genepool-population-"))
            self.temporary = True
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), True)
            return self.folder
        if self._made and not self.folder.is_dir():
            exc = WriteError(self.folder, FileNotFoundError(errno.ENOENT, "vanished"))
            exc.args = (
                errno.ENOENT,
                f"cannot write {self.folder}: the population folder vanished during the run "
                f"(with the files its checkpoints refer to)",
            )
            raise exc
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(self.folder, exc) from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise WriteError(self.folder, PermissionError(errno.EACCES, "not writable"))
        self._lock()
        if self._serial == 0:  # never reuse a name already in the folder
            self._serial = max((s for _, s, _ in self._listing()), default=0)
        return self.folder

    def _lock(self) -> None:
        """Hold the folder's lock while files are made here: another optimizer (this process
        or another) using the same folder would remove this one's files as unused."""
        if self._lock_fd is not None or fcntl is None:
            return
        assert self.folder is not None
        path = self.folder / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WriteError(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(
                f"population folder {self.folder} is in use by another optimizer (its files "
                f"would be removed as unused): give each run its own path or run_dir"
            ) from None
        self._lock_fd = fd
        self._unlock = weakref.finalize(self, os.close, fd)

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            self._unlock()
            self._lock_fd = None

    def _listing(self) -> list[tuple[str, int, Path]]:
        if self.folder is None or not self.folder.is_dir():
            return []
        out = []
        for p in self.folder.iterdir():
            m = _NAME.match(p.name)
            if m:
                out.append((m.group(1), int(m.group(2)), p))
        return sorted(out, key=lambda t: t[1])

    # -- disk space ----------------------------------------------------------------------------
    def check_space(self, needed: int, what: str) -> None:
        """Refuse to start when the folder's file system has less than ``needed`` bytes free.

        Raises
        ------
        WriteError
            Naming the folder, the bytes needed (and for what) and the bytes free.
        """
        # nothing is made or locked here: the folder's disk is that of its nearest existing
        # ancestor (a run directory not made yet; the temporary folder's parent)
        folder = self.folder if self.folder is not None else Path(tempfile.gettempdir())
        free = shutil.disk_usage(nearest_existing(folder)).free
        if needed > free:
            exc = WriteError(folder, OSError(errno.ENOSPC, "no space"))
            exc.args = (
                errno.ENOSPC,
                f"not enough disk space in {folder} for the population files: {what} need "
                f"{needed:,} bytes ({format_size(needed)}), the disk has {free:,} bytes "
                f"({format_size(free)}) free",
            )
            raise exc

    # -- files ---------------------------------------------------------------------------------
    def create(self, kind: str, shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.memmap:
        """A new zero-length-free file ``<kind>-<serial>.npy`` of ``shape``, mapped read-write.

        The file's blocks are allocated at once, so a full disk raises here.
        """
        folder = self._ready()
        self._serial += 1
        path = folder / f"{kind}-{self._serial:08d}.npy"
        try:
            arr = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
            size = path.stat().st_size
            if hasattr(os, "posix_fallocate") and size:
                fd = os.open(path, os.O_RDWR)
                try:
                    os.posix_fallocate(fd, 0, size)
                finally:
                    os.close(fd)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise WriteError(path, exc) from None
        self._made = True
        return arr

    def open(self, name: object, shape: tuple[int, ...], dtype: npt.DTypeLike) -> np.memmap:
        """The file ``name`` of a checkpoint, mapped read-only, checked against ``shape``."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise CheckpointError(f"population file name {name!r} is not one genepool writes")
        folder = self._ready()
        path = folder / name
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise CheckpointError(
                f"population file {path} is missing: the checkpoint refers to it (was the "
                f"population folder moved or cleaned?)"
            ) from None
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"population file {path} cannot be read: {exc}") from None
        self._made = True
        if arr.shape != shape or arr.dtype != dtype:
            raise CheckpointError(
                f"population file {path} holds {arr.dtype} of shape {arr.shape}, the "
                f"optimizer expects {np.dtype(dtype)} of shape {shape}"
            )
        return arr

    @staticmethod
    def name_of(arr: np.ndarray) -> str:
        """The file name behind a mapped array made or opened here."""
        filename = getattr(arr, "filename", None)
        if filename is None:
            raise ConfigError("array is not a population file")
        return Path(filename).name

    @staticmethod
    def sync(*arrays: np.ndarray | None) -> None:
        """Flush mapped arrays' pages to their files and the files to disk (``fsync``)."""
        for arr in arrays:
            if isinstance(arr, np.memmap) and arr.filename is not None:
                arr.flush()
                fd = os.open(arr.filename, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # -- lifetime ------------------------------------------------------------------------------
    def pin(self, names: Iterable[str]) -> None:
        """A checkpoint referring to ``names`` was written: keep them while it may be read."""
        self._pinned.append(frozenset(names))

    def forget(self, in_use: Iterable[str], orphans_after: int | None = None) -> None:
        """Remove genepool's files of this folder that nothing refers to: neither ``in_use``
        (the state and the pending batch) nor a pinned checkpoint. With ``orphans_after``
        (after loading a checkpoint) only files made after that serial go: older ones may
        belong to the checkpoint before it."""
        keep = set(in_use).union(*self._pinned)
        for _, serial, path in self._listing():
            if path.name in keep or (orphans_after is not None and serial <= orphans_after):
                continue
            path.unlink(missing_ok=True)

    def loaded(self, names: Iterable[str]) -> None:
        """A checkpoint referring to ``names`` was loaded: pin them, remove later orphans."""
        names = set(names)
        serials = [int(m.group(2)) for n in names if (m := _NAME.match(n))]
        self._pinned.clear()
        self.pin(names)
        self.forget(names, orphans_after=max(serials, default=0))
        self._serial = max((s for _, s, _ in self._listing()), default=0)

    def close(self) -> None:
        """Remove the files: the whole temporary folder, or genepool's own files in the
        user's folder; a run directory's files are kept (``resume`` needs them). Mapped arrays
        stay readable (the system keeps an unlinked file's pages while they are mapped)."""
        if self._kept or self.folder is None:
            self._release_lock()
            return
        if self.temporary:
            if self._finalizer is not None:
                self._finalizer()
            self.folder, self.temporary = None, False
            return
        self._pinned.clear()
        self.forget(())
        self._release_lock()
        (self.folder / LOCK_FILE).unlink(missing_ok=True)  # the user's folder as it was

    def disk_bytes(self) -> int:
        """Bytes of genepool's files in the folder now."""
        return sum(p.stat().st_size for _, _, p in self._listing() if p.exists())
