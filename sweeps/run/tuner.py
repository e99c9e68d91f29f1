"""The sweep on Ray Tune: Optuna proposes, ASHA stops early, trials are mirrored to MLflow.

`run_sweep` starts the sweep, or continues one of the same name: finished trials stay as
they are, interrupted ones continue from their last checkpoint, the searcher keeps its
history, and each trial keeps its one MLflow run.
"""

from __future__ import annotations

import os
from pathlib import Path

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

from common.dicts import flatten
from mlflow_server.outbox import Outbox
from mlflow_server.tracking import RUN_FINISHED, RUN_KILLED, Tracker
from sweeps.config import Choice, Range, SweepConfig
from sweeps.run.describe import portable_params
from sweeps.run.mlflow_logger import MlflowTrialLogger, attached
from sweeps.run.reconcile import reconcile
from sweeps.run.state import state_dir
from sweeps.run.trainable import trainable
from training.prepare import PreparedData


class SweepInterrupted(RuntimeError):
    """The sweep stopped before all its trials ended (Ctrl-C); it can be resumed."""


class TrackingBacklog(RuntimeError):
    """The sweep ended but some tracking writes could not be sent yet."""


def param_space(cfg: SweepConfig) -> dict:
    space = {}
    for key, dim in cfg.search.space.items():
        if isinstance(dim, Choice):
            space[key] = tune.choice(list(dim.choice))
        elif isinstance(dim, Range):
            if dim.integer:
                space[key] = (tune.lograndint if dim.log else tune.randint)(
                    int(dim.low), int(dim.high) + 1
                )
            else:
                space[key] = (tune.loguniform if dim.log else tune.uniform)(dim.low, dim.high)
    return space


def scheduler(cfg: SweepConfig):
    s = cfg.search.scheduler
    if s.kind == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=cfg.train.num_reports,
        grace_period=min(s.grace_period, cfg.train.num_reports),
        reduction_factor=s.reduction_factor,
    )


def init_ray(address: str | None, num_cpus: int | None = None) -> None:
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    kwargs = dict(include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)


def make_tuner(cfg: SweepConfig, fn, storage: Path, logger: MlflowTrialLogger) -> tune.Tuner:
    """A new Tuner, or the sweep's own restored from its folder (call within `attached`)."""
    exp_dir = str(storage / cfg.name)
    if tune.Tuner.can_restore(exp_dir):
        return tune.Tuner.restore(exp_dir, fn, resume_unfinished=True)
    return tune.Tuner(
        fn,
        param_space=param_space(cfg),
        tune_config=tune.TuneConfig(
            metric="objective",
            mode=cfg.search.mode,
            search_alg=OptunaSearch(
                seed=cfg.search.seed,
                points_to_evaluate=[dict(p) for p in cfg.search.points_to_evaluate] or None,
            ),
            scheduler=scheduler(cfg),
            num_samples=cfg.search.num_samples,
            max_concurrent_trials=cfg.search.max_concurrent,
            # A trial's worker process is kept for the next trial: torch, transformers,
            # TRL and PEFT are imported once per worker, not once per trial.
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=cfg.name,
            storage_path=str(storage),
            callbacks=[logger],
            failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=0,
        ),
    )


def run_sweep(
    cfg: SweepConfig,
    data: PreparedData,
    tracker: Tracker,
    storage: Path,
    base_cache: Path,
    ray_address: str | None = None,
    out=None,
) -> tuple[str, object]:
    """Run, or continue, the recorded sweep `cfg`; returns the parent run id and Ray's
    result grid. The sweep's record (`sweeps.run.state`) must be written first."""
    storage = storage.resolve()
    # Local paths as name + content hash (the same on every machine), the paths as tags.
    config, path_tags = portable_params(flatten(cfg.model_dump(mode="json")))
    parent = tracker.start_sweep(
        cfg.name,
        {
            "config": config,
            "search_space": {k: v.model_dump(mode="json") for k, v in cfg.search.space.items()},
            # rows read, duplicates dropped, malformed rows skipped, train/eval sizes
            "data_stats": {s: st.as_dict() for s, st in data.stats.items()},
        },
        {"sweeplab.objective": cfg.search.objective, **path_tags},
    )
    state = state_dir(storage, cfg.name)
    outbox = Outbox(Tracker(tracker.uri, tracker.project_dir), state / "outbox", parent, out)
    if outbox.pending():
        print(f"sending {outbox.pending()} tracking write(s) left by the last run ...", file=out)
    outbox.put("artifacts", None, files={"sweep_config.json": state / "config.json"})
    logger = MlflowTrialLogger(outbox, cfg, out, data)
    init_ray(ray_address)
    fn = tune.with_resources(
        tune.with_parameters(
            trainable,
            sweep=cfg,
            data=data,
            base_cache=str(base_cache.resolve()),
            tracking_uri=tracker.uri,
        ),
        {"cpu": cfg.search.resources.cpu, "gpu": cfg.search.resources.gpu},
    )
    try:
        with attached(logger):
            results = make_tuner(cfg, fn, storage, logger).fit()
        unfinished = [t for t in logger.trials if t.status not in ("TERMINATED", "ERROR")]
        if unfinished or not logger.trials:
            raise SweepInterrupted(f"{len(unfinished)} trial(s) did not end")
    except BaseException:  # Ctrl-C or a driver error: leave nothing RUNNING, lose nothing
        for trial_id in logger.known - logger.finalized:
            outbox.put("end", trial_id, status=RUN_KILLED)
        outbox.put("end", None, status=RUN_KILLED)
        outbox.flush(min(cfg.tracking_patience, 60))
        outbox.close()
        raise
    _finish(cfg, logger, outbox, tracker, parent)
    return parent, results


def _finish(cfg, logger, outbox: Outbox, tracker: Tracker, parent: str) -> None:
    """Reconcile with Ray's record, end the parent run, send everything; TrackingBacklog
    when the store stays unreachable past the sweep's patience."""
    if outbox.flush(cfg.tracking_patience):
        reconcile(logger, tracker, parent)
    outbox.put("end", None, status=RUN_FINISHED)
    sent = outbox.flush(cfg.tracking_patience)
    outbox.close()
    if not sent:
        raise TrackingBacklog(
            f"the tracking store at {tracker.uri} is unreachable: {outbox.pending()} write(s) "
            f"kept in {outbox.root}; `sweeplab resume {cfg.name}` sends them"
        )
