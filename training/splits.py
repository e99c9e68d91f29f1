"""Exact-duplicate removal and the deterministic held-out split."""

from __future__ import annotations

import random

from training.examples import Example


def drop_duplicates(examples: list[Example]) -> tuple[list[Example], int]:
    """Keep the first of each set of exact duplicates; return the rest's count too."""
    seen: set[str] = set()
    kept: list[Example] = []
    for ex in examples:
        if ex.content_hash not in seen:
            seen.add(ex.content_hash)
            kept.append(ex)
    return kept, len(examples) - len(kept)


def held_out_split(
    examples: list[Example], eval_size: int, seed: int, source: str = "dataset"
) -> tuple[list[Example], list[Example]]:
    """(train, eval): `eval_size` examples held out, chosen by a seeded shuffle.

    The choice depends only on the (deduplicated) data, the size and the seed, never on a
    trial's other settings, so every trial of a sweep is scored on the same examples.
    """
    if eval_size >= len(examples):
        raise ValueError(
            f"data.eval_size.{source}={eval_size} but only {len(examples)} unique {source} "
            "rows exist (some must remain for training)"
        )
    order = sorted(examples, key=lambda ex: ex.content_hash)
    random.Random(f"split:{seed}:{source}").shuffle(order)
    held = order[:eval_size]
    held_ids = {ex.content_hash for ex in held}
    train = [ex for ex in examples if ex.content_hash not in held_ids]
    return train, held
