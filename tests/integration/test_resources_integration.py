"""Out of a resource, for real: the sweep's storage is a small filesystem (a tmpfs this test
mounts) that fills up mid-trial. The driver stops with one line naming the lack of space and
the folder, exit 4, no traceback; with the space freed, `sweeplab resume NAME --retry-failed`
finishes every trial once, nothing logged twice, the outbox empty."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers import SET_METRICS, small_sweep_config, start_sweeplab, sweep_runs, sweeplab_cmd

pytestmark = pytest.mark.integration


@pytest.fixture
def small_fs(tmp_path):
    """A 48 MiB tmpfs at tmp_path/small (root and a kernel that allows mounts)."""
    where = tmp_path / "small"
    where.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(where)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> Path:
    """Write zeros into `folder` until its filesystem is full; the file that holds them."""
    filler = folder / "filler"
    block = b"\0" * (1 << 20)
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(block)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_mid_trial_is_one_line_and_resumes(tmp_path, demo_assets, small_fs):
    t0 = time.time()
    path = small_sweep_config(tmp_path, demo_assets, scheduler={"kind": "fifo"})
    doc = yaml.safe_load(path.read_text())
    doc["data"]["eval_size"] = {"alpaca": 4, "dolly": 4, "openorca": 4}
    doc["generation"] = {"max_new_tokens": 8, "batch_size": 4}
    path.write_text(yaml.safe_dump(doc))
    storage = str(small_fs / "ray")
    log = tmp_path / "driver.log"
    # Given a sweep whose storage fills up once the first trial has reported (step 8) ...
    proc = start_sweeplab(["sweep", str(path), "--storage", storage], tmp_path, log)
    try:
        deadline = time.time() + 600
        while "objective=" not in log.read_text() and time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.2)
        filler = _fill(small_fs)
        rc = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stopped = time.time() - t0
    # ... the driver stops: exit 4, the last line says what ran out and where, no traceback.
    text = log.read_text()
    last = text.strip().splitlines()[-1]
    assert rc == 4, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "out of disk space" in last and str(small_fs) in last, last
    assert "sweeplab resume itest --retry-failed" in last, last
    assert not list(Path(storage).rglob("*.tmp")), "a torn outbox entry"
    # When the space is freed, resume finishes every trial, each once, no step twice.
    filler.unlink()
    done = subprocess.run(
        sweeplab_cmd("resume", "itest", "--storage", storage, "--retry-failed"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parents, trials = sweep_runs(client, "itest")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    ids = [t.data.tags["sweeplab.trial_id"] for t in trials]
    assert len(ids) == 2 == len(set(ids)), ids
    for t in trials:
        assert t.info.status == "FINISHED", (t.info.run_name, t.info.status)
        for key in ("objective", *SET_METRICS):
            steps = [m.step for m in client.get_metric_history(t.info.run_id, key)]
            assert sorted(steps) == [8, 16], (t.info.run_name, key, steps)
    outbox = Path(storage) / "itest" / "sweeplab" / "outbox"
    assert not [p for p in outbox.iterdir() if p.name != "failed"], list(outbox.iterdir())
    print(f"full disk: driver stopped {stopped:.0f}s in; total {time.time() - t0:.0f}s")
