"""Which base model each trial is compared with: model scale as a search dimension.

With `model.*` searched (`model.path: {choice: [models/demo-llama, models/demo-llama-mini]}`),
trials start from different base models. Every model a trial can start from is scored once,
before the sweep (`score_bases`: cached by the model's identity, path, revision, dtype,
weights), and the trials are handed all the scores by `model_key`: each trial takes its own
model's, so its deltas are against its own base, never another model's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from evaluation.eval_sets import EvalItem
from sweeps.config import Choice, SweepConfig
from sweeps.run.baseline import cache_path
from training.config import ModelConfig


def model_dims(cfg: SweepConfig) -> list[str]:
    """The searched keys that choose the base model (`model.path`, `model.revision`, ...)."""
    return [k for k in cfg.search.space if k.startswith("model.")]


def searched_models(cfg: SweepConfig) -> list[ModelConfig]:
    """Every distinct base model the sweep's trials can start from, in a fixed order: the
    config's own when no `model.*` key is searched, else each combination of searched values
    (and of the points tried first)."""
    keys = model_dims(cfg)
    if not keys:
        return [cfg.model]
    dims = [cfg.search.space[k] for k in keys]
    values = [d.choice if isinstance(d, Choice) else (d.low, d.high) for d in dims]
    points = [dict(zip(keys, vs, strict=True)) for vs in itertools.product(*values)]
    points += [{k: p[k] for k in keys} for p in cfg.search.points_to_evaluate]
    models: dict[str, ModelConfig] = {}
    for point in points:
        model = cfg.trial(point).model
        models.setdefault(model.model_dump_json(), model)
    return list(models.values())


def model_label(model: ModelConfig) -> str:
    """A short name for a base model in logs and metric names: its folder or hub name."""
    name = model.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{name}:{model.revision}" if model.revision else name


def model_key(model: ModelConfig) -> str:
    """The key a trial finds its base model's scores under."""
    return model.model_dump_json()


def score_bases(
    cfg: SweepConfig,
    items: dict[str, list[EvalItem]],
    cache_dir,
    score: Callable[[ModelConfig], dict],
    say: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Each searched base model's scores (`model_key` -> scores) from `score(model)`, which
    reads the cache or evaluates; says which models are cached and which are evaluated."""
    out: dict[str, dict] = {}
    for model in searched_models(cfg):
        cached = cache_path(model, items, cfg.generation, cache_dir).is_file()
        verb = "cached" if cached else "evaluating"
        say(f"  base model {model_label(model)}: {verb} ({model.path})")
        out[model_key(model)] = score(model)
    return out
