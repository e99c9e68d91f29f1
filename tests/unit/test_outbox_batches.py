"""The outbox sends a trial's consecutive metrics, points and tags in one store call, and
what the store ends up holding is what sending them one by one would give."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from mlflow_server.outbox import Outbox
from mlflow_server.tracking import Tracker


def _quiet() -> object:
    return open("/dev/null", "w")  # noqa: SIM115


def _left_by_a_driver(root: Path, tmp_path: Path, monkeypatch, writes: list[tuple]) -> None:
    """`writes` (kind, trial, payload) queued by a driver whose store was down: on disk,
    unsent, for the next outbox to send at once (as `sweeplab resume` does)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = Outbox(Tracker(f"http://127.0.0.1:{port}", tmp_path), root, "p", out=_quiet())
    for kind, trial, payload in writes:
        down.put(kind, trial, **payload)
    down.close()
    assert down.pending() == len(writes) and down.sent == 0


def _store_and_table(tmp_path: Path, mlflow_uri: str) -> tuple[Tracker, str, Path, Path]:
    """(tracker, a sweep's parent run, an outbox folder, a one-row table file)."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"id": ["a"], "meteor": [0.1]}))
    return tracker, parent, tmp_path / "outbox", table


def _points(first: int, last: int, loss: float) -> dict:
    points = [
        {"step": s, "timestamp": 100 + s, "metrics": {"train/loss": loss - s / 100}}
        for s in range(first, last + 1)
    ]
    return {"points": points, "dedupe_key": "train/loss"}


def test_a_trials_results_go_in_one_call_and_land_as_one_by_one(tmp_path, mlflow_uri, monkeypatch):
    tracker, parent, root, table = _store_and_table(tmp_path, mlflow_uri)
    writes = [
        ("trial", "t1", {"params": {"lora_r": 8}, "run_name": "r8"}),
        ("metrics", "t1", {"metrics": {"objective": 0.5}, "step": 5, "timestamp": 1}),
        ("points", "t1", _points(1, 5, 2.0)),
        ("tags", "t1", {"tags": {"sweeplab.rung.1": "keep", "sweeplab.stop_reason": "-"}}),
        (
            "metrics",
            "t1",
            {"metrics": {"objective": 0.6, "x/nan": float("nan")}, "step": 10, "timestamp": 2},
        ),
        ("points", "t1", _points(4, 10, 2.0)),  # steps 4 and 5 again: not logged twice
        ("metrics", "t1", {"metrics": {"objective": 0.9}, "step": 10, "timestamp": 3}),
        ("tags", "t1", {"tags": {"sweeplab.stop_reason": "rung 2: stop"}}),  # later wins
        ("table", "t1", {"files": {"table.json": table}, "artifact_file": "eval/p.json"}),
        ("metrics", "t1", {"metrics": {"objective": 0.7}, "step": 15, "timestamp": 4}),
        ("end", "t1", {"status": "FINISHED"}),
    ]
    _left_by_a_driver(root, tmp_path, monkeypatch, writes)

    box = Outbox(tracker, root, parent, out=_quiet())
    assert box.flush(60) and box.pending() == 0
    box.close()
    # trial | results, points, tags and the table (its file first, its listing in the call) | end
    assert box.sent == len(writes) and box.calls == 3

    (run,) = tracker.trial_runs(parent)
    run_id = run.info.run_id
    objective = tracker.client.get_metric_history(run_id, "objective")
    assert [(m.step, m.value) for m in objective] == [(5, 0.5), (10, 0.6), (15, 0.7)]
    loss = tracker.client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in loss] == list(range(1, 11))
    assert "x/nan" not in run.data.metrics  # a result's non-finite value is left out
    assert run.data.tags["sweeplab.rung.1"] == "keep"
    assert run.data.tags["sweeplab.stop_reason"] == "rung 2: stop"
    assert run.info.status == "FINISHED"
    listed = json.loads(run.data.tags["mlflow.loggedArtifacts"])
    assert listed == [{"path": "eval/p.json", "type": "table"}]
    got = tracker.client.download_artifacts(run_id, "eval/p.json", str(tmp_path))
    assert json.loads(Path(got).read_text()) == {"columns": ["id", "meteor"], "data": [["a", 0.1]]}


def test_a_refused_write_in_a_group_is_set_aside_alone(tmp_path, mlflow_uri, monkeypatch):
    """The store refuses one write of a group: the others are delivered, that one alone is
    kept aside (as it would be sent alone), and the sender goes back to grouping."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    root = tmp_path / "outbox"
    writes = [
        ("trial", "t1", {"params": {}, "run_name": "r"}),
        ("metrics", "t1", {"metrics": {"objective": 0.5}, "step": 5, "timestamp": 1}),
        ("metrics", "t1", {"metrics": {"bad?name": 1.0}, "step": 6, "timestamp": 2}),
        ("metrics", "t1", {"metrics": {"objective": 0.7}, "step": 15, "timestamp": 3}),
        ("end", "t1", {"status": "FINISHED"}),
        ("trial", "t2", {"params": {}, "run_name": "r2"}),
        ("metrics", "t2", {"metrics": {"objective": 0.1}, "step": 5, "timestamp": 1}),
        ("metrics", "t2", {"metrics": {"objective": 0.2}, "step": 10, "timestamp": 2}),
    ]
    _left_by_a_driver(root, tmp_path, monkeypatch, writes)

    box = Outbox(tracker, root, parent, out=_quiet())
    assert box.flush(60) and box.pending() == 0
    box.close()
    assert box.parked() == 1 and len(box.dropped) == 1 and "bad?name" in box.dropped[0]
    assert box.sent == len(writes) - 1
    runs = {r.data.tags["sweeplab.trial_id"]: r.info.run_id for r in tracker.trial_runs(parent)}
    for trial, steps in (("t1", [5, 15]), ("t2", [5, 10])):
        history = tracker.client.get_metric_history(runs[trial], "objective")
        assert [m.step for m in history] == steps
    # t1: its trial, steps 5 and 15 one by one after the refusal, its end; t2: its trial,
    # then both results in one call again
    assert box.calls == 6


def test_a_table_is_listed_even_when_the_first_call_fails(tmp_path, mlflow_uri, monkeypatch):
    """The table's file is written, then the call carrying its listing fails (the store is
    locked for a moment): the retry lists it; nothing counted as listed before it was."""
    from mlflow.exceptions import MlflowException

    tracker, parent, root, table = _store_and_table(tmp_path, mlflow_uri)
    writes = [
        ("trial", "t1", {"params": {}, "run_name": "r"}),
        ("metrics", "t1", {"metrics": {"objective": 0.5}, "step": 5, "timestamp": 1}),
        ("table", "t1", {"files": {"table.json": table}, "artifact_file": "eval/p5.json"}),
    ]
    _left_by_a_driver(root, tmp_path, monkeypatch, writes)
    real, failed = tracker.log_batch, []

    def locked_once(run_id, metrics, tags):
        if tags and not failed:
            failed.append(tags)
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return real(run_id, metrics, tags)

    tracker.log_batch = locked_once
    box = Outbox(tracker, root, parent, out=_quiet(), retry_wait=(0.05, 0.4))
    assert box.flush(60) and box.pending() == 0 and box.parked() == 0
    box.close()
    assert failed and "mlflow.loggedArtifacts" in failed[0]
    (run,) = tracker.trial_runs(parent)
    listed = json.loads(run.data.tags["mlflow.loggedArtifacts"])
    assert listed == [{"path": "eval/p5.json", "type": "table"}]


def test_a_run_that_ended_takes_its_new_steps_tables_not_a_final_one(tmp_path, mlflow_uri):
    """Ray's record (saved on its own period) can be older than MLflow: a trial whose run
    ended is run on, and the steps its run lacks are logged with their tables, so every
    logged step has its table; its final table, tags and end stay as they were."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"id": ["a"], "meteor": [0.1]}))
    first = Outbox(tracker, tmp_path / "a", parent, out=_quiet())
    first.put("trial", "t1", params={}, run_name="r")
    first.put("result", "t1", metrics={"objective": 0.5}, step=8, timestamp=1, series=[])
    first.put(
        "table", "t1", files={"table.json": table}, artifact_file="eval/predictions_step8.json"
    )
    first.put("tags", "t1", tags={"sweeplab.reports": "1"})
    first.put("end", "t1", status="FINISHED")
    assert first.flush(60)
    first.close()

    again = Outbox(tracker, tmp_path / "b", parent, out=_quiet())
    again.put("trial", "t1", params={}, run_name="r")
    again.put("result", "t1", metrics={"objective": 0.7}, step=16, timestamp=5, series=[])
    again.put(
        "table", "t1", files={"table.json": table}, artifact_file="eval/predictions_step16.json"
    )
    again.put("table", "t1", files={"table.json": table}, artifact_file="eval/predictions.json")
    again.put("tags", "t1", tags={"sweeplab.reports": "2"})
    again.put("end", "t1", status="FINISHED")
    assert again.flush(60) and again.parked() == 0
    again.close()
    (run,) = tracker.trial_runs(parent)
    tables = {a.path for a in tracker.client.list_artifacts(run.info.run_id, "eval")}
    assert tables == {"eval/predictions_step8.json", "eval/predictions_step16.json"}
    assert run.data.tags["sweeplab.reports"] == "1"
    history = tracker.client.get_metric_history(run.info.run_id, "objective")
    assert [m.step for m in history] == [8, 16]
