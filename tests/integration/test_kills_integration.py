"""The sweep driver SIGKILLed (its whole process group) at random points and resumed, and
killed between a trial's checkpoint and Ray's record of it: nothing lost, nothing repeated.
(Split from the other fault tests so that the two run side by side.)"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time

import pytest
from mlflow import MlflowClient

from tests.helpers import start_sweeplab, sweep_runs
from tests.integration.sweep_faults import _assert_complete, _config, _run, _steps, _wait_for

pytestmark = pytest.mark.integration


def test_kill_and_resume_loop(tmp_path, demo_assets):
    """SIGKILL the driver's process group at random points, resume, repeat; nothing lost."""
    seed = int(os.environ.get("SWEEPLAB_TEST_SEED", time.time()))
    rng = random.Random(seed)
    print(f"kill loop seed {seed}")
    cfg = _config(tmp_path, demo_assets)
    log = tmp_path / "driver.log"
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    sweep, resume = ["sweep", str(cfg), "--name", "kills"], ["resume", "kills"]
    # (command, kill after this many new results; 0: while preparing, before Ray starts)
    launches = [(sweep, 0), (resume, rng.randint(1, 3)), (sweep, rng.randint(1, 3))]
    launches.append((resume, rng.randint(1, 3)))
    finished: dict[str, tuple] = {}  # run id -> (end time, history) when first seen FINISHED
    for args, want in launches:
        mark = len(log.read_text()) if log.exists() else 0
        proc = start_sweeplab(args, tmp_path, log)

        def enough(text, mark=mark, want=want):
            new = text[mark:]
            if want == 0:
                return "preparing data" in new
            return new.count("objective=") >= want or "best trial" in new

        assert _wait_for(log, enough, 600), log.read_text()[-3000:]
        time.sleep(rng.uniform(0.0, 3.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        time.sleep(2)  # Ray's own processes share the driver's fate
        if client.get_experiment_by_name("kills") is None:
            continue
        _, trials = sweep_runs(client, "kills")
        for t in trials:
            if t.info.status == "FINISHED" and t.info.run_id not in finished:
                finished[t.info.run_id] = (t.info.end_time, _steps(client, t.info.run_id))
            assert t.info.status in ("RUNNING", "FINISHED"), t.info.status

    assert _run(["resume", "kills"], tmp_path, log) == 0, log.read_text()[-4000:]
    trials = _assert_complete(client, "kills", 4)
    # Trials that had finished were not run again: same end time, same history.
    by_id = {t.info.run_id: t for t in trials}
    for run_id, (end_time, steps) in finished.items():
        assert by_id[run_id].info.end_time == end_time
        assert _steps(client, run_id) == steps
    # At least one interrupted trial continued from its checkpoint rather than from step 0.
    resumed = [t for t in trials if "sweeplab.resumed_from_step" in t.data.tags]
    assert resumed, f"no trial resumed from a checkpoint (seed {seed})"
    for t in resumed:
        assert int(t.data.tags["sweeplab.resumed_from_step"]) % 8 == 0
    # The searcher kept its history: exactly num_samples trials were ever created.
    state = json.loads(
        max((tmp_path / "runs" / "ray" / "kills").glob("experiment_state-*.json")).read_text()
    )
    assert len(state["trial_data"]) == 4


def test_a_kill_before_ray_saved_its_record_loses_no_progress(tmp_path, demo_assets):
    """The driver is killed after a trial's newer checkpoint was registered (and the one
    before it deleted: one kept per trial) but before Ray saved its record: the record names
    a checkpoint that is gone. The trial continues from the newest, nothing lost or repeated."""
    cfg = _config(
        tmp_path,
        demo_assets,
        **{
            "search.num_samples": 1,
            "search.points_to_evaluate": [{"lora.r": 16, "mix.openorca": 0.3}],
            "search.scheduler": {"kind": "fifo"},
            "train.max_steps": 64,
        },
    )
    log = tmp_path / "driver.log"
    exp_dir = tmp_path / "runs" / "ray" / "lag"
    proc = start_sweeplab(["sweep", str(cfg), "--name", "lag"], tmp_path, log)
    try:
        assert _wait_for(log, lambda t: "step    8  objective=" in t, 600), log.read_text()
        time.sleep(0.5)  # Ray's record now names the step-8 checkpoint: keep that record
        (state,) = exp_dir.glob("experiment_state-*.json")
        old_record = state.read_bytes()
        assert _wait_for(log, lambda t: "step   16  objective=" in t, 600), log.read_text()
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    (trial_dir,) = [p for p in exp_dir.iterdir() if p.is_dir() and "trainable" in p.name]
    assert not (trial_dir / "checkpoint_000000").exists()  # deleted once step 16's came
    state.write_bytes(old_record)  # as if the kill had come before Ray saved its record

    mark = len(log.read_text())
    assert _run(["resume", "lag"], tmp_path, log) == 0, log.read_text()[-4000:]
    found = re.search(r"continues from step (\d+), a checkpoint newer", log.read_text()[mark:])
    assert found, log.read_text()[mark:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (trial,) = _assert_complete(client, "lag", 1, max_step=64)
    continued = int(found.group(1))
    assert continued >= 16 and trial.data.tags["sweeplab.resumed_from_step"] == str(continued)
    assert trial.data.tags["sweeplab.reports"] == "8"
    assert trial.data.tags["sweeplab.stopped_early"] == "false"
    # Only the last checkpoint is left in the trial's folder.
    assert len(list(trial_dir.glob("checkpoint_*"))) == 1

    # Killed again after the trial finished but before Ray saved its record of the end (Ray
    # saves it on its own period): the record says running. The trial is not trained on.
    history, ended = _steps(client, trial.info.run_id), trial.info.end_time
    max(exp_dir.glob("experiment_state-*.json")).write_bytes(old_record)  # the one Ray reads
    mark = len(log.read_text())
    assert _run(["resume", "lag"], tmp_path, log) == 0, log.read_text()[-4000:]
    assert "had ended (step 64) before the driver was killed" in log.read_text()[mark:]
    assert "step   72" not in log.read_text()[mark:]
    again = client.get_run(trial.info.run_id)
    assert (again.info.status, again.info.end_time) == ("FINISHED", ended)
    assert _steps(client, trial.info.run_id) == history
