"""`sweeplab server` before it starts: nothing secret on a command line or in its output,
nobody in from another machine without a password, auth state owner-only under runs/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlflow_server.server import (
    LEGACY_ADMIN_PASSWORD,
    auth_config,
    is_loopback,
    serve,
    server_command,
    server_secret,
)
from sweeps.cli import main

SECRET_URI = "postgresql://team:hunter2-secret@db.example:5432/mlflow"


def test_the_backend_uri_is_never_on_the_mlflow_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_run(cmd, env, probe):
        seen.update(cmd=cmd, env=env)
        return 0

    monkeypatch.setattr("mlflow_server.server._run", fake_run)
    assert serve(backend_store_uri=SECRET_URI, allowed_hosts="a.example") == 0
    assert not any("hunter2" in part for part in seen["cmd"])
    assert seen["env"]["MLFLOW_BACKEND_STORE_URI"] == SECRET_URI
    assert seen["cmd"][seen["cmd"].index("--allowed-hosts") + 1] == "a.example"
    # ... and from the environment, so users need not type it either
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", SECRET_URI)
    assert serve() == 0 and seen["env"]["MLFLOW_BACKEND_STORE_URI"] == SECRET_URI


def test_server_prints_the_uri_masked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("mlflow_server.server._run", lambda cmd, env, probe: 0)
    argv = ["server", "--backend-store-uri", SECRET_URI, "--cors-allowed-origins", "https://x"]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "hunter2" not in out.out + out.err
    assert "postgresql://team:***@db.example:5432/mlflow" in out.out


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "myhost.example"])
def test_a_public_address_needs_basic_auth(host, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["server", "--host", host]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "add --basic-auth" in err
    assert not (tmp_path / "runs").exists()


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.2", "example.com"]))


@pytest.mark.parametrize(
    ("password", "fragment"),
    [(LEGACY_ADMIN_PASSWORD, "public default"), ("short", "shorter than 12")],
)
def test_weak_admin_passwords_are_refused(password, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", password)
    monkeypatch.delenv("MLFLOW_AUTH_CONFIG_PATH", raising=False)
    assert main(["server", "--basic-auth"]) == 2
    assert fragment in capsys.readouterr().err


def test_auth_state_lives_under_runs_owner_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = {}
    monkeypatch.setattr("mlflow_server.server._run", lambda cmd, env, probe: seen.update(env) or 0)
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "a-long-enough-password")
    monkeypatch.delenv("MLFLOW_AUTH_CONFIG_PATH", raising=False)
    assert serve(host="0.0.0.0", basic_auth=True) == 0
    ini = tmp_path / "runs" / "basic_auth.ini"
    assert seen["MLFLOW_AUTH_CONFIG_PATH"] == str(ini)
    text = ini.read_text()
    assert f"sqlite:///{tmp_path / 'runs' / 'basic_auth.db'}" in text and "password" not in text
    for name in ("basic_auth.ini", "basic_auth.db", "server-secret"):
        assert oct((tmp_path / "runs" / name).stat().st_mode & 0o777) == "0o600", name
    assert not (tmp_path / "basic_auth.db").exists()
    assert auth_config(tmp_path / "runs") == ini.resolve()  # again: same place, same modes


def test_an_empty_secret_file_is_made_again(tmp_path):
    (tmp_path / "server-secret").write_text("")
    secret = server_secret(tmp_path)
    assert len(secret) == 64 and server_secret(tmp_path) == secret
    assert oct((tmp_path / "server-secret").stat().st_mode & 0o777) == "0o600"


def test_server_command_passes_security_flags():
    cmd = server_command(
        tmp := __import__("pathlib").Path("/x"), allowed_hosts="h", cors_allowed_origins="o"
    )
    assert cmd[cmd.index("--cors-allowed-origins") + 1] == "o" and str(tmp) in cmd
    assert "--backend-store-uri" not in cmd


CHILD = """
import signal, sys, time
from pathlib import Path
def bye(*_):
    Path(sys.argv[1]).write_text("got SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
time.sleep(120)
"""

WRAPPER = """
import sys
from mlflow_server.server import _run
sys.exit(_run([sys.executable, "-c", sys.argv[1], sys.argv[2]], None, None))
"""


def test_sigterm_reaches_the_mlflow_process(tmp_path):
    """SIGTERM to `sweeplab server` is passed on: the server process does not live on."""
    mark = tmp_path / "mark"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, CHILD, str(mark)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    deadline = time.time() + 5
    while not mark.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert mark.read_text() == "got SIGTERM"


def test_a_password_on_sweeplabs_own_command_line_is_masked_for_ps():
    """What `ps` reads (/proc/PID/cmdline) once sweeplab's CLI module is loaded; the program
    itself still sees the real argument."""
    import subprocess
    import sys

    code = (
        "import sys, sweeps.cli; "
        "print(open('/proc/self/cmdline', 'rb').read().decode(errors='replace')); "
        "print(sys.argv[-1])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "--backend-store-uri", SECRET_URI],
        capture_output=True,
        text=True,
        check=True,
    )
    shown, argv = proc.stdout.rsplit("\n", 2)[:2]
    assert "hunter2" not in shown and "postgresql://team:***@db.example:5432/mlflow" in shown
    assert argv == SECRET_URI
