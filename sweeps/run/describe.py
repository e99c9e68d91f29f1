"""How a trial's MLflow run describes itself to someone reading the runs table.

- a name made of its searched values (`r32-orca0.3-dolly0-none`), so 24 trials can be told
  apart without six param columns (the store suffixes the trial id if two share one);
- the searched values as tags (`sweeplab.search.<key>`), so the UI can group by them;
- params that mean the same on every machine: a local file or folder is its name plus a
  content hash (`alpaca_data.json@sha256:1a2b...`), its absolute path a tag
  (`sweeplab.path.<key>`); hub ids stay as they are (the revision is its own param);
- the datasets it trained and was scored on, as plain dicts for `mlflow_server.datasets`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from common.files import content_id
from common.tags import PATH_TAG_PREFIX, SEARCH_TAG_PREFIX
from sweeps.config import TrialConfig
from sweeps.run.plan import trial_phases
from training.examples import SOURCES
from training.loading import is_local
from training.mixing import content_hash
from training.prepare import PreparedData

SHORT = {"lora.r": "r", "mix.openorca": "orca", "mix.dolly": "dolly", "curriculum": ""}
"""Searched keys -> how a run name spells them; others use their last part."""
PATH_KEYS = ("model.path", *(f"data.{s}" for s in SOURCES))
"""Params that may hold a local path."""


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def run_name(searched: dict[str, Any], seed: int | None = None) -> str:
    """`r32-orca0.3-dolly0-none` from `{"lora.r": 32, "mix.openorca": 0.3, ...}`, in the
    order the search space lists them; a replicate's ends in its training `seed`
    (`-seed1000`)."""
    parts = []
    for key, value in searched.items():
        short = SHORT.get(key, key.rsplit(".", 1)[-1])
        parts.append(f"{short}{_value(value)}")
    name = "-".join(parts) or "defaults"
    return name if seed is None else f"{name}-seed{seed}"


def search_tags(searched: dict[str, Any]) -> dict[str, str]:
    return {f"{SEARCH_TAG_PREFIX}{k}": _value(v) for k, v in searched.items()}


@cache
def _identity(location: str) -> str:
    path = Path(location)
    return f"{path.name}@sha256:{content_id(path)}"


def _portable(location: str) -> str:
    local = is_local(location) and Path(location).exists()
    return _identity(location) if local else location


def portable_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(params with local paths replaced by name + content hash, `sweeplab.path.*` tags)."""
    out, tags = dict(params), {}
    for key in PATH_KEYS:
        location = params.get(key)
        if isinstance(location, str) and _portable(location) != location:
            out[key] = _portable(location)
            tags[f"{PATH_TAG_PREFIX}{key}"] = str(Path(location).resolve())
    return out, tags


def _source(location: str, revision: str | None = None) -> dict:
    if is_local(location):
        return {"file": str(Path(location).resolve())}
    return {"hub": location, "revision": revision}


def eval_datasets(cfg: TrialConfig, data: PreparedData) -> list[dict]:
    """The held-out sets a trial is scored on (context `evaluation`)."""
    return [
        {
            "name": f"{name}-eval",
            "context": "evaluation",
            "content_hash": content_hash(examples),
            "source": _source(cfg.data.source(name)),
            "profile": {"rows": len(examples), "split_seed": cfg.data.split_seed},
        }
        for name, examples in data.eval_sets.items()
    ]


def training_datasets(cfg: TrialConfig, data: PreparedData) -> list[dict]:
    """Each phase's training mixture (context `training`): the rows `run_trial` draws."""
    out = []
    for i, phase in enumerate(trial_phases(cfg, data)):
        rows: dict[str, int] = {}
        for ex in phase.examples:
            rows[ex.source] = rows.get(ex.source, 0) + 1
        out.append(
            {
                "name": f"train-phase{i}-{phase.name}",
                "context": "training",
                "content_hash": content_hash(phase.examples),
                "source": {"mixture": {s: _portable(cfg.data.source(s)) for s in sorted(rows)}},
                "profile": {"rows": len(phase.examples), "steps": phase.steps, **rows},
            }
        )
    return out
