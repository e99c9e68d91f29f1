"""The driver's cost per trial result at 10, 100 and 1,000 trials: sweeplab vs Ray Tune alone.

One Ray cluster (sweeplab's `init_ray`, 2 CPUs), one short trainable (`bench.short_trial`:
no model, a few results a few milliseconds apart, each with a trial-shaped checkpoint), the
same search space (with a continuous dimension: every trial a new configuration), ASHA as
the demo sets it up, two trials at a time. At each scale, one after the other:

- Ray Tune alone, as its docs keep one checkpoint per trial: `tune.Tuner` with Ray's
  `OptunaSearch` and `ASHAScheduler`, `num_to_keep=1` (which makes Ray snapshot the whole
  experiment, every trial's record, at every checkpoint: a cost per result that grows with
  the trials), Ray's default loggers (CSV, JSON, TensorBoard) and no other callback;
- Ray Tune alone keeping every checkpoint (no `num_to_keep`: snapshots on Ray's own adaptive
  period), otherwise the same: the cheapest Ray can run these trials, and the anchor of the
  added cost, since sweeplab runs Ray that way (deleting older checkpoints itself);
- the sweeplab driver: what `sweeps.run.tuner.run_sweep` builds around its trainable, with
  this trainable in its place: the parent run, the outbox and `MlflowTrialLogger` writing to
  a SQLite MLflow store on disk, `make_tuner` (`BudgetGate(UniqueSearch(make_searcher(...)))`,
  the audited ASHA, `run_config`: the logger, one checkpoint kept per trial by
  `KeepLatest`, the budget's stop rule, Ray's storage through sweeplab's whole-file
  filesystem), run by `fit`, then `_finish` (reconcile with Ray's record, end the parent,
  every write delivered). A budget that never binds keeps the ledger on.

Timed: `tuner.fit()` alone, and for sweeplab from the Tuner's construction until the last
tracking write is in the store (the store is created and migrated before, once). Seconds per
result is that wall time over the results Ray counted (ASHA stops trials, so a side's count
is its own); the added cost per result is sweeplab's minus Ray's keeping every checkpoint
(and, beside it, minus Ray's with `num_to_keep=1`). Each side's MLflow runs are counted
afterwards (every trial has its finished run).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.short_trial import short_trial, sweep_config

REPORTS = 4
"""Results per trial (ASHA's rungs at results 1, 2 and 4)."""
SLEEP_S = 0.005
"""Seconds a trial waits before each result."""


def _fn(cfg, reports: int, sleep_s: float):
    from ray import tune

    res = cfg.search.resources
    fn = tune.with_parameters(short_trial, reports=reports, sleep_s=sleep_s)
    return tune.with_resources(fn, {"cpu": res.cpu, "gpu": res.gpu})


def _results(grid) -> int:
    return sum(int((r.metrics or {}).get("training_iteration", 0)) for r in grid)


def ray_alone(cfg, storage: Path, reports: int, sleep_s: float, keep: int | None = 1) -> dict:
    """Ray Tune with Ray's Optuna searcher and ASHA on the same space, `keep` checkpoints
    kept per trial (None: all): seconds, results."""
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from sweeps.run.tuner import param_space

    s = cfg.search
    began = time.perf_counter()
    tuner = tune.Tuner(
        _fn(cfg, reports, sleep_s),
        param_space=param_space(cfg),
        tune_config=tune.TuneConfig(
            metric="objective",
            mode="max",
            search_alg=OptunaSearch(seed=s.seed),
            scheduler=ASHAScheduler(
                time_attr="training_iteration",
                max_t=cfg.train.num_reports,
                grace_period=s.scheduler.grace_period,
                reduction_factor=s.scheduler.reduction_factor,
            ),
            num_samples=s.num_samples,
            max_concurrent_trials=s.max_concurrent,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=cfg.name,
            storage_path=str(storage),
            # Ray's default loggers, named: the sweeplab side turns the automatic ones off
            # for this process (`sweeps.run.tuner.run_config`).
            callbacks=[CSVLoggerCallback(), JsonLoggerCallback(), TBXLoggerCallback()],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=keep),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    seconds = time.perf_counter() - began
    return {"s": seconds, "results": _results(grid), "trials": len(grid)}


def _timed(obj, name: str, seconds: list[float]) -> None:
    """`obj.name` (a method) made to add the seconds of each call to `seconds[0]`."""
    call = getattr(obj, name)

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            seconds[0] += time.perf_counter() - began

    setattr(obj, name, timed)


def sweeplab_driver(cfg, uri: str, project: Path, reports: int, sleep_s: float) -> dict:
    """The same trials under sweeplab's driver (as `run_sweep` builds it): seconds, results,
    the sweep's finished trial runs in MLflow afterwards, and where the time went: Ray's
    loop in the MLflow logger's callbacks, tracking writes queued there (each on disk before
    Ray goes on) and sent (by the outbox's thread), and the writes still queued when Ray's
    last trial ended."""
    from common.dicts import flatten
    from common.tags import OBJECTIVE_TAG, SWEEP_CONFIG
    from mlflow_server.tracking import RUN_FINISHED, Tracker
    from sweeps.run.budget import ledger
    from sweeps.run.describe import portable_params
    from sweeps.run.mlflow_logger import MlflowTrialLogger
    from sweeps.run.state import Place
    from sweeps.run.tuner import _finish, fit, make_tuner, masked_config, open_outbox

    tracker, place = Tracker(uri, project), Place(project)
    put_s, send_s, logger_s = [0.0], [0.0], [0.0]
    with open(os.devnull, "w") as quiet:  # a sweep's per-result lines, as to a log file
        shown = masked_config(cfg)
        config, path_tags = portable_params(flatten(shown))
        space = {k: v.model_dump(mode="json") for k, v in cfg.search.space.items()}
        parent = tracker.start_sweep(
            cfg.name,
            {"config": config, "search_space": space},
            {OBJECTIVE_TAG: cfg.search.goal().name(), **path_tags},
        )
        fn = _fn(cfg, reports, sleep_s)
        began = time.perf_counter()
        outbox = open_outbox(tracker, place.outbox(cfg.name), parent, quiet)
        _timed(outbox, "put", put_s)
        _timed(outbox, "_step", send_s)  # a write, or a group of them, sent and deleted
        outbox.put("artifacts", None, texts={SWEEP_CONFIG: json.dumps(shown, indent=1)})
        logger = MlflowTrialLogger(outbox, cfg, quiet)
        for callback in ("on_trial_start", "on_trial_result", "on_checkpoint", "on_trial_complete"):
            _timed(logger, callback, logger_s)  # Ray's copies of the logger share its __dict__
        logger.spend = ledger(cfg, tracker, parent, outbox, quiet)
        grid = fit(cfg, lambda: make_tuner(cfg, fn, place.storage, logger), logger)
        fit_s, backlog = time.perf_counter() - began, outbox.pending()
        _finish(cfg, logger, outbox, tracker, parent)
        seconds = time.perf_counter() - began
    runs = tracker.trial_runs(parent)
    return {
        "s": seconds,
        "results": _results(grid),
        "trials": len(grid),
        "runs": sum(r.info.status == RUN_FINISHED for r in runs),
        "fit_s": fit_s,
        "backlog": backlog,
        "writes": outbox.sent,
        "store_calls": outbox.calls,
        "put_s": put_s[0],
        "send_s": send_s[0],
        "logger_s": logger_s[0],
    }


def _pooled(runs: list[dict]) -> dict:
    """Several sweeps of one size as one: their seconds, results and counts summed."""
    return {k: sum(r[k] for r in runs) for k in runs[0]}


ANCHOR = "ray_keep_all"
"""The Ray side the added cost is counted against (when measured; else `ray`)."""
RAY_SIDES = ("ray", ANCHOR)


def summarize(rows: list[dict]) -> dict:
    """Per scale (`{"trials", "repeats", "ray": {s, results, ...}, "ray_keep_all": {...},
    "sweeplab": {...}}`): seconds per result each way and sweeplab's added cost (minus the
    anchor, Ray keeping every checkpoint; and minus Ray with `num_to_keep=1`); the ratio of
    the added cost at the largest scale to the smallest (flat: 1), and to the second."""
    out: dict = {"driver_scales": [r["trials"] for r in rows]}
    anchor = ANCHOR if ANCHOR in rows[0] else "ray"
    out["driver_added_against"] = anchor
    added, swl_prs = [], []
    for r in rows:
        n, swl = r["trials"], r["sweeplab"]
        at = f"at_{n}"
        sides = [side for side in (*RAY_SIDES, "sweeplab") if side in r]
        per = {side: r[side]["s"] / r[side]["results"] for side in sides}
        added.append(per["sweeplab"] - per[anchor])
        swl_prs.append(per["sweeplab"])
        out[f"driver_repeats_{at}"] = r["repeats"]
        for side, pr in per.items():
            out[f"driver_{side}_s_per_result_{at}"] = pr
            out[f"driver_{side}_s_{at}"] = r[side]["s"]
            out[f"driver_{side}_results_{at}"] = r[side]["results"]
        out[f"driver_added_s_per_result_{at}"] = per["sweeplab"] - per[anchor]
        out[f"driver_added_over_ray_s_per_result_{at}"] = per["sweeplab"] - per["ray"]
        for key in ("runs", "writes", "store_calls", "backlog", "fit_s"):
            out[f"driver_sweeplab_{key}_{at}"] = swl[key]
        for key in ("put_s", "send_s", "logger_s"):
            out[f"driver_sweeplab_{key}_per_result_{at}"] = swl[key] / swl["results"]
    out["driver_added_cost_growth"] = added[-1] / added[0] if added[0] > 0 else None
    # Without the fixed costs (a Tuner's set-up and end, spread over few results at 10
    # trials): each side's seconds per extra result from one scale to the next, per sweep.
    for a, b in zip(rows, rows[1:], strict=False):
        per = {}
        for side in (s for s in (*RAY_SIDES, "sweeplab") if s in a):
            sa, sb = (r[side]["s"] / r["repeats"] for r in (a, b))
            ra, rb = (r[side]["results"] / r["repeats"] for r in (a, b))
            per[side] = (sb - sa) / (rb - ra) if rb != ra else float("nan")
            out[f"driver_{side}_marginal_s_per_result_{a['trials']}_to_{b['trials']}"] = per[side]
        span = f"{a['trials']}_to_{b['trials']}"
        out[f"driver_added_marginal_s_per_result_{span}"] = per["sweeplab"] - per[anchor]
    out["driver_sweeplab_cost_growth"] = swl_prs[-1] / swl_prs[0]
    if len(added) > 2:
        out["driver_added_cost_growth_from_second"] = added[-1] / added[1] if added[1] > 0 else None
    return out


def measure(scales: tuple[tuple[int, int], ...], work: Path, log, reports: int = REPORTS):
    """Both ways at each (trials, repeats) of `scales`, in one Ray cluster (warmed up
    first); a size run several times counts as one sweep of the runs' sums."""
    import ray

    from sweeps.run.tuner import init_ray

    project = work / "driver_scale"
    model_dir = project / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text("{}")
    (project / "runs").mkdir(exist_ok=True)
    uri = f"sqlite:///{project / 'runs' / 'mlflow.db'}"
    init_ray(None, 2)
    try:
        warm = sweep_config("warm-up", model_dir, 2, reports)
        ray_alone(warm, project / "ray-alone", reports, SLEEP_S)  # Ray's worker pool started
        rows = []
        for n, repeats in scales:
            sides: dict[str, list] = {"ray": [], ANCHOR: [], "sweeplab": []}
            for k in range(repeats):  # alternating, so a change in load hits every side
                cfg = sweep_config(f"driver-{n}-{k}", model_dir, n, reports)
                a = ray_alone(cfg, project / "ray-alone", reports, SLEEP_S)
                lean = ray_alone(cfg, project / "ray-keep-all", reports, SLEEP_S, keep=None)
                b = sweeplab_driver(cfg, uri, project, reports, SLEEP_S)
                if b["runs"] != n or {a["trials"], lean["trials"], b["trials"]} != {n}:
                    raise RuntimeError(f"{n} trials: {a['trials']} in Ray, {b} under sweeplab")
                sides["ray"].append(a)
                sides[ANCHOR].append(lean)
                sides["sweeplab"].append(b)
                log(
                    f"  {n} trials: Ray Tune alone {a['s']:.1f} s ({a['results']} results), "
                    f"keeping every checkpoint {lean['s']:.1f} s ({lean['results']}), "
                    f"sweeplab {b['s']:.1f} s ({b['results']} results, {b['writes']} writes "
                    f"in {b['store_calls']} store calls)"
                )
            rows.append(
                {"trials": n, "repeats": repeats, **{k: _pooled(v) for k, v in sides.items()}}
            )
    finally:
        ray.shutdown()
    return {
        **summarize(rows),
        "driver_reports_per_trial": reports,
        "driver_sleep_s_per_result": SLEEP_S,
        "driver_concurrency": 2,
    }
