"""The sweep on Ray Tune: Optuna proposes, ASHA stops early, trials are mirrored to MLflow.

`run_sweep` starts the sweep, or continues one of the same name: finished trials stay as
they are, interrupted ones continue from their last checkpoint, the searcher keeps its
history, and each trial keeps its one MLflow run.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import ray
from ray import tune
from ray.tune.logger import JsonLoggerCallback
from ray.tune.schedulers import FIFOScheduler

from common.dicts import flatten
from common.errors import Exhausted, exhausted
from common.tags import OBJECTIVE_TAG, SWEEP_CONFIG, WARM_START_TAG
from common.uris import mask_credentials
from mlflow_server.outbox import Outbox
from mlflow_server.tracking import RUN_FINISHED, RUN_KILLED, Tracker
from sweeps.config import Choice, Range, SweepConfig
from sweeps.run.budget import BudgetGate, BudgetStop, ledger
from sweeps.run.checkpoint_keeper import KeepLatest
from sweeps.run.describe import portable_params
from sweeps.run.handoff import trial_data
from sweeps.run.local_ray import secure_local_ray
from sweeps.run.mlflow_logger import MlflowTrialLogger, attached
from sweeps.run.ray_state import set_aside_torn
from sweeps.run.reconcile import reconcile, reopen_failed
from sweeps.run.rungs import AuditedASHA
from sweeps.run.searcher import make_searcher
from sweeps.run.state import Place
from sweeps.run.storage import Storage
from sweeps.run.trainable import trainable
from sweeps.run.unique_search import UniqueSearch
from sweeps.run.warm_start import WarmStart
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


def scheduler(cfg: SweepConfig, on_decision=None):
    """FIFO, or ASHA handing each rung decision to `on_decision(trial, decision)`."""
    s = cfg.search.scheduler
    if s.kind == "fifo":
        return FIFOScheduler()
    goal = cfg.search.goal()
    return AuditedASHA(
        compares=f"{goal.first} (the first of {len(goal.targets)} objectives)"
        if goal.multi
        else None,
        time_attr="training_iteration",
        max_t=cfg.train.num_reports,
        grace_period=min(s.grace_period, cfg.train.num_reports),
        reduction_factor=s.reduction_factor,
        on_decision=on_decision,
    )


WORKER_ENV = {"TUNE_FUNCTION_THREAD_TIMEOUT_S": "300"}
"""The environment of every Ray worker of a sweep, on any node. A worker kept for the next
trial (`reuse_actors`) first waits for the last trial's thread to end (its checkpoint folder
removed, its model freed): Ray waits 2 s by default, which a busy machine overruns; the next
trial then failed with "Trainable runner reuse requires reset_config()" (and Ray's limit on
concurrent trials kept its slot, so a sweep of one trial at a time hung)."""


class _ExhaustedInOneLine(logging.Filter):
    """Ray logs a trial's failure with its traceback, and at exit the failure of a trial it
    was still waiting for; when a disk or memory ran out, that is said once in the sweep's
    last line, so Ray's records of it keep one line (the first) or none (the one at exit)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and (line := exhausted(record.exc_info[1])):
            record.msg, record.args = f"{record.getMessage()}: {line}", ()
            record.exc_info = record.exc_text = None
        elif record.name == "ray._private.worker" and str(record.msg).startswith("Unhandled"):
            return exhausted(record.getMessage()) is None
        return True


_RAY_LOGGERS = ("ray.tune.execution.tune_controller", "ray._private.worker")


def init_ray(address: str | None, num_cpus: int | None = None) -> None:
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Of Ray's automatic per-trial logs only `result.json` is wanted (`run_config` names it).
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    if ray.is_initialized():
        return
    for name in _RAY_LOGGERS:
        ray_logger = logging.getLogger(name)
        if not any(isinstance(f, _ExhaustedInOneLine) for f in ray_logger.filters):
            ray_logger.addFilter(_ExhaustedInOneLine())
    kwargs = dict(
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,
        runtime_env={"env_vars": WORKER_ENV},
    )
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "local":
        ray.init(address=address, **kwargs)
    else:  # the sweep's own cluster (never another one found running here): loopback only,
        # token authentication on
        secure_local_ray()
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **kwargs)


def can_restore(storage: Storage, name: str) -> bool:
    """Whether Ray has a record of experiment `name` there to restore; a torn newest
    session of it is set aside first (`sweeps.run.ray_state`), and the user told."""
    for session in set_aside_torn(storage, name):
        print(f"Ray's record of session {session} is torn: set aside, the one before it restored")
    fs = storage.ray_kwargs().get("storage_filesystem")
    return tune.Tuner.can_restore(storage.path(name), storage_filesystem=fs)


def make_tuner(
    cfg: SweepConfig,
    fn,
    storage: Storage,
    logger: MlflowTrialLogger,
    retry_failed: bool = False,
    warm: WarmStart | None = None,
) -> tune.Tuner:
    """A new Tuner, or the sweep's own restored from its folder (call within `attached`);
    `retry_failed`: failed trials run again from their last checkpoint; `warm`: a new one
    starts from an earlier sweep (`sweeps.run.warm_start`)."""
    exp_dir = storage.path(cfg.name)
    fs = storage.ray_kwargs().get("storage_filesystem")
    goal = cfg.search.goal()
    if can_restore(storage, cfg.name):
        return tune.Tuner.restore(
            exp_dir,
            fn,
            resume_unfinished=True,
            resume_errored=retry_failed,
            restart_errored=False,
            storage_filesystem=fs,
        )
    return tune.Tuner(
        fn,
        param_space=param_space(cfg),
        tune_config=tune.TuneConfig(
            # What ASHA's rungs compare: the first objective (`objective` in each report).
            metric="objective",
            mode=goal.first.mode,
            # Never the same searched values twice (Optuna's seeded TPE re-proposes them).
            # ... and none once the budget is spent (`sweeps.run.budget`).
            search_alg=BudgetGate(_searcher(cfg, warm), logger),
            scheduler=scheduler(cfg, logger.rung_decision),
            num_samples=cfg.search.num_samples,
            max_concurrent_trials=cfg.search.max_concurrent,
            # A trial's worker process is kept for the next trial: torch, transformers,
            # TRL and PEFT are imported once per worker, not once per trial.
            reuse_actors=True,
        ),
        run_config=run_config(cfg, cfg.name, storage.ray_kwargs(), logger),
    )


def _searcher(cfg: SweepConfig, warm: WarmStart | None) -> UniqueSearch:
    points = [dict(p) for p in cfg.search.points_to_evaluate]
    history = ()
    if warm is not None:
        points, history = warm.points(points), warm.history
    inner = make_searcher(cfg.search.goal(), cfg.search.seed, points or None, history)
    unique = UniqueSearch(inner)
    unique.seen |= set(warm.tried) if warm is not None else set()
    return unique


def run_config(cfg: SweepConfig, name: str, where: dict, logger) -> tune.RunConfig:
    """Ray's run settings shared by a sweep and its confirmation: experiment `name` at
    `where` (`storage_path`, and `storage_filesystem` for an object store), the MLflow
    logger, the sweep's retries, one checkpoint kept per trial (by `KeepLatest`, not by
    Ray's `num_to_keep`, which forces a snapshot of the whole sweep at every checkpoint),
    its budget's stop rule.

    Of Ray's own per-trial logs only `result.json` (`JsonLoggerCallback`), which
    `sweeps.run.reconcile` reads back after a kill; no `progress.csv` or TensorBoard events,
    which MLflow holds already: Ray copies every file of the experiment's folder to the
    storage at each snapshot, so each file a trial leaves there costs every snapshot
    (`init_ray` turns Ray's automatic loggers off)."""
    return tune.RunConfig(
        name=name,
        **where,
        callbacks=[logger, KeepLatest(), JsonLoggerCallback()],
        stop=BudgetStop(logger),
        failure_config=tune.FailureConfig(max_failures=cfg.search.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
        verbose=0,
    )


def run_sweep(
    cfg: SweepConfig,
    data: PreparedData,
    bases: dict[str, dict],
    tracker: Tracker,
    place: Place,
    ray_address: str | None = None,
    out=None,
    retry_failed: bool = False,
    warm: WarmStart | None = None,
) -> tuple[str, object]:
    """Run, or continue, the recorded sweep `cfg`; returns the parent run id and Ray's
    result grid. The sweep's record (`sweeps.run.state`) must be written first; `bases` holds
    each searched base model's scores by `model_key` (`sweeps.run.base_models`).
    `retry_failed`: failed trials run again from their last checkpoint, in their own runs."""
    shown = masked_config(cfg)
    # Local paths as name + content hash (the same on every machine), the paths as tags.
    config, path_tags = portable_params(flatten(shown))
    parent = tracker.start_sweep(
        cfg.name,
        {
            "config": config,
            "search_space": {k: v.model_dump(mode="json") for k, v in cfg.search.space.items()},
            # rows read, duplicates dropped, malformed rows skipped, train/eval sizes
            "data_stats": {s: st.as_dict() for s, st in data.stats.items()},
        },
        {OBJECTIVE_TAG: cfg.search.goal().name(), **path_tags}
        | ({WARM_START_TAG: warm.earlier} if warm is not None else {}),
    )
    outbox = open_outbox(tracker, place.outbox(cfg.name), parent, out)
    outbox.put("artifacts", None, texts={SWEEP_CONFIG: json.dumps(shown, indent=1)})
    logger = MlflowTrialLogger(outbox, cfg, out, data)
    logger.spend = ledger(cfg, tracker, parent, outbox, out)
    init_ray(ray_address)
    if retry_failed and logger.spend is not None and not logger.spend.allows_new():
        retry_failed = False  # failed trials are not run again on a spent budget
    if retry_failed:
        logger.retrying = set(reopen_failed(tracker, parent))
    fn = trial_fn(cfg, data, tracker, bases)
    tuner = lambda: make_tuner(cfg, fn, place.storage, logger, retry_failed, warm)  # noqa: E731
    results = fit(cfg, tuner, logger)
    _finish(cfg, logger, outbox, tracker, parent)
    if logger.exhausted:  # trials failed for it, the sweep ran on: said once, at the end
        raise Exhausted(logger.exhausted)
    return parent, results


def open_outbox(tracker: Tracker, root: Path, parent: str, out=None) -> Outbox:
    outbox = Outbox(Tracker(tracker.uri, tracker.project_dir), root, parent, out)
    if outbox.pending():
        print(f"sending {outbox.pending()} tracking write(s) left by the last run ...", file=out)
    return outbox


def trial_fn(
    cfg: SweepConfig,
    data: PreparedData,
    tracker: Tracker,
    bases: dict[str, dict],
    trim: bool = True,
):
    """The trainable with the sweep's data and settings bound, and its resources; `trim`:
    each pool cut to the rows the search's trials can draw (not for other seeds)."""
    res = cfg.search.resources
    return tune.with_resources(
        tune.with_parameters(
            trainable,
            sweep=cfg,
            data=trial_data(cfg, data) if trim else data,  # one object-store put
            bases=bases,
            tracking_uri=tracker.uri,
        ),
        {"cpu": res.cpu, "gpu": res.gpu, **res.custom},
    )


def fit(cfg: SweepConfig, build, logger: MlflowTrialLogger, end_parent: bool = True):
    """`build().fit()` with `logger` attached; SweepInterrupted unless every trial ended.
    On Ctrl-C or a driver error nothing is left RUNNING (the trials' runs, and the parent's
    when `end_parent`, are marked KILLED) and nothing is lost (the outbox is flushed)."""
    outbox = logger.outbox
    try:
        with attached(logger):
            results = build().fit()
        unfinished = [t for t in logger.trials if t.status not in ("TERMINATED", "ERROR")]
        spent = logger.spend is not None and logger.spend.exhausted() is not None
        if unfinished or not (logger.trials or spent):  # a spent budget may start none
            raise SweepInterrupted(f"{len(unfinished)} trial(s) did not end")
    except BaseException:
        try:
            for trial_id in logger.known - logger.finalized:
                outbox.put("end", trial_id, status=RUN_KILLED)
            if end_parent:
                outbox.put("end", None, status=RUN_KILLED)
        except OSError:  # the outbox's disk is full too: the runs are ended on resume
            pass
        outbox.flush(min(cfg.tracking_patience, 60))
        outbox.close()
        raise
    return results


def masked_config(cfg: SweepConfig) -> dict:
    """The config as logged (params, artifact): a password in its tracking URI masked."""
    shown = cfg.model_dump(mode="json")
    if shown.get("tracking_uri"):
        shown["tracking_uri"] = mask_credentials(shown["tracking_uri"])
    return shown


def _finish(cfg, logger, outbox: Outbox, tracker: Tracker, parent: str) -> None:
    """Reconcile with Ray's record, end the parent run, send everything; TrackingBacklog
    when a write is not delivered (store unreachable or refusing past the sweep's patience,
    or a write set aside), naming how many."""
    if outbox.flush(cfg.tracking_patience):
        reconcile(logger, tracker, parent)
    outbox.put("end", None, status=RUN_FINISHED)
    sent = outbox.flush(cfg.tracking_patience)
    outbox.close()
    uri = mask_credentials(tracker.uri)
    if not sent:
        why = outbox.problem or f"the tracking store at {uri} is unreachable"
        raise TrackingBacklog(
            f"{why}: {outbox.pending() + outbox.parked()} write(s) not delivered, kept in "
            f"{outbox.root}; `sweeplab resume {cfg.name}` sends them"
        )
    if outbox.parked():
        raise TrackingBacklog(
            f"{outbox.parked()} write(s) refused by the store at {uri} or unreadable, kept in "
            f"{outbox.root / 'failed'}; `sweeplab resume {cfg.name}` tries them again"
        )
