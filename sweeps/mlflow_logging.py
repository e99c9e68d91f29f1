"""A Ray Tune callback that mirrors every trial into MLflow from the driver.

The driver is the only process writing to the tracking store: trials report to Ray, Ray
hands results to this callback, the callback logs them. That is how concurrent trials can
share the SQLite default without "database is locked".
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ray.tune import Callback

from evaluation.scoring import scoring_params
from mlflow_server.tracking import RUN_FAILED, RUN_FINISHED, Tracker
from sweeps.config import SweepConfig

SHOWN = ("openorca/meteor", "alpaca/meteor", "dolly/meteor")


def _short(config: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(config.items()))


def _table_columns(rows: list[dict]) -> dict[str, list]:
    keys = list(rows[0]) if rows else []
    return {k: [r.get(k) for r in rows] for k in keys}


def log_step_table(tracker: Tracker, run_id: str, ckpt: Path) -> None:
    """One evaluation's per-example table, named by its step."""
    preds, meta = ckpt / "predictions.json", ckpt / "trial.json"
    if preds.is_file() and meta.is_file():
        step = json.loads(meta.read_text(encoding="utf-8"))["step"]
        rows = json.loads(preds.read_text(encoding="utf-8"))
        tracker.log_table(run_id, _table_columns(rows), f"eval/predictions_step{step}.json")


def log_final_artifacts(tracker: Tracker, run_id: str, ckpt: Path) -> None:
    """The adapter, data manifest, trial record and the latest per-example table."""
    if (ckpt / "adapter").is_dir():
        tracker.log_artifacts(run_id, ckpt / "adapter", "adapter")
    for name in ("data_manifest.json", "trial.json"):
        if (ckpt / name).is_file():
            tracker.log_artifact(run_id, ckpt / name)
    preds = ckpt / "predictions.json"
    if preds.is_file():
        rows = json.loads(preds.read_text(encoding="utf-8"))
        tracker.log_table(run_id, _table_columns(rows), "eval/predictions.json")


def is_remote(uri: str) -> bool:
    """A tracking server: trial workers send their artifacts to it themselves."""
    return uri.startswith(("http://", "https://"))


class MlflowTrialLogger(Callback):
    def __init__(self, tracker: Tracker, parent_run_id: str, sweep: SweepConfig, out=None):
        self.tracker = tracker
        self.parent = parent_run_id
        self.sweep = sweep
        self.runs: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.out = out or sys.stdout
        self.max_reports = sweep.train.num_reports

    def _say(self, trial, text: str) -> None:
        print(
            f"[{time.strftime('%H:%M:%S')}] trial {trial.trial_id}: {text}",
            file=self.out,
            flush=True,
        )

    def _run_id(self, trial) -> str:
        if trial.trial_id not in self.runs:
            cfg = self.sweep.trial(trial.config)
            params = cfg.flat_params()
            # Which tokenizers and WordNet scored this trial: runs scored differently must
            # never be compared silently.
            params.update({f"scoring.{k}": v for k, v in scoring_params().items()})
            self.runs[trial.trial_id] = self.tracker.start_trial(
                self.parent, trial.trial_id, params, run_name=f"trial-{trial.trial_id}"
            )
        return self.runs[trial.trial_id]

    def on_trial_start(self, iteration, trials, trial, **info):
        self._run_id(trial)
        self.started[trial.trial_id] = time.time()
        self._say(trial, f"started  {_short(trial.config)}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        run_id = self._run_id(trial)
        step = int(result.get("train/step", result.get("training_iteration", 0)))
        metrics = {
            k: v
            for k, v in result.items()
            if ("/" in k or k == "objective") and isinstance(v, int | float)
        }
        self.tracker.log_metrics(run_id, metrics, step)
        shown = " ".join(f"{k}={result[k]:.3f}" for k in SHOWN if k in result)
        self._say(trial, f"step {step:>4}  objective={result.get('objective', 0):.4f}  {shown}")

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        """Each evaluation's per-example table, so trials can be compared at a common step."""
        run_id = self._run_id(trial)
        path = Path(checkpoint.path)
        preds, meta = path / "predictions.json", path / "trial.json"
        if preds.is_file() and meta.is_file():
            step = json.loads(meta.read_text(encoding="utf-8"))["step"]
            rows = json.loads(preds.read_text(encoding="utf-8"))
            self.tracker.log_table(
                run_id, _table_columns(rows), f"eval/predictions_step{step}.json"
            )

    def on_trial_complete(self, iteration, trials, trial, **info):
        run_id = self._run_id(trial)
        result = trial.last_result or {}
        reports = int(result.get("training_iteration", 0))
        early = reports < self.max_reports
        self.tracker.set_tags(
            run_id,
            {
                "sweeplab.stopped_early": str(early).lower(),
                "sweeplab.reports": str(reports),
            },
        )
        self._log_checkpoint(run_id, trial)
        self.tracker.end_run(run_id, RUN_FINISHED)
        took = time.time() - self.started.get(trial.trial_id, time.time())
        how = "stopped early by ASHA" if early else "finished"
        self._say(trial, f"{how} after {reports} report(s), {took:.0f}s")

    def on_trial_error(self, iteration, trials, trial, **info):
        run_id = self._run_id(trial)
        error = _error_text(trial)
        self._log_checkpoint(run_id, trial)
        self.tracker.end_run(run_id, RUN_FAILED, error=error)
        self._say(trial, f"FAILED: {error.strip().splitlines()[-1] if error.strip() else 'error'}")

    def _log_checkpoint(self, run_id: str, trial) -> None:
        # With a tracking server the trial worker has sent these already (no shared disk).
        if trial.checkpoint is not None and not is_remote(self.tracker.uri):
            log_final_artifacts(self.tracker, run_id, Path(trial.checkpoint.path))


def _error_text(trial) -> str:
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        return Path(path).read_text(encoding="utf-8", errors="replace")
    return str(getattr(trial, "error_msg", "") or "trial failed")
