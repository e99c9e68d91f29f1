"""Launch a sweep: Ray Tune + Optuna search + ASHA, trials mirrored to MLflow."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search.optuna import OptunaSearch

from mlflow_server.outbox import Outbox
from mlflow_server.tracking import RUN_ENDED, RUN_FINISHED, RUN_KILLED, TRIAL_TAG, Tracker
from sweeps.config import Choice, Range, SweepConfig
from sweeps.faults import maybe_fail
from sweeps.mlflow_logging import (
    MlflowTrialLogger,
    is_remote,
    log_final_artifacts,
    log_step_table,
)
from sweeps.trial import run_trial
from training.prepare import PreparedData

STATE = "sweeplab"


class SweepExists(ValueError):
    """A sweep of that name was started before, with another config."""


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

    A trial restored by Tune (a retry, or a resumed sweep) continues from its checkpoint.
    With a tracking server, the worker also sends its artifacts straight to its MLflow run
    (retrying through outages), so workers on other nodes need no disk shared with the driver.
    """
    context = tune.get_context()
    trial_id = context.get_trial_id()
    cfg = sweep.trial(config)
    tracker = None
    if is_remote(tracking_uri):
        tracker = Tracker(tracking_uri, Path.cwd(), patience=sweep.tracking_patience)
    run_id: list[str] = []

    def report(metrics: dict, ckpt_dir: Path) -> None:
        maybe_fail(trial_id, config, int(metrics["train/step"]))
        if tracker is not None:
            if not run_id:
                run_id.append(tracker.wait_for_trial_run(sweep.name, trial_id))
            log_step_table(tracker, run_id[0], ckpt_dir)
            log_final_artifacts(tracker, run_id[0], ckpt_dir)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(ckpt_dir)))

    threads = max(1, int(sweep.search.resources.cpu))
    # Scratch space outside the trial folder: Ray syncs that folder while the trial runs.
    with tempfile.TemporaryDirectory(prefix=f"sweeplab-{trial_id}-") as work:
        resume_from = None
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            resume_from = Path(work) / "restored"
            with checkpoint.as_directory() as path:
                shutil.copytree(path, resume_from)
        run_trial(
            cfg,
            data,
            Path(work),
            report,
            sweep.search.objective,
            threads,
            Path(base_cache),
            resume_from=resume_from,
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


def state_dir(storage: Path, name: str) -> Path:
    """sweeplab's own records of a sweep, inside Ray's experiment folder."""
    return storage / name / STATE


def saved_config(storage: Path, name: str) -> SweepConfig | None:
    """The config a sweep was started with, if a sweep of that name was started here."""
    path = state_dir(storage, name) / "config.json"
    if not path.is_file():
        return None
    return SweepConfig.model_validate_json(path.read_text(encoding="utf-8"))


def _first_difference(a: dict, b: dict, prefix: str = "") -> str:
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            found = _first_difference(x, y, f"{prefix}{key}.")
            if found:
                return found
        elif x != y:
            return f"{prefix}{key} was {x!r}, now {y!r}"
    return ""


def check_continuation(cfg: SweepConfig, storage: Path) -> bool:
    """True when `cfg` continues a sweep started before; refuses a changed config."""
    exp_dir = storage / cfg.name
    previous = saved_config(storage, cfg.name)
    if previous is None:
        if exp_dir.exists() and any(exp_dir.iterdir()):
            raise SweepExists(
                f"{exp_dir} exists but holds no sweeplab sweep; choose another --name"
            )
        return False
    if previous != cfg:
        diff = _first_difference(previous.model_dump(mode="json"), cfg.model_dump(mode="json"))
        raise SweepExists(
            f"sweep {cfg.name!r} was started with a different config ({diff}); "
            "choose another --name, or `sweeplab resume` it as it was"
        )
    return True


def record_sweep(cfg: SweepConfig, storage: Path, tracking_uri: str):
    """Write the sweep's record (what `sweeplab resume` reads: its config and tracking URI)
    before any slow step, so a sweep killed at any point can be resumed. Returns an undo
    for bad input."""
    state = state_dir(storage, cfg.name)
    created = [d for d in (storage.parent, storage, storage / cfg.name, state) if not d.exists()]
    _write_atomic(state / "tracking_uri", tracking_uri)
    _write_atomic(state / "config.json", cfg.model_dump_json(indent=1))

    def undo() -> None:
        for name in ("config.json", "tracking_uri"):
            (state / name).unlink(missing_ok=True)
        for d in reversed(created):
            shutil.rmtree(d, ignore_errors=True)

    return undo


def recorded_tracking_uri(storage: Path, name: str) -> str | None:
    path = state_dir(storage, name) / "tracking_uri"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class SweepInterrupted(RuntimeError):
    """The sweep stopped before all its trials ended (Ctrl-C); it can be resumed."""


class TrackingBacklog(RuntimeError):
    """The sweep ended but some tracking writes could not be sent yet."""


def run_sweep(
    cfg: SweepConfig,
    data: PreparedData,
    tracker: Tracker,
    storage: Path,
    base_cache: Path,
    ray_address: str | None = None,
    out=None,
) -> tuple[str, object]:
    """Run, or continue, the sweep; returns the parent run id and Ray's result grid.

    A sweep of the same name started before with the same config is continued: finished
    trials stay as they are, interrupted ones continue from their last checkpoint, the
    searcher keeps its history, and each trial keeps its one MLflow run.
    """
    storage = storage.resolve()
    exp_dir = storage / cfg.name
    continuing = check_continuation(cfg, storage)
    state = state_dir(storage, cfg.name)
    if not continuing:  # first, so a sweep killed from here on can be resumed
        record_sweep(cfg, storage, tracker.uri)
    parent = tracker.start_sweep(
        cfg.name,
        {
            "config": cfg.model_dump(mode="json"),
            "search_space": {k: v.model_dump(mode="json") for k, v in cfg.search.space.items()},
            # rows read, duplicates dropped, malformed rows skipped, train/eval sizes
            "data_stats": {s: st.as_dict() for s, st in data.stats.items()},
        },
        {"sweeplab.objective": cfg.search.objective},
    )
    outbox = Outbox(Tracker(tracker.uri, tracker.project_dir), state / "outbox", parent, out)
    if outbox.pending():
        print(f"sending {outbox.pending()} tracking write(s) left by the last run ...", file=out)
    outbox.put("artifacts", None, files={"sweep_config.json": state / "config.json"})
    logger = MlflowTrialLogger(outbox, cfg, out)
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
    if tune.Tuner.can_restore(str(exp_dir)):
        tuner = tune.Tuner.restore(str(exp_dir), trainable, resume_unfinished=True)
        # The restored run config carries a pickled copy of the old driver's logger.
        tuner._local_tuner.get_run_config().callbacks = [logger]
    else:
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
    try:
        results = tuner.fit()
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
    return parent, results


def reconcile(logger: MlflowTrialLogger, tracker: Tracker, parent: str) -> None:
    """Trials an earlier (killed) driver saw end in Ray but not in MLflow: log them now.

    Their results come from Ray's own record (`result.json`); steps MLflow already has are
    skipped, so nothing is logged twice. Runs that ended in MLflow are left untouched.
    """
    runs = tracker.trial_runs(parent)
    status = {r.data.tags.get(TRIAL_TAG): r.info.status for r in runs}
    known = {t.trial_id for t in logger.trials}
    for run in runs:
        if run.data.tags.get(TRIAL_TAG) not in known and run.info.status not in RUN_ENDED:
            # Started after Ray's last snapshot, then the driver was killed: Ray forgot the
            # trial and its searcher proposed again. Moved to MLflow's trash (restorable).
            tracker.set_tags(run.info.run_id, {"sweeplab.orphaned": "true"})
            tracker.end_run(run.info.run_id, RUN_KILLED)
            tracker.client.delete_run(run.info.run_id)
    for trial in logger.trials:
        if trial.trial_id in logger.finalized or trial.status not in ("TERMINATED", "ERROR"):
            continue
        if status.get(trial.trial_id) in RUN_ENDED:
            continue
        for result in _recorded_results(trial):
            logger.log_result(trial, result)
        logger.finalize(trial, failed=trial.status == "ERROR")


def _recorded_results(trial) -> list[dict]:
    path = Path(trial.local_path or "") / "result.json"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by the kill
            continue
    return rows
