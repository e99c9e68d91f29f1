"""A sweep read back from MLflow: its parent run, its config, its trials and their
per-example tables. The record, not Ray's memory: the numbers in a report are the numbers
in the runs."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.tags import (
    EVAL_DIR,
    KIND_SWEEP,
    KIND_TAG,
    STEP_TABLE_PATTERN,
    SWEEP_CONFIG,
    step_table,
)
from evaluation.metric_registry import METRICS, Metric, logged
from mlflow_server.registry import download_run_dir
from mlflow_server.tracking import Tracker
from sweeps.config import SweepConfig
from sweeps.report.effects import ExampleScores
from sweeps.report.leaderboard import Row


class SweepNotFound(ValueError):
    """No sweep of that name (or no parent run) in the tracking store."""


@dataclass
class Trial:
    row: Row
    params: dict[str, str]
    steps: list[int]
    tags: dict[str, str] = field(default_factory=dict)


def load_sweep(tracker: Tracker, sweep: str):
    """(parent run, the config the sweep ran with), from the store."""
    exp = tracker.client.get_experiment_by_name(sweep)
    if exp is None:
        raise SweepNotFound(f"no sweep named {sweep!r} in {tracker.uri}")
    parents = tracker.find_runs(exp.experiment_id, f"tags.`{KIND_TAG}` = '{KIND_SWEEP}'")
    if not parents:
        raise SweepNotFound(f"sweep {sweep!r} has no parent run in {tracker.uri}")
    parent = max(parents, key=lambda r: r.info.start_time)
    with tempfile.TemporaryDirectory() as tmp:
        path = download_run_dir(tracker.client, parent.info.run_id, SWEEP_CONFIG, Path(tmp))
        cfg = SweepConfig.model_validate(json.loads(path.read_text()))
    return parent, cfg


def evaluated_steps(tracker: Tracker, run) -> list[int]:
    """The steps at which a trial (a searched run) logged its per-example table."""
    arts = tracker.list_run_artifacts(run, EVAL_DIR)
    steps = [int(m.group(1)) for a in arts if (m := re.search(STEP_TABLE_PATTERN, a.path))]
    return sorted(steps)


def read_rows(tracker: Tracker, run_id: str, step: int, tmp: Path) -> list[dict]:
    """A trial's per-example table at one step, as rows."""
    path = download_run_dir(tracker.client, run_id, step_table(step), tmp / run_id / str(step))
    data = json.loads(path.read_text(encoding="utf-8"))
    return [dict(zip(data["columns"], r, strict=True)) for r in data["data"]]


Tables = dict[tuple[str, int], dict[str, ExampleScores]]


class TableCache:
    """Per-example scores by (run, step), each downloaded once per report."""

    def __init__(self, tracker: Tracker, tmp: Path):
        self.tracker, self.tmp = tracker, tmp
        self._rows: dict[tuple[str, int], list[dict]] = {}
        self._scores: Tables = {}

    def rows(self, run_id: str, step: int) -> list[dict]:
        if (run_id, step) not in self._rows:
            self._rows[run_id, step] = read_rows(self.tracker, run_id, step, self.tmp)
        return self._rows[run_id, step]

    def scores(self, run_id: str, step: int) -> dict[str, ExampleScores]:
        if (run_id, step) not in self._scores:
            rows = self.rows(run_id, step)
            self._scores[run_id, step] = {
                ds: _scores([r for r in rows if r["dataset"] == ds])
                for ds in dict.fromkeys(r["dataset"] for r in rows)
            }
        return self._scores[run_id, step]


def _scores(rows: list[dict]) -> ExampleScores:
    """Per-example scores of the per-example metrics the table has a column for."""
    columns = [m.name for m in METRICS if m.per_example and rows and m.name in rows[0]]
    return ExampleScores(
        {name: np.array([r[name] for r in rows], float) for name in columns},
        [r["prediction"] for r in rows],
        [r["reference"] for r in rows],
    )


def reported(trials: list[Trial], datasets: tuple[str, ...]) -> tuple[Metric, ...]:
    """The registry metrics every trial logged on every dataset: a sweep logged before a
    metric existed (chrF, say) reports without it."""
    return logged([t.row.metrics for t in trials], datasets)
