"""`sweeplab server`: a real MLflow tracking server process for a team.

SQLite and a local artifact store by default, bound to 127.0.0.1; `--backend-store-uri
postgresql://...` (or `$MLFLOW_BACKEND_STORE_URI`) for a shared database. Artifacts are
served through the server (`--serve-artifacts`), so clients need no shared disk.

Nobody in who should not be: the backend URI reaches `mlflow server` through its
environment, never its command line (which every local user sees in `ps`), and is printed
with its password masked; an address other than loopback needs `--basic-auth`; the auth
app keeps its users in `runs/basic_auth.db` (owner-only, git-ignored); at start the server
is probed with MLflow's old public default admin password (it must be refused) and with
`$MLFLOW_AUTH_ADMIN_PASSWORD` (a warning when the stored admin has another one).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from common.files import write_atomic
from common.uris import mask_credentials

LEGACY_ADMIN_PASSWORD = "password1234"
"""The admin password MLflow shipped in `basic_auth.ini` up to 3.16.0 (public)."""
MIN_ADMIN_PASSWORD = 12


class ServerError(ValueError):
    """The server cannot start as asked; one line."""


QUIET_SERVER_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
"""The environment of every MLflow server sweeplab starts (a user's own setting wins):
MLflow's job runner (eight idle `huey_consumer` processes, for MLflow's GenAI jobs, which
sweeplab never submits) is left off."""


def server_command(
    artifacts_destination: Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    basic_auth: bool = False,
    workers: int = 1,
    allowed_hosts: str | None = None,
    cors_allowed_origins: str | None = None,
) -> list[str]:
    """The `mlflow server` command line: no credentials on it (the backend store URI goes
    in $MLFLOW_BACKEND_STORE_URI)."""
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    cmd = [
        mlflow,
        "server",
        "--artifacts-destination",
        str(artifacts_destination),
        "--serve-artifacts",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    if allowed_hosts:
        cmd += ["--allowed-hosts", allowed_hosts]
    if cors_allowed_origins:
        cmd += ["--cors-allowed-origins", cors_allowed_origins]
    if basic_auth:
        cmd += ["--app-name", "basic-auth"]
    return cmd


def server_secret(runs_dir: Path) -> str:
    """A random secret kept in `runs/server-secret` (owner-only), made on first use and
    written whole (an empty file left by a crash is made again)."""
    path = runs_dir / "server-secret"
    try:
        secret = path.read_text().strip()
    except OSError:
        secret = ""
    if not secret:
        secret = secrets.token_hex(32)
        write_atomic(path, secret, mode=0o600)
    return secret


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def auth_config(runs_dir: Path) -> Path:
    """MLflow's auth settings, keeping its user database under `runs/` (owner-only): no
    password in this file (the admin's comes from $MLFLOW_AUTH_ADMIN_PASSWORD)."""
    db = (runs_dir / "basic_auth.db").resolve()
    if not db.exists():
        runs_dir.mkdir(parents=True, exist_ok=True)
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite fills it
    os.chmod(db, 0o600)
    text = (
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{db}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return write_atomic((runs_dir / "basic_auth.ini").resolve(), text, mode=0o600)


def _check_auth_env(env: dict[str, str], runs_dir: Path) -> None:
    """Refuse a start that would serve with a missing, short or public admin password."""
    password = env.get("MLFLOW_AUTH_ADMIN_PASSWORD")
    if not (password or env.get("MLFLOW_AUTH_CONFIG_PATH")):
        raise ServerError(
            "--basic-auth needs the admin user's password in $MLFLOW_AUTH_ADMIN_PASSWORD "
            "(or an auth config in $MLFLOW_AUTH_CONFIG_PATH)"
        )
    if password is not None and password == LEGACY_ADMIN_PASSWORD:
        raise ServerError("$MLFLOW_AUTH_ADMIN_PASSWORD is MLflow's public default; choose another")
    if password is not None and len(password) < MIN_ADMIN_PASSWORD:
        raise ServerError(
            f"$MLFLOW_AUTH_ADMIN_PASSWORD is shorter than {MIN_ADMIN_PASSWORD} characters"
        )
    env.setdefault("MLFLOW_AUTH_CONFIG_PATH", str(auth_config(runs_dir)))
    # MLflow's auth app needs a stable secret for CSRF tokens: one per project.
    env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", server_secret(runs_dir))


def _status(url: str, user: str, password: str) -> int:
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=1")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def probe_auth(url: str, proc: subprocess.Popen, password: str | None, timeout=180.0) -> None:
    """Once the server answers: stop it if MLflow's public default admin password gets in;
    warn when $MLFLOW_AUTH_ADMIN_PASSWORD is not the stored admin's (it is read only when
    the admin user is first created)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        code = _status(url, "admin", LEGACY_ADMIN_PASSWORD)
        if code == 0:
            time.sleep(0.5)
            continue
        if code == 200:
            print(
                "sweeplab server: error: the admin user accepts MLflow's public default "
                "password; stopping (change it, or start from a new runs/basic_auth.db)",
                file=sys.stderr,
                flush=True,
            )
            proc.terminate()
        elif password and _status(url, "admin", password) in (401, 403):
            print(
                "sweeplab server: warning: $MLFLOW_AUTH_ADMIN_PASSWORD does not match the "
                "stored admin (it only sets the first one); the stored password stays in "
                "force: change it through MLflow's update-password API",
                file=sys.stderr,
                flush=True,
            )
        return


def _run(cmd: list[str], env: dict[str, str], probe) -> int:
    """Run the server in the foreground; SIGTERM and Ctrl-C are passed on to it."""
    proc = subprocess.Popen(cmd, env=env)

    def forward(signum, _frame):
        if proc.poll() is None:
            proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP)}
    if probe is not None:
        threading.Thread(target=probe, args=(proc,), daemon=True).start()
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGTERM)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def serve(
    host: str = "127.0.0.1",
    port: int = 5000,
    backend_store_uri: str | None = None,
    artifacts_destination: Path = Path("runs/server-artifacts"),
    basic_auth: bool = False,
    allowed_hosts: str | None = None,
    cors_allowed_origins: str | None = None,
) -> int:
    """Run `mlflow server` in the foreground until it exits; its exit status."""
    if not 0 < port < 65536:
        raise ServerError(f"port {port} out of range")
    if not is_loopback(host) and not basic_auth:
        raise ServerError(
            f"--host {host} lets other machines in: add --basic-auth (with "
            "$MLFLOW_AUTH_ADMIN_PASSWORD), or keep the default 127.0.0.1"
        )
    runs = Path("runs")
    env = dict(os.environ)
    uri = backend_store_uri or env.get("MLFLOW_BACKEND_STORE_URI")
    if not uri:
        db = runs / "server.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db.resolve()}"
    env["MLFLOW_BACKEND_STORE_URI"] = uri  # not on the command line: `ps` shows that
    env.update(QUIET_SERVER_ENV | {k: env[k] for k in QUIET_SERVER_ENV if k in env})
    if basic_auth:
        _check_auth_env(env, runs)
        print("basic auth on: every request needs a user (admin: 'admin')")
    artifacts_destination.mkdir(parents=True, exist_ok=True)
    cmd = server_command(
        artifacts_destination.resolve(),
        host,
        port,
        basic_auth,
        allowed_hosts=allowed_hosts,
        cors_allowed_origins=cors_allowed_origins,
    )
    shown = mask_credentials(uri)
    print(f"MLflow tracking server: backend {shown}, artifacts {artifacts_destination}")
    print(f"UI and tracking URI: http://{host}:{port}", flush=True)
    probe = None
    if basic_auth:
        local = "127.0.0.1" if host in ("0.0.0.0", "::") or is_loopback(host) else host
        url = f"http://{local}:{port}"
        password = env.get("MLFLOW_AUTH_ADMIN_PASSWORD")
        probe = lambda proc: probe_auth(url, proc, password)  # noqa: E731
    return _run(cmd, env, probe)
