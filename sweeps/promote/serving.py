"""`sweeplab serve SWEEP[@alias]`: the promoted model over HTTP on 127.0.0.1.

MLflow's own scoring server, as `mlflow models serve -m models:/NAME@alias --env-manager
local` runs it (the same routes and payload formats: `POST /invocations` with
`{"inputs": ["instruction", ...]}` answers `{"predictions": ["answer", ...]}`), in this
process behind a guard: a size limit, an inputs-per-request limit, 400 for malformed or
too-deep JSON (`mlflow_server.scoring`).
"""

from __future__ import annotations

from mlflow_server.registry import alias_version
from mlflow_server.scoring import MAX_BYTES, serve_model
from mlflow_server.tracking import Tracker
from sweeps.names import check_name
from sweeps.report.runs import load_sweep


def split_target(target: str, default_alias: str = "champion") -> tuple[str, str]:
    """`SWEEP@alias` -> (sweep, alias), both checked names; the alias defaults to the
    champion."""
    sweep, at, alias = target.partition("@")
    return check_name(sweep, "SWEEP"), check_name(alias, "ALIAS") if at else default_alias


def serve(
    tracker: Tracker,
    target: str,
    port: int,
    host: str = "127.0.0.1",
    max_batch: int | None = None,
    max_bytes: int = MAX_BYTES,
) -> int:
    """Serve the sweep's registered model at `alias` until interrupted; the exit status.
    `max_batch` inputs per request (default: the model's generation batch size)."""
    sweep, alias = split_target(target)
    _, cfg = load_sweep(tracker, sweep)
    name = cfg.promotion.model_name or sweep
    if "@" not in target:
        alias = cfg.promotion.alias
    if alias_version(tracker.client, name, alias) is None:
        raise ValueError(f"no models:/{name}@{alias}: `sweeplab promote {sweep}` registers one")

    def ready(limits) -> None:
        print(
            f"serving models:/{name}@{alias} on http://{host}:{port}/invocations (at most "
            f"{limits.max_batch} inputs and {limits.max_bytes} bytes per request)",
            flush=True,
        )

    return serve_model(tracker.uri, f"models:/{name}@{alias}", host, port, max_batch, max_bytes,
                       ready)  # fmt: skip
