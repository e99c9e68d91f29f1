"""`sweeplab sweep CONFIG --from SWEEP` on the run's shared finished sweep (its store copied):
the earlier trials are history, no earlier configuration runs again, the parent run says
where it started from; a sweep that cannot be started from is refused in one line."""

from __future__ import annotations

import shutil

import pytest
from mlflow import MlflowClient

from tests.helpers import SHARED_SWEEP, clean_env, run_sweeplab, sweep_runs

pytestmark = pytest.mark.integration


def _config(run) -> tuple[str, str]:
    return run.data.params["lora.r"], run.data.params["mix.openorca"]


def test_a_sweep_from_a_finished_one_runs_only_untried_configurations(tmp_path, finished_sweep):
    shutil.copytree(
        finished_sweep.work / "runs", tmp_path / "runs", ignore=shutil.ignore_patterns("ray")
    )
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    _, earlier = sweep_runs(client, SHARED_SWEEP)
    ran = {_config(r) for r in earlier if "sweeplab.role" not in r.data.tags}
    assert len(ran) == 2  # of the space's 4 configurations
    env = clean_env()
    cfg = str(finished_sweep.config)
    args = ["sweep", cfg, "--name", "warm", "--set", "search.replicates=0"]

    refused = run_sweeplab(*args, "--from", "nope", cwd=tmp_path, env=env, timeout=300)
    assert refused.returncode == 2 and "no sweep named 'nope'" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0
    assert client.get_experiment_by_name("warm") is None  # nothing left behind

    proc = run_sweeplab(*args, "--from", SHARED_SWEEP, cwd=tmp_path, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert f"warm start from {SHARED_SWEEP!r}: 2 finished trial(s) as history" in proc.stdout
    (parent,), trials = sweep_runs(client, "warm")
    assert parent.data.tags["sweeplab.warm_start_from"] == SHARED_SWEEP
    new = {_config(r) for r in trials}
    # Both untried configurations ran, and none of the earlier ones again.
    assert new == {("16", "0.3"), ("32", "0.0")} and not new & ran
