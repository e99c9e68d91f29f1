"""Faults, for real: the sweep driver SIGKILLed (whole process group) at random points and
resumed; the tracking server stopped for 60 s mid-sweep; trials that raise, run out of
memory or diverge; eight trials at once on the SQLite default."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers import (
    SET_METRICS,
    clean_env,
    free_port,
    small_sweep_config,
    start_server,
    start_sweeplab,
    sweep_runs,
)

pytestmark = pytest.mark.integration


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


def _start_server(tmp_path: Path, port: int) -> subprocess.Popen:
    return start_server(tmp_path, port, log=(tmp_path / "server.log").open("a"))


def test_tracking_server_outage_mid_sweep(tmp_path, demo_assets):
    """The server is stopped for 60 s while trials run: no crash, nothing lost, no ghosts."""
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
        time.sleep(60)
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
