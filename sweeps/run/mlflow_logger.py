"""A Ray Tune callback that mirrors every trial into MLflow from the driver.

The driver is the only process writing to the tracking store: trials report to Ray, Ray
hands results to this callback, the callback queues them in the sweep's outbox
(`mlflow_server.outbox`), one thread sends them. That is how concurrent trials share the
SQLite default without "database is locked", and how a tracking outage or a killed driver
loses nothing.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from ray.tune import Callback

from common.errors import exhausted, first_line, last_line
from common.tags import (
    ADAPTER,
    DATA_MANIFEST,
    FAILURES_TAG,
    FINAL_TABLE,
    LAST_ERROR_TAG,
    REPLICATE_TAG,
    REPORTS_TAG,
    RESUMED_TAG,
    STOP_REASON_TAG,
    STOPPED_EARLY_TAG,
    TRIAL_RECORD,
    rung_tag,
    step_table,
)
from common.uris import is_http, mask_credentials
from evaluation.metric_registry import HEADLINE
from evaluation.scoring import scoring_params
from mlflow_server.outbox import Outbox
from mlflow_server.tracking import RUN_FAILED, RUN_FINISHED, Tracker
from sweeps.config import SweepConfig
from sweeps.run.checkpoints import checkpoint_folder, repair_restored
from sweeps.run.confirm_plan import overrides_of, tags_of
from sweeps.run.describe import (
    eval_datasets,
    portable_params,
    run_name,
    search_tags,
    training_datasets,
)
from sweeps.run.ended import mark_ended, restored_end
from training.prepare import PreparedData

SHOWN = tuple(f"{ds}/{HEADLINE.name}" for ds in ("openorca", "alpaca", "dolly"))


def _short(config: dict) -> str:
    shown = " ".join(f"{k}={v}" for k, v in sorted(overrides_of(config).items()))
    if tags := tags_of(config):
        shown += f" (replicate {tags[REPLICATE_TAG]})"
    return shown


def _table_columns(rows: list[dict]) -> dict[str, list]:
    keys = list(rows[0]) if rows else []
    return {k: [r.get(k) for r in rows] for k in keys}


def step_table_of(ckpt: Path) -> tuple[dict[str, list], str] | None:
    """One evaluation's per-example table (columns) and its name, by step."""
    preds, meta = ckpt / "predictions.json", ckpt / TRIAL_RECORD
    if not (preds.is_file() and meta.is_file()):
        return None
    step = json.loads(meta.read_text(encoding="utf-8"))["step"]
    rows = json.loads(preds.read_text(encoding="utf-8"))
    return _table_columns(rows), step_table(step)


def final_files(ckpt: Path) -> dict[str, Path]:
    """The adapter, data manifest and trial record a trial's run keeps."""
    names = (ADAPTER, DATA_MANIFEST, TRIAL_RECORD)
    return {name: ckpt / name for name in names if (ckpt / name).exists()}


UPLOADED = "sweeplab_uploaded"
"""A result key: 0 when the trial's worker could not send its files to the server (the
store refused them, e.g. a rotated password): the driver then queues them in the outbox."""


def log_step_table(tracker: Tracker, run_id: str, ckpt: Path) -> None:
    if table := step_table_of(ckpt):
        tracker.log_table(run_id, *table)


def log_final_artifacts(tracker: Tracker, run_id: str, ckpt: Path) -> None:
    """The final files and the latest per-example table, straight to the store."""
    for name, path in final_files(ckpt).items():
        if path.is_dir():
            tracker.log_artifacts(run_id, path, name)
        else:
            tracker.log_artifact(run_id, path)
    if table := step_table_of(ckpt):
        tracker.log_table(run_id, table[0], FINAL_TABLE)


def _result_metrics(result: dict) -> dict[str, float]:
    """What goes to MLflow from a Tune result: `dataset/metric` names and the objective."""
    return {
        k: v
        for k, v in result.items()
        if ("/" in k or k == "objective") and isinstance(v, int | float) and k != "config"
    }


SERIES = {"train_history": "train/loss", "system_history": "system/cpu_utilization_percentage"}
"""Point series a trial reports (result key -> the metric whose logged steps dedupe them)."""


def _points(value) -> list[dict]:
    """A reported series: a JSON string (or a list, as Ray's `result.json` may hold it)."""
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])


def _step(result: dict) -> int:
    return int(result.get("train/step", result.get("training_iteration", 0)))


_LIVE: list[MlflowTrialLogger] = []


@contextmanager
def attached(logger: MlflowTrialLogger):
    """Within this block, a pickled copy of a logger restored by Ray becomes `logger`."""
    _LIVE.append(logger)
    try:
        yield logger
    finally:
        _LIVE.remove(logger)


class MlflowTrialLogger(Callback):
    """Tune events -> outbox writes (never a blocking call to the tracking store)."""

    def __init__(
        self, outbox: Outbox, sweep: SweepConfig, out=None, data: PreparedData | None = None
    ):
        self.outbox = outbox
        self.sweep = sweep
        self.data = data
        self.remote = is_http(outbox.tracker.uri)
        self.not_uploaded: set[str] = set()  # trials whose worker could not upload itself
        self.known: set[str] = set()
        self.finalized: set[str] = set()
        self.exhausted: str | None = None  # a disk or memory that ran out under a trial
        self.trials: list = []
        self.started: dict[str, float] = {}
        self.out = out or sys.stdout
        self.max_reports = sweep.train.num_reports
        self.checked_restored = False
        self.ended_before: set[str] = set()  # restored, had ended (`sweeps.run.ended`)
        self.retrying: set[str] = set()  # failed trials `resume --retry-failed` runs again
        self.spend = None  # the budget's ledger (`sweeps.run.budget`), when one is set

    def __getstate__(self) -> dict:
        # Ray pickles the run config (this callback included) into its experiment state, a
        # world-readable file: without the tracking URI, which may hold a password.
        return {"sweep": self.sweep.model_copy(update={"tracking_uri": None}), "data": None}

    def __setstate__(self, state: dict) -> None:
        # A restored sweep unpickles the old driver's copy: while `attached(logger)` is in
        # force, that copy shares the live logger's state (outbox, trials seen), so it *is*
        # the live logger; otherwise it is inert.
        if _LIVE:
            self.__dict__ = _LIVE[-1].__dict__
        else:
            self.__dict__.update(state)
            self.outbox = None

    def _say(self, trial, text: str) -> None:
        print(
            f"[{time.strftime('%H:%M:%S')}] trial {trial.trial_id}: {text}",
            file=self.out,
            flush=True,
        )

    def _ensure_run(self, trial) -> None:
        if trial.trial_id in self.known:
            return
        overrides = overrides_of(trial.config)
        cfg = self.sweep.trial(overrides)
        params, path_tags = portable_params(cfg.flat_params())
        # Which tokenizers and WordNet scored this trial: runs scored differently must
        # never be compared silently.
        params.update({f"scoring.{k}": v for k, v in scoring_params().items()})
        searched = {k: overrides[k] for k in self.sweep.search.space if k in overrides}
        role = tags_of(trial.config)  # a replicate: the sweep's own or `sweeplab confirm`'s
        name = run_name(searched, cfg.train.seed if role else None)
        self.outbox.put("trial", trial.trial_id, params=params, run_name=name)
        tags = {**search_tags(searched), **path_tags, **role}
        self.outbox.put("tags", trial.trial_id, tags=tags)
        if self.data is not None:
            datasets = eval_datasets(cfg, self.data) + training_datasets(cfg, self.data)
            self.outbox.put("inputs", trial.trial_id, datasets=datasets)
        self.known.add(trial.trial_id)

    def rung_decision(self, trial, decision: dict) -> None:
        """An ASHA rung decision (`sweeps.run.rungs`), tagged on the trial's run:
        `sweeplab.rung.<t>` as JSON, and `sweeplab.stop_reason` when it stopped the trial."""
        self._ensure_run(trial)
        tags = {rung_tag(decision["rung"]): json.dumps(decision, sort_keys=True)}
        if decision["decision"] == "stop":
            tags[STOP_REASON_TAG] = stop_reason(decision)
        self.outbox.put("tags", trial.trial_id, tags=tags)

    def log_result(self, trial, result: dict) -> None:
        self._ensure_run(trial)
        if self.spend is not None:
            self.spend.record(trial.trial_id, result)
        if result.get(UPLOADED) == 0:  # the driver sends them instead, through the outbox
            self.not_uploaded.add(trial.trial_id)
        series = [
            {"points": points, "dedupe_key": dedupe_key}
            for key, dedupe_key in SERIES.items()
            if (points := _points(result.get(key)))
        ]
        self.outbox.put(  # one write a result: its metrics and the series it carries
            "result",
            trial.trial_id,
            metrics=_result_metrics(result),
            step=_step(result),
            timestamp=int(time.time() * 1000),
            series=series,
        )
        if "resumed_from_step" in result:
            self.outbox.put(
                "tags",
                trial.trial_id,
                tags={RESUMED_TAG: str(result["resumed_from_step"])},
            )

    def on_step_begin(self, iteration, trials, **info):
        """Once, before a resumed sweep starts its trials: each restored trial's record made
        to name its furthest complete checkpoint (`sweeps.run.checkpoints`)."""
        if self.checked_restored:
            return
        self.checked_restored = True
        for trial in trials:
            if self.spend is not None:  # every restored trial was started, or will be
                self.spend.start(trial.trial_id)
                self.spend.record(trial.trial_id, trial.last_result)
            if trial.status != "PENDING":
                continue
            try:
                repair = repair_restored(trial)
            except Exception as exc:  # noqa: BLE001 - Ray's own restore is still there
                self._say(trial, f"its checkpoints could not be checked ({first_line(exc)})")
                continue
            try:
                end = restored_end(trial, self.retrying)
            except OSError as exc:  # a retried trial's end could not be cleared
                end = None
                self._say(trial, f"its end could not be cleared ({first_line(exc)})")
            if end is not None:
                self.ended_before.add(trial.trial_id)
                self._say(trial, f"had {end.how} (step {end.step}) before the driver was killed")
            if repair is None:
                continue
            if trial.trial_id not in self.ended_before:
                self._say(trial, repair.said)
            if repair.reported is not None:  # reported as the last driver was killed
                self.log_result(trial, {**repair.reported, "resumed_from_step": repair.step})
                with checkpoint_folder(repair.checkpoint) as path:
                    put_step_table(self.outbox, trial.trial_id, path)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._ensure_run(trial)
        if self.spend is not None:
            self.spend.start(trial.trial_id)
        self.started[trial.trial_id] = time.time()
        if trial.trial_id not in self.ended_before:
            self._say(trial, f"started  {_short(trial.config)}")

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.log_result(trial, result)
        shown = " ".join(f"{k}={result[k]:.3f}" for k in SHOWN if k in result)
        self._say(
            trial, f"step {_step(result):>4}  objective={result.get('objective', 0):.4f}  {shown}"
        )

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        """Each evaluation's per-example table, so trials can be compared at a common step."""
        if self._worker_sent(trial, checkpoint):  # the trial's worker sent it itself
            return
        self._ensure_run(trial)
        with checkpoint_folder(checkpoint) as path:  # downloaded when the storage is remote
            put_step_table(self.outbox, trial.trial_id, path)

    def _worker_sent(self, trial, checkpoint) -> bool:
        """True when the trial's worker uploaded its files itself (tracking server)."""
        return self.remote and trial.trial_id not in self.not_uploaded

    def on_trial_recover(self, iteration, trials, trial, **info):
        error = _error_text(trial)
        self._ensure_run(trial)
        self.outbox.put(
            "tags",
            trial.trial_id,
            tags={
                FAILURES_TAG: str(getattr(trial, "num_failures", 1)),
                LAST_ERROR_TAG: last_line(error)[:5000],
            },
        )
        self._say(trial, f"failed, retrying from its last checkpoint: {last_line(error)}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.finalize(trial, failed=False)
        if trial.trial_id in self.ended_before:
            return  # said as the sweep resumed
        took = time.time() - self.started.get(trial.trial_id, time.time())
        reports = int((trial.last_result or {}).get("training_iteration", 0))
        how = "stopped early by ASHA" if reports < self.max_reports else "finished"
        self._say(trial, f"{how} after {reports} report(s), {took:.0f}s")

    def on_trial_error(self, iteration, trials, trial, **info):
        error = _error_text(trial)
        full = exhausted(error)
        if full and not full.startswith("out of memory"):  # a trial's OOM is its own failure
            self.exhausted = self.exhausted or full
        self._say(trial, f"FAILED: {full or last_line(error)}")
        self.finalize(trial, failed=True)

    def on_experiment_end(self, trials, **info):
        self.trials = list(trials)

    def finalize(self, trial, failed: bool) -> None:
        """Tags, the last checkpoint's artifacts and the end status of a trial's run."""
        self._ensure_run(trial)
        result = trial.last_result or {}
        reports = int(result.get("training_iteration", 0))
        self.outbox.put(
            "tags",
            trial.trial_id,
            tags={
                STOPPED_EARLY_TAG: str(reports < self.max_reports and not failed).lower(),
                REPORTS_TAG: str(reports),
            },
        )
        # With a tracking server the trial worker has sent these already (no shared disk).
        if trial.checkpoint is not None and not self._worker_sent(trial, trial.checkpoint):
            with checkpoint_folder(trial.checkpoint) as path:  # downloaded when remote
                put_final_artifacts(self.outbox, trial.trial_id, path)
        try:  # first: a run MLflow shows as ended is never trained on by a resume
            mark_ended(trial, _step(result) if result else None, failed)
        except OSError as exc:
            self._say(trial, f"could not record its end on the storage ({first_line(exc)})")
        if failed:
            self.outbox.put("end", trial.trial_id, status=RUN_FAILED, error=_error_text(trial))
        else:
            self.outbox.put("end", trial.trial_id, status=RUN_FINISHED)
        self.finalized.add(trial.trial_id)


def stop_reason(d: dict) -> str:
    """`rung 3 (training_iteration): openorca/meteor 0.2100 < cut-off 0.2300 -> stop`."""
    high = d.get("mode", "max") == "max"
    op = ("<" if high else ">") if d["decision"] == "stop" else (">=" if high else "<=")
    cut = "none" if d["cutoff"] is None else f"{d['cutoff']:.4f}"
    metric = f"{d['metric']} = {d['compares']}" if d.get("compares") else d["metric"]
    return (
        f"rung {d['rung']} ({d['time_attr']}): {metric} {d['value']:.4f} {op} "
        f"cut-off {cut} -> {d['decision']}"
    )


def put_step_table(outbox: Outbox, trial_id: str, ckpt: Path) -> None:
    if table := step_table_of(ckpt):
        _put_table(outbox, trial_id, *table)


def put_final_artifacts(outbox: Outbox, trial_id: str, ckpt: Path) -> None:
    """The final files and the latest per-example table, through the outbox."""
    if files := final_files(ckpt):
        outbox.put("artifacts", trial_id, files=files)
    if table := step_table_of(ckpt):
        _put_table(outbox, trial_id, table[0], FINAL_TABLE)


def _put_table(outbox: Outbox, trial_id: str, columns: dict, artifact_file: str) -> None:
    text = json.dumps(columns, ensure_ascii=False)
    outbox.put("table", trial_id, texts={"table.json": text}, artifact_file=artifact_file)


def _error_text(trial) -> str:
    """The trial's error as Ray recorded it (a traceback), a password in a URI masked."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        return mask_credentials(Path(path).read_text(encoding="utf-8", errors="replace"))
    return mask_credentials(str(getattr(trial, "error_msg", "") or "trial failed"))
