"""Everything sweeplab writes to MLflow: one experiment per sweep, a parent run per sweep,
one child run per trial. Only this package talks to MLflow.

All calls name their run explicitly (no global active run), so one process logs for many
trials; the sweep driver is the only writer (no "database is locked" on SQLite).

A Tracker can be *patient*: while the tracking store is unreachable (server restarting,
network blip, a locked SQLite file) its calls are retried with backoff for up to `patience`
seconds instead of failing. Run creation is find-or-create as one retried unit, so a retry
never leaves a second ("ghost") run behind.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunStatus, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS as LOGGED_ARTIFACTS_TAG

from common.dicts import flatten
from common.tags import (
    ERROR_TAG,
    KIND_SWEEP,
    KIND_TAG,
    KIND_TRIAL,
    PARENT_TAG,
    SWEEP_TAG,
    TRIAL_TAG,
)
from common.uris import is_http
from mlflow_server.paging import PAGE, all_pages
from mlflow_server.retry import PatientClient, retry_transient
from mlflow_server.server import QUIET_SERVER_ENV

DEFAULT_STORE = Path("runs") / "mlflow.db"
ARTIFACTS = Path("runs") / "mlartifacts"
MAX_PARAM_LEN = 6000


def resolve_tracking_uri(explicit: str | None, project_dir: Path) -> str:
    """`explicit`, else $MLFLOW_TRACKING_URI, else a SQLite store inside the project."""
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(project_dir / DEFAULT_STORE).resolve()}"


def is_local_sqlite(uri: str) -> bool:
    return uri.startswith("sqlite:///")


UI_PORT = 5000


def ui_command(uri: str, project_dir: Path) -> str:
    """The exact command that opens the MLflow UI on these runs: this environment's own
    `mlflow` (a venv's is not on PATH unless the venv is activated)."""
    if is_http(uri):
        return f"open {ui_base(uri)} in a browser (the tracking server serves the UI)"
    exe = Path(sys.executable).parent / "mlflow"
    mlflow = str(exe) if exe.is_file() else "mlflow"
    quiet = " ".join(f"{k}={v}" for k, v in QUIET_SERVER_ENV.items())  # no idle job runner
    return f"{quiet} {mlflow} ui --backend-store-uri {uri} --host 127.0.0.1 --port {UI_PORT}"


def ui_base(uri: str) -> str:
    """Where the UI answers: the tracking server itself (without any user:password in
    its URI: a link is printed and shared; the browser asks), or `ui_command`'s address."""
    if not is_http(uri):
        return f"http://127.0.0.1:{UI_PORT}"
    parts = urlsplit(uri.rstrip("/"))
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


SHARED_VIEW_TAG = "mlflow.sharedViewState."
"""An experiment tag holding a runs-page view (columns, sort, charts) that a link opens."""


def runs_table_url(
    base: str, experiment_id: str, view: str | None = None, charts: bool = False
) -> str:
    """The experiment's runs table (not MLflow 3's GenAI overview), in the shared `view`
    (`Tracker.share_view`) when given; `charts`: the page's chart mode instead of the table."""
    query = [f"viewStateShareKey={quote(view)}"] if view else []
    query += ["compareRunsMode=CHART"] if charts else []
    url = f"{base}/#/experiments/{experiment_id}/runs"
    return f"{url}?{'&'.join(query)}" if query else url


def compare_url(base: str, experiment_id: str, run_ids: list[str]) -> str:
    """MLflow's compare view of these runs (parallel coordinates, scatter, metric table)."""
    runs = quote(json.dumps(run_ids, separators=(",", ":")))
    exps = quote(json.dumps([experiment_id], separators=(",", ":")))
    return f"{base}/#/compare-runs?runs={runs}&experiments={exps}"


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:MAX_PARAM_LEN]


def metric_items(metrics: dict[str, float], step: int, timestamp: int | None = None) -> list:
    """One result's metrics at `step` (finite values only), stamped `timestamp` (now when
    None): a fixed timestamp makes a replayed write a no-op in the store."""
    now = timestamp or int(time.time() * 1000)
    return [
        Metric(k, float(v), now, step)
        for k, v in metrics.items()
        if isinstance(v, int | float) and math.isfinite(float(v))
    ]


def point_items(points: list[dict]) -> list:
    """A series' `{"step", "timestamp", "metrics"}` points, each at its own step and time
    (NaN and inf kept: a series says what was measured)."""
    return [
        Metric(k, float(v), int(p["timestamp"]), int(p["step"]))
        for p in points
        for k, v in p["metrics"].items()
    ]


def _json_cell(value: Any) -> Any:
    """A table cell as pandas writes it to JSON: NaN and infinities as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


class Tracker:
    """A thin, explicit-run-id wrapper over MlflowClient for sweeps and trials.

    `patience`: seconds each call keeps retrying while the store is unreachable (0: fail
    at once, as MlflowClient does).
    """

    def __init__(self, uri: str, project_dir: Path, patience: float = 0.0):
        self.uri = uri
        self.project_dir = project_dir
        self.patience = patience
        if is_http(uri) and patience > 0:
            # Our own retries decide; MLflow's would replay POSTs that may have landed.
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
        self._raw = MlflowClient(tracking_uri=uri)  # inside find-or-create units only
        self.client = PatientClient(self._raw, patience)
        self._tables: dict[str, list] = {}  # run id -> its `mlflow.loggedArtifacts` entries
        self._parents: dict[str, tuple[str, str]] = {}  # sweep run -> (experiment, sweep)

    def _unit(self, fn):
        """A find-or-create step, retried as a whole."""
        return retry_transient(fn, self.patience) if self.patience > 0 else fn()

    # experiments and runs -------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        return self._unit(lambda: self._experiment_id(name))

    def _experiment_id(self, name: str) -> str:
        exp = self._raw.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = None
        if is_local_sqlite(self.uri):
            location = (self.project_dir / ARTIFACTS / name).resolve().as_uri()
        # Tell the UI these are model-training runs (MLflow 3 opens GenAI views otherwise).
        tags = {"mlflow.experimentKind": "custom_model_development"}
        return self._raw.create_experiment(name, artifact_location=location, tags=tags)

    def share_view(self, experiment_id: str, key: str, state: dict[str, Any]) -> None:
        """A runs-page view (the UI's own "share view" record) that `runs_table_url` opens."""
        self.client.set_experiment_tag(experiment_id, SHARED_VIEW_TAG + key, json.dumps(state))

    def find_runs(self, experiment_id: str, filter_string: str) -> list:
        """Every run of the experiment that matches, page by page (`all_pages`)."""
        return all_pages(
            lambda token: self.client.search_runs(
                [experiment_id], filter_string, max_results=PAGE, page_token=token
            )
        )

    def start_sweep(self, name: str, params: dict[str, Any], tags: dict[str, str]) -> str:
        """The sweep's parent run; a sweep started before keeps its run (set RUNNING)."""
        exp = self.experiment_id(name)

        def find_or_create() -> str:
            existing = self._raw.search_runs(
                [exp], f"tags.`{KIND_TAG}` = '{KIND_SWEEP}' and tags.`{SWEEP_TAG}` = '{name}'"
            )
            if existing:
                self._raw.update_run(existing[0].info.run_id, status="RUNNING")
                return existing[0].info.run_id
            tags_ = {SWEEP_TAG: name, KIND_TAG: KIND_SWEEP, **tags}
            return self._raw.create_run(exp, run_name=name, tags=tags_).info.run_id

        run_id = self._unit(find_or_create)
        self.log_params(run_id, params)
        return run_id

    def start_trial(
        self, parent_run_id: str, trial_id: str, params: dict[str, Any], run_name: str
    ) -> str:
        """The trial's child run; an existing one with the same trial id is reused (and set
        RUNNING, even when it had ended)."""
        return self._trial(parent_run_id, trial_id, params, run_name, reopen_ended=True)[0]

    def open_trial(
        self, parent_run_id: str, trial_id: str, params: dict[str, Any], run_name: str
    ) -> tuple[str, bool]:
        """The trial's child run and whether it had ended: one that ended is left as it is
        (status, end time, params); any other is created, or found and set RUNNING."""
        return self._trial(parent_run_id, trial_id, params, run_name, reopen_ended=False)

    def _trial(
        self, parent_run_id: str, trial_id: str, params: dict, run_name: str, reopen_ended: bool
    ) -> tuple[str, bool]:
        exp, sweep = self._parent(parent_run_id)

        def find_or_create() -> tuple[str, bool, bool]:
            """(run id, ended and left so, created now)"""
            existing = self._raw.search_runs(
                [exp],
                f"tags.`{PARENT_TAG}` = '{parent_run_id}' and tags.`{TRIAL_TAG}` = '{trial_id}'",
            )
            if existing:
                run_id, status = existing[0].info.run_id, existing[0].info.status
                if status in RUN_ENDED and not reopen_ended:
                    return run_id, True, False
                if status != "RUNNING":
                    self._raw.update_run(run_id, status="RUNNING")
                return run_id, False, False
            tags = {PARENT_TAG: parent_run_id, TRIAL_TAG: trial_id, SWEEP_TAG: sweep}
            name = self._unique_name(exp, parent_run_id, run_name, trial_id)
            run = self._raw.create_run(exp, run_name=name, tags={**tags, KIND_TAG: KIND_TRIAL})
            return run.info.run_id, False, True

        run_id, ended, created = self._unit(find_or_create)
        if not ended:
            self.log_params(run_id, params, fresh=created)
        return run_id, ended

    def _parent(self, parent_run_id: str) -> tuple[str, str]:
        """A sweep run's experiment id and sweep name (read once: neither changes)."""
        if parent_run_id not in self._parents:
            parent = self.client.get_run(parent_run_id)
            sweep = parent.data.tags.get(SWEEP_TAG, "")
            self._parents[parent_run_id] = (parent.info.experiment_id, sweep)
        return self._parents[parent_run_id]

    def _unique_name(self, exp: str, parent_run_id: str, run_name: str, trial_id: str) -> str:
        """`run_name`, or `run_name-<trial id>` when a sibling trial already has that name."""
        taken = self._raw.search_runs(
            [exp],
            f"tags.`{PARENT_TAG}` = '{parent_run_id}' and attributes.run_name = '{run_name}'",
        )
        return f"{run_name}-{trial_id}" if taken else run_name

    def find_trial_run(self, parent_run_id: str, trial_id: str) -> str | None:
        runs = self.find_runs(
            self._parent(parent_run_id)[0],
            f"tags.`{PARENT_TAG}` = '{parent_run_id}' and tags.`{TRIAL_TAG}` = '{trial_id}'",
        )
        return runs[0].info.run_id if runs else None

    def run_status(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.status

    def logged_steps(self, run_id: str, key: str = "objective") -> set[int]:
        """Steps at which `key` was logged: a resumed trial must not log them twice."""
        return {m.step for m in self.client.get_metric_history(run_id, key)}

    def wait_for_trial_run(self, sweep: str, trial_id: str, timeout: float | None = None) -> str:
        """The child run the driver creates for a trial (it may still be on its way)."""
        deadline = time.time() + (timeout if timeout is not None else max(120.0, self.patience))
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
            self.client.set_tag(run_id, ERROR_TAG, error[:5000])
        self.client.set_terminated(run_id, status=status)

    # values ----------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict[str, Any], fresh: bool = False) -> None:
        """Params the run lacks (MLflow refuses to change one); `fresh`: a run created just
        now, which has none."""
        items = [Param(k, _param_value(v)) for k, v in flatten(params).items()]
        existing = {} if fresh else self.client.get_run(run_id).data.params
        items = [p for p in items if p.key not in existing]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100])

    def log_metrics(
        self, run_id: str, metrics: dict[str, float], step: int, timestamp: int | None = None
    ) -> None:
        """Finite values only. A fixed `timestamp` makes a replayed call a no-op."""
        self.log_batch(run_id, metric_items(metrics, step, timestamp), {})

    def log_points(self, run_id: str, points: list[dict]) -> None:
        """A metric series: `{"step", "timestamp", "metrics"}` points, each at its own step
        and time. Unlike `log_metrics`, NaN and inf are logged as what they are."""
        self.log_batch(run_id, point_items(points), {})

    def log_batch(self, run_id: str, metrics: list[Metric], tags: dict[str, str]) -> None:
        """Metrics and tags in as few store calls as MLflow's limits allow (1,000 values a
        call, 100 of them tags)."""
        items = [RunTag(k, str(v)) for k, v in tags.items()]
        while metrics or items:
            tag_part, items = items[:100], items[100:]
            metric_part, metrics = metrics[: 1000 - len(tag_part)], metrics[1000 - len(tag_part) :]
            self.client.log_batch(run_id, metrics=metric_part, tags=tag_part)

    def log_inputs(self, run_id: str, datasets: list[dict]) -> None:
        """Dataset inputs (`dataset_inputs` builds them); logging one twice is a no-op."""
        from mlflow_server.datasets import dataset_inputs

        self.client.log_inputs(run_id, datasets=dataset_inputs(datasets))

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_artifacts(self, run_id: str, local_dir: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(run_id, str(local_dir), artifact_path)

    def log_artifact(self, run_id: str, local_file: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(local_file), artifact_path)

    def log_table(self, run_id: str, columns: dict[str, list], artifact_file: str) -> None:
        """A per-example table as MLflow's `log_table` stores one (pandas' "split" JSON,
        listed in the run's `mlflow.loggedArtifacts` tag, read by the UI and `load_table`)."""
        self.write_table(run_id, columns, artifact_file)
        if tag := self.tables_tag(run_id, [artifact_file]):
            self.set_tags(run_id, tag)
            self.tables_listed(run_id, tag)

    def write_table(self, run_id: str, columns: dict[str, list], artifact_file: str) -> None:
        """The table's file alone (`tables_tag` lists it). Writing a table again replaces
        it: MLflow's own `log_table` appends the rows a second time, so a replayed write
        would double them; and it lists the run's artifacts, builds a pandas frame and reads
        the whole run (`get_run`) for every table."""
        keys = list(columns)
        rows = len(columns[keys[0]]) if keys else 0
        cells = [[_json_cell(columns[k][i]) for k in keys] for i in range(rows)]
        doc = {"columns": keys, "data": cells}
        folder, name = posixpath.split(artifact_file)
        with tempfile.TemporaryDirectory(prefix="sweeplab-table-") as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            self.client.log_artifact(run_id, str(path), folder or None)

    def tables_tag(self, run_id: str, artifact_files: list[str]) -> dict[str, str]:
        """The `mlflow.loggedArtifacts` tag that lists `artifact_files` as tables beside what
        the run lists already; {} when it lists them all. What the run lists is read from the
        store once per run by this Tracker (a run's tables come from one writer at a time),
        and counted only once the tag is in the store (`tables_listed`)."""
        listed = self._tables.get(run_id)
        if listed is None:
            tag = self.client.get_run(run_id).data.tags.get(LOGGED_ARTIFACTS_TAG, "[]")
            listed = self._tables[run_id] = json.loads(tag)
        new = []
        for f in artifact_files:
            if (entry := {"path": f, "type": "table"}) not in listed + new:
                new.append(entry)
        return {LOGGED_ARTIFACTS_TAG: json.dumps(listed + new)} if new else {}

    def tables_listed(self, run_id: str, tag: dict[str, str]) -> None:
        self._tables[run_id] = json.loads(tag[LOGGED_ARTIFACTS_TAG])  # in the store now

    # reading back ------------------------------------------------------------------------
    def list_run_artifacts(self, run, path: str) -> list:
        """`run`'s artifacts under `path`, from its searched artifact URI (no `get_run`)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo = get_artifact_repository(run.info.artifact_uri, tracking_uri=self.uri)
        return retry_transient(lambda: repo.list_artifacts(path), self.patience, "list_artifacts")

    def trial_runs(self, parent_run_id: str) -> list:
        parent = self.client.get_run(parent_run_id)
        return self.find_runs(parent.info.experiment_id, f"tags.`{PARENT_TAG}` = '{parent_run_id}'")


RUN_FINISHED = RunStatus.to_string(RunStatus.FINISHED)
RUN_FAILED = RunStatus.to_string(RunStatus.FAILED)
RUN_KILLED = RunStatus.to_string(RunStatus.KILLED)
RUN_ENDED = (RUN_FINISHED, RUN_FAILED)
"""Statuses a run is not reopened from."""
