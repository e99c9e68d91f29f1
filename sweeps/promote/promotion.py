"""Promote a sweep's best finished trial, picked from MLflow, to the model registry."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow_server.registry import download_run_dir, register_run_model
from mlflow_server.tracking import Tracker
from sweeps.report.leaderboard import Row, rows_from_runs
from sweeps.report.runs import load_sweep

GENERATOR = "sweeps.promote.serving:load_generator"


class PromotionRefused(ValueError):
    """No trial can be promoted; the message says why, in one line."""


@dataclass(frozen=True)
class Promotion:
    name: str
    version: str
    alias: str
    created: bool
    row: Row
    failed_gates: tuple[str, ...]


def base_model_hash(path: str) -> str:
    """Content hash of a local base model's weights; the revision stands in for a hub id."""
    p = Path(path)
    if not p.is_dir():
        return "hub"
    h = hashlib.sha256()
    for f in sorted(p.glob("*.safetensors")):
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def promote(
    tracker: Tracker,
    sweep: str,
    objective: str | None = None,
    alias: str | None = None,
    force: bool = False,
) -> Promotion:
    parent, cfg = load_sweep(tracker, sweep)
    metric = objective or "objective"
    rows = [
        r
        for r in rows_from_runs(tracker.trial_runs(parent.info.run_id), cfg)
        if r.status == "FINISHED" and metric in r.metrics
    ]
    if not rows:
        raise PromotionRefused(f"sweep {sweep!r} has no finished trial with metric {metric!r}")
    pick = max if cfg.search.mode == "max" or objective else min
    best = pick(rows, key=lambda r: r.metrics[metric])
    failed = tuple(str(g) for g in cfg.promotion.gates if not g.passes(best.metrics))
    if failed and not force:
        raise PromotionRefused(
            f"best trial {best.trial_id} fails promotion gate(s): {'; '.join(failed)} "
            "(--force overrides, and is recorded on the version)"
        )
    name = cfg.promotion.model_name or sweep
    alias = alias or cfg.promotion.alias
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        adapter = download_run_dir(tracker.client, best.run_id, "adapter", tmp_path)
        manifest = download_run_dir(tracker.client, best.run_id, "data_manifest.json", tmp_path)
        trial = json.loads(
            download_run_dir(tracker.client, best.run_id, "trial.json", tmp_path).read_text()
        )
        model = trial["config"]["model"]
        data_hash = json.loads(manifest.read_text())["content_hash"]
        tags = {
            "sweeplab.sweep": sweep,
            "sweeplab.run_id": best.run_id,
            "sweeplab.trial_id": best.trial_id,
            "sweeplab.objective": f"{metric}={best.metrics[metric]:.6f}",
            "sweeplab.base_model": model["path"],
            "sweeplab.base_model_revision": str(model.get("revision")),
            "sweeplab.base_model_hash": base_model_hash(model["path"]),
            "sweeplab.template": trial.get("template", ""),
            "sweeplab.data_hash": data_hash,
            "sweeplab.forced": str(bool(failed)).lower(),
            "sweeplab.failed_gates": "; ".join(failed),
            **{
                f"metric.{k}": f"{v:.6f}"
                for k, v in sorted(best.metrics.items())
                if "/" in k and k.count("_") <= 2
            },
        }
        config = {"model": model, "max_new_tokens": trial["config"]["generation"]["max_new_tokens"]}
        version, created = register_run_model(
            tracker.client,
            best.run_id,
            name,
            alias,
            {"adapter": adapter, "data_manifest": manifest},
            GENERATOR,
            config,
            tags,
        )
    return Promotion(name, version, alias, created, best, failed)
