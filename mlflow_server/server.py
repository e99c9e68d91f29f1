"""`sweeplab server`: a real MLflow tracking server process for a team.

SQLite and a local artifact store by default, bound to 127.0.0.1; `--backend-store-uri
postgresql://...` for a shared database. Artifacts are served through the server
(`--serve-artifacts`), so clients need no shared disk.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path


def server_command(
    backend_store_uri: str,
    artifacts_destination: Path,
    host: str = "127.0.0.1",
    port: int = 5000,
    basic_auth: bool = False,
    workers: int = 1,
) -> list[str]:
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    cmd = [
        mlflow,
        "server",
        "--backend-store-uri",
        backend_store_uri,
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
    if basic_auth:
        cmd += ["--app-name", "basic-auth"]
    return cmd


def server_secret(runs_dir: Path) -> str:
    """A random secret kept in `runs/server-secret` (owner-only), made on first use."""
    path = runs_dir / "server-secret"
    if not path.is_file():
        runs_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


class ServerError(ValueError):
    """The server cannot start as asked; one line."""


def serve(
    host: str = "127.0.0.1",
    port: int = 5000,
    backend_store_uri: str | None = None,
    artifacts_destination: Path = Path("runs/server-artifacts"),
    basic_auth: bool = False,
) -> int:
    """Run `mlflow server` in the foreground until it exits; its exit status."""
    if not 0 < port < 65536:
        raise ServerError(f"port {port} out of range")
    uri = backend_store_uri
    if uri is None:
        db = Path("runs") / "server.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db.resolve()}"
    env = dict(os.environ)
    if basic_auth:
        if not (env.get("MLFLOW_AUTH_ADMIN_PASSWORD") or env.get("MLFLOW_AUTH_CONFIG_PATH")):
            raise ServerError(
                "--basic-auth needs the admin user's password in $MLFLOW_AUTH_ADMIN_PASSWORD "
                "(or an auth config in $MLFLOW_AUTH_CONFIG_PATH)"
            )
        # MLflow's auth app needs a stable secret for CSRF tokens: one per project.
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", server_secret(Path("runs")))
        print("basic auth on: every request needs a user (admin: 'admin')")
    artifacts_destination.mkdir(parents=True, exist_ok=True)
    cmd = server_command(uri, artifacts_destination.resolve(), host, port, basic_auth)
    print(f"MLflow tracking server: backend {uri}, artifacts {artifacts_destination}")
    print(f"UI and tracking URI: http://{host}:{port}", flush=True)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        return proc.wait()
