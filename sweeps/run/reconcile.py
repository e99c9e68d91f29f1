"""After a resumed sweep: MLflow made to agree with Ray's own record of the trials."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs as pafs

from common.tags import (
    ORPHANED_TAG,
    RETRIED_TAG,
    ROLE_SEARCH,
    ROLE_TAG,
    TRIAL_TAG,
    is_search,
)
from mlflow_server.tracking import RUN_ENDED, RUN_FAILED, RUN_KILLED, Tracker
from sweeps.run.mlflow_logger import MlflowTrialLogger


def reconcile(
    logger: MlflowTrialLogger, tracker: Tracker, parent: str, role: str = ROLE_SEARCH
) -> None:
    """Trials an earlier (killed) driver saw end in Ray but not in MLflow: log them now.

    Their results come from Ray's own record (`result.json`); steps MLflow already has are
    skipped, so nothing is logged twice. Runs that ended in MLflow are left untouched, and
    so are the runs of another role (a confirmation's replicates, or the search's trials).
    """
    runs = [r for r in tracker.trial_runs(parent) if r.data.tags.get(ROLE_TAG, ROLE_SEARCH) == role]
    status = {r.data.tags.get(TRIAL_TAG): r.info.status for r in runs}
    known = {t.trial_id for t in logger.trials}
    for run in runs:
        if run.data.tags.get(TRIAL_TAG) not in known and run.info.status not in RUN_ENDED:
            # Started after Ray's last snapshot, then the driver was killed: Ray forgot the
            # trial and its searcher proposed again. Moved to MLflow's trash (restorable).
            tracker.set_tags(run.info.run_id, {ORPHANED_TAG: "true"})
            tracker.end_run(run.info.run_id, RUN_KILLED)
            tracker.client.delete_run(run.info.run_id)
    for trial in logger.trials:
        if trial.trial_id in logger.finalized or trial.status not in ("TERMINATED", "ERROR"):
            continue
        if status.get(trial.trial_id) in RUN_ENDED:
            continue
        for result in recorded_results(trial):
            logger.log_result(trial, result)
        logger.finalize(trial, failed=trial.status == "ERROR")


def reopen_failed(tracker: Tracker, parent: str) -> list[str]:
    """Before `resume --retry-failed`: the failed search trials' runs set RUNNING again, so
    the retried trials log into them (steps they have are not logged twice) and end them.
    Returns the trial ids reopened."""
    reopened = []
    for run in tracker.trial_runs(parent):
        tags = run.data.tags
        if run.info.status != RUN_FAILED or not is_search(tags):
            continue
        tracker.set_tags(run.info.run_id, {RETRIED_TAG: "true"})
        tracker.client.update_run(run.info.run_id, status="RUNNING")
        reopened.append(tags.get(TRIAL_TAG, run.info.run_id))
    return reopened


def recorded_results(trial) -> list[dict]:
    """The results Ray wrote for `trial` (`result.json`), lines cut by a kill skipped: from
    this driver's staging folder, else from the sweep's storage (a resume elsewhere)."""
    path = Path(trial.local_path or "") / "result.json"
    if path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        text = _from_storage(trial)
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by the kill
            continue
    return rows


def _from_storage(trial) -> str:
    storage = getattr(trial, "storage", None)
    if storage is None or not trial.path:
        return ""
    fs, path = storage.storage_filesystem, f"{trial.path}/result.json"
    if fs.get_file_info(path).type != pafs.FileType.File:
        return ""
    with fs.open_input_stream(path) as fh:
        return fh.read().decode("utf-8")
