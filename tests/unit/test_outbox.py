"""The tracking outbox and patient tracker: ordered, durable, retried, idempotent."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from mlflow_server.outbox import Outbox
from mlflow_server.tracking import Tracker, is_transient, retry_transient

DOWN = MlflowException(
    "API request to http://127.0.0.1:1/api/2.0/mlflow/runs/create failed with exception "
    "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded (Connection refused)"
)


def test_transient_or_not():
    assert is_transient(DOWN)
    assert is_transient(MlflowException("(sqlite3.OperationalError) database is locked"))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(MlflowException("INVALID_PARAMETER_VALUE: bad metric name"))
    assert not is_transient(ValueError("Connection refused"))  # not from the tracking client


def test_retry_transient_waits_then_gives_up(capsys):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise DOWN
        return "ok"

    assert retry_transient(flaky, patience=10) == "ok" and len(calls) == 3
    assert "tracking store unreachable" in capsys.readouterr().err
    with pytest.raises(MlflowException, match="bad metric"):  # not transient: at once
        retry_transient(lambda: (_ for _ in ()).throw(MlflowException("bad metric")), 10)
    with pytest.raises(MlflowException, match="Max retries"):  # patience spent
        retry_transient(lambda: (_ for _ in ()).throw(DOWN), patience=0.2)


def test_a_retried_run_creation_leaves_no_ghost(tmp_path, mlflow_uri):
    """The request reached the store but the reply was lost: the retry finds that run."""
    tracker = Tracker(mlflow_uri, tmp_path, patience=30)
    parent = tracker.start_sweep("s", {}, {})
    real, lost = tracker._raw.create_run, []

    def create_then_lose_the_reply(*args, **kwargs):
        run = real(*args, **kwargs)
        if not lost:
            lost.append(run.info.run_id)
            raise DOWN
        return run

    tracker._raw.create_run = create_then_lose_the_reply
    run_id = tracker.start_trial(parent, "t1", {"lora_r": 8}, "trial-t1")
    assert run_id == lost[0]
    assert [r.info.run_id for r in tracker.trial_runs(parent)] == [run_id]
    assert tracker.start_sweep("s", {}, {}) == parent  # the sweep's run too: found again


def _outbox(tracker: Tracker, root: Path, parent: str) -> Outbox:
    return Outbox(tracker, root, parent, out=open("/dev/null", "w"))  # noqa: SIM115


def test_outbox_sends_in_order_and_replays_without_duplicates(tmp_path, mlflow_uri):
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    root = tmp_path / "outbox"
    box = _outbox(tracker, root, parent)
    box.put("trial", "t1", params={"lora_r": 8}, run_name="trial-t1")
    box.put("metrics", "t1", metrics={"objective": 0.5, "alpaca/meteor": 0.4}, step=8, timestamp=1)
    # A resumed trial reports step 8 again (other values, later): the first one stays.
    box.put("metrics", "t1", metrics={"objective": 0.9}, step=8, timestamp=2)
    box.put("metrics", "t1", metrics={"objective": 0.6}, step=16, timestamp=3)
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"id": ["a", "b"], "meteor": [0.1, 0.2]}))
    box.put("table", "t1", files={"table.json": table}, artifact_file="eval/predictions.json")
    table.unlink()  # the outbox kept its own copy
    box.put("tags", "t1", tags={"sweeplab.reports": "2"})
    box.put("end", "t1", status="FINISHED")
    box.put("metrics", None, metrics={"base/alpaca/meteor": 0.1}, step=0, timestamp=4)
    assert box.flush(60) and box.pending() == 0
    box.close()

    (run,) = tracker.trial_runs(parent)
    history = tracker.client.get_metric_history(run.info.run_id, "objective")
    assert [(m.step, m.value) for m in history] == [(8, 0.5), (16, 0.6)]
    assert run.info.status == "FINISHED" and run.data.tags["sweeplab.reports"] == "2"
    assert run.data.params["lora_r"] == "8"
    got = tracker.client.download_artifacts(run.info.run_id, "eval/predictions.json", tmp_path)
    assert json.loads(Path(got).read_text())["data"] == [["a", 0.1], ["b", 0.2]]
    assert tracker.client.get_run(parent).data.metrics["base/alpaca/meteor"] == 0.1

    # A driver killed after sending but before deleting an entry, and one killed while
    # writing one: the next driver replays the first harmlessly and drops the second.
    root.mkdir(exist_ok=True)
    (root / "00000042").mkdir()
    (root / "00000042" / "entry.json").write_text(
        json.dumps(
            {
                "kind": "metrics",
                "trial_id": "t1",
                "files": [],
                "metrics": {"objective": 0.5},
                "step": 8,
                "timestamp": 1,
            }
        )
    )
    (root / "00000043.tmp").mkdir()
    box = _outbox(Tracker(mlflow_uri, tmp_path), root, parent)
    assert box.flush(60)
    box.close()
    assert not list(root.iterdir())
    history = tracker.client.get_metric_history(run.info.run_id, "objective")
    assert [(m.step, m.value) for m in history] == [(8, 0.5), (16, 0.6)]
    assert len(tracker.trial_runs(parent)) == 1


def test_outbox_keeps_writes_on_disk_while_the_store_is_down(tmp_path, mlflow_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path / "outbox"
    down = _outbox(Tracker(f"http://127.0.0.1:{port}", tmp_path), root, "no-such-parent")
    down.put("metrics", None, metrics={"base/alpaca/meteor": 0.25}, step=0, timestamp=7)
    assert not down.flush(3) and down.pending() == 1
    assert down.outage_since is not None
    down.close()
    assert down.pending() == 1  # still on disk after the sender stopped

    # The store is back (here: another one): the same entries are sent from disk.
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    up = _outbox(tracker, root, parent)
    assert up.flush(60) and up.sent == 1
    up.close()
    assert tracker.client.get_run(parent).data.metrics == {"base/alpaca/meteor": 0.25}


def test_a_write_the_store_refuses_is_kept_aside(tmp_path, mlflow_uri):
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    box = _outbox(tracker, tmp_path / "outbox", parent)
    box.put("metrics", "never-started", metrics={"objective": 1.0}, step=8, timestamp=1)
    box.put("metrics", None, metrics={"base/x": 1.0}, step=0, timestamp=1)
    assert box.flush(60)
    box.close()
    assert len(box.dropped) == 1 and "never-started" in box.dropped[0]
    assert (tmp_path / "outbox" / "failed").is_dir()
    assert tracker.client.get_run(parent).data.metrics == {"base/x": 1.0}
    shutil.rmtree(tmp_path / "outbox")


def test_a_run_that_ended_is_left_as_it_is(tmp_path, mlflow_uri):
    """Ray's snapshot can be older than MLflow: a trial it restarts may already have ended
    in MLflow. Its run keeps its end time, tags and artifacts; only missing steps go in."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    box = _outbox(tracker, tmp_path / "a", parent)
    box.put("trial", "t1", params={"lora_r": 8}, run_name="trial-t1")
    box.put("metrics", "t1", metrics={"objective": 0.5}, step=8, timestamp=1)
    box.put("end", "t1", status="FINISHED")
    assert box.flush(60)
    box.close()
    (before,) = tracker.trial_runs(parent)

    again = _outbox(tracker, tmp_path / "b", parent)
    again.put("trial", "t1", params={"lora_r": 8}, run_name="trial-t1")
    again.put("metrics", "t1", metrics={"objective": 0.7}, step=8, timestamp=5)
    again.put("metrics", "t1", metrics={"objective": 0.8}, step=16, timestamp=6)
    again.put("tags", "t1", tags={"sweeplab.reports": "9"})
    again.put("end", "t1", status="FINISHED")
    assert again.flush(60)
    again.close()
    (after,) = tracker.trial_runs(parent)
    assert after.info.status == "FINISHED" and after.info.end_time == before.info.end_time
    assert "sweeplab.reports" not in after.data.tags
    history = tracker.client.get_metric_history(after.info.run_id, "objective")
    assert [(m.step, m.value) for m in history] == [(8, 0.5), (16, 0.8)]
