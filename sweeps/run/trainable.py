"""What every Ray worker runs for a trial: `run_trial`, reporting to Tune with a checkpoint."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from ray import tune

from common.errors import first_line
from common.uris import is_http
from mlflow_server.system_metrics import SystemSampler
from mlflow_server.tracking import Tracker
from sweeps.config import SweepConfig
from sweeps.cost import ACCELERATOR_S, WALL_S, accelerator_seconds
from sweeps.run.base_models import model_key
from sweeps.run.checkpoints import REPORTED, checkpoint_folder, seal
from sweeps.run.confirm_plan import overrides_of
from sweeps.run.ended import has_ended
from sweeps.run.faults import maybe_fail
from sweeps.run.mlflow_logger import UPLOADED, log_final_artifacts, log_step_table
from training.prepare import PreparedData

SYSTEM_HISTORY = "system_history"
"""In a report: the system-metric samples taken since the previous report (a JSON string)."""
SYSTEM_STATE = "system_metrics.json"
"""In a checkpoint: the next system-metrics step, so a resumed trial does not repeat one."""


def _next_system_step(restored: Path | None) -> int:
    state = restored / SYSTEM_STATE if restored is not None else None
    if state is None or not state.is_file():
        return 0
    return int(json.loads(state.read_text(encoding="utf-8"))["next_step"])


def trainable(
    config: dict, sweep: SweepConfig, data: PreparedData, bases: dict, tracking_uri: str
) -> None:
    """One trial of `sweep` with the searched values in `config`; `bases` holds each
    searched base model's scores by `model_key`.

    A trial restored by Tune (a retry, or a resumed sweep) continues from its checkpoint.
    With a tracking server, the worker also sends its artifacts straight to its MLflow run
    (retrying through outages), so workers on other nodes need no disk shared with the driver.
    """
    from sweeps.run.trial import run_trial  # the training stack: in the worker, not the driver

    trial_id = tune.get_context().get_trial_id()
    cfg = sweep.trial(overrides_of(config))
    tracker = None
    if is_http(tracking_uri):
        tracker = Tracker(tracking_uri, Path.cwd(), patience=sweep.tracking_patience)
    run_id: list[str] = []
    sampler: list[SystemSampler] = []

    def report(metrics: dict, ckpt_dir: Path) -> None:
        maybe_fail(trial_id, overrides_of(config), int(metrics["train/step"]))
        res = sweep.search.resources
        held = accelerator_seconds(metrics[WALL_S], res.gpu, res.cpu)
        metrics = {**metrics, ACCELERATOR_S: held}
        if sampler:
            metrics = {**metrics, SYSTEM_HISTORY: json.dumps(sampler[0].drain())}
            state = {"next_step": sampler[0].next_step}
            (ckpt_dir / SYSTEM_STATE).write_text(json.dumps(state), encoding="utf-8")
        if tracker is not None:
            try:
                if not run_id:
                    run_id.append(tracker.wait_for_trial_run(sweep.name, trial_id))
                log_step_table(tracker, run_id[0], ckpt_dir)
                log_final_artifacts(tracker, run_id[0], ckpt_dir)
                metrics = {**metrics, UPLOADED: 1}
            except Exception as exc:  # noqa: BLE001 - a refusing store must not fail a trial
                print(
                    f"sweeplab: trial {trial_id}: could not send its files to the tracking "
                    f"server ({first_line(exc)}); the driver keeps them in its outbox",
                    file=sys.stderr,
                    flush=True,
                )
                metrics = {**metrics, UPLOADED: 0}
        step = int(metrics["train/step"])
        (ckpt_dir / REPORTED).write_text(json.dumps(metrics), encoding="utf-8")
        seal(ckpt_dir, step, step // cfg.train.report_every)  # a resume checks it is whole
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(ckpt_dir)))

    threads = max(1, int(sweep.search.resources.cpu))
    # Scratch space outside the trial folder: Ray syncs that folder while the trial runs.
    with tempfile.TemporaryDirectory(prefix=f"sweeplab-{trial_id}-") as work:
        resume_from = None
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None and has_ended(checkpoint, sweep.name):
            return  # it ended before a killed driver's record said so: Ray ends it as it was
        if checkpoint is not None:
            resume_from = Path(work) / "restored"
            with checkpoint_folder(checkpoint) as path:
                shutil.copytree(path, resume_from)
        if sweep.system_metrics:
            sampler.append(SystemSampler(_next_system_step(resume_from)).start())
        try:
            run_trial(
                cfg,
                data,
                Path(work),
                report,
                sweep.search.goal().metrics,
                threads,
                base=bases[model_key(cfg.model)],
                resume_from=resume_from,
            )
        finally:
            for s in sampler:
                s.stop()


def _warm_worker() -> None:
    """In a Ray worker the training stack (torch, transformers, TRL, PEFT) is imported as
    this module loads, when the worker unpickles the trainable: before any trial's clock
    starts, so a worker's first trial is not billed for it (the bench's bare pool does the
    same in its initializer). The driver, which imports this module too, never loads it."""
    import ray
    from ray._private.worker import global_worker  # Ray's own record of this process's role

    if global_worker.mode == ray.WORKER_MODE:
        import sweeps.run.trial  # noqa: F401


_warm_worker()
