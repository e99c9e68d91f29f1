"""Figures 1 and 4 from the same runs: the platform's overhead and what ASHA saves.

One set of trial configs (the first N of settings.POINTS, fixed, no sampling) runs three
times in one scratch project, after the base model's scores are cached there once:

- `sweeplab sweep` with the FIFO scheduler (Ray Tune + Optuna + MLflow), full budget;
- `python -m bench.bare_loop`: the same trials through `sweeps.run.trial.run_trial` in a
  2-process pool (spawned), same threads per trial, no Ray, Optuna or MLflow;
- `sweeplab sweep` with ASHA.

Both timed sides are whole commands: interpreter start, imports, data preparation, reading
the cached base scores, the trials, and (for the sweep) Ray start-up, MLflow and the table.
overhead_ratio = sweep seconds / bare-loop seconds. ASHA's training steps are the last
`train/step` each trial reported; the FIFO sweep is the full-budget run of the same trials.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import (
    python,
    ray_trial_results,
    run_timed,
    sweep_doc,
    warm_base_cache,
    write_config,
)
from bench.settings import Settings


def _key(config: dict) -> str:
    return json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True)


def summarize_trials(trials: list[dict], mode: str = "max") -> dict:
    """Steps each trial trained, and the best config by each trial's last objective.

    `trials`: [{"config": {...}, "reports": [{"step", "objective"}, ...]}].
    """
    pick = max if mode == "max" else min
    steps = {_key(t["config"]): max(r["step"] for r in t["reports"]) for t in trials}
    last = {_key(t["config"]): t["reports"][-1]["objective"] for t in trials}
    best = pick(last, key=last.get)
    return {"steps": steps, "total_steps": sum(steps.values()), "last": last, "best": best}


def from_ray(storage: Path) -> list[dict]:
    out = []
    for t in ray_trial_results(storage):
        reports = [{"step": r["train/step"], "objective": r["objective"]} for r in t["results"]]
        seconds = t["results"][-1].get("time_total_s")
        out.append({"config": t["config"], "reports": reports, "seconds": seconds})
    return out


def ray_startup_seconds(project: Path) -> float:
    """`sweeps.run.tuner.init_ray` alone in a fresh interpreter, minus the bare interpreter."""
    code = "from sweeps.run.tuner import init_ray; init_ray(None, 2); import ray; ray.shutdown()"
    with_ray = run_timed([python(), "-c", code], project)
    bare = run_timed([python(), "-c", "import sweeps.run.tuner"], project)
    return with_ray - bare


def measure(s: Settings, work: Path, log) -> dict:
    project = work / "sweeps"
    project.mkdir(parents=True, exist_ok=True)
    n, b = s.sweep_trials, s.sweep_budget
    fifo_doc = sweep_doc(b, n, {"kind": "fifo"}, s.concurrency)
    asha_doc = sweep_doc(b, n, s.asha, s.concurrency)
    fifo_cfg = write_config(fifo_doc, project / "fifo.yaml")
    asha_cfg = write_config(asha_doc, project / "asha.yaml")
    base_s = warm_base_cache(fifo_doc, project)
    log(f"  base model scores cached ({base_s:.1f} s); {n} trials x {b.max_steps} steps")

    stamp = time.strftime("%H%M%S")
    bare_json = project / "bare.json"
    bare_s = run_timed(
        [python(), "-m", "bench.bare_loop", str(fifo_cfg), "--out", str(bare_json)], project
    )
    log(f"  bare loop: {bare_s:.1f} s")
    fifo_name = f"bench-fifo-{stamp}"
    sweep_s = run_timed(
        [python(), "-m", "sweeps.cli", "sweep", str(fifo_cfg), "--name", fifo_name], project
    )
    log(f"  sweeplab sweep (FIFO): {sweep_s:.1f} s")
    asha_name = f"bench-asha-{stamp}"
    asha_s = run_timed(
        [python(), "-m", "sweeps.cli", "sweep", str(asha_cfg), "--name", asha_name], project
    )
    log(f"  sweeplab sweep (ASHA): {asha_s:.1f} s")
    ray_s = ray_startup_seconds(project)
    log(f"  Ray start-up alone: {ray_s:.1f} s")

    bare_trials = json.loads(bare_json.read_text())["trials"]
    fifo_trials = from_ray(project / "runs" / "ray" / fifo_name)
    asha_trials = from_ray(project / "runs" / "ray" / asha_name)
    bare = summarize_trials(bare_trials)
    fifo = summarize_trials(fifo_trials)
    asha = summarize_trials(asha_trials)
    if len(fifo_trials) != n or len(asha_trials) != n:
        raise RuntimeError(f"expected {n} trials, got {len(fifo_trials)} / {len(asha_trials)}")
    bare_trial_s = sum(t["end"] - t["start"] for t in bare_trials)
    sweep_trial_s = sum(t["seconds"] or 0.0 for t in fifo_trials)
    return {
        "overhead_ratio": sweep_s / bare_s,
        "overhead_sweep_s": sweep_s,
        "overhead_bare_s": bare_s,
        "overhead_trials": n,
        "overhead_concurrency": s.concurrency,
        "overhead_threads_per_trial": s.threads,
        "overhead_base_eval_cached_s": base_s,
        "overhead_ray_startup_s": ray_s,
        "overhead_sum_trial_s_sweep": sweep_trial_s,
        "overhead_sum_trial_s_bare": bare_trial_s,
        "overhead_max_objective_diff": max(
            abs(fifo["last"][k] - bare["last"].get(k, float("inf"))) for k in fifo["last"]
        ),
        "asha_step_fraction": asha["total_steps"] / fifo["total_steps"],
        "asha_same_best": asha["best"] == fifo["best"],
        "asha_steps": asha["total_steps"],
        "asha_full_budget_steps": fifo["total_steps"],
        "asha_sweep_s": asha_s,
        "asha_scheduler": s.asha,
        "asha_best_config": json.loads(asha["best"]),
        "fifo_best_config": json.loads(fifo["best"]),
        "asha_steps_per_trial": list(asha["steps"].values()),
        "trial_budget": b.overrides(),
    }
