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

import json
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common.errors import first_line
from mlflow_server.tracking import RUN_ENDED, Tracker, is_transient

ENTRY = "entry.json"


class Outbox:
    def __init__(self, tracker: Tracker, root: Path, parent_run_id: str, out=None):
        self.tracker = tracker
        self.root = root
        self.parent = parent_run_id
        self.out = out or sys.stderr
        self.root.mkdir(parents=True, exist_ok=True)
        for tmp in self.root.glob("*.tmp"):  # half-written by a killed driver: never queued
            shutil.rmtree(tmp, ignore_errors=True)
        self._seq = max((int(p.name) for p in self._entries()), default=0)
        self._runs: dict[str, str] = {}
        self._steps: dict[str, set[int]] = {}
        self._series: dict[tuple[str | None, str], set[int]] = {}
        self._sealed: set[str] = set()
        self._cond = threading.Condition()
        self._closing = False
        self.sent = 0
        self.outage_since: float | None = None
        self.dropped: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="mlflow-outbox", daemon=True)
        self._thread.start()

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
        `texts` are written as files of the entry."""
        with self._cond:
            self._seq += 1
            seq = self._seq
        tmp = self.root / f"{seq:08d}.tmp"
        tmp.mkdir()
        for name, src in (files or {}).items():
            if src.is_dir():
                shutil.copytree(src, tmp / name)
            else:
                shutil.copy2(src, tmp / name)
        for name, text in (texts or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        entry = {"kind": kind, "trial_id": trial_id, "files": sorted(files or {}), **payload}
        (tmp / ENTRY).write_text(json.dumps(entry), encoding="utf-8")
        tmp.rename(self.root / f"{seq:08d}")
        with self._cond:
            self._cond.notify_all()

    def pending(self) -> int:
        return len(self._entries())

    def flush(self, timeout: float) -> bool:
        """Wait until every queued write is sent (True) or `timeout` s pass (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._entries():
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
    def _entries(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.name.isdigit())

    def _loop(self) -> None:
        delay = 0.5
        while True:
            with self._cond:
                entries = self._entries()
                if not entries:
                    if self._closing:
                        return
                    self._cond.wait(1.0)
                    continue
            entry = entries[0]
            try:
                self._send(entry)
            except Exception as exc:
                if self._closing and not is_transient(exc):
                    return
                if is_transient(exc):
                    if self.outage_since is None:
                        self.outage_since = time.time()
                        self._say(f"tracking store unreachable; holding writes ({first_line(exc)})")
                    with self._cond:
                        if self._closing:
                            return
                        self._cond.wait(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                # The store refused this write for good: keep it aside, say so, go on.
                failed = self.root / "failed"
                failed.mkdir(exist_ok=True)
                entry.rename(failed / entry.name)
                self.dropped.append(f"{entry.name}: {first_line(exc)}")
                self._say(
                    f"write {entry.name} refused by the store, kept in {failed}: {first_line(exc)}"
                )
                continue
            if self.outage_since is not None:
                self._say(f"tracking store back after {time.time() - self.outage_since:.0f}s")
                self.outage_since = None
            delay = 0.5
            shutil.rmtree(entry, ignore_errors=True)
            self.sent += 1
            with self._cond:
                self._cond.notify_all()

    def _say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] mlflow: {text}", file=self.out, flush=True)

    def _run(self, trial_id: str | None) -> str:
        if trial_id is None:
            return self.parent
        if trial_id not in self._runs:  # sent by an earlier driver of this sweep
            run_id = self.tracker.find_trial_run(self.parent, trial_id)
            if run_id is None:
                raise ValueError(f"no MLflow run for trial {trial_id} (its 'trial' write is lost)")
            self._runs[trial_id] = run_id
            self._steps[trial_id] = self.tracker.logged_steps(run_id)
        return self._runs[trial_id]

    def _logged(self, trial: str | None, run_id: str, key: str) -> set[int]:
        """Steps at which `key` is in the store for this trial (read once, then kept)."""
        if (trial, key) not in self._series:
            self._series[(trial, key)] = self.tracker.logged_steps(run_id, key)
        return self._series[(trial, key)]

    def _send(self, entry: Path) -> None:
        e = json.loads((entry / ENTRY).read_text(encoding="utf-8"))
        kind, trial = e["kind"], e["trial_id"]
        t = self.tracker
        if kind == "trial":
            existing = t.find_trial_run(self.parent, trial)
            if existing and t.run_status(existing) in RUN_ENDED:
                # Ended in MLflow before the driver was killed (Ray's last snapshot is older):
                # the run stays as it is; only steps it lacks would still be logged.
                self._sealed.add(trial)
                run_id = existing
            else:
                run_id = t.start_trial(self.parent, trial, e["params"], e["run_name"])
            self._runs[trial] = run_id
            self._steps[trial] = t.logged_steps(run_id)
        elif trial in self._sealed and kind not in ("metrics", "points"):
            return
        elif kind == "metrics":
            step, run_id = int(e["step"]), self._run(trial)
            if trial is not None and step in self._steps[trial]:
                return  # a resumed trial re-reporting a step the store already has
            t.log_metrics(run_id, e["metrics"], step, e["timestamp"])
            if trial is not None:
                self._steps[trial].add(step)
        elif kind == "points":
            run_id = self._run(trial)
            seen = self._logged(trial, run_id, e["dedupe_key"])
            new = [p for p in e["points"] if int(p["step"]) not in seen]
            if new:  # a step the store has (a resumed or retried trial) is not logged again
                t.log_points(run_id, new)
                seen.update(int(p["step"]) for p in new)
        elif kind == "inputs":
            t.log_inputs(self._run(trial), e["datasets"])
        elif kind == "table":
            columns = json.loads((entry / "table.json").read_text(encoding="utf-8"))
            t.log_table(self._run(trial), columns, e["artifact_file"])
        elif kind == "artifacts":
            for name in e["files"]:
                path = entry / name
                if path.is_dir():
                    t.log_artifacts(self._run(trial), path, e.get("artifact_path") or name)
                else:
                    t.log_artifact(self._run(trial), path, e.get("artifact_path"))
        elif kind == "tags":
            t.set_tags(self._run(trial), e["tags"])
        elif kind == "end":
            t.end_run(self._run(trial), e["status"], error=e.get("error"))
        else:
            raise ValueError(f"unknown outbox entry kind {kind!r}")
