"""One driver per sweep: an exclusive lock on the sweep's folder, held for the driver's life.

Two drivers on one sweep would share its outbox and Ray's folder: both would number
writes alike, one would delete the other's entries in progress, both would restore the same
Tuner. The lock is an `flock` on a file in the sweep's folder, so the kernel drops it when
its driver dies (a SIGKILL, a crash): a stale lock file is simply taken over. The file
names its holder (pid, host, start time) for the refusal message. Local paths only.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

LOCK_FILE = ".sweeplab.lock"
LEASE_FILE = ".sweeplab.lease"
"""The lease on an object store (`sweeps.run.lease`), beside where the lock would be."""


class SweepLocked(ValueError):
    """Another driver holds the sweep; one line naming it."""


def _holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(holder: dict) -> str:
    if not holder:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"pid {holder.get('pid')} on {holder.get('host')} (started {started})"


class SweepLock:
    """`with SweepLock(folder, name):` holds sweep `name`'s lock or raises SweepLocked."""

    def __init__(self, folder: Path, name: str):
        self.folder = Path(folder)
        self.name = name
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None
        self._created: list[Path] = []
        self.took_over: dict | None = None

    def acquire(self) -> SweepLock:
        self._created = [d for d in (self.folder, *self.folder.parents) if not d.exists()][::-1]
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _holder(self.path)
                raise SweepLocked(
                    f"sweep {self.name!r} is being run by {describe(holder)}; "
                    f"wait for it to end or stop it (lock: {self.path})"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the file was removed by its last holder meanwhile: again
        self._fd = fd
        previous = _holder(self.path)
        if previous and previous.get("pid") != os.getpid():
            self.took_over = previous  # a killed driver's: the kernel released its lock
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        return self

    def release(self) -> None:
        """Drop the lock; the file goes, and so do folders it alone made (bad input)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still held: no one can lock this inode
        os.close(self._fd)
        self._fd = None
        for d in reversed(self._created):
            try:
                d.rmdir()
            except OSError:
                break  # not empty: the sweep's files are there

    def __enter__(self) -> SweepLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
