"""Everything sweeplab writes to MLflow: one experiment per sweep, a parent run per sweep,
one child run per trial. Only this package talks to MLflow.

All calls name their run explicitly (no global active run), so one process can log for
many trials. The sweep driver is the only writer, which keeps the SQLite default free of
"database is locked".
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag

DEFAULT_STORE = Path("runs") / "mlflow.db"
ARTIFACTS = Path("runs") / "mlartifacts"
SWEEP_TAG = "sweeplab.sweep"
TRIAL_TAG = "sweeplab.trial_id"
PARENT_TAG = "mlflow.parentRunId"
KIND_TAG = "sweeplab.kind"
MAX_PARAM_LEN = 6000


def resolve_tracking_uri(explicit: str | None, project_dir: Path) -> str:
    """`explicit`, else $MLFLOW_TRACKING_URI, else a SQLite store inside the project."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(project_dir / DEFAULT_STORE).resolve()}"


def is_local_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite:///")


def ui_command(uri: str, project_dir: Path) -> str:
    """The exact command that opens the MLflow UI on these runs."""
    if uri.startswith(("http://", "https://")):
        return f"open {uri} in a browser (the tracking server serves the UI)"
    return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000"


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:MAX_PARAM_LEN]


class Tracker:
    """A thin, explicit-run-id wrapper over MlflowClient for sweeps and trials."""

    def __init__(self, uri: str, project_dir: Path):
        self.uri = uri
        self.project_dir = project_dir
        self.client = MlflowClient(tracking_uri=uri)

    # experiments and runs -------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None
        if is_local_sqlite(self.uri):
            location = (self.project_dir / ARTIFACTS / name).resolve().as_uri()
        # Tell the UI these are model-training runs (MLflow 3 opens GenAI views otherwise).
        tags = {"mlflow.experimentKind": "custom_model_development"}
        return self.client.create_experiment(name, artifact_location=location, tags=tags)

    def find_runs(self, experiment_id: str, filter_string: str) -> list:
        return list(self.client.search_runs([experiment_id], filter_string, max_results=5000))

    def start_sweep(self, name: str, params: dict[str, Any], tags: dict[str, str]) -> str:
        exp = self.experiment_id(name)
        run = self.client.create_run(
            exp, run_name=name, tags={SWEEP_TAG: name, KIND_TAG: "sweep", **tags}
        )
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def start_trial(
        self, parent_run_id: str, trial_id: str, params: dict[str, Any], run_name: str
    ) -> str:
        """The trial's child run; an existing one with the same trial id is reused."""
        parent = self.client.get_run(parent_run_id)
        exp = parent.info.experiment_id
        existing = self.find_runs(
            exp, f"tags.`{PARENT_TAG}` = '{parent_run_id}' and tags.`{TRIAL_TAG}` = '{trial_id}'"
        )
        if existing:
            run_id = existing[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        sweep = parent.data.tags.get(SWEEP_TAG, "")
        run = self.client.create_run(
            exp,
            run_name=run_name,
            tags={
                PARENT_TAG: parent_run_id,
                TRIAL_TAG: trial_id,
                SWEEP_TAG: sweep,
                KIND_TAG: "trial",
            },
        )
        self.log_params(run.info.run_id, params)
        return run.info.run_id

    def wait_for_trial_run(self, sweep: str, trial_id: str, timeout: float = 120.0) -> str:
        """The child run the driver creates for a trial (it may still be on its way)."""
        deadline = time.time() + timeout
        while True:
            exp = self.client.get_experiment_by_name(sweep)
            if exp is not None:
                runs = self.find_runs(exp.experiment_id, f"tags.`{TRIAL_TAG}` = '{trial_id}'")
                if runs:
                    return runs[0].info.run_id
            if time.time() > deadline:
                raise TimeoutError(f"no MLflow run for trial {trial_id} of sweep {sweep!r}")
            time.sleep(1.0)

    def end_run(self, run_id: str, status: str = "FINISHED", error: str | None = None) -> None:
        if error:
            self.client.set_tag(run_id, "sweeplab.error", error[:5000])
        self.client.set_terminated(run_id, status=status)

    # values ----------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [Param(k, _param_value(v)) for k, v in flatten(params).items()]
        existing = self.client.get_run(run_id).data.params
        items = [p for p in items if p.key not in existing]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        items = [
            Metric(k, float(v), now, step)
            for k, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(float(v))
        ]
        for i in range(0, len(items), 1000):
            self.client.log_batch(run_id, metrics=items[i : i + 1000])

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, local_dir: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(local_dir), artifact_path)

    def log_artifact(self, run_id: str, local_file: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(local_file), artifact_path)

    def log_dict(self, run_id: str, data: dict, artifact_file: str) -> None:
        self.client.log_dict(run_id, data, artifact_file)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def log_table(self, run_id: str, columns: dict[str, list], artifact_file: str) -> None:
        self.client.log_table(run_id, data=columns, artifact_file=artifact_file)

    # reading back ------------------------------------------------------------------------
    def trial_runs(self, parent_run_id: str) -> list:
        parent = self.client.get_run(parent_run_id)
        return self.find_runs(parent.info.experiment_id, f"tags.`{PARENT_TAG}` = '{parent_run_id}'")


RUN_FINISHED = RunStatus.to_string(RunStatus.FINISHED)
RUN_FAILED = RunStatus.to_string(RunStatus.FAILED)
RUN_KILLED = RunStatus.to_string(RunStatus.KILLED)
