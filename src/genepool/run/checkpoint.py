"""Checkpoint files: numpy arrays in ``.npz`` (no pickle) plus JSON metadata, written atomically.

A checkpoint of generation ``g`` is two files in the checkpoint folder:

- ``ckpt-<g>.npz``: the arrays (``np.savez``, read back with ``allow_pickle=False``);
- ``ckpt-<g>.json``: everything else (counters, the RNG state, configuration fingerprints) and
  the SHA-256 and size of the ``.npz``.

Each file is written to a temporary name, flushed to disk (``fsync``) and renamed, the ``.npz``
first: a checkpoint exists only once its JSON does, and the JSON names the exact bytes of its
arrays, so a truncated or corrupted file is detected on reading and the previous checkpoint is
used instead. The newest ``keep`` (default 2) checkpoints are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError, WriteError

__all__ = [
    "Checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "read_checkpoint",
    "write_checkpoint",
]

log = logging.getLogger("genepool")

FORMAT = 1
#: Bytes read at a time when a checkpoint's arrays are hashed.
HASH_BLOCK = 16 * 2**20
_NAME = re.compile(r"^ckpt-(\d+)\.json$")


@dataclass
class Checkpoint:
    """One checkpoint read back from disk.

    Attributes
    ----------
    generation : int
    arrays : dict of str to ndarray
    meta : dict
        The JSON metadata (JSON-compatible values only).
    path : Path
        The ``.json`` file.
    """

    generation: int
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    path: Path


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened); also
    what the market data store publishes with."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a full disk: no half file, the previous checkpoint stays
        tmp.unlink(missing_ok=True)
        raise WriteError(path, exc) from exc


def _write_npz_atomic(path: Path, arrays: dict[str, np.ndarray]) -> tuple[str, int]:
    """``np.savez`` straight to a temporary file (numpy streams each array in bounded
    pieces: no copy of the arrays in memory, which is 2 x the fitness of a population of 10^7
    on disk), fsynced, renamed; its SHA-256 and size, read back in blocks."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            # numpy's stub types **kwds against savez's allow_pickle (bool); these are arrays
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        digest, size = _file_sha256(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # e.g. a full disk: no half file, the previous checkpoint stays
        tmp.unlink(missing_ok=True)
        raise WriteError(path, exc) from exc
    return digest, size


def _file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 16 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(HASH_BLOCK):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def list_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """``(generation, json path)`` of the checkpoints in ``directory``, newest first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found, reverse=True)


def write_checkpoint(
    directory: str | Path,
    generation: int,
    arrays: dict[str, np.ndarray],
    meta: dict[str, Any],
    *,
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``generation`` atomically and keep the newest ``keep``.

    Parameters
    ----------
    directory : path
        The checkpoint folder (created if needed).
    generation : int
        Generations completed; names the files.
    arrays : dict of str to ndarray
        Numeric arrays (object arrays are refused: they would need pickle).
    meta : dict
        JSON-compatible metadata.
    keep : int, default 2
        Checkpoints kept; older ones are deleted after the new one is complete.

    Returns
    -------
    Path
        The checkpoint's ``.json`` file.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.hasobject:
            raise CheckpointError(
                f"checkpoint array {name!r} must be a numeric numpy array (no pickle), "
                f"got {type(a).__name__}"
            )
    stem = f"ckpt-{generation:06d}"
    npz_path = folder / f"{stem}.npz"
    digest, size = _write_npz_atomic(npz_path, arrays)
    doc = {
        "format": FORMAT,
        "generation": int(generation),
        "arrays": {"file": npz_path.name, "sha256": digest, "bytes": size},
        "meta": meta,
    }
    try:
        text = json.dumps(doc, indent=1, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata is not JSON-compatible: {exc}") from None
    json_path = folder / f"{stem}.json"
    _write_atomic(json_path, text.encode())
    fsync_dir(folder)
    for _, old in list_checkpoints(folder)[max(1, int(keep)) :]:
        old.unlink(missing_ok=True)
        old.with_suffix(".npz").unlink(missing_ok=True)
    return json_path


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify one checkpoint (its ``.json`` path).

    Raises
    ------
    CheckpointError
        When a file is missing, truncated or corrupted (the SHA-256 of the arrays does not
        match), or was written by an unknown format version.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is unreadable or truncated: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint {path} has format {doc.get('format') if isinstance(doc, dict) else '?'}"
            f", expected {FORMAT}"
        )
    try:
        info = doc["arrays"]
        npz_path = path.with_name(info["file"])
        generation = int(doc["generation"])
        meta = doc["meta"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} lacks {exc}") from None
    try:
        digest, size = _file_sha256(npz_path)
    except OSError as exc:
        raise CheckpointError(f"checkpoint arrays {npz_path} cannot be read: {exc}") from None
    if size != info.get("bytes") or digest != info.get("sha256"):
        raise CheckpointError(
            f"checkpoint arrays {npz_path} are corrupted or truncated "
            f"({size:,} bytes, expected {info.get('bytes'):,} with a matching SHA-256)"
        )
    try:  # read from the file (each array once), not from a copy of its bytes
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as exc:  # pragma: no cover - the hash matched
        raise CheckpointError(f"checkpoint arrays {npz_path} cannot be loaded: {exc}") from None
    return Checkpoint(generation, arrays, meta, path)


def latest_checkpoint(directory: str | Path) -> Checkpoint | None:
    """The newest valid checkpoint in ``directory`` (None when there is none at all).

    A corrupted or truncated newest checkpoint is reported in the log and skipped in favour of
    the previous one; when every checkpoint is bad, :class:`CheckpointError` lists why.
    """
    problems = []
    for _, path in list_checkpoints(directory):
        try:
            found = read_checkpoint(path)
        except CheckpointError as exc:
            problems.append(str(exc))
            continue
        for problem in problems:  # said once: when none is valid, the error lists them all
            log.warning("skipping checkpoint: %s", problem)
        return found
    if problems:
        raise CheckpointError(f"no valid checkpoint in {directory}: " + "; ".join(problems))
    return None
