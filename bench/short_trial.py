"""The short trainable of the driver-scale figure, and the sweep config it runs under.

No model: a trial reports `reports` results a few milliseconds apart, each a cheap value
computed from its config, each with a checkpoint shaped like a sweeplab trial's (its record
`trial.json`, a per-example table, a tiny adapter and data manifest), so that the MLflow
logger does for it what it does for a real trial: a run, params and tags, a metric batch, a
training-curve series and a table per result, the final files at the end. Ray Tune alone
and the sweeplab driver run this same function (Ray's own scalability tests time a
function trainable of the same kind: `ray.tune.utils.release_test_util.function_trainable`).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

from bench.many_runs import LR, SPACE
from common.tags import ADAPTER, DATA_MANIFEST, TRIAL_RECORD
from evaluation.metric_registry import names
from sweeps.config import SweepConfig
from sweeps.cost import ACCELERATOR_S, WALL_S
from training.examples import SOURCES

EVERY = 5
"""Training steps between two results (the curve a result carries has this many points)."""


def sweep_config(name: str, model_dir: Path, trials: int, reports: int, seed: int = 0):
    """A sweep of `trials` short trials of `reports` results: the space of
    `bench.many_runs` (two choices and a log-uniform learning rate, so no two trials share a
    configuration), ASHA as the demo sets it up, two trials at a time, one CPU each."""
    space = {k: {"choice": v} for k, v in SPACE.items()}
    space["train.learning_rate"] = {"low": LR[0], "high": LR[1], "log": True}
    doc = {
        "name": name,
        "model": {"path": str(model_dir)},
        "train": {"max_steps": reports * EVERY, "report_every": EVERY},
        "search": {
            "space": space,
            "num_samples": trials,
            "max_concurrent": 2,
            "seed": seed,
            "replicates": 0,
            "scheduler": {"kind": "asha", "grace_period": 1, "reduction_factor": 2},
            "resources": {"cpu": 1, "gpu": 0},
        },
    }
    return SweepConfig.model_validate(doc)


def quality(config: dict) -> float:
    """A smooth, deterministic score of a configuration (best near lr = 1e-4)."""
    lr = float(config.get("train.learning_rate", 1e-4))
    r, orca = float(config.get("lora.r", 16)), float(config.get("mix.openorca", 0.0))
    return 0.5 - 0.05 * (math.log10(lr) + 4) ** 2 + 0.01 * (r == 16) + 0.1 * orca


def trial_metrics(config: dict, report: int, wall_s: float) -> dict:
    """The `report`-th result (1-based) of the trial with `config`: what a sweeplab trial
    reports (every `dataset/metric` and its delta, the objective, the step, its cost, the
    training curve since the last result as a JSON series)."""
    q = quality(config) * report / (report + 1)
    m: dict = {}
    for i, ds in enumerate(SOURCES):
        for j, metric in enumerate(names()):
            m[f"{ds}/{metric}"] = q - 0.01 * (i + j)
            m[f"{ds}/{metric}_delta_pct"] = 100 * (q - 0.3)
    m["objective"] = sum(m[f"{ds}/meteor"] for ds in SOURCES) / len(SOURCES)
    step = report * EVERY
    m.update({"train/step": step, "train/loss": 2.0 - q, WALL_S: wall_s, ACCELERATOR_S: wall_s})
    now = int(time.time() * 1000)
    curve = [
        {"step": s, "timestamp": now, "metrics": {"train/loss": 2.0 - q + 0.01 * (step - s)}}
        for s in range(step - EVERY + 1, step + 1)
    ]
    m["train_history"] = json.dumps(curve)
    return m


def write_checkpoint(folder: Path, step: int, metrics: dict) -> None:
    """What a sweeplab trial's checkpoint holds for the MLflow logger (`step_table_of`,
    `final_files`): its record, the per-example table, the adapter and the data manifest."""
    record = {"step": step, "metrics": {k: v for k, v in metrics.items() if k != "train_history"}}
    (folder / TRIAL_RECORD).write_text(json.dumps(record), encoding="utf-8")
    rows = [
        {"dataset": ds, "prompt": f"p{i}", "reference": "r", "prediction": "p", "meteor": 0.5}
        for ds in SOURCES
        for i in range(2)
    ]
    (folder / "predictions.json").write_text(json.dumps(rows), encoding="utf-8")
    (folder / DATA_MANIFEST).write_text(json.dumps({"content_hash": "h"}), encoding="utf-8")
    (folder / ADAPTER).mkdir()
    (folder / ADAPTER / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    (folder / ADAPTER / "adapter_config.json").write_text("{}", encoding="utf-8")


def short_trial(config: dict, reports: int, sleep_s: float) -> None:
    """The trainable: `reports` results, `sleep_s` apart, each with its checkpoint."""
    from ray import tune

    started = time.perf_counter()
    for report in range(1, reports + 1):
        time.sleep(sleep_s)
        metrics = trial_metrics(config, report, time.perf_counter() - started)
        with tempfile.TemporaryDirectory(prefix="short-trial-") as folder:
            write_checkpoint(Path(folder), report * EVERY, metrics)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
