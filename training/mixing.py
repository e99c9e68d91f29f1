"""Training mixtures and curricula: pure functions of the pools, the fractions and a seed."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Literal

from training.config import MixConfig
from training.examples import Example

Curriculum = Literal["none", "two_phase"]


@dataclass(frozen=True)
class Phase:
    """One stretch of training: its examples and how many optimizer steps it gets."""

    name: str
    examples: tuple[Example, ...]
    steps: int


def source_counts(n: int, mix: MixConfig) -> dict[str, int]:
    """Rows per source in a mixture of `n` rows; Alpaca takes what rounding leaves.

    Order: Alpaca, Dolly, OpenOrca, then declared sources (the order rows are drawn in).
    """
    shares = {k: round(n * v) for k, v in mix.shares().items()}
    orca, dolly = shares.pop("openorca"), shares.pop("dolly")
    alpaca = n - orca - dolly - sum(shares.values())
    return {"alpaca": alpaca, "dolly": dolly, "openorca": orca, **shares}


def _sample(pool: list[Example], k: int, rng: random.Random, source: str) -> list[Example]:
    if k > len(pool):
        share = "raise mix.openorca or mix.dolly" if source == "alpaca" else f"lower mix.{source}"
        raise ValueError(
            f"the mixture needs {k} {source} training rows but only {len(pool)} remain after "
            f"the held-out split; lower train.num_examples or {share}"
        )
    return rng.sample(pool, k)


def build_mixture(
    pools: dict[str, list[Example]], mix: MixConfig, n: int, seed: int
) -> list[Example]:
    """`n` rows drawn from the training pools in the configured shares, shuffled.

    Each source has its own random stream, so changing one fraction leaves the draws from
    the other sources a prefix of what they were.
    """
    rows: list[Example] = []
    for source, k in source_counts(n, mix).items():
        if k:
            rows += _sample(pools[source], k, random.Random(f"{seed}:{source}"), source)
    random.Random(f"{seed}:shuffle").shuffle(rows)
    return rows


def plan_phases(
    pools: dict[str, list[Example]],
    mix: MixConfig,
    curriculum: Curriculum,
    n: int,
    max_steps: int,
    phase1_fraction: float,
    seed: int,
) -> list[Phase]:
    """The phases a trial trains through.

    `none`: one phase on the mixture. `two_phase`: Alpaca only first, then the mixture,
    the second phase continuing from the first one's adapter.
    """
    mixture = tuple(build_mixture(pools, mix, n, seed))
    if curriculum == "none":
        return [Phase("mixture", mixture, max_steps)]
    if max_steps < 2:
        raise ValueError("curriculum two_phase needs train.max_steps >= 2")
    first = max(1, min(max_steps - 1, round(max_steps * phase1_fraction)))
    alpaca_only = tuple(build_mixture(pools, MixConfig(), n, seed))
    return [Phase("alpaca", alpaca_only, first), Phase("mixture", mixture, max_steps - first)]


def content_hash(examples) -> str:
    """sha256 over the examples' own content hashes, in order: one set's identity."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(ex.content_hash.encode())
    return digest.hexdigest()


def manifest(phases: list[Phase], eval_sets: dict[str, list[Example]] | None = None) -> dict:
    """What a trial trained on: example ids per phase and source, a content hash per phase
    and one over all phases; with `eval_sets`, each held-out set's size and content hash."""
    out: dict = {"phases": []}
    for phase in phases:
        ids: dict[str, list[str]] = {}
        for ex in phase.examples:
            ids.setdefault(ex.source, []).append(ex.id)
        out["phases"].append(
            {
                "name": phase.name,
                "steps": phase.steps,
                "rows": len(phase.examples),
                "rows_per_source": {k: len(v) for k, v in ids.items()},
                "content_hash": content_hash(phase.examples),
                "ids": ids,
            }
        )
    out["content_hash"] = content_hash(ex for phase in phases for ex in phase.examples)
    if eval_sets is not None:
        out["eval_sets"] = {
            name: {"rows": len(exs), "content_hash": content_hash(exs)}
            for name, exs in eval_sets.items()
        }
    return out


def assert_disjoint(phases: list[Phase], eval_sets: dict[str, list[Example]]) -> None:
    """Refuse to train when any held-out example is in the training data."""
    held_out = {ex.content_hash: (name, ex.id) for name, exs in eval_sets.items() for ex in exs}
    for phase in phases:
        for ex in phase.examples:
            if ex.content_hash in held_out:
                name, eid = held_out[ex.content_hash]
                raise ValueError(
                    f"training row {ex.id} ({ex.source}) is held-out {name} example {eid}: "
                    "train and eval must be disjoint"
                )
