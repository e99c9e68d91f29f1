"""One driver per sweep: the lock refuses a second driver and outlives no dead one."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sweeps.run.lock import LOCK_FILE, SweepLock, SweepLocked

HOLD = """
import sys, time
from pathlib import Path
from sweeps.run.lock import SweepLock
SweepLock(Path(sys.argv[1]), "s").acquire()
print("held", flush=True)
time.sleep(600)
"""


def _holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_driver_is_refused_naming_the_holder(tmp_path):
    folder = tmp_path / "runs" / "ray" / "s"
    proc = _holder(folder)
    try:
        with pytest.raises(SweepLocked) as err:
            SweepLock(folder, "s").acquire()
        msg = str(err.value)
        assert "\n" not in msg and f"pid {proc.pid} on {socket.gethostname()}" in msg
        assert "started 20" in msg and "sweep 's' is being run by" in msg
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_drivers_lock_is_taken_over(tmp_path):
    folder = tmp_path / "s"
    proc = _holder(folder)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (folder / LOCK_FILE).is_file()  # left behind, but no longer held
    lock = SweepLock(folder, "s").acquire()
    try:
        assert lock.took_over["pid"] == proc.pid
        with pytest.raises(SweepLocked, match=f"pid {os.getpid()}"):
            SweepLock(folder, "s").acquire()
    finally:
        lock.release()


def test_release_leaves_nothing_it_alone_made(tmp_path):
    folder = tmp_path / "runs" / "ray" / "s"
    with SweepLock(folder, "s"):
        assert oct((folder / LOCK_FILE).stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "runs").exists()
    folder.mkdir(parents=True)
    (folder / "keep").write_text("x")
    with SweepLock(folder, "s"):
        pass
    assert sorted(p.name for p in folder.iterdir()) == ["keep"]


def test_two_real_drivers_on_one_name(tmp_path, tiny_data, monkeypatch, capsys):
    """`sweeplab sweep` while another driver holds the name: one line naming it, exit 2,
    nothing written beside the holder's lock."""
    from sweeps.cli import main
    from tests.helpers import config_yaml

    monkeypatch.chdir(tmp_path)
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    cfg = config_yaml(tmp_path, tiny_data)
    folder = tmp_path / "runs" / "ray" / "t"
    proc = _holder(folder)
    try:
        assert main(["sweep", str(cfg)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"being run by pid {proc.pid}" in err, err
        assert [p.name for p in folder.iterdir()] == [LOCK_FILE]
    finally:
        proc.kill()
        proc.wait()
