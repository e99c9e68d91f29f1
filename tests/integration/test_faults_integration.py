"""Faults, for real: the tracking server stopped for 60 s mid-sweep; trials that raise, run out
of memory or diverge; eight trials at once on the SQLite default. (The driver killed and
resumed: test_kills_integration.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.helpers import (
    clean_env,
    free_port,
    start_server,
    start_sweeplab,
    sweep_runs,
)
from tests.integration.sweep_faults import _assert_complete, _config, _run, _steps, _wait_for

pytestmark = pytest.mark.integration


OUTAGE_S = 25
"""How long the tracking server stays down: past a trial's next report (a few seconds here)."""


def _start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    return start_server(tmp_path, port, log=(tmp_path / "server.log").open("a"))


def test_tracking_server_outage_mid_sweep(tmp_path, demo_assets):
    """The server is stopped while trials run and report: no crash, nothing lost, no ghosts."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    server = _start_server(tmp_path, port)
    cfg = _config(tmp_path, demo_assets, **{"search.num_samples": 3})
    log = tmp_path / "driver.log"
    sweep = start_sweeplab(
        ["sweep", str(cfg), "--name", "outage", "--tracking-uri", uri], tmp_path, log
    )
    try:
        assert _wait_for(log, lambda t: "objective=" in t, 600), log.read_text()[-3000:]
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        down = time.time()
        # Down for a while trials run (the driver's writes wait meanwhile, on disk and in
        # its retries; it prints nothing then, so the outage is a duration, not an event).
        time.sleep(OUTAGE_S)
        assert sweep.poll() is None, "the sweep died while the server was down"
        server = _start_server(tmp_path, port)
        print(f"server was down {time.time() - down:.0f}s")
        assert sweep.wait(timeout=900) == 0, log.read_text()[-4000:]
        client = MlflowClient(tracking_uri=uri)
        _assert_complete(client, "outage", 3)
        assert "database is locked" not in log.read_text()
        # Resuming without --tracking-uri keeps logging to the sweep's server.
        assert _run(["resume", "outage"], tmp_path, log) == 0, log.read_text()[-3000:]
        assert not (tmp_path / "runs" / "mlflow.db").exists()
        _assert_complete(client, "outage", 3)
    finally:
        for proc in (sweep, server):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def test_failing_trials_are_failed_retried_and_the_sweep_goes_on(tmp_path, demo_assets):
    """A diverging trial, an OOM that a retry gets past, an exception every time."""
    space = {"lora.r": {"choice": [8, 16, 32]}, "train.learning_rate": {"choice": [0.01, 1e6]}}
    points = [
        {"lora.r": 8, "train.learning_rate": 1e6},  # NaN loss, for real
        {"lora.r": 16, "train.learning_rate": 0.01},  # OOM at step 16, once
        {"lora.r": 32, "train.learning_rate": 0.01},  # raises at step 8, every time
    ]
    cfg = _config(
        tmp_path,
        demo_assets,
        **{
            "search.space": space,
            "search.points_to_evaluate": points,
            "search.num_samples": 3,
            "search.max_failures": 1,
            "search.scheduler": {"kind": "fifo"},
        },
    )
    faults = {
        "state_dir": str(tmp_path / "faults"),
        "faults": [
            {"kind": "oom", "at_step": 16, "when": {"lora.r": 16}, "times": 1},
            {"kind": "exception", "at_step": 8, "when": {"lora.r": 32}, "times": 99},
        ],
    }
    log = tmp_path / "driver.log"
    env = clean_env(SWEEPLAB_FAULTS=json.dumps(faults))
    assert _run(["sweep", str(cfg), "--name", "faults"], tmp_path, log, env) == 0, log.read_text()[
        -4000:
    ]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parents, trials = sweep_runs(client, "faults")
    assert parents[0].info.status == "FINISHED" and len(trials) == 3
    by_r = {t.data.params["lora.r"]: t for t in trials}

    nan = by_r["8"]
    assert nan.info.status == "FAILED"
    assert "training loss became nan" in nan.data.tags["sweeplab.error"].lower()

    oom = by_r["16"]
    assert oom.info.status == "FINISHED"
    assert oom.data.tags["sweeplab.failures"] == "1"
    assert "out of memory" in oom.data.tags["sweeplab.last_error"]
    assert oom.data.tags["sweeplab.resumed_from_step"] == "8"
    assert _steps(client, oom.info.run_id) == [8, 16, 24]

    broken = by_r["32"]
    assert broken.info.status == "FAILED"
    assert "injected failure at step 8" in broken.data.tags["sweeplab.error"]
    assert (
        len(list((tmp_path / "faults" / f"{broken.data.tags['sweeplab.trial_id']}-1").iterdir()))
        == 2
    )
    text = log.read_text()
    assert "best trial" in text and text.count("FAILED:") == 2


def test_eight_concurrent_trials_on_the_sqlite_default(tmp_path, demo_assets):
    """Eight trials at once, a reader polling the same SQLite file: no 'database is locked'."""
    cfg = _config(
        tmp_path,
        demo_assets,
        **{
            "data.eval_size": {"alpaca": 4, "dolly": 4, "openorca": 4},
            "train.max_steps": 8,
            "train.report_every": 4,
            "train.batch_size": 4,
            "generation": {"max_new_tokens": 8, "batch_size": 4},
            "search.num_samples": 8,
            "search.max_concurrent": 8,
            "search.points_to_evaluate": [],
            # Eight distinct configurations: the searcher never proposes one twice.
            "search.space": {
                "lora.r": {"choice": [16, 32]},
                "mix.openorca": {"choice": [0.0, 0.3]},
                "mix.dolly": {"choice": [0.0, 0.2]},
            },
            "search.scheduler": {"kind": "fifo"},
            "search.resources": {"cpu": 0.25, "gpu": 0},
        },
    )
    log = tmp_path / "driver.log"
    db = tmp_path / "runs" / "mlflow.db"
    stop, errors, peak = threading.Event(), [], [0]

    def read_while_running():  # the MLflow UI's kind of load on the same file
        client = MlflowClient(tracking_uri=f"sqlite:///{db}")
        while not stop.is_set():
            try:
                exp = client.get_experiment_by_name("eight") if db.exists() else None
                if exp is not None:
                    runs = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
                    peak[0] = max(
                        peak[0], sum(r.data.tags.get("sweeplab.kind") == "trial" for r in runs)
                    )
            except Exception as exc:  # noqa: BLE001 - any failure here is the finding
                errors.append(str(exc))
            time.sleep(0.5)

    reader = threading.Thread(target=read_while_running, daemon=True)
    reader.start()
    try:
        rc = _run(["sweep", str(cfg), "--name", "eight"], tmp_path, log)
    finally:
        stop.set()
        reader.join(timeout=30)
    text = log.read_text()
    assert rc == 0, text[-4000:]
    assert "database is locked" not in text and not [e for e in errors if "locked" in e]
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    _, trials = sweep_runs(client, "eight")
    assert len(trials) == 8
    for t in trials:
        assert t.info.status == "FINISHED" and _steps(client, t.info.run_id) == [4, 8]
    assert peak[0] >= 6, f"only {peak[0]} trials ran at once"
