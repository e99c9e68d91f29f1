"""`sweeplab server`: a real MLflow tracking server process for a team.

SQLite and a local artifact store by default, bound to 127.0.0.1; `--backend-store-uri
postgresql://...` for a shared database. Artifacts are served through the server
(`--serve-artifacts`), so clients need no shared disk.
"""

from __future__ import annotations

import argparse
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


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sweeplab server", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--backend-store-uri", help="default: sqlite:///runs/server.db")
    p.add_argument("--artifacts-destination", type=Path, default=Path("runs/server-artifacts"))
    p.add_argument("--basic-auth", action="store_true", help="run MLflow's basic-auth app")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"sweeplab server: error: port {args.port} out of range", file=sys.stderr)
        return 2
    uri = args.backend_store_uri
    if uri is None:
        db = Path("runs") / "server.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db.resolve()}"
    args.artifacts_destination.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.basic_auth:
        if not (env.get("MLFLOW_AUTH_ADMIN_PASSWORD") or env.get("MLFLOW_AUTH_CONFIG_PATH")):
            print(
                "sweeplab server: error: --basic-auth needs the admin user's password in "
                "$MLFLOW_AUTH_ADMIN_PASSWORD (or an auth config in $MLFLOW_AUTH_CONFIG_PATH)",
                file=sys.stderr,
            )
            return 2
        # MLflow's auth app needs a stable secret for CSRF tokens: one per project.
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", server_secret(Path("runs")))
        print("basic auth on: every request needs a user (admin: 'admin')")
    cmd = server_command(
        uri, args.artifacts_destination.resolve(), args.host, args.port, args.basic_auth
    )
    print(f"MLflow tracking server: backend {uri}, artifacts {args.artifacts_destination}")
    print(f"UI and tracking URI: http://{args.host}:{args.port}", flush=True)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        return proc.wait()
