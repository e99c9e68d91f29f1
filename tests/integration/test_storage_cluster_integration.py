"""A sweep on a two-node Ray cluster (a head and a worker, each its own `ray start`) with
its storage on an S3-compatible server (moto): the driver is SIGKILLed after the first
trial result and `sweeplab resume NAME --storage URI` from a fresh project directory
finishes it, one MLflow run per trial."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from sweeps.run.state import BASE_CACHE_ENV
from tests.helpers import (
    SET_METRICS,
    clean_env,
    free_port,
    ray_temp_dir,
    small_sweep_config,
    stop_ray,
    sweep_runs,
    sweeplab_cmd,
)

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
BUCKET = "sweeps"


def _moto(port: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError("moto server did not start")


def _ray_start(env: dict, temp_dir: str, *args: str) -> None:
    start = subprocess.run(
        [str(BIN / "ray"), "start", f"--temp-dir={temp_dir}", "--disable-usage-stats", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert start.returncode == 0, start.stderr[-2000:]


def _config(tmp_path: Path, assets) -> Path:
    """Two trials at test size, placed by a custom resource only the worker node has."""
    path = small_sweep_config(tmp_path, assets, scheduler={"kind": "fifo"})
    doc = yaml.safe_load(path.read_text())
    doc["data"]["eval_size"] = {"alpaca": 8, "dolly": 8, "openorca": 8}
    doc["generation"] = {"max_new_tokens": 16, "batch_size": 8}
    doc["search"]["resources"] = {"cpu": 1, "gpu": 0, "custom": {"worker": 1}}
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kill_and_resume_elsewhere_on_two_nodes_with_s3_storage(tmp_path, demo_assets):
    t0 = time.time()
    timeline: list[str] = []

    def mark(what: str) -> None:
        timeline.append(f"{time.time() - t0:6.1f}s  {what}")

    s3_port, ray_port = free_port(), free_port()
    env = clean_env(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN=secrets.token_hex(32),
        **{BASE_CACHE_ENV: ""},  # each "machine" its own cache: the resume reads the record's
    )
    env.pop("RAY_ADDRESS", None)
    temp_dir = ray_temp_dir()
    moto = _moto(s3_port, tmp_path / "moto.log")
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)
        storage = f"s3://{BUCKET}/team?endpoint_override=127.0.0.1:{s3_port}&scheme=http"
        mark("S3 server up, bucket created")
        head = ["--head", f"--port={ray_port}", "--num-cpus=1", "--include-dashboard=false"]
        _ray_start(env, temp_dir, *head, '--resources={"head": 1}')
        _ray_start(env, temp_dir, f"--address=127.0.0.1:{ray_port}", "--num-cpus=2",
                   '--resources={"worker": 2}')  # fmt: skip
        mark("head and worker nodes started")
        _sweep_killed_then_resumed(tmp_path, demo_assets, env, storage, ray_port, mark)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert "team/s3sweep/sweeplab/config.json" in keys
        assert any(k.startswith("team/s3sweep/experiment_state-") for k in keys)
        assert any("/checkpoint_" in k for k in keys)  # Ray's checkpoints went to S3
        # The base model's scores are kept with the record: the resume did not score again.
        assert any(k.startswith("team/s3sweep/sweeplab/base-") for k in keys)
        _confirmed_on_s3(tmp_path / "machine-b", env, storage, ray_port, demo_assets)
        mark("confirmed on S3 (2 configurations x 2 seeds)")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
        assert "team/s3sweep-confirm/sweeplab/confirm.json" in keys
        assert any(k.startswith("team/s3sweep-confirm/experiment_state-") for k in keys)
        assert not [k for k in keys if k.endswith(".sweeplab.lease")]  # given back
    finally:
        stop_ray(temp_dir)
        os.killpg(moto.pid, signal.SIGKILL)
        print("\n".join(["storage test timeline:", *timeline]))


def _confirmed_on_s3(project: Path, env, storage, ray_port, assets) -> None:
    """`sweeplab confirm` of the sweep on S3, from machine B: replicates as child runs."""
    address = ["--storage", storage, "--ray-address", f"127.0.0.1:{ray_port}"]
    done = subprocess.run(
        sweeplab_cmd("confirm", "s3sweep", "--top", "1", "--seeds", "2", *address),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    assert not (project / "runs" / "ray").exists()  # Ray's files went to S3
    client = MlflowClient(
        tracking_uri=f"sqlite:///{project.parent / 'machine-a' / 'runs' / 'mlflow.db'}"
    )
    _, runs = sweep_runs(client, "s3sweep")
    reps = [r for r in runs if r.data.tags.get("sweeplab.role") == "confirm"]
    assert len(reps) in (2, 4) and all(r.info.status == "FINISHED" for r in reps), done.stdout
    assert sorted({r.data.params["train.seed"] for r in reps}) == ["1", "2"]


def _sweep_killed_then_resumed(tmp_path, assets, env, storage, ray_port, mark) -> None:
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    first.mkdir()
    second.mkdir()
    cfg = _config(first, assets)
    address = ["--storage", storage, "--ray-address", f"127.0.0.1:{ray_port}"]
    log = first / "driver.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            sweeplab_cmd("sweep", str(cfg), "--name", "s3sweep", *address),
            cwd=first,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.time() + 900
        while "objective=" not in log.read_text() and time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-4000:]
            time.sleep(0.3)
        assert "objective=" in log.read_text(), log.read_text()[-4000:]
        mark("first trial result; driver SIGKILLed")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    text = log.read_text()
    assert "checked 1 node(s)" in text, text[-3000:]  # only the worker holds `worker`
    # Machine B: a fresh project directory, the same storage and tracking store.
    resume = subprocess.run(
        sweeplab_cmd("resume", "s3sweep", *address),
        cwd=second,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    mark("resumed from a fresh directory; sweep finished")
    assert resume.returncode == 0, resume.stderr[-3000:] + resume.stdout[-3000:]
    assert not (second / "runs" / "ray").exists()  # nothing of Ray's kept locally
    assert "checked 1 node(s)" in resume.stdout
    # The killed driver's lease on S3 was fresh, but its process on this machine is gone.
    assert f"taking over the lock of pid {proc.pid}" in resume.stdout, resume.stdout[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{first / 'runs' / 'mlflow.db'}")
    parents, trials = sweep_runs(client, "s3sweep")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    ids = [t.data.tags["sweeplab.trial_id"] for t in trials]
    assert len(ids) == 2 == len(set(ids)), ids  # exactly one run per trial
    for t in trials:
        assert t.info.status == "FINISHED", (t.info.run_name, t.info.status)
        history = client.get_metric_history(t.info.run_id, "objective")
        assert sorted(m.step for m in history) == [8, 16], t.info.run_name
        assert set(SET_METRICS) <= set(t.data.metrics)
        adapter = {a.path for a in client.list_artifacts(t.info.run_id, "adapter")}
        assert "adapter/adapter_model.safetensors" in adapter  # downloaded from S3
    config = json.loads(
        (Path(client.download_artifacts(parents[0].info.run_id, "sweep_config.json"))).read_text()
    )
    assert config["name"] == "s3sweep"


def _kill_node(temp_dir: str) -> int:
    """SIGKILL the worker node's raylet (the one not started `--head`) and its workers (the
    trials' processes); how many processes were killed."""
    import psutil

    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if cmd and cmd[0].endswith("raylet") and "--head" not in cmd:
            if any(temp_dir in arg for arg in cmd):
                procs = [p, *p.children(recursive=True)]
                for q in procs:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        q.kill()
                psutil.wait_procs(procs, timeout=30)
                return len(procs)
    raise AssertionError("no worker raylet found")


def test_a_worker_node_killed_mid_trial_and_restarted(tmp_path, demo_assets):
    """Two `ray start` nodes on loopback; the worker node (raylet and trial processes)
    SIGKILLed after the first result and started again: Ray retries the trials from their
    checkpoints (`search.max_failures`), the sweep finishes, one run per trial, no step
    logged twice."""
    t0 = time.time()
    ray_port = free_port()
    env = clean_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    env.pop("RAY_ADDRESS", None)
    temp_dir = ray_temp_dir()
    cfg = _config(tmp_path, demo_assets)
    doc = yaml.safe_load(cfg.read_text())
    doc["search"]["max_failures"] = 2
    cfg.write_text(yaml.safe_dump(doc))
    worker = [f"--address=127.0.0.1:{ray_port}", "--num-cpus=2", '--resources={"worker": 2}']
    log = tmp_path / "driver.log"
    try:
        head = ["--head", f"--port={ray_port}", "--num-cpus=1", "--include-dashboard=false"]
        _ray_start(env, temp_dir, *head, '--resources={"head": 1}')
        _ray_start(env, temp_dir, *worker)
        with log.open("w") as fh:
            proc = subprocess.Popen(
                sweeplab_cmd("sweep", str(cfg), "--name", "nodeloss", "--storage",
                             str(tmp_path / "shared"), "--ray-address", f"127.0.0.1:{ray_port}"),
                cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            deadline = time.time() + 600
            while "objective=" not in log.read_text() and time.time() < deadline:
                assert proc.poll() is None, log.read_text()[-4000:]
                time.sleep(0.3)
            killed = _kill_node(temp_dir)
            died = time.time() - t0
            time.sleep(5)
            _ray_start(env, temp_dir, *worker)  # the node comes back
            rc = proc.wait(timeout=900)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        text = log.read_text()
        assert rc == 0, text[-4000:]
        assert "retrying from its last checkpoint" in text, text[-4000:]
    finally:
        stop_ray(temp_dir)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parents, trials = sweep_runs(client, "nodeloss")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    ids = [t.data.tags["sweeplab.trial_id"] for t in trials]
    assert len(ids) == 2 == len(set(ids)), ids  # exactly one run per trial
    for t in trials:
        assert t.info.status == "FINISHED", (t.info.run_name, t.info.status)
        for key in ("objective", *SET_METRICS):
            steps = [m.step for m in client.get_metric_history(t.info.run_id, key)]
            assert sorted(steps) == [8, 16], (t.info.run_name, key, steps)
    print(f"node loss: {killed} processes killed at {died:.0f}s; done in {time.time() - t0:.0f}s")
