"""Where a sweep's shared files live: Ray's checkpoints and sweeplab's sweep record.

One machine: `runs/ray` in the project. A cluster: a path every node mounts, or an object
store URI as Ray and pyarrow take it (`s3://bucket/prefix?endpoint_override=host:9000&
scheme=http`; credentials from the standard AWS environment variables — pyarrow reads
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` but not `AWS_ENDPOINT_URL`, hence the query).
Everything goes through `pyarrow.fs`, so local and remote storage take the same code path.
Free of Ray and torch.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from common.errors import naming
from common.files import write_atomic

DEFAULT = Path("runs") / "ray"


class StorageError(ValueError):
    """A storage location that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Storage:
    """A storage location: its filesystem and the prefix-stripped root path on it."""

    uri: str
    fs: pafs.FileSystem
    root: str

    @classmethod
    def open(cls, uri: str | None, project: Path) -> Storage:
        """`uri` (a path or an object-store URI), else `runs/ray` under `project`."""
        if not uri:
            return cls._local(project / DEFAULT)
        if "://" not in uri:
            return cls._local(Path(uri).expanduser() if Path(uri).is_absolute() else project / uri)
        try:
            fs, root = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise StorageError(f"storage {uri!r}: {str(exc).splitlines()[0]}") from None
        if isinstance(fs, pafs.LocalFileSystem):
            return cls._local(Path(root))
        return cls(uri, fs, root.rstrip("/"))

    @classmethod
    def _local(cls, path: Path) -> Storage:
        path = path.resolve()
        return cls(str(path), pafs.LocalFileSystem(), str(path))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def ray_kwargs(self) -> dict:
        """`tune.RunConfig` arguments: the path and the filesystem Ray writes through. On
        this disk, one that writes each file whole or not at all (`whole_files`); an object
        store's (resolved, so the query string never ends up inside Ray's paths)."""
        if self.is_local:
            return {"storage_path": self.root, "storage_filesystem": whole_files()}
        return {"storage_path": self.root, "storage_filesystem": self.fs}

    def exists(self, path: str) -> bool:
        return self._info(path).type != pafs.FileType.NotFound

    def is_file(self, path: str) -> bool:
        return self._info(path).type == pafs.FileType.File

    def has_files(self, path: str, ignore: tuple[str, ...] = ()) -> bool:
        """True when the directory `path` holds anything (other than the `ignore` names)."""
        if self._info(path).type != pafs.FileType.Directory:
            return False
        found = self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        return any(info.base_name not in ignore for info in found)

    def mtime(self, path: str) -> float | None:
        """The file's modification time (the store's clock, s since the epoch), or None
        when there is no such file."""
        info = self._info(path)
        if info.type != pafs.FileType.File or info.mtime is None:
            return None
        return info.mtime.timestamp()

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when there is no such file."""
        if not self.is_file(path):
            return None
        with self.fs.open_input_stream(path) as fh:
            return fh.read().decode("utf-8")

    def write_text(self, path: str, text: str, mode: int = 0o644) -> None:
        """Written whole or not at all: local files atomically (fsynced, permission bits
        `mode`), objects are replaced whole by the store."""
        if self.is_local:
            write_atomic(Path(path), text, mode=mode)
            return
        with self.fs.open_output_stream(path) as fh:
            fh.write(text.encode("utf-8"))

    def delete(self, path: str) -> None:
        info = self._info(path)
        if info.type == pafs.FileType.Directory:
            self.fs.delete_dir(path)
        elif info.type == pafs.FileType.File:
            self.fs.delete_file(path)

    def _info(self, path: str) -> pafs.FileInfo:
        try:
            return self.fs.get_file_info(path)
        except OSError as exc:
            raise StorageError(f"storage {self.uri}: {str(exc).splitlines()[0]}") from None


def whole_files() -> pafs.FileSystem:
    """This disk, where each file written appears whole or not at all.

    Ray copies its record of a sweep (`experiment_state-*.json`, the searcher's state) and
    each checkpoint into the storage in place: when the disk fills mid-copy (or the driver
    is killed), the file left is cut short and the sweep cannot be restored. Through this
    filesystem a file is written beside its name and renamed over it once complete; a
    write that fails removes the partial copy and the previous file stays as it was."""
    return pafs.PyFileSystem(_WholeFiles())


def on_this_disk(fs: pafs.FileSystem) -> bool:
    """Whether paths on `fs` are paths on this machine's disk (read in place)."""
    if isinstance(fs, pafs.LocalFileSystem):
        return True
    return isinstance(fs, pafs.PyFileSystem) and isinstance(fs.handler, _WholeFiles)


class _WholeFiles(pafs.FileSystemHandler):
    """A local filesystem whose output streams write a temporary file, renamed at close."""

    def __init__(self):
        self.fs = pafs.LocalFileSystem()

    def __eq__(self, other):
        return isinstance(other, _WholeFiles)

    def __ne__(self, other):
        return not self == other

    def __reduce__(self):  # Ray hands the storage to its workers pickled
        return (_WholeFiles, ())

    def get_type_name(self):
        return "sweeplab-whole-files"

    def normalize_path(self, path):
        return self.fs.normalize_path(path)

    def get_file_info(self, paths):
        return self.fs.get_file_info(paths)

    def get_file_info_selector(self, selector):
        return self.fs.get_file_info(selector)

    def create_dir(self, path, recursive):
        self.fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path):
        self.fs.delete_dir(path)

    def delete_dir_contents(self, path, missing_dir_ok=False):
        self.fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self):
        raise OSError("refusing to delete the contents of /")

    def delete_file(self, path):
        self.fs.delete_file(path)

    def move(self, src, dest):
        self.fs.move(src, dest)

    def copy_file(self, src, dest):
        with self.fs.open_input_stream(src) as fh, self.open_output_stream(dest, None) as out:
            while chunk := fh.read(1 << 24):
                out.write(chunk)

    def open_input_stream(self, path):
        return self.fs.open_input_stream(path)

    def open_input_file(self, path):
        return self.fs.open_input_file(path)

    def open_output_stream(self, path, metadata):
        import pyarrow as pa

        return pa.PythonFile(_WholeFile(path), mode="w")

    def open_append_stream(self, path, metadata):
        return self.fs.open_append_stream(path)


SAME_CHECK_BYTES = 1 << 20
"""A file up to this size is held in memory and, when the storage already has the same bytes
under its name, not written again. Ray copies every file of an experiment's folder to the
storage at each snapshot: without this, each finished trial's unchanged files would be
written again at every later result (a cost that grows with the trials)."""


class _WholeFile(io.RawIOBase):
    """Written to `.<name>.<random>.part` beside `path`; renamed to `path` when closed after
    every write succeeded, deleted as soon as one fails. Up to `SAME_CHECK_BYTES` are kept in
    memory first: if the whole file is that small and `path` holds the same bytes already,
    nothing is written."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.held: bytearray | None = bytearray()
        self.fh = None
        self.part: str | None = None
        self.failed = False

    def writable(self) -> bool:
        return True

    def _open_part(self) -> None:
        fd, self.part = tempfile.mkstemp(
            dir=os.path.dirname(self.path) or ".",
            prefix=f".{os.path.basename(self.path)}.",
            suffix=".part",
        )
        self.fh = os.fdopen(fd, "wb")

    def _to_disk(self, data) -> None:
        """`data` onto the part file (opened, and what was held written first, if need be)."""
        try:
            if self.fh is None:
                self._open_part()
                held, self.held = self.held, None
                if held:
                    self.fh.write(held)
            self.fh.write(data)
        except OSError as exc:  # a bare write error names no file: this one does
            self._discard()
            raise naming(exc, self.path) from exc
        except BaseException:
            self._discard()
            raise

    def write(self, data) -> int:
        if self.failed:
            raise OSError(f"{self.path}: an earlier write failed")
        if self.held is not None and len(self.held) + len(data) <= SAME_CHECK_BYTES:
            self.held += data
        else:
            self._to_disk(data)
        return len(data)

    def flush(self) -> None:
        if not self.failed and self.fh is not None and not self.fh.closed:
            try:
                self.fh.flush()
            except BaseException:
                self._discard()
                raise

    def _unchanged(self) -> bool:
        try:
            if os.path.getsize(self.path) != len(self.held):
                return False
            with open(self.path, "rb") as fh:
                return fh.read() == self.held
        except OSError:
            return False

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self.failed:
                if self.fh is None:  # all of it held in memory
                    if self._unchanged():
                        return
                    self._to_disk(b"")
                try:
                    self.fh.close()
                except OSError as exc:
                    self._discard()
                    raise naming(exc, self.path) from exc
                os.replace(self.part, self.path)
        finally:
            super().close()

    def _discard(self) -> None:
        self.failed = True
        if self.fh is not None:
            try:
                self.fh.close()
            except OSError:
                pass
        if self.part is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.part)
