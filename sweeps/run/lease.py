"""One driver per sweep on an object store: a lease object beside the sweep's record.

An object store has no locks and no atomic create-if-absent through `pyarrow.fs`, so two
drivers on two machines are kept apart by a lease: `<sweep>/.sweeplab.lease` names its
holder (a random token, pid, host, start time) and is rewritten every `renew` seconds.
Taking it: a lease younger than `stale` seconds (measured on the store's own clock: the
object's modification time against that of a probe written now) is refused; otherwise our
lease is written, and read back `settle` seconds later; whoever's token is there then holds
it (the store keeps the last write, and a reader sees it), the other is refused. A driver
killed outright stops renewing: its lease goes stale and the next driver takes it over (at
once when the dead driver ran on the same machine and its process is gone). A
holder that finds someone else's token at renewal has lost the lease and says so.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from sweeps.run.lock import LEASE_FILE, SweepLock, SweepLocked, describe
from sweeps.run.state import Place
from sweeps.run.storage import Storage

RENEW_S = 15.0
STALE_S = 60.0
SETTLE_S = 2.0


@dataclass(frozen=True)
class Held:
    holder: dict
    age: float  # seconds since it was last written, by the store's clock


class StorageLease:
    """`with StorageLease(storage, name):` holds sweep `name`'s lease or raises SweepLocked."""

    def __init__(
        self,
        storage: Storage,
        name: str,
        renew: float = RENEW_S,
        stale: float = STALE_S,
        settle: float = SETTLE_S,
    ):
        self.storage, self.name = storage, name
        self.path = storage.path(name, LEASE_FILE)
        self.renew, self.stale, self.settle = renew, stale, settle
        self.me = {
            "token": secrets.token_hex(16),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
        }
        self.took_over: dict | None = None
        self.lost: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # reading and writing the lease ---------------------------------------------------------
    def _now(self) -> float:
        """The store's clock: the modification time of a probe written now."""
        probe = f"{self.path}.clock-{self.me['token']}"
        self.storage.write_text(probe, "")
        try:
            return self.storage.mtime(probe) or time.time()
        finally:
            self.storage.delete(probe)

    def held(self, age: bool = True) -> Held | None:
        """The lease as it is on the store now, or None; its age is measured (a probe
        written and deleted) only when `age` is asked for."""
        mtime = self.storage.mtime(self.path)
        text = self.storage.read_text(self.path) if mtime is not None else None
        if text is None:
            return None
        try:
            holder = json.loads(text or "{}")
        except ValueError:
            holder = {}  # torn or foreign: no token, so never ours
        seconds = max(0.0, self._now() - mtime) if age else 0.0
        return Held(holder if isinstance(holder, dict) else {}, seconds)

    def _gone(self, held: Held) -> bool:
        """True when the lease is stale, or its holder was a process on this machine that
        is no longer running (a driver killed here is taken over at once)."""
        if held.age >= self.stale:
            return True
        pid = held.holder.get("pid")
        if held.holder.get("host") != socket.gethostname() or not isinstance(pid, int):
            return False
        if pid == os.getpid():
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # running, as another user
        return False

    def _write(self) -> None:
        self.storage.write_text(self.path, json.dumps(self.me))

    def _refuse(self, held: Held) -> SweepLocked:
        return SweepLocked(
            f"sweep {self.name!r} is being run by {describe(held.holder)}; wait for it to end "
            f"or stop it (its lease on {self.storage.uri} was renewed {held.age:.0f}s ago; "
            f"a driver that died is taken over after {self.stale:.0f}s)"
        )

    # taking, keeping and giving back -----------------------------------------------------
    def acquire(self) -> StorageLease:
        looked = time.monotonic()
        held = self.held()
        if held is not None and not self._gone(held):
            raise self._refuse(held)
        self._write()
        # Wait well past our own look-then-write gap before reading back: a driver that
        # looked at the same time and wrote after us has written by then (and wins).
        time.sleep(max(self.settle, 3 * (time.monotonic() - looked)))
        now = self.held(age=False)
        if now is None or now.holder.get("token") != self.me["token"]:
            raise self._refuse(now or Held({}, 0.0))  # another driver wrote after us
        self.took_over = held.holder if held is not None else None
        self._thread = threading.Thread(target=self._keep, name="sweeplab-lease", daemon=True)
        self._thread.start()
        return self

    def _keep(self) -> None:
        """Rewrite the lease every `renew` s while it is ours; say so once if it is not."""
        while not self._stop.wait(self.renew):
            try:
                now = self.held(age=False)
                if now is not None and now.holder.get("token") != self.me["token"]:
                    self.lost = now.holder
                    print(
                        f"sweeplab: sweep {self.name!r}: the lease was taken over by "
                        f"{describe(now.holder)}; stop this driver",
                        file=sys.stderr,
                        flush=True,
                    )
                    return
                self._write()
            except Exception as exc:  # noqa: BLE001 - a store hiccup: try again next round
                print(
                    f"sweeplab: sweep {self.name!r}: could not renew the lease ({exc})",
                    file=sys.stderr,
                    flush=True,
                )

    def release(self) -> None:
        """Stop renewing; delete the lease if it is still ours."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        now = self.held(age=False)
        if now is not None and now.holder.get("token") == self.me["token"]:
            self.storage.delete(self.path)

    def __enter__(self) -> StorageLease:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@contextmanager
def sweep_lock(place: Place, name: str) -> Iterator[dict | None]:
    """Hold sweep `name` for one driver: the `flock` on this machine and, when the sweep
    lives on an object store, its lease there too. Says so when it takes over from a
    driver that died, and yields that driver's record (None when there was none)."""
    lease = nullcontext() if place.storage.is_local else StorageLease(place.storage, name)
    with SweepLock(place.lock_dir(name), name) as lock, lease as on_store:
        took_over = (on_store.took_over if on_store is not None else None) or lock.took_over
        if took_over:
            print(f"sweep {name!r}: taking over the lock of {describe(took_over)}, gone")
        yield took_over
