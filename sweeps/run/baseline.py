"""The base model's scores, computed once per (model, eval split, generation settings,
scoring setup) and cached on disk, so every trial reports deltas against the same numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from common.files import write_atomic
from evaluation.bootstrap import paired_bootstrap
from evaluation.config import GenerationSettings
from evaluation.eval_sets import EvalItem, SetResult, evaluate_all
from evaluation.metric_registry import METRICS
from evaluation.scoring import scoring_params
from training.base_model import load_base_model
from training.config import ModelConfig
from training.memory import release_memory
from training.template import TURN_MARKERS


def _model_identity(cfg: ModelConfig) -> dict:
    path = Path(cfg.path)
    ident = {"path": cfg.path, "revision": cfg.revision, "dtype": cfg.dtype}
    if path.is_dir():  # a local model: its weights' names, sizes and times stand for content
        ident["files"] = sorted(
            (p.name, p.stat().st_size, int(p.stat().st_mtime))
            for p in path.iterdir()
            if p.suffix in (".safetensors", ".json")
        )
    return ident


def cache_key(
    model: ModelConfig, items: dict[str, list[EvalItem]], settings: GenerationSettings
) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(_model_identity(model), sort_keys=True).encode())
    h.update(json.dumps(settings.model_dump(mode="json"), sort_keys=True).encode())
    h.update(json.dumps(TURN_MARKERS).encode())  # the stop strings answers end at
    h.update(json.dumps(scoring_params(), sort_keys=True).encode())
    h.update(json.dumps(["statistics", *(m.name for m in METRICS)]).encode())  # the format
    for name in sorted(items):
        for it in items[name]:
            h.update(f"{name}\0{it.id}\0{it.prompt}\0{it.reference}\n".encode())
    return h.hexdigest()[:20]


def _to_json(results: dict[str, SetResult], metrics: dict[str, float]) -> dict:
    return {
        "metrics": metrics,
        "sets": {
            name: {m.name: r.arrays[m.name].tolist() for m in METRICS}
            | {"predictions": [g.text for g in r.generations]}
            for name, r in results.items()
        },
    }


def cache_path(
    model: ModelConfig,
    items: dict[str, list[EvalItem]],
    settings: GenerationSettings,
    cache_dir: Path,
) -> Path:
    """Where the base model's scores are cached: one file per model, eval split, settings."""
    return cache_dir / f"base-{cache_key(model, items, settings)}.json"


def score_base_model(
    model: ModelConfig,
    items: dict[str, list[EvalItem]],
    settings: GenerationSettings,
    device: str | None = None,
) -> dict:
    """{"metrics": {...}, "sets": {name: arrays}}: the base model generating on `items`."""
    base_model, tokenizer = load_base_model(model)
    if device:
        base_model.to(device)
    base_model.eval()
    metrics, results = evaluate_all(base_model, tokenizer, items, settings, TURN_MARKERS)
    del base_model
    release_memory()  # the trial that asked loads its own copy next
    return _to_json(results, metrics)


def base_scores(
    model: ModelConfig,
    items: dict[str, list[EvalItem]],
    settings: GenerationSettings,
    cache_dir: Path,
) -> dict:
    """{"metrics": {...}, "sets": {name: arrays}} for the base model, from cache if present."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_path(model, items, settings, cache_dir)
    cached = read_cache(path)
    if cached is not None:
        return cached
    data = score_base_model(model, items, settings)
    write_atomic(path, json.dumps(data))  # concurrent trials never read half a file
    return data


def read_cache(path: Path) -> dict | None:
    """The cached scores, or None (a miss) when absent, empty, torn or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("metrics"), dict)
    sets = data.get("sets") if ok else None
    ok = isinstance(sets, dict) and all(
        isinstance(s, dict) and all(m.name in s for m in METRICS) for s in sets.values()
    )
    return data if ok else None


def deltas(
    results: dict[str, SetResult], base: dict, samples: int = 1000, seed: int = 0
) -> dict[str, float]:
    """`<dataset>/<metric>_delta_pct` and its 95% paired-bootstrap interval."""
    out: dict[str, float] = {}
    for name, res in results.items():
        b = base["sets"][name]
        base_arrays = {m.name: np.asarray(b[m.name], dtype=float) for m in METRICS}
        for metric, d in paired_bootstrap(res.arrays, base_arrays, samples, seed).items():
            if d.pct is None:
                continue
            out[f"{name}/{metric}_delta_pct"] = d.pct
            if d.ci_low is not None:
                out[f"{name}/{metric}_delta_pct_ci_low"] = d.ci_low
                out[f"{name}/{metric}_delta_pct_ci_high"] = d.ci_high
    return out
