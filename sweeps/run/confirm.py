"""`sweeplab confirm SWEEP`: the best configurations and the seed-like baseline again, at
full budget, with several training seeds each, as child runs of the same sweep.

The same machinery as a sweep: the same trainable, MLflow logger and outbox (with the
sweep's parent run), in its own Ray experiment beside the sweep's (`runs/ray/<sweep>-confirm`,
or `<sweep>-confirm` on the sweep's shared storage or object store): a grid
over (configuration, seed), FIFO (no early stopping). Its plan is recorded there first, so
the same command again continues it: finished replicates are not re-run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ray import tune
from ray.tune.schedulers import FIFOScheduler

from common.tags import KIND_SWEEP, KIND_TAG, ROLE_CONFIRM, ROLE_REPLICATE, SWEEP_TAG, is_search
from mlflow_server.tracking import RUN_FINISHED, Tracker
from sweeps.config import ConfigError, SweepConfig
from sweeps.report.leaderboard import rows_from_runs
from sweeps.run.budget import BudgetedGrid, ledger
from sweeps.run.confirm_plan import CONFIRM, confirm_points, noise_replicates, replicates
from sweeps.run.mlflow_logger import MlflowTrialLogger
from sweeps.run.reconcile import reconcile
from sweeps.run.state import STATE, Place
from sweeps.run.storage import Storage
from sweeps.run.tuner import (
    TrackingBacklog,
    can_restore,
    fit,
    init_ray,
    open_outbox,
    run_config,
    trial_fn,
)
from training.prepare import PreparedData


@dataclass(frozen=True)
class Replication:
    """A grid of replicates beside the sweep: its Ray experiment's suffix, its plan's file
    name and the role its runs carry."""

    suffix: str
    plan: str
    role: str


CONFIRMATION = Replication("-confirm", "confirm.json", ROLE_CONFIRM)
"""`sweeplab confirm` (or `search.confirm`): the best configurations with several seeds."""
NOISE = Replication("-replicates", "replicates.json", ROLE_REPLICATE)
"""The sweep's own replicates (`search.replicates`): the report's measured training noise."""


def confirm_path(storage: Storage, name: str, kind: Replication = CONFIRMATION) -> str:
    """The replicates' Ray experiment, beside the sweep's on the same storage (a local
    folder, a shared path or an object store)."""
    return storage.path(f"{name}{kind.suffix}")


def confirm_outbox(place: Place, name: str, kind: Replication = CONFIRMATION) -> Path:
    """The replicates' queue of tracking writes, on the driver's disk: beside their
    experiment when that is on this disk, else under the project's runs/."""
    if place.storage.is_local:  # where a confirmation has always kept it
        return Path(confirm_path(place.storage, name, kind)) / STATE
    return place.outbox(f"{name}{kind.suffix}")


def _plan_path(storage: Storage, name: str, kind: Replication = CONFIRMATION) -> str:
    return f"{confirm_path(storage, name, kind)}/{STATE}/{kind.plan}"


def finished_parent(tracker: Tracker, name: str) -> str:
    """The sweep's parent run id; refuses a sweep that is missing or has not finished."""
    exp = tracker.client.get_experiment_by_name(name)
    query = f"tags.`{KIND_TAG}` = '{KIND_SWEEP}' and tags.`{SWEEP_TAG}` = '{name}'"
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
    text = storage.read_text(_plan_path(storage, cfg.name))
    if text is not None:
        saved = json.loads(text)
        if (saved["top"], saved["seeds"]) != (top, seeds):
            raise ConfigError(
                f"the confirmation of {cfg.name!r} was started with --top {saved['top']} "
                f"--seeds {saved['seeds']}; give those to continue it"
            )
        return saved["replicates"], True
    runs = [r for r in tracker.trial_runs(parent) if is_search(r.data.tags)]
    return replicates(cfg, confirm_points(rows_from_runs(runs, cfg), cfg, top), seeds), False


def record_plan(storage: Storage, cfg: SweepConfig, top: int, seeds: int, reps: list) -> None:
    path = _plan_path(storage, cfg.name)
    if not storage.is_file(path):  # a local file's folders are made by the atomic write
        storage.write_text(path, json.dumps({"top": top, "seeds": seeds, "replicates": reps}))


def noise_plan(tracker: Tracker, cfg: SweepConfig, parent: str, storage: Storage) -> list[dict]:
    """The sweep's own replicates: the recorded plan, or a new one (recorded) from its
    finished search trials."""
    text = storage.read_text(_plan_path(storage, cfg.name, NOISE))
    if text is not None:
        return json.loads(text)["replicates"]
    runs = [r for r in tracker.trial_runs(parent) if is_search(r.data.tags)]
    reps = noise_replicates(rows_from_runs(runs, cfg), cfg, cfg.search.replicates)
    if reps:
        storage.write_text(_plan_path(storage, cfg.name, NOISE), json.dumps({"replicates": reps}))
    return reps


def make_confirm_tuner(
    cfg: SweepConfig,
    fn,
    storage: Storage,
    logger: MlflowTrialLogger,
    reps: list[dict],
    kind: Replication = CONFIRMATION,
) -> tune.Tuner:
    """A grid over the replicates (FIFO, no early stopping; no new one once the budget is
    spent), or the one restored."""
    path = confirm_path(storage, cfg.name, kind)
    fs = storage.ray_kwargs().get("storage_filesystem")
    if can_restore(storage, f"{cfg.name}{kind.suffix}"):
        return tune.Tuner.restore(path, fn, resume_unfinished=True, storage_filesystem=fs)
    return tune.Tuner(
        fn,
        param_space={CONFIRM: tune.grid_search(reps)},
        tune_config=tune.TuneConfig(
            metric="objective",
            mode=cfg.search.goal().first.mode,
            scheduler=FIFOScheduler(),
            search_alg=BudgetedGrid(logger, cfg.search.max_concurrent),
            num_samples=1,
            reuse_actors=True,
        ),
        run_config=run_config(cfg, f"{cfg.name}{kind.suffix}", storage.ray_kwargs(), logger),
    )


def run_confirm(
    cfg: SweepConfig,
    data: PreparedData,
    bases: dict[str, dict],
    tracker: Tracker,
    place: Place,
    parent: str,
    reps: list[dict],
    ray_address: str | None = None,
    out=None,
    kind: Replication = CONFIRMATION,
) -> None:
    """Run, or continue, the replicates `reps` (from `plan` or `noise_plan`) as children
    of `parent`."""
    outbox = open_outbox(tracker, confirm_outbox(place, cfg.name, kind), parent, out)
    logger = MlflowTrialLogger(outbox, cfg, out, data)
    logger.spend = ledger(cfg, tracker, parent, outbox, out)
    init_ray(ray_address)
    fn = trial_fn(cfg, data, tracker, bases, trim=False)  # other seeds draw other rows
    tuner = lambda: make_confirm_tuner(cfg, fn, place.storage, logger, reps, kind)  # noqa: E731
    fit(cfg, tuner, logger, end_parent=False)
    if outbox.flush(cfg.tracking_patience):
        reconcile(logger, tracker, parent, role=kind.role)
    sent = outbox.flush(cfg.tracking_patience)
    outbox.close()
    if not sent:
        verb = "confirm" if kind == CONFIRMATION else "resume"
        raise TrackingBacklog(
            f"the tracking store at {tracker.uri} is unreachable: {outbox.pending()} write(s) "
            f"kept in {outbox.root}; `sweeplab {verb} {cfg.name}` again sends them"
        )
