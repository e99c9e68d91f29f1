"""Nothing lost, nobody in, for real: two drivers on one sweep name; a tracking server
whose admin password is rotated mid-sweep (every write refused with 401) and then put
back; base metrics logged once however often a sweep is continued."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.helpers import (
    clean_env,
    free_port,
    small_sweep_config,
    start_sweeplab,
    sweep_runs,
    sweeplab_cmd,
    wait_healthy,
)

pytestmark = pytest.mark.integration


def _wait_for(log: Path, text: str, timeout: float, mark: int = 0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if log.exists() and text in log.read_text(errors="replace")[mark:]:
            return True
        time.sleep(0.3)
    return False


def _finish(proc: subprocess.Popen, timeout: float = 900) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_two_drivers_on_one_name_and_base_metrics_once(tmp_path, demo_assets):
    cfg = small_sweep_config(tmp_path, demo_assets)
    log = tmp_path / "first.log"
    first = start_sweeplab(["sweep", str(cfg), "--name", "twice"], tmp_path, log)
    try:
        assert _wait_for(log, "preparing data", 300), log.read_text()[-2000:]
        for args in (["resume", "twice"], ["sweep", str(cfg), "--name", "twice"]):
            second = subprocess.run(
                sweeplab_cmd(*args), cwd=tmp_path, env=clean_env(), capture_output=True, text=True
            )
            err = second.stderr.strip()
            assert second.returncode == 2 and err.count("\n") == 0, err
            assert f"is being run by pid {first.pid}" in err, err
        assert _finish(first) == 0, log.read_text()[-3000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    # Continued twice more: the parent run's base metrics keep their single point.
    for _ in range(2):
        again = start_sweeplab(["resume", "twice"], tmp_path, log)
        assert _finish(again) == 0, log.read_text()[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (parent,), trials = sweep_runs(client, "twice")
    base = [k for k in parent.data.metrics if k.startswith("base/")]
    assert base and all(len(client.get_metric_history(parent.info.run_id, k)) == 1 for k in base)
    assert (
        len(trials) == 2 and not (tmp_path / "runs" / "ray" / "twice" / ".sweeplab.lock").exists()
    )


def _admin_call(url: str, password: str, path: str, body: dict) -> int:
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    req = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        method="PATCH",
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_a_store_that_refuses_writes_then_accepts_them(tmp_path, demo_assets):
    """Mid-sweep the admin password is rotated: every write gets 401. The driver holds and
    says so; once the password is back, everything arrives and the sweep exits 0."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    password, rotated = uuid.uuid4().hex, uuid.uuid4().hex
    env = {**clean_env(), "MLFLOW_AUTH_ADMIN_PASSWORD": password}
    server_log = tmp_path / "server.log"
    server = start_sweeplab(
        ["server", "--port", str(port), "--basic-auth"], tmp_path, server_log, env
    )
    driver = None
    try:
        wait_healthy(url, server, 180)
        time.sleep(5)  # the start-up probe of the default admin password has run
        assert "public default" not in server_log.read_text()
        cfg = small_sweep_config(tmp_path, demo_assets)
        log = tmp_path / "driver.log"
        denv = {**clean_env(), "MLFLOW_TRACKING_USERNAME": "admin"}
        denv["MLFLOW_TRACKING_PASSWORD"] = password
        driver = start_sweeplab(
            ["sweep", str(cfg), "--name", "rot", "--tracking-uri", url], tmp_path, log, denv
        )

        def seen() -> str:  # both sides, for a failure's message
            return log.read_text()[-3000:] + "\n--- server ---\n" + server_log.read_text()[-3000:]

        # Rotated as soon as the trials start: every write of theirs meets a 401.
        assert _wait_for(log, ": started", 600), seen()
        path = "/api/2.0/mlflow/users/update-password"
        change = {"username": "admin", "password": rotated, "current_password": password}
        assert _admin_call(url, password, path, change) == 200
        assert _wait_for(log, "refuses our credentials (HTTP 401", 300), seen()
        time.sleep(20)  # refused for a while (the driver prints nothing more meanwhile)
        assert driver.poll() is None, seen()
        back = {"username": "admin", "password": password, "current_password": rotated}
        assert _admin_call(url, rotated, path, back) == 200
        assert _finish(driver) == 0, seen()
        text = log.read_text()
        assert "back after" in text and "refused by the store" not in text
        assert password not in text and rotated not in text
        client_env = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}
        os.environ.update(client_env)
        try:
            client = MlflowClient(tracking_uri=url)
            (parent,), trials = sweep_runs(client, "rot")
            assert parent.info.status == "FINISHED" and len(trials) == 2
            for t in trials:
                assert t.info.status == "FINISHED"
                steps = sorted(
                    m.step for m in client.get_metric_history(t.info.run_id, "objective")
                )
                assert steps and steps == sorted(set(steps))
                adapter = {a.path for a in client.list_artifacts(t.info.run_id, "adapter")}
                assert "adapter/adapter_model.safetensors" in adapter
        finally:
            for k in client_env:
                os.environ.pop(k, None)
        assert not list((tmp_path / "runs" / "ray" / "rot" / "sweeplab" / "outbox").iterdir())
    finally:
        for proc in (driver, server):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
