"""Where a sweep's shared files live: Ray's checkpoints and sweeplab's sweep record.

One machine: `runs/ray` in the project. A cluster: a path every node mounts, or an object
store URI as Ray and pyarrow take it (`s3://bucket/prefix?endpoint_override=host:9000&
scheme=http`; credentials from the standard AWS environment variables — pyarrow reads
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` but not `AWS_ENDPOINT_URL`, hence the query).
Everything goes through `pyarrow.fs`, so local and remote storage take the same code path.
Free of Ray and torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

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
        """`tune.RunConfig` arguments: a local path as before; else the resolved filesystem
        (so the query string never ends up inside Ray's paths)."""
        if self.is_local:
            return {"storage_path": self.root}
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
