"""Launch a sweep: Ray Tune + Optuna search + ASHA, trials mirrored to MLflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

from mlflow_server.tracking import RUN_FINISHED, RUN_KILLED, Tracker
from sweeps.config import Choice, Range, SweepConfig
from sweeps.mlflow_logging import (
    MlflowTrialLogger,
    is_remote,
    log_final_artifacts,
    log_step_table,
)
from sweeps.trial import run_trial
from training.prepare import PreparedData


class SweepExists(ValueError):
    """A sweep of that name was started before."""


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


def _trainable(
    config: dict, sweep: SweepConfig, data: PreparedData, base_cache: str, tracking_uri: str
) -> None:
    """What every Ray worker runs: the trial, reporting to Tune with a checkpoint.

    With a tracking server, the worker also sends its artifacts straight to its MLflow run,
    so workers on other nodes need no disk shared with the driver.
    """
    context = tune.get_context()
    trial_dir = Path(context.get_trial_dir())
    cfg = sweep.trial(config)
    tracker = Tracker(tracking_uri, Path.cwd()) if is_remote(tracking_uri) else None
    run_id: list[str] = []

    def report(metrics: dict, ckpt_dir: Path) -> None:
        if tracker is not None:
            if not run_id:
                run_id.append(tracker.wait_for_trial_run(sweep.name, context.get_trial_id()))
            log_step_table(tracker, run_id[0], ckpt_dir)
            log_final_artifacts(tracker, run_id[0], ckpt_dir)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(ckpt_dir)))

    threads = max(1, int(sweep.search.resources.cpu))
    with tempfile.TemporaryDirectory(prefix="work-", dir=trial_dir) as work:
        run_trial(cfg, data, Path(work), report, sweep.search.objective, threads, Path(base_cache))


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


def run_sweep(
    cfg: SweepConfig,
    data: PreparedData,
    tracker: Tracker,
    storage: Path,
    base_cache: Path,
    ray_address: str | None = None,
    out=None,
) -> tuple[str, object]:
    """Run (or continue) the sweep; returns the parent run id and Ray's result grid."""
    storage.mkdir(parents=True, exist_ok=True)
    exp_dir = storage / cfg.name
    if exp_dir.exists():
        raise SweepExists(f"sweep {cfg.name!r} already exists ({exp_dir}); choose another --name")
    init_ray(ray_address)
    trainable = tune.with_resources(
        tune.with_parameters(
            _trainable,
            sweep=cfg,
            data=data,
            base_cache=str(base_cache.resolve()),
            tracking_uri=tracker.uri,
        ),
        {"cpu": cfg.search.resources.cpu, "gpu": cfg.search.resources.gpu},
    )
    parent = tracker.start_sweep(
        cfg.name,
        {
            "config": cfg.model_dump(mode="json"),
            "search_space": {k: v.model_dump(mode="json") for k, v in cfg.search.space.items()},
        },
        {"sweeplab.objective": cfg.search.objective},
    )
    exp_dir.mkdir(parents=True, exist_ok=True)
    tracker.log_dict(parent, cfg.model_dump(mode="json"), "sweep_config.json")
    tuner = tune.Tuner(
        trainable,
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
        ),
        run_config=tune.RunConfig(
            name=cfg.name,
            storage_path=str(storage.resolve()),
            callbacks=[MlflowTrialLogger(tracker, parent, cfg, out)],
            failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=0,
        ),
    )
    try:
        results = tuner.fit()
    except BaseException:  # Ctrl-C or a driver error: leave no run RUNNING
        for run in tracker.trial_runs(parent):
            if run.info.status == "RUNNING":
                tracker.end_run(run.info.run_id, RUN_KILLED)
        tracker.end_run(parent, RUN_KILLED)
        raise
    tracker.end_run(parent, RUN_FINISHED)
    return parent, results
