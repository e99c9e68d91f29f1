"""What `sweeplab confirm` re-runs: the best distinct configurations and the seed-like
baseline, each with several training seeds. Pure functions of the sweep's rows; no Ray.

A replicate is one (configuration, seed) pair. Its seeds are `train.seed + 1 .. + N`, never
the sweep's own seed, so the replicates of a configuration are N fresh draws of training
noise (the mixture's sample included) and the search's trial is not counted twice.
"""

from __future__ import annotations

import json
from typing import Any

from common.tags import (
    POINT_TAG,
    REPLICATE_OF_TAG,
    REPLICATE_TAG,
    ROLE_CONFIRM,
    ROLE_REPLICATE,
    ROLE_TAG,
    SEED_LIKE,
)
from sweeps.config import SweepConfig
from sweeps.report.leaderboard import Row

CONFIRM = "confirm"
"""The key of a replicate's settings in its Ray trial config."""


def _dotted(data: dict, key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


def baseline_point(cfg: SweepConfig) -> dict[str, Any]:
    """The seed-like configuration as overrides: the seed's values where the config has
    those settings, the sweep's defaults for every other searched key."""
    base = cfg.trial_dict()
    point = {k: _dotted(base, k) for k in cfg.search.space}
    for key, value in SEED_LIKE.items():
        try:
            _dotted(base, key)
        except (KeyError, TypeError):
            continue  # a setting this config does not have
        point[key] = value
    return point


def _same(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _searched(row: Row, keys: list[str]) -> tuple[str, ...]:
    return tuple(str(row.params.get(k, "")) for k in keys)


def is_baseline(values: dict[str, Any], baseline: dict[str, Any]) -> bool:
    return all(_same(values.get(k), v) for k, v in baseline.items() if k in values)


def confirm_points(rows: list[Row], cfg: SweepConfig, top: int) -> list[dict[str, Any]]:
    """The `top` best distinct finished configurations that are not the baseline (several
    objectives: front members first), then the baseline: each as trial overrides
    (searched keys, typed as the sweep's values)."""
    keys = list(cfg.search.space)
    base = baseline_point(cfg)
    points, seen = [], set()
    for row in cfg.search.goal().ranked(rows):  # the front first, then by the first objective
        values = _searched(row, keys)
        if values in seen:
            continue
        seen.add(values)
        point = {k: _typed(cfg, k, v) for k, v in zip(keys, values, strict=True)}
        if not is_baseline(point, base):
            points.append(point)
        if len(points) == top:
            break
    if not points:
        raise ValueError(f"sweep {cfg.name!r} has no finished trial other than the baseline")
    return points + [base]


def _typed(cfg: SweepConfig, key: str, text: str) -> Any:
    """A searched value read back from an MLflow param (a string) as the sweep's type."""
    dim = cfg.search.space[key]
    for value in getattr(dim, "choice", ()):
        if _same(value, text):
            return value
    try:
        return json.loads(text)
    except ValueError:
        return text


NOISE_SEED_OFFSET = 1000
"""An in-sweep replicate trains with its trial's seed plus this: never a seed the search or
`sweeplab confirm` (seed + 1 .. + N) uses, even when `train.seed` is itself searched."""


def noise_replicates(rows: list[Row], cfg: SweepConfig, n: int) -> list[dict[str, Any]]:
    """The sweep's own replicates (`search.replicates`): `n` distinct finished search
    configurations, each once more with another training seed, so that every report has a
    measured seed-to-seed spread. The seed-like baseline first, where the search ran it, then
    the best (the front first); trials that ran their full budget first, so a pair is
    compared at the trial's last step (a stopped trial's replicate is read at its step)."""
    keys = list(cfg.search.space)
    done = [r for r in rows if r.status == "FINISHED"]
    base = baseline_point(cfg)
    typed = {r.run_id: {k: _typed(cfg, k, r.params.get(k, "")) for k in keys} for r in done}
    order = []
    for pool in ([r for r in done if not r.stopped_early], done):  # full budget first
        order += [r for r in pool if is_baseline(typed[r.run_id], base)]
        order += cfg.search.goal().ranked(pool) + pool
    picked, seen = [], set()
    for row in order:
        if (values := _searched(row, keys)) not in seen and len(picked) < n:
            seen.add(values)
            picked.append(row)
    reps = []
    for i, row in enumerate(picked):
        seed = int(typed[row.run_id].get("train.seed", cfg.train.seed)) + NOISE_SEED_OFFSET
        point = {**typed[row.run_id], "train.seed": seed}
        reps.append({"point": i, "replicate": 0, "overrides": point, "of": row.trial_id})
    return reps


def replicate_seeds(cfg: SweepConfig, seeds: int) -> list[int]:
    return [cfg.train.seed + i + 1 for i in range(seeds)]


def replicates(cfg: SweepConfig, points: list[dict], seeds: int) -> list[dict[str, Any]]:
    """One trial config per (point, seed): the overrides plus `train.seed`, and which
    replicate of its point it is (`replicate`, 0-based)."""
    return [
        {"point": i, "replicate": j, "overrides": {**p, "train.seed": s}}
        for i, p in enumerate(points)
        for j, s in enumerate(replicate_seeds(cfg, seeds))
    ]


def overrides_of(config: dict) -> dict[str, Any]:
    """A Ray trial's config as trial overrides (a replicate carries them under `confirm`)."""
    return config[CONFIRM]["overrides"] if CONFIRM in config else config


def tags_of(config: dict) -> dict[str, str]:
    """The tags a Ray trial's run carries for its role: none for a search trial."""
    if CONFIRM not in config:
        return {}
    rep = config[CONFIRM]
    tags = {REPLICATE_TAG: str(rep["replicate"]), POINT_TAG: str(rep["point"])}
    if "of" in rep:  # the sweep's own replicate of one of its trials
        return {ROLE_TAG: ROLE_REPLICATE, REPLICATE_OF_TAG: rep["of"], **tags}
    return {ROLE_TAG: ROLE_CONFIRM, **tags}
