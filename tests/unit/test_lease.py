"""One driver per sweep on an object store: the lease refuses a second driver (on any
machine), is taken over once its holder stops renewing it, and is never deleted by a
driver that no longer holds it. Run on a real S3 endpoint (moto) and on a filesystem that
pyarrow does not treat as local (the same code path as an object store)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from sweeps.run.lease import StorageLease, sweep_lock
from sweeps.run.lock import LEASE_FILE as LEASE
from sweeps.run.lock import SweepLocked
from sweeps.run.state import Place
from sweeps.run.storage import Storage

FAST = {"renew": 0.2, "stale": 3.0, "settle": 0.2}


@pytest.fixture
def store(tmp_path: Path) -> Storage:
    """A non-local pyarrow filesystem over tmp_path (pyarrow's S3 path in every respect
    the lease uses: open_output_stream, get_file_info, delete_file)."""
    (tmp_path / "bucket" / "sweeps" / "s").mkdir(parents=True)
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    return Storage("s3://bucket/sweeps", fs, "bucket/sweeps")


def test_a_second_driver_is_refused_and_the_first_gives_it_back(store, tmp_path):
    first = StorageLease(store, "s", **FAST).acquire()
    try:
        on_disk = json.loads((tmp_path / "bucket" / "sweeps" / "s" / LEASE).read_text())
        assert on_disk["token"] == first.me["token"] and on_disk["pid"] == os.getpid()
        with pytest.raises(SweepLocked) as err:
            StorageLease(store, "s", **FAST).acquire()
        text = str(err.value)
        assert f"pid {os.getpid()}" in text and "renewed" in text and "\n" not in text
        time.sleep(0.5)  # renewed meanwhile: still held
        with pytest.raises(SweepLocked):
            StorageLease(store, "s", **FAST).acquire()
    finally:
        first.release()
    assert not (tmp_path / "bucket" / "sweeps" / "s" / LEASE).exists()
    second = StorageLease(store, "s", **FAST).acquire()
    assert second.took_over is None
    second.release()


def test_a_dead_drivers_lease_is_taken_over_once_stale(store, tmp_path):
    path = tmp_path / "bucket" / "sweeps" / "s" / LEASE
    dead = {"token": "x" * 32, "pid": 424242, "host": "elsewhere", "started": 1.0}
    path.write_text(json.dumps(dead))
    with pytest.raises(SweepLocked, match="pid 424242 on elsewhere"):
        StorageLease(store, "s", **FAST).acquire()  # fresh: its driver may be alive
    old = time.time() - 10
    os.utime(path, (old, old))  # not renewed for 10 s: its driver is gone
    lease = StorageLease(store, "s", **FAST).acquire()
    assert lease.took_over == dead
    lease.release()


def test_a_driver_killed_on_this_machine_is_taken_over_at_once(store, tmp_path):
    import socket
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = {"token": "z" * 32, "pid": int(gone.stdout), "host": socket.gethostname()}
    (tmp_path / "bucket" / "sweeps" / "s" / LEASE).write_text(json.dumps(dead))
    lease = StorageLease(store, "s", **FAST).acquire()  # fresh, but its process is gone
    assert lease.took_over == dead
    lease.release()


def test_two_drivers_at_once_one_wins(store):
    results: list[str] = []

    def drive() -> None:
        lease = StorageLease(store, "s", **FAST)
        try:
            lease.acquire()
        except SweepLocked:
            results.append("refused")
            return
        results.append("held")
        time.sleep(1.0)
        lease.release()

    threads = [threading.Thread(target=drive) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["held", "refused", "refused"]


def test_a_lease_taken_over_is_noticed_and_not_deleted(store, tmp_path, capsys):
    lease = StorageLease(store, "s", **FAST).acquire()
    path = tmp_path / "bucket" / "sweeps" / "s" / LEASE
    other = {"token": "y" * 32, "pid": 7, "host": "other", "started": 2.0}
    path.write_text(json.dumps(other))
    deadline = time.time() + 5
    while lease.lost is None and time.time() < deadline:
        time.sleep(0.1)
    lease.release()
    assert lease.lost == other and json.loads(path.read_text()) == other
    assert "taken over by pid 7 on other" in capsys.readouterr().err


def test_sweep_lock_on_an_object_store_holds_both(store, tmp_path, monkeypatch):
    monkeypatch.setattr(StorageLease.__init__, "__defaults__", (0.2, 3.0, 0.2))
    place = Place(tmp_path / "project")
    place.__dict__["storage"] = store
    with sweep_lock(place, "s") as took_over:
        assert took_over is None
        assert (tmp_path / "bucket" / "sweeps" / "s" / LEASE).exists()
        assert (tmp_path / "project" / "runs" / "locks" / "s" / ".sweeplab.lock").exists()
        with pytest.raises(SweepLocked), sweep_lock(place, "s"):
            pass
    assert not (tmp_path / "bucket" / "sweeps" / "s" / LEASE).exists()


def test_on_a_real_s3_endpoint(tmp_path, monkeypatch):
    """The same, against moto's S3 server: mtimes, overwrites and deletes as S3 does them."""
    moto = pytest.importorskip("moto.server")
    server = moto.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        uri = f"s3://leases/sweeps?endpoint_override={host}:{port}&scheme=http&region=us-east-1"
        fs, _ = pafs.FileSystem.from_uri(uri + "&allow_bucket_creation=true")
        fs.create_dir("leases")
        storage = Storage.open(uri, tmp_path)
        first = StorageLease(storage, "s", **FAST).acquire()
        with pytest.raises(SweepLocked, match=f"pid {os.getpid()}"):
            StorageLease(storage, "s", **FAST).acquire()
        first.release()
        assert not storage.exists(storage.path("s", LEASE))
        StorageLease(storage, "s", **FAST).acquire().release()
    finally:
        server.stop()
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.pop(k, None)


def test_a_new_sweep_is_not_refused_for_its_own_lease(store, tmp_path):
    """The lease is written before the sweep record: a new sweep's folder holding only the
    lease is still a new sweep, not "exists but holds no sweeplab sweep"."""
    from sweeps.config import SweepConfig
    from sweeps.run.state import check_continuation

    cfg = SweepConfig.model_validate({"name": "s", "model": {"path": "m"}})
    with StorageLease(store, "s", **FAST):
        assert check_continuation(cfg, store) is False
