"""`sweeplab server`: a real MLflow tracking server for a team, its arguments and what it
runs (`mlflow_server.server`, imported only when it runs). Its own module: `sweeps.cli`
keeps the commands that read and run sweeps."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_server(args: argparse.Namespace) -> int:
    from mlflow_server.server import serve

    return serve(
        args.host,
        args.port,
        args.backend_store_uri,
        args.artifacts_destination,
        args.basic_auth,
        allowed_hosts=args.allowed_hosts,
        cors_allowed_origins=args.cors_allowed_origins,
    )


def server_parser(sub) -> None:
    p = sub.add_parser(
        "server",
        help="start an MLflow tracking server",
        description="A real MLflow tracking server process for a team (serves artifacts).",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument(
        "--backend-store-uri",
        help="default: $MLFLOW_BACKEND_STORE_URI, else sqlite:///runs/server.db (a password "
        "is better kept in the environment variable than on a command line)",
    )
    p.add_argument("--artifacts-destination", type=Path, default=Path("runs/server-artifacts"))
    p.add_argument(
        "--basic-auth",
        action="store_true",
        help="run MLflow's basic-auth app (needed for a --host other than loopback)",
    )
    p.add_argument("--allowed-hosts", help="MLflow's --allowed-hosts (Host header allow-list)")
    p.add_argument("--cors-allowed-origins", help="MLflow's --cors-allowed-origins")
