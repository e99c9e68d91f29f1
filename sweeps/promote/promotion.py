"""Promote a sweep's best finished trial, picked from MLflow, to the model registry.

The best trial becomes a model version with the alias `challenger`; the champion alias
moves to it only when the promotion gates pass and, if there is a champion, the challenger
beats it on the objective beyond the noise (`champion.py`); `--force` overrides both and the
version records it. The base model and its settings come from the sweep's recorded config,
never from the trial's own `trial.json` (which must agree with it): a promoted model never
runs remote code.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow_server.registry import (
    ModelFiles,
    alias_version,
    download_run_dir,
    has_artifact,
    log_dir,
    register_run_model,
    set_alias,
    tag_version,
)
from mlflow_server.tracking import Tracker
from sweeps.config import SweepConfig
from sweeps.promote.champion import Comparison, compare_runs
from sweeps.promote.shipping import build_code_dir, requirements
from sweeps.report.leaderboard import Row, rows_from_runs
from sweeps.report.runs import load_sweep
from training.config import ModelConfig
from training.loading import is_local
from training.verified_load import content_sha256

CHALLENGER = "challenger"
MERGED_DIR = "merged_model"


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
    champion: str | None
    """The version the champion alias points at afterwards."""
    comparison: Comparison | None
    """Against the previous champion, when there was one."""
    merged: str | None = None
    """`runs:/` URI of the merged model, with `--merge`."""
    candidates: int = 0
    """Finished trials with the metric, the best picked among them."""


def pick_best(rows: list[Row], metric: str, mode: str) -> Row:
    pick = max if mode == "max" else min
    return pick(rows, key=lambda r: r.metrics[metric])


def check_trial_model(trial: dict, cfg: SweepConfig, trial_id: str) -> None:
    """The trial's recorded model settings must be the sweep's; remote code is refused."""
    searched = {k.removeprefix("model.") for k in cfg.search.space if k.startswith("model.")}
    recorded = cfg.model.model_dump(mode="json")
    claimed = trial.get("config", {}).get("model", {})
    for key in sorted(set(recorded) | set(claimed)):
        if key not in searched and claimed.get(key) != recorded.get(key):
            raise PromotionRefused(
                f"trial {trial_id}: trial.json says model.{key}={claimed.get(key)!r} but the "
                f"sweep was recorded with {recorded.get(key)!r}; refusing to promote"
            )
    if cfg.model.trust_remote_code:
        raise PromotionRefused(
            f"sweep {cfg.name!r} ran with model.trust_remote_code; a promoted model never runs "
            "remote code"
        )


SAFE_SUFFIXES = (".safetensors", ".json", ".txt", ".md", ".model", ".jinja")
"""What a promoted adapter folder may hold: weights as safetensors, configs, tokenizer
files (a sentencepiece `.model` is protobuf). A `.bin`, `.pt` or `.pkl` could be a pickle,
which runs code when loaded."""


def check_adapter_files(adapter: Path, trial_id: str) -> None:
    """The trial's adapter holds its safetensors weights and config, and nothing a loader
    could unpickle; refused in one line otherwise."""
    names = {p.relative_to(adapter).as_posix() for p in adapter.rglob("*") if p.is_file()}
    for need in ("adapter_model.safetensors", "adapter_config.json"):
        if need not in names:
            raise PromotionRefused(f"trial {trial_id}: its adapter has no {need}; refusing")
    odd = sorted(n for n in names if not n.lower().endswith(SAFE_SUFFIXES))
    if odd:
        raise PromotionRefused(
            f"trial {trial_id}: its adapter holds {odd[0]!r}, not safetensors or a config; "
            "refusing to promote (a pickle would run code where the model loads)"
        )


def hub_commit(hub_id: str, revision: str | None) -> str:
    """The commit a hub revision names, from the local hub cache (no network)."""
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(hub_id, revision=revision, local_files_only=True)
    except Exception as exc:  # not cached, unknown revision: one line
        raise PromotionRefused(
            f"cannot pin base model {hub_id!r} to a commit ({type(exc).__name__}); "
            "set model.revision to a commit hash"
        ) from None
    return Path(path).name


def base_reference(model: ModelConfig) -> dict:
    """How the promoted model finds its base: hub id + commit, or local path + sha256."""
    if is_local(model.path):
        path = str(Path(model.path).expanduser().absolute())
        return {"kind": "local", "path": path, "sha256": content_sha256(path), "dtype": model.dtype}
    commit = hub_commit(model.path, model.revision)
    return {"kind": "hub", "hub_id": model.path, "commit": commit, "dtype": model.dtype}


def _tags(sweep: str, parent_id: str, best: Row, metric: str, base: dict, extra: dict) -> dict:
    return {
        "sweeplab.sweep": sweep,
        "sweeplab.run_id": best.run_id,
        "sweeplab.trial_id": best.trial_id,
        "sweeplab.objective": f"{metric}={best.metrics[metric]:.6f}",
        "sweeplab.base_model": base.get("path") or base["hub_id"],
        "sweeplab.base_model_revision": str(base.get("commit")),
        "sweeplab.base_model_hash": base.get("sha256", ""),
        "sweeplab.report": f"runs:/{parent_id}/report/report.html",
        **extra,
        **{
            f"metric.{k}": f"{v:.6f}"
            for k, v in sorted(best.metrics.items())
            if "/" in k and k.count("_") <= 2
        },
    }


def _register(tracker: Tracker, parent, cfg: SweepConfig, best: Row, metric: str, failed, name):
    """Download what the trial left, check it, save the model as code, register it once."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        get = lambda p: download_run_dir(tracker.client, best.run_id, p, tmp_path)  # noqa: E731
        adapter, manifest = get("adapter"), get("data_manifest.json")
        trial = json.loads(get("trial.json").read_text())
        check_trial_model(trial, cfg, best.trial_id)
        check_adapter_files(adapter, best.trial_id)
        base = base_reference(cfg.model)
        extra = {
            "sweeplab.template": trial.get("template", ""),
            "sweeplab.data_hash": json.loads(manifest.read_text())["content_hash"],
            "sweeplab.forced": str(bool(failed)).lower(),
            "sweeplab.failed_gates": "; ".join(failed),
        }
        files = ModelFiles(
            artifacts={"adapter": adapter, "data_manifest": manifest},
            code_paths=[build_code_dir(tmp_path / "code")],
            config={
                "base_model": base,
                "max_new_tokens": cfg.generation.max_new_tokens,
                "batch_size": cfg.generation.batch_size,
            },
            requirements=requirements(tmp_path),
        )
        tags = _tags(
            parent.data.tags.get("sweeplab.sweep", cfg.name),
            parent.info.run_id,
            best,
            metric,
            base,
            extra,
        )
        return register_run_model(tracker.client, best.run_id, name, files, tags)


def _crown(
    tracker: Tracker,
    name: str,
    alias: str,
    version: str,
    best: Row,
    objective: str,
    mode: str,
    force: bool,
) -> tuple[str | None, Comparison | None]:
    """Point `challenger` at the version; move the champion alias if it has earned it."""
    client = tracker.client
    current = alias_version(client, name, alias)
    if current is not None and current.version == version:
        return version, None  # already the champion
    set_alias(client, name, CHALLENGER, version)
    comparison = None
    if current is not None:
        comparison = compare_runs(tracker, current.run_id, best.run_id, objective, mode)
        tag_version(client, name, version, {"sweeplab.vs_champion": comparison.text()})
        if not comparison.beats and not force:
            return current.version, comparison
        if not comparison.beats:
            tag_version(client, name, version, {"sweeplab.champion_override": "true"})
    set_alias(client, name, alias, version)
    return version, comparison


def _merge(tracker: Tracker, cfg: SweepConfig, best: Row, name: str, version: str) -> str:
    """Base + adapter merged (safetensors, with tokenizer) beside the adapter; its URI."""
    from training.verified_load import load_with_adapter, save_merged

    client = tracker.client
    if not has_artifact(client, best.run_id, MERGED_DIR):
        with tempfile.TemporaryDirectory() as tmp:
            adapter = download_run_dir(client, best.run_id, "adapter", Path(tmp))
            model, tokenizer = load_with_adapter(base_reference(cfg.model), adapter)
            save_merged(model, tokenizer, Path(tmp) / MERGED_DIR)
            log_dir(client, best.run_id, Path(tmp) / MERGED_DIR, MERGED_DIR)
    uri = f"runs:/{best.run_id}/{MERGED_DIR}"
    tag_version(client, name, version, {"sweeplab.merged_model": uri})
    return uri


def promote(
    tracker: Tracker,
    sweep: str,
    objective: str | None = None,
    alias: str | None = None,
    force: bool = False,
    mode: str | None = None,
    merge: bool = False,
) -> Promotion:
    parent, cfg = load_sweep(tracker, sweep)
    metric = objective or "objective"
    mode = mode or cfg.search.mode
    rows = [
        r
        for r in rows_from_runs(tracker.trial_runs(parent.info.run_id), cfg)
        if r.status == "FINISHED" and metric in r.metrics
    ]
    if not rows:
        raise PromotionRefused(f"sweep {sweep!r} has no finished trial with metric {metric!r}")
    best = pick_best(rows, metric, mode)
    failed = tuple(str(g) for g in cfg.promotion.gates if not g.passes(best.metrics))
    if failed and not force:
        raise PromotionRefused(
            f"best trial {best.trial_id} fails promotion gate(s): {'; '.join(failed)} "
            "(--force overrides, and is recorded on the version)"
        )
    name = cfg.promotion.model_name or sweep
    alias = alias or cfg.promotion.alias
    version, created = _register(tracker, parent, cfg, best, metric, failed, name)
    compared = objective or cfg.search.objective
    champion, comparison = _crown(tracker, name, alias, version, best, compared, mode, force)
    merged = _merge(tracker, cfg, best, name, version) if merge else None
    return Promotion(
        name, version, alias, created, best, failed, champion, comparison, merged, len(rows)
    )
