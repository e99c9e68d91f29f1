"""How the outbox's entries reach the tracking store: each write's run found (or created,
never twice), steps the store has already skipped, and a trial's consecutive values sent
together.

A sweep's result is one `result` entry (its metrics and the series it carries: training
curve, system metrics); a trial's consecutive results, series and tags go in one
`log_batch` (`Sending._group`), deduplicated exactly as each would be alone. The queue,
its durability and its retries are `mlflow_server.outbox`'s.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from common.errors import first_line
from common.tags import RECOVERED_TAG, STEP_TABLE_PATTERN
from mlflow_server.tracking import Tracker, metric_items, point_items

ENTRY = "entry.json"
BATCHED = ("result", "metrics", "points", "tags", "table")
"""Kinds of write that consecutive entries of one trial send in one store call (a table's
file is written first, its listing goes in that call)."""
GROUP = 64
"""At most this many entries in one store call."""


class TornEntry(ValueError):
    """An entry whose own file is unreadable (torn by a crash); not the store's doing."""


def _parts(e: dict) -> list[dict]:
    """An entry as the values it sends: a `result` is its metrics and each of its series."""
    if e["kind"] != "result":
        return [e]
    metrics = {"kind": "metrics", **{k: e[k] for k in ("metrics", "step", "timestamp")}}
    return [metrics, *({"kind": "points", **series} for series in e.get("series", []))]


class Sending:
    """The outbox's sender side (mixed into `Outbox`, which holds the state)."""

    tracker: Tracker
    parent: str
    root: Path
    _runs: dict[str, str]
    _steps: dict[str, set[int]]
    _series: dict[tuple[str | None, str], set[int]]
    _sealed: set[str]
    _torn: bool
    _alone: int
    _queue: list[str]
    _cond: threading.Condition

    def _run(self, trial_id: str | None) -> str:
        if trial_id is None:
            return self.parent
        if trial_id not in self._runs:  # sent by an earlier driver of this sweep
            run_id = self.tracker.find_trial_run(self.parent, trial_id)
            if run_id is None and self._torn:  # its 'trial' write was torn: keep the rest
                run_id = self.tracker.start_trial(self.parent, trial_id, {}, f"trial-{trial_id}")
                self.tracker.set_tags(run_id, {RECOVERED_TAG: "trial write torn"})
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

    @staticmethod
    def _read(entry: Path) -> dict:
        try:
            e = json.loads((entry / ENTRY).read_text(encoding="utf-8"))
            if not isinstance(e, dict) or not isinstance(e["kind"], str):
                raise TypeError("not a write")
            e["trial_id"]  # noqa: B018 - every entry names its trial (or None)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TornEntry(first_line(exc)) from None
        return e

    def _group(self, entry: Path) -> list[tuple[Path, dict]]:
        """The head entry, and the entries right after it that one `log_batch` can carry
        with it: results, metrics, points, tags and tables of the same trial (at most
        `GROUP`).
        After a refusal, entries go one by one until the refused one is set aside."""
        head = self._read(entry)
        if head["kind"] not in BATCHED or self._alone:
            return [(entry, head)]
        with self._cond:
            after = self._queue[1:GROUP]
        group = [(entry, head)]
        for name in after:
            try:
                e = self._read(self.root / name)
            except TornEntry:  # on its own, later
                break
            if e["kind"] not in BATCHED or e["trial_id"] != head["trial_id"]:
                break
            group.append((self.root / name, e))
        return group

    def _send_group(self, group: list[tuple[Path, dict]]) -> None:
        """Results, metrics, points, tags and tables of one trial in one store call (the
        tables' files written first), deduplicated as each would be alone: a step the store
        has, or an earlier entry of the group carries, is not logged again; later tags win;
        a sealed run takes its steps' values and tables, no tags or final table."""
        trial = group[0][1]["trial_id"]
        run_id = self._run(trial)
        metrics, tags, steps, series, tables = [], {}, set(), {}, []
        for path, e in group:
            if e["kind"] != "table":
                continue
            # A sealed run still takes the tables of its steps (like their metrics: a trial
            # Ray's older record ran on logs the steps the run lacks), not a final table.
            if trial not in self._sealed or re.search(STEP_TABLE_PATTERN, e["artifact_file"]):
                columns = json.loads((path / "table.json").read_text(encoding="utf-8"))
                self.tracker.write_table(run_id, columns, e["artifact_file"])
                tables.append(e["artifact_file"])
        for part in (part for _, e in group for part in _parts(e) if e["kind"] != "table"):
            if part["kind"] == "metrics":
                step = int(part["step"])
                if trial is not None and (step in self._steps[trial] or step in steps):
                    continue  # a resumed trial re-reporting a step the store already has
                metrics += metric_items(part["metrics"], step, part["timestamp"])
                steps.add(step)
            elif part["kind"] == "points":
                seen = self._logged(trial, run_id, part["dedupe_key"])
                new_steps = series.setdefault(part["dedupe_key"], set())
                new = [p for p in part["points"] if int(p["step"]) not in seen | new_steps]
                metrics += point_items(new)
                new_steps.update(int(p["step"]) for p in new)
            elif trial not in self._sealed:  # tags
                tags.update(part["tags"])
        listing = self.tracker.tables_tag(run_id, tables) if tables else {}
        if metrics or tags or listing:
            self.tracker.log_batch(run_id, metrics, {**tags, **listing})
        if listing:
            self.tracker.tables_listed(run_id, listing)
        if trial is not None:
            self._steps[trial] |= steps
        for key, new_steps in series.items():
            self._logged(trial, run_id, key).update(new_steps)

    def _send(self, entry: Path, e: dict) -> None:
        """One write of another kind: a trial's run, inputs, files, its end."""
        kind, trial = e["kind"], e["trial_id"]
        t = self.tracker
        if kind == "trial":
            run_id, ended = t.open_trial(self.parent, trial, e["params"], e["run_name"])
            if ended:
                # Ended in MLflow before the driver was killed (Ray's last snapshot is older):
                # the run stays as it is; only steps it lacks would still be logged.
                self._sealed.add(trial)
            self._runs[trial] = run_id
            self._steps[trial] = t.logged_steps(run_id)
        elif trial in self._sealed:
            return
        elif kind == "inputs":
            t.log_inputs(self._run(trial), e["datasets"])
        elif kind == "artifacts":
            for name in e["files"]:
                path = entry / name
                if path.is_dir():
                    t.log_artifacts(self._run(trial), path, e.get("artifact_path") or name)
                else:
                    t.log_artifact(self._run(trial), path, e.get("artifact_path"))
        elif kind == "end":
            t.end_run(self._run(trial), e["status"], error=e.get("error"))
        else:
            raise ValueError(f"unknown outbox entry kind {kind!r}")
