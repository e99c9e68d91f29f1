"""The tracking outbox and patient tracker: ordered, durable, retried, idempotent."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException, get_error_code

from mlflow_server.outbox import Outbox
from mlflow_server.retry import is_transient, retry_transient
from mlflow_server.tracking import Tracker

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


# --- nothing lost: the outbox cannot wedge ------------------------------------------------

UNAUTHORIZED = MlflowException(
    "API request to endpoint /api/2.0/mlflow/runs/log-batch failed with error code 401 != 200",
    error_code=get_error_code(401),
)


def _metric_put(box: Outbox, value: float, step: int = 0) -> None:
    box.put("metrics", None, metrics={f"base/m{step}": value}, step=step, timestamp=step + 1)


def test_refused_writes_get_unique_names_and_numbers_never_restart(tmp_path, mlflow_uri):
    """Two refused writes, then a new driver: parked names never collide, the sender
    lives on, and new numbers start above every number used before (parked ones too)."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    root = tmp_path / "outbox"
    box = _outbox(tracker, root, parent)
    box.put("metrics", "ghost-1", metrics={"objective": 1.0}, step=1, timestamp=1)
    box.put("metrics", "ghost-2", metrics={"objective": 1.0}, step=1, timestamp=1)
    _metric_put(box, 0.5)
    assert box.flush(60) and box.parked() == 2 and len(box.dropped) == 2
    box.close()
    assert sorted(p.name for p in (root / "failed").iterdir()) == ["00000001", "00000002"]

    # The next driver: the parked writes are queued again (and parked again), the new
    # write gets a number above all of them, and it is delivered.
    again = _outbox(tracker, root, parent)
    assert again.replayed == 2
    _metric_put(again, 0.7, step=1)
    assert again.flush(60) and again._thread.is_alive()
    again.close()
    assert again._seq > 3 and again.parked() == 2 and again.sent == 1
    assert tracker.client.get_run(parent).data.metrics == {"base/m0": 0.5, "base/m1": 0.7}


def _failing_then_sending(tmp_path, mlflow_uri, failures: list):
    """(tracker, parent run, outbox saying things to said.txt, that file): the tracker's
    metric and tag writes raise `failures` in turn (emptying the list), then go through."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    real = tracker.log_batch

    def flaky(*args, **kwargs):
        if failures:
            raise failures.pop(0)
        return real(*args, **kwargs)

    tracker.log_batch = flaky
    out = tmp_path / "said.txt"
    box = Outbox(tracker, tmp_path / "outbox", parent, out=out.open("w"), retry_wait=(0.05, 0.4))
    return tracker, parent, box, out


def test_a_store_that_refuses_then_accepts_loses_nothing(tmp_path, mlflow_uri):
    """401 (a rotated password), 429, a local error are held and retried, each reason said
    once as it appears, never parked; everything is delivered once the store takes writes."""
    failures = [UNAUTHORIZED, OSError("disk hiccup"), RuntimeError("?")]
    failures.insert(
        1, MlflowException("failed with error code 429", error_code=get_error_code(429))
    )
    tracker, parent, box, out = _failing_then_sending(tmp_path, mlflow_uri, failures)
    _metric_put(box, 0.1)
    _metric_put(box, 0.2, step=1)
    assert box.flush(90), box.problem
    box.close()
    assert box.parked() == 0 and box.sent == 2 and not failures
    said = out.read_text()
    assert "refuses our credentials (HTTP 401" in said and "holding" in said
    assert "back after" in said and "refused by the store" not in said
    assert said.count("holding") == 4 and said.count("back after") == 1
    assert tracker.client.get_run(parent).data.metrics == {"base/m0": 0.1, "base/m1": 0.2}


def test_a_changed_reason_is_said_again_and_a_repeated_one_is_not(tmp_path, mlflow_uri):
    """A server that is unreachable, then answers but refuses our credentials (a restart
    with a new password): the user hears both, each once, and then that it is back."""
    failures = [DOWN, DOWN, UNAUTHORIZED, UNAUTHORIZED, UNAUTHORIZED]
    _, _, box, out = _failing_then_sending(tmp_path, mlflow_uri, failures)
    _metric_put(box, 0.1)
    assert box.flush(120), box.problem
    box.close()
    lines = out.read_text().splitlines()
    assert [("unreachable" in x, "HTTP 401" in x, "back after" in x) for x in lines] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ], lines


def test_a_store_that_keeps_refusing_keeps_the_writes(tmp_path, mlflow_uri):
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    tracker.log_batch = lambda *a, **k: (_ for _ in ()).throw(UNAUTHORIZED)
    box = _outbox(tracker, tmp_path / "outbox", parent)
    _metric_put(box, 0.1)
    assert not box.flush(3)
    box.close()
    assert box.pending() == 1 and box.parked() == 0 and "HTTP 401" in box.problem


def test_a_torn_entry_is_not_a_refusal_and_the_trial_keeps_the_rest(tmp_path, mlflow_uri):
    """A power loss left a trial's first write empty: it is set aside as unreadable, and
    that trial's metrics and end status still reach the store (on a recovered run)."""
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    root = tmp_path / "outbox"
    (root / "00000001").mkdir(parents=True)
    (root / "00000001" / "entry.json").write_text("")  # torn
    (root / "00000002").mkdir()
    entry = {"kind": "metrics", "trial_id": "t9", "files": [], "step": 4, "timestamp": 1}
    (root / "00000002" / "entry.json").write_text(
        json.dumps({**entry, "metrics": {"objective": 2}})
    )
    (root / "00000003").mkdir()
    end = {"kind": "end", "trial_id": "t9", "files": [], "status": "FINISHED"}
    (root / "00000003" / "entry.json").write_text(json.dumps(end))
    out = tmp_path / "said.txt"
    box = Outbox(tracker, root, parent, out=out.open("w"))
    assert box.flush(60)
    box.close()
    said = out.read_text()
    assert "unreadable on disk" in said and "refused by the store" not in said
    assert box.parked() == 1 and box.sent == 2
    (run,) = tracker.trial_runs(parent)
    assert run.info.status == "FINISHED" and run.data.metrics == {"objective": 2.0}
    assert run.data.tags["sweeplab.recovered"] == "trial write torn"


def test_put_is_durable_before_it_returns(tmp_path, mlflow_uri, monkeypatch):
    """Each entry's files and folders are fsynced before and after its rename."""
    import os

    tracker = Tracker(mlflow_uri, tmp_path)
    box = _outbox(tracker, tmp_path / "outbox", tracker.start_sweep("s", {}, {}))
    box.close()
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    box.put("tags", None, texts={"note.txt": "x"}, tags={"a": "b"})
    assert len(synced) >= 4  # two files, the entry's folder, the outbox folder


def test_texts_of_an_artifacts_entry_are_sent_as_files(tmp_path, mlflow_uri):
    """The sweep's config goes out as text: it must land as the parent's artifact."""
    from mlflow_server.outbox import Outbox
    from mlflow_server.tracking import Tracker

    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    box = Outbox(tracker, tmp_path / "outbox", parent)
    box.put("artifacts", None, texts={"sweep_config.json": '{"name": "s"}'})
    assert box.flush(30)
    box.close()
    names = [a.path for a in tracker.client.list_artifacts(parent)]
    assert names == ["sweep_config.json"]


def test_a_put_on_a_full_disk_leaves_nothing_and_names_the_folder(
    tmp_path, mlflow_uri, monkeypatch
):
    """Given a disk that fills while an entry is written, the entry is not left half-made
    and the error names the outbox's folder (a bare write error names no file)."""
    import errno

    from common.errors import exhausted

    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    root = tmp_path / "outbox"
    box = _outbox(tracker, root, parent)
    real = Path.write_text

    def full(self, *args, **kwargs):
        if self.name == "entry.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError) as caught:
        box.put("tags", "t1", texts={"note.txt": "x"}, tags={"a": "b"})
    assert exhausted(caught.value) == f"out of disk space: {root}"
    assert not [p for p in root.iterdir()]  # no entry, no .tmp
    monkeypatch.setattr(Path, "write_text", real)
    box.put("trial", "t1", params={}, run_name="trial-t1")  # room again: on it goes
    assert box.flush(60)
    box.close()
    assert [r.data.tags["sweeplab.trial_id"] for r in tracker.trial_runs(parent)] == ["t1"]


@pytest.mark.parametrize(
    "exc, line",
    [
        (OSError(28, "No space left on device", "/data/x"), "out of disk space: /data/x"),
        (OSError(122, "Disk quota exceeded"), "out of disk quota"),
        (OSError(30, "Read-only file system", "/ro"), "read-only filesystem: /ro"),
        (MemoryError(), "out of memory"),
        (
            PermissionError(13, "Permission denied", "/ro/x"),
            "permission denied (a read-only folder?): /ro/x",
        ),
        (OSError(2, "No such file", "/x"), None),
        (ValueError("x"), None),
        # Ray hands a trial's error over as text: the errno and the path are read from it.
        (
            "Traceback...\nOSError: [Errno 28] Error writing bytes to file. Detail: [errno 28]"
            " No space left on device\nOSError: [Errno 28] No space left on device: '/s/o b'",
            "out of disk space: /s/o b",
        ),
        ("Traceback...\nValueError: bad value", None),
    ],
)
def test_what_ran_out_is_named(exc, line):
    from common.errors import exhausted

    assert exhausted(exc) == line
    if isinstance(exc, BaseException):  # also when raised during another error
        try:
            try:
                raise exc
            except BaseException:
                raise RuntimeError("cleanup failed") from None
        except RuntimeError as outer:
            assert exhausted(outer) is None  # `from None`: not its cause


class _Recorder:
    """A tracker that takes every write at once and keeps what it was given."""

    uri = "recorder://"

    def __init__(self):
        self.steps: list[int] = []

    def log_metrics(self, run_id, metrics, step, timestamp=None):
        self.steps.append(step)

    def log_batch(self, run_id, metrics, tags):
        self.steps += sorted({m.step for m in metrics})


def test_the_sender_lists_its_folder_once_not_once_per_write(tmp_path, monkeypatch):
    """A long sweep's backlog holds thousands of writes: listing the folder before each
    send made delivering them quadratic. The folder is listed when the outbox opens (what
    an earlier driver left is sent first), then never again; every write still goes out,
    in order, and one removed by hand is skipped."""
    root = tmp_path / "outbox"
    root.mkdir()
    (root / "00000007").mkdir()  # left by an earlier driver
    (root / "00000007" / "entry.json").write_text(
        json.dumps(
            {
                "kind": "metrics",
                "trial_id": None,
                "files": [],
                "metrics": {"m": 1.0},
                "step": 7,
                "timestamp": 1,
            }
        )
    )
    listed = []
    real_iterdir = Path.iterdir

    def counting_iterdir(self):
        if self == root:
            listed.append(self)
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", counting_iterdir)
    tracker = _Recorder()
    box = Outbox(tracker, root, "parent", out=open("/dev/null", "w"))  # noqa: SIM115
    at_open = len(listed)
    gone = None
    for step in range(10, 210):
        _metric_put(box, 0.5, step=step)
        if step == 100:  # removed by hand before it was sent (if the sender is that slow)
            gone = sorted(p.name for p in real_iterdir(root) if p.name.isdigit())[-1]
            shutil.rmtree(root / gone, ignore_errors=True)
    assert box.flush(60) and box.pending() == 0
    box.close()
    assert len(listed) == at_open <= 3  # none while sending
    sent = [s for s in tracker.steps]
    assert sent[0] == 7 and sent == sorted(sent)
    assert set(range(10, 210)) - set(sent) <= {100}
