"""A budget that holds: a demo sweep whose `search.budget.trials` is below its
`num_samples` stops starting trials, says so in one line and exits 0; killed mid-trial and
resumed, it still starts no more trials than the budget allows."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers import small_sweep_config, start_sweeplab, sweep_runs

pytestmark = pytest.mark.integration


def _wait_for(log, predicate, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate(log.read_text(errors="replace") if log.exists() else ""):
            return True
        time.sleep(0.3)
    return False


def test_a_trial_budget_holds_across_a_kill(tmp_path, demo_assets):
    path = small_sweep_config(
        tmp_path,
        demo_assets,
        num_samples=3,
        max_concurrent=1,
        scheduler={"kind": "fifo"},
        budget={"trials": 1},
    )
    doc = yaml.safe_load(path.read_text())
    doc["data"]["eval_size"] = {"alpaca": 8, "dolly": 8, "openorca": 8}
    doc["generation"] = {"max_new_tokens": 16, "batch_size": 8}
    path.write_text(yaml.safe_dump(doc))
    log = tmp_path / "driver.log"
    # Given the sweep killed after its first trial's first report ...
    proc = start_sweeplab(["sweep", str(path), "--name", "budget"], tmp_path, log)
    try:
        assert _wait_for(log, lambda text: "objective=" in text, 600), log.read_text()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    time.sleep(2)  # Ray's own processes share the driver's fate
    # ... when resumed, it finishes that trial, starts no other, says so once, exits 0.
    mark = len(log.read_text())
    proc = start_sweeplab(["resume", "budget"], tmp_path, log)
    try:
        assert proc.wait(timeout=600) == 0, log.read_text()[-4000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = log.read_text()[mark:]
    said = [line for line in out.splitlines() if "budget spent" in line]
    assert said == [
        "sweep 'budget': budget spent (trials 1 of 1): no new trial starts; running trials finish"
    ], out[-3000:]
    assert "budget: trials 1 of 1" in out
    started = {
        line.split("trial ")[1].split(":")[0]
        for line in log.read_text().splitlines()
        if ": started  " in line
    }
    assert len(started) == 1, started  # the killed trial, restarted; no other
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parents, trials = sweep_runs(client, "budget")
    assert len(trials) == 1 and trials[0].info.status == "FINISHED"
    assert parents[0].data.metrics["cost/trials"] == 1
    # Ray created no trial beyond the budget either.
    state = max((tmp_path / "runs" / "ray" / "budget").glob("experiment_state-*.json"))
    assert len(json.loads(state.read_text())["trial_data"]) == 1
