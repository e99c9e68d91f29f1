"""Files written so that a reader never sees half of one, even after a power loss; files
and folders named by their content."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or creation inside `path` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    """Write `data` to `path` all or nothing: a temp file in the same folder, fsynced,
    renamed over `path`, and the folder fsynced. `mode` is the file's permission bits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def fsync_tree(path: Path) -> None:
    """Flush every file and folder under `path` (and `path` itself) to disk."""
    path = Path(path)
    if path.is_dir():
        for sub in sorted(path.rglob("*"), reverse=True):  # files before their folders
            _fsync_path(sub)
    _fsync_path(path)


def _fsync_path(path: Path) -> None:
    if path.is_dir():
        fsync_dir(path)
        return
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def rename_durable(src: Path, dst: Path) -> Path:
    """`src` renamed to `dst` (no overwrite of a folder), the rename made durable."""
    os.rename(src, dst)
    fsync_dir(Path(dst).parent)
    if Path(src).parent != Path(dst).parent:
        fsync_dir(Path(src).parent)
    return Path(dst)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temp path beside `path` for a writer that wants a file name (pyarrow, torch): once the
    block exits cleanly it is fsynced and renamed over `path`; on an error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def content_id(path: Path, length: int = 16) -> str:
    """sha256 (first `length` hex digits) of a file's bytes, or of a folder's files (their
    relative names and bytes, in name order): the same on every machine."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f is not path:
            digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:length]
