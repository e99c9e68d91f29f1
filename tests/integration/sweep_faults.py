"""Test helpers of the fault tests: a sweep at test size (24 steps, a report every 8), a
`sweeplab` command to its end, a log waited on, and the check that a sweep lost nothing."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import yaml
from mlflow import MlflowClient

from tests.helpers import SET_METRICS, small_sweep_config, start_sweeplab, sweep_runs


def _run(args: list[str], cwd: Path, log: Path, env=None, timeout=900) -> int:
    proc = start_sweeplab(args, cwd, log, env)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_for(log: Path, predicate, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate(log.read_text(errors="replace") if log.exists() else ""):
            return True
        time.sleep(0.3)
    return False


def _steps(client: MlflowClient, run_id: str, key: str = "objective") -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def _config(tmp_path: Path, assets, **changes) -> Path:
    """The demo sweep at test size: 24 steps, a report (and ASHA rung) every 8."""
    path = small_sweep_config(tmp_path, assets)
    doc = yaml.safe_load(path.read_text())
    doc["data"]["eval_size"] = {"alpaca": 8, "dolly": 8, "openorca": 8}
    doc["train"].update(max_steps=24, report_every=8)
    doc["generation"] = {"max_new_tokens": 16, "batch_size": 8}
    doc["search"].update(num_samples=4, scheduler={"kind": "asha", "grace_period": 2})
    doc["search"]["points_to_evaluate"] = [
        {"lora.r": 16, "mix.openorca": 0.0},
        {"lora.r": 32, "mix.openorca": 0.3},
    ]
    for key, value in changes.items():
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path.write_text(yaml.safe_dump(doc))
    return path


def _assert_complete(client: MlflowClient, name: str, num_samples: int, max_step: int = 24):
    """One parent and one run per trial, all ended, every reported step logged once."""
    parents, trials = sweep_runs(client, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    ids = [t.data.tags["sweeplab.trial_id"] for t in trials]
    assert len(ids) == num_samples == len(set(ids)), ids  # no ghost, no duplicate run
    for t in trials:
        assert t.info.status == "FINISHED", (t.info.run_name, t.info.status)
        steps = _steps(client, t.info.run_id)
        assert steps == list(range(8, steps[-1] + 1, 8)), (t.info.run_name, steps)
        if t.data.tags["sweeplab.stopped_early"] == "false":
            assert steps[-1] == max_step
        for key in SET_METRICS:
            assert _steps(client, t.info.run_id, key) == steps, (t.info.run_name, key)
        # The training curve: a point every 10 steps (train.log_every), none twice.
        curve = _steps(client, t.info.run_id, "train/loss")
        assert curve == list(range(10, steps[-1] + 1, 10)), (t.info.run_name, curve)
        tables = {a.path for a in client.list_artifacts(t.info.run_id, "eval")}
        assert {f"eval/predictions_step{s}.json" for s in steps} <= tables
        assert "eval/predictions.json" in tables
        adapter = {a.path for a in client.list_artifacts(t.info.run_id, "adapter")}
        assert "adapter/adapter_model.safetensors" in adapter
    return trials
