"""`sweeplab confirm SWEEP`: the best configurations and the seed-like baseline again, at
full budget, with several training seeds each, as child runs of the same sweep.

The same machinery as a sweep: the same trainable, MLflow logger and outbox (with the
sweep's parent run), in its own Ray experiment folder (`runs/ray/<sweep>-confirm`): a grid
over (configuration, seed), FIFO (no early stopping). Its plan is recorded there first, so
the same command again continues it: finished replicates are not re-run.
"""

from __future__ import annotations

import json
from pathlib import Path

from ray import tune
from ray.tune.schedulers import FIFOScheduler

from common.files import write_atomic
from mlflow_server.tracking import KIND_TAG, RUN_FINISHED, SWEEP_TAG, Tracker
from sweeps.config import ConfigError, SweepConfig
from sweeps.report.leaderboard import rows_from_runs
from sweeps.run.confirm_plan import CONFIRM, ROLE_TAG, confirm_points, replicates
from sweeps.run.mlflow_logger import MlflowTrialLogger
from sweeps.run.reconcile import reconcile
from sweeps.run.state import STATE
from sweeps.run.storage import Storage
from sweeps.run.tuner import (
    TrackingBacklog,
    fit,
    init_ray,
    open_outbox,
    run_config,
    trial_fn,
)
from training.prepare import PreparedData

SUFFIX = "-confirm"
PLAN = "confirm.json"


def confirm_folder(storage: Storage, name: str) -> Path:
    """The confirmation's Ray experiment folder, beside the sweep's (local storage only,
    for now: a sweep on an object store is confirmed by copying it to a shared path)."""
    if not storage.is_local:
        raise ConfigError(
            f"confirming a sweep on {storage.uri} is not supported yet: give it a shared "
            "filesystem path as --storage"
        )
    return Path(storage.root) / f"{name}{SUFFIX}"


def finished_parent(tracker: Tracker, name: str) -> str:
    """The sweep's parent run id; refuses a sweep that is missing or has not finished."""
    exp = tracker.client.get_experiment_by_name(name)
    query = f"tags.`{KIND_TAG}` = 'sweep' and tags.`{SWEEP_TAG}` = '{name}'"
    parents = tracker.find_runs(exp.experiment_id, query) if exp is not None else []
    if not parents:
        raise ConfigError(f"no sweep named {name!r} in {tracker.uri}")
    status = parents[0].info.status
    if status != RUN_FINISHED:
        raise ConfigError(
            f"sweep {name!r} has not finished (its run is {status}); `sweeplab resume {name}` first"
        )
    return parents[0].info.run_id


def plan(
    tracker: Tracker, cfg: SweepConfig, parent: str, top: int, seeds: int, storage: Storage
) -> tuple[list[dict], bool]:
    """(the replicates to run, continuing?): the recorded plan, or a new one from the
    sweep's finished search trials. A different --top/--seeds than recorded is refused."""
    path = confirm_folder(storage, cfg.name) / STATE / PLAN
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        if (saved["top"], saved["seeds"]) != (top, seeds):
            raise ConfigError(
                f"the confirmation of {cfg.name!r} was started with --top {saved['top']} "
                f"--seeds {saved['seeds']}; give those to continue it"
            )
        return saved["replicates"], True
    runs = [r for r in tracker.trial_runs(parent) if r.data.tags.get(ROLE_TAG) != CONFIRM]
    return replicates(cfg, confirm_points(rows_from_runs(runs, cfg), cfg, top), seeds), False


def record_plan(storage: Storage, cfg: SweepConfig, top: int, seeds: int, reps: list) -> None:
    path = confirm_folder(storage, cfg.name) / STATE / PLAN
    if not path.is_file():
        write_atomic(path, json.dumps({"top": top, "seeds": seeds, "replicates": reps}, indent=1))


def make_confirm_tuner(
    cfg: SweepConfig, fn, folder: Path, logger: MlflowTrialLogger, reps: list[dict]
) -> tune.Tuner:
    """A grid over the replicates (FIFO, no early stopping), or the one restored."""
    if tune.Tuner.can_restore(str(folder)):
        return tune.Tuner.restore(str(folder), fn, resume_unfinished=True)
    return tune.Tuner(
        fn,
        param_space={CONFIRM: tune.grid_search(reps)},
        tune_config=tune.TuneConfig(
            metric="objective",
            mode=cfg.search.mode,
            scheduler=FIFOScheduler(),
            num_samples=1,
            max_concurrent_trials=cfg.search.max_concurrent,
            reuse_actors=True,
        ),
        run_config=run_config(cfg, folder.name, {"storage_path": str(folder.parent)}, logger),
    )


def run_confirm(
    cfg: SweepConfig,
    data: PreparedData,
    bases: dict[str, dict],
    tracker: Tracker,
    storage: Storage,
    parent: str,
    reps: list[dict],
    ray_address: str | None = None,
    out=None,
) -> None:
    """Run, or continue, the replicates `reps` (from `plan`) as children of `parent`."""
    folder = confirm_folder(storage, cfg.name)
    outbox = open_outbox(tracker, folder / STATE, parent, out)
    logger = MlflowTrialLogger(outbox, cfg, out, data)
    init_ray(ray_address)
    fn = trial_fn(cfg, data, tracker, bases, trim=False)  # other seeds draw other rows
    fit(cfg, lambda: make_confirm_tuner(cfg, fn, folder, logger, reps), logger, end_parent=False)
    if outbox.flush(cfg.tracking_patience):
        reconcile(logger, tracker, parent, role=CONFIRM)
    sent = outbox.flush(cfg.tracking_patience)
    outbox.close()
    if not sent:
        raise TrackingBacklog(
            f"the tracking store at {tracker.uri} is unreachable: {outbox.pending()} write(s) "
            f"kept in {outbox.root}; `sweeplab confirm {cfg.name}` again sends them"
        )
