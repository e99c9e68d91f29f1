"""Trials on an existing Ray cluster: a real head node started as its own process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.helpers import free_port, ray_temp_dir, run_sweeplab, small_sweep_config, stop_ray

pytestmark = pytest.mark.integration
RAY = str(Path(sys.executable).parent / "ray")


def test_sweep_on_a_ray_head_node(tmp_path, demo_assets):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    # Token authentication on, as for a real cluster; the test's own token file.
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    temp_dir = ray_temp_dir()
    start = subprocess.run(
        [
            RAY,
            "start",
            "--head",
            f"--temp-dir={temp_dir}",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        cfg = small_sweep_config(tmp_path, demo_assets, num_samples=1)
        run = run_sweeplab(
            "sweep",
            str(cfg),
            "--name",
            "onray",
            "--ray-address",
            f"127.0.0.1:{port}",
            cwd=tmp_path,
            env=env,
            timeout=900,
        )
        assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-2000:]
        client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
        exp = client.get_experiment_by_name("onray")
        trials = client.search_runs([exp.experiment_id], "tags.`sweeplab.kind` = 'trial'")
        assert len(trials) == 1 and trials[0].info.status == "FINISHED"
        assert 0 <= trials[0].data.metrics["dolly/rougeL"] <= 1
    finally:
        stop_ray(temp_dir)  # only this test's cluster, not every Ray on the machine
