"""`sweeplab serve SWEEP[@alias]`: the promoted model over HTTP on 127.0.0.1.

A thin wrapper of `mlflow models serve -m models:/NAME@alias --env-manager local`, run in this
environment against the sweep's tracking store: `POST /invocations` with
`{"inputs": ["instruction", ...]}` answers `{"predictions": ["answer", ...]}`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlflow_server.registry import alias_version
from mlflow_server.tracking import Tracker
from sweeps.config import check_name
from sweeps.report.runs import load_sweep


def split_target(target: str, default_alias: str = "champion") -> tuple[str, str]:
    """`SWEEP@alias` -> (sweep, alias), both checked names; the alias defaults to the
    champion."""
    sweep, at, alias = target.partition("@")
    return check_name(sweep, "SWEEP"), check_name(alias, "ALIAS") if at else default_alias


def serve_argv(name: str, alias: str, port: int, host: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", f"models:/{name}@{alias}",
        "--env-manager", "local",
        "--host", host,
        "--port", str(port),
    ]  # fmt: skip


def serve(tracker: Tracker, target: str, port: int, host: str = "127.0.0.1") -> int:
    """Serve the sweep's registered model at `alias` until interrupted; the exit status."""
    sweep, alias = split_target(target)
    _, cfg = load_sweep(tracker, sweep)
    name = cfg.promotion.model_name or sweep
    if "@" not in target:
        alias = cfg.promotion.alias
    if alias_version(tracker.client, name, alias) is None:
        raise ValueError(f"no models:/{name}@{alias}: `sweeplab promote {sweep}` registers one")
    print(f"serving models:/{name}@{alias} on http://{host}:{port}/invocations", flush=True)
    # `mlflow models serve` starts `uvicorn` by name: this environment's scripts come first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracker.uri, "PATH": path}
    return subprocess.call(serve_argv(name, alias, port, host), env=env)
