"""A durable, ordered outbox for a sweep's tracking writes: nothing logged is lost.

The sweep driver never writes to MLflow inline. Each write (a trial's run, a metric batch,
a table, an artifact folder, tags, an end status) is first saved as a numbered entry on
disk (its JSON plus copies of the files it sends), then a background thread sends the
entries in order. While the tracking store is unreachable the thread waits and retries;
an entry is deleted only once the store has it. Entries left behind by a killed driver are
sent first by the next one (`sweeplab resume`).

Writes name trials by trial id, not run id: the sender finds or creates the child run, so
a retried creation never leaves a ghost run. Replays are harmless: metrics carry a fixed
timestamp and a trial's step is logged once (steps already in the store are skipped); a
series of points (training curve, system metrics) is deduplicated by step the same way,
on the series' `dedupe_key` metric; dataset inputs are idempotent in MLflow itself.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common.errors import first_line, naming
from common.files import fsync_dir, fsync_tree, rename_durable, write_atomic
from mlflow_server.outbox_send import BATCHED, ENTRY, Sending, TornEntry
from mlflow_server.retry import failure_kind, http_status
from mlflow_server.tracking import Tracker

PARKED = "failed"
SEQ_BLOCK = 1000
"""Sequence numbers are reserved this many at a time in `<root>.seq` (beside the outbox,
so an empty outbox is an empty folder): they never restart below one used before."""


def _numbers(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return [int(p.name.split(".")[0]) for p in folder.iterdir() if p.name.split(".")[0].isdigit()]


def _problem(exc: BaseException, kind: str) -> str:
    """Why a write is held, in one line a user can act on."""
    status = http_status(exc)
    if kind == "down":
        return f"tracking store unreachable ({first_line(exc)})"
    if status in (401, 403):
        return (
            f"tracking store refuses our credentials (HTTP {status}; check "
            "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or the token)"
        )
    if status == 429:
        return "tracking store is rate-limiting us (HTTP 429)"
    return f"tracking write failed ({first_line(exc)})"


class Outbox(Sending):
    def __init__(
        self,
        tracker: Tracker,
        root: Path,
        parent_run_id: str,
        out=None,
        retry_wait: tuple[float, float] = (0.5, 10.0),
    ):
        """`retry_wait`: (first, longest) seconds between retries of a write the store did
        not take: the wait doubles from twice the first up to the longest."""
        self.tracker = tracker
        self._first_wait, self._max_wait = retry_wait
        self.root = root
        self.parent = parent_run_id
        self.out = out or sys.stderr
        self.root.mkdir(parents=True, exist_ok=True)
        self._seq_file = self.root.with_name(self.root.name + ".seq")
        for tmp in self.root.glob("*.tmp"):  # half-written by a killed driver: never queued
            shutil.rmtree(tmp, ignore_errors=True)
        self._seq = self._reserved = self._high_water()
        self.replayed = self._unpark()
        # The entries to send, in order: the folder is listed once here, then `put` adds and
        # the sender removes (a listing per write cost O(backlog): quadratic in a sweep).
        self._queue = sorted(p.name for p in self.root.iterdir() if p.name.isdigit())
        self._runs: dict[str, str] = {}
        self._steps: dict[str, set[int]] = {}
        self._series: dict[tuple[str | None, str], set[int]] = {}
        self._sealed: set[str] = set()
        self._torn = False
        self._cond = threading.Condition()
        self._closing = False
        self.sent = 0  # entries delivered
        self.calls = 0  # store calls that delivered them (`_group`)
        self._alone = 0  # entries still to send one by one (after a refused group)
        self.outage_since: float | None = None
        self.problem: str | None = None
        self.dropped: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="mlflow-outbox", daemon=True)
        self._thread.start()

    def _high_water(self) -> int:
        """The highest sequence number ever used here: pending, parked or reserved."""
        try:
            reserved = int(self._seq_file.read_text(encoding="utf-8").strip() or 0)
        except (OSError, ValueError):
            reserved = 0
        return max([reserved, *_numbers(self.root), *_numbers(self.root / PARKED)])

    def _next_seq(self) -> int:
        with self._cond:
            if self._seq + 1 > self._reserved:  # reserved on disk first (it may be full)
                write_atomic(self._seq_file, str(self._seq + 1 + SEQ_BLOCK))
                self._reserved = self._seq + 1 + SEQ_BLOCK
            self._seq += 1
            return self._seq

    def _unpark(self) -> int:
        """Writes parked by an earlier driver go back in the queue (in their order)."""
        parked = self.root / PARKED
        names = (
            sorted(p.name for p in parked.iterdir() if p.name.isdigit()) if parked.is_dir() else []
        )
        for name in names:
            target = self.root / name
            if target.exists():  # cannot happen with unique numbers; never overwrite
                target = self.root / f"{self._seq + 1:08d}"
                self._seq += 1
            rename_durable(parked / name, target)
        return len(names)

    # the driver's side -------------------------------------------------------------------
    def put(
        self,
        kind: str,
        trial_id: str | None = None,
        files: dict[str, Path] | None = None,
        texts: dict[str, str] | None = None,
        **payload: Any,
    ) -> None:
        """Queue one write; files and folders are copied now (their source may vanish),
        `texts` are written as files of the entry. On disk (fsynced) before it returns; a
        write that fails (a full disk) leaves no part of the entry and raises an OSError
        naming the outbox's folder."""
        try:
            seq = self._next_seq()
        except OSError as exc:
            raise naming(exc, self.root) from exc
        tmp = self.root / f"{seq:08d}.tmp"
        try:
            tmp.mkdir()
            for name, src in (files or {}).items():
                if src.is_dir():
                    shutil.copytree(src, tmp / name)
                else:
                    shutil.copy2(src, tmp / name)
            for name, text in (texts or {}).items():
                (tmp / name).write_text(text, encoding="utf-8")
            names = sorted({*(files or {}), *(texts or {})})  # what an "artifacts" entry sends
            entry = {"kind": kind, "trial_id": trial_id, "files": names, **payload}
            (tmp / ENTRY).write_text(json.dumps(entry), encoding="utf-8")
            fsync_tree(tmp)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise naming(exc, self.root) from exc
        rename_durable(tmp, self.root / f"{seq:08d}")
        with self._cond:
            bisect.insort(self._queue, f"{seq:08d}")
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def parked(self) -> int:
        """Writes set aside (refused by the store, or torn): not delivered."""
        folder = self.root / PARKED
        return sum(1 for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else 0

    def flush(self, timeout: float) -> bool:
        """Wait until every queued write is sent or parked (True) or `timeout` s pass."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 1.0))
        return True

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    # the sender's side -------------------------------------------------------------------
    def _done(self, entry: Path) -> None:
        """`entry` is no longer queued (sent, set aside, or gone)."""
        with self._cond:
            if entry.name in self._queue:
                self._queue.remove(entry.name)  # the head: the sender sends in order
            self._cond.notify_all()

    def _loop(self) -> None:
        """Send entries in order until closed; no error stops this loop."""
        delay = self._first_wait
        while True:
            with self._cond:
                if not self._queue:
                    if self._closing:
                        return
                    self._cond.wait(1.0)
                    continue
                entry = self.root / self._queue[0]
            try:
                delay = self._step(entry, delay)
            except Exception as exc:  # noqa: BLE001 - the sender must outlive any error
                self._hold(exc, "held")
                delay = min(delay * 2, self._max_wait)
            if delay > self._first_wait:
                with self._cond:
                    if self._closing:
                        return
                    self._cond.wait(delay)

    def _step(self, entry: Path, delay: float) -> float:
        """Send the head entry, with the entries after it that go in the same store call
        (`_group`); the next wait (none after a success: the first wait, unwaited)."""
        if not entry.is_dir():  # removed by hand: nothing to send
            self._done(entry)
            return self._first_wait
        group: list[tuple[Path, dict | None]] = [(entry, None)]
        try:
            group = self._group(entry)
            if group[0][1]["kind"] in BATCHED:
                self._send_group(group)
            else:
                self._send(entry, group[0][1])
        except Exception as exc:  # noqa: BLE001 - sorted out below
            kind = "refused" if isinstance(exc, TornEntry) else failure_kind(exc)
            if kind != "refused":
                self._hold(exc, kind)
                return min(delay * 2, self._max_wait)
            if len(group) > 1:  # which of them the store refuses: sent one by one now
                self._alone = len(group)
                return self._first_wait
            self._alone = max(0, self._alone - 1)
            self._park(entry, exc)
            return self._first_wait
        if self.outage_since is not None:
            self._say(f"tracking store back after {time.time() - self.outage_since:.0f}s")
            self.outage_since, self.problem = None, None
        self._alone = max(0, self._alone - 1)
        for path, _ in group:
            # Renamed first (one atomic step), then deleted: a kill mid-delete must not leave
            # a sent entry without its entry.json, which the next driver would call torn.
            gone = path.with_name(path.name + ".sent.tmp")
            with contextlib.suppress(FileNotFoundError):  # removed by hand meanwhile
                os.replace(path, gone)
                shutil.rmtree(gone, ignore_errors=True)
            self.sent += 1
            self._done(path)
        self.calls += 1
        return self._first_wait

    def _hold(self, exc: BaseException, kind: str) -> None:
        """Keep the write queued and say why: once per outage, and again whenever the
        reason changes (a server coming back up and then refusing our credentials)."""
        problem = _problem(exc, kind)
        if problem == self.problem and self.outage_since is not None:
            return
        if self.outage_since is None:
            self.outage_since = time.time()
        self.problem = problem
        self._say(f"{problem}; holding {self.pending()} write(s) and retrying")

    def _park(self, entry: Path, exc: BaseException) -> None:
        """Set a write aside under its own (unique) number; `resume` tries it again."""
        parked = self.root / PARKED
        parked.mkdir(exist_ok=True)
        fsync_dir(self.root)
        target = parked / entry.name
        if target.exists():  # never overwrite a parked write
            target = parked / f"{self._next_seq():08d}"
        rename_durable(entry, target)
        if isinstance(exc, TornEntry):
            self._torn = True
            why = f"write {entry.name} is unreadable on disk (torn by a crash?): {exc}"
        else:
            why = f"write {entry.name} refused by the store: {first_line(exc)}"
        self.dropped.append(f"{entry.name}: {first_line(exc)}")
        self._say(f"{why}; kept in {parked}")
        self._done(entry)

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] mlflow: {text}", file=self.out, flush=True)
