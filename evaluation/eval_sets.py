"""Score a model on the held-out sets: generate, then every registry metric, length and
error-category figures per dataset, and the per-example statistics paired bootstraps need."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from evaluation.analysis import flag_example, summarize
from evaluation.config import GenerationSettings
from evaluation.metric_registry import METRICS
from evaluation.scoring import scores_of, statistics

if TYPE_CHECKING:  # torch: imported where a model generates, not by every reader of results
    from evaluation.generate import Generation

_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class EvalItem:
    id: str
    prompt: str
    """The fully rendered prompt the model answers."""
    reference: str
    system: str = ""
    category: str = ""


@dataclass(frozen=True)
class SetResult:
    metrics: dict[str, float]
    """Every registry metric by name, length figures and flag rates for one dataset."""
    generations: list[Generation]
    per_example: list[dict]
    """Per example: scores and flags, in eval-set order."""
    arrays: dict[str, np.ndarray]
    """Each metric's per-example statistics by name (evaluation/metric_registry.py), for
    paired bootstraps."""


def reference_budgets(
    tokenizer, items: list[EvalItem], settings: GenerationSettings
) -> list[int] | None:
    """Per-example token caps at a multiple of the reference's length (the seed's limit)."""
    if settings.length_multiple is None:
        return None
    return [
        max(1, round(settings.length_multiple * len(tokenizer(it.reference)["input_ids"])))
        for it in items
    ]


def cut_to_sentence(text: str) -> str:
    """Drop a trailing unfinished sentence, if a finished one comes before it."""
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]] if ends and ends[-1] < len(text.rstrip()) else text


def generate_items(
    model,
    tokenizer,
    items: list[EvalItem],
    settings: GenerationSettings,
    stop_strings: tuple[str, ...] = (),
) -> list[Generation]:
    from evaluation.generate import generate

    return generate(
        model,
        tokenizer,
        [it.prompt for it in items],
        settings.max_new_tokens,
        settings.batch_size,
        reference_budgets(tokenizer, items, settings),
        stop_strings=stop_strings,
        memory_fraction=settings.memory_fraction,
    )


def evaluate_set(
    model,
    tokenizer,
    items: list[EvalItem],
    settings: GenerationSettings,
    stop_strings: tuple[str, ...] = (),
) -> SetResult:
    gens = generate_items(model, tokenizer, items, settings, stop_strings)
    return score_set(items, gens, settings)


def score_set(
    items: list[EvalItem], gens: list[Generation], settings: GenerationSettings
) -> SetResult:
    """Metrics, flags and per-example arrays of one set's generations."""
    if settings.stop_at_sentence:
        gens = [replace(g, text=cut_to_sentence(g.text)) if g.truncated else g for g in gens]
    preds, refs = [g.text for g in gens], [it.reference for it in items]
    arrays = statistics(preds, refs)
    scores = scores_of(arrays, per_example=True)
    flags = [
        flag_example(g.text, it.reference, it.system, g.truncated)
        for g, it in zip(gens, items, strict=True)
    ]
    metrics = {m.name: float(scores[m.name]) for m in METRICS} | summarize(flags)
    metrics["prompt_truncated_pct"] = (
        100.0 * sum(g.prompt_truncated for g in gens) / max(1, len(gens))
    )
    per_example = [
        {**{k: float(v) for k, v in s.items()}, **f.as_dict()}
        for s, f in zip(scores["per_example"], flags, strict=True)
    ]
    return SetResult(metrics, gens, per_example, arrays)


def evaluate_all(
    model,
    tokenizer,
    eval_sets: dict[str, list[EvalItem]],
    settings: GenerationSettings,
    stop_strings: tuple[str, ...] = (),
) -> tuple[dict[str, float], dict[str, SetResult]]:
    """Metrics named `dataset/metric` for every set, plus each set's full result.

    All sets' prompts are generated in one call, so batches fill across sets (a prompt's
    answer does not depend on its batch: see evaluation/generate.py). `stop_strings` (the
    prompt template's turn markers) end an answer as end-of-sequence does.
    """
    flat: dict[str, float] = {}
    results: dict[str, SetResult] = {}
    started = time.perf_counter()
    every = [it for items in eval_sets.values() for it in items]
    gens = generate_items(model, tokenizer, every, settings, stop_strings)
    generate_s = time.perf_counter() - started
    offset = 0
    for name, items in eval_sets.items():
        res = score_set(items, gens[offset : offset + len(items)], settings)
        offset += len(items)
        results[name] = res
        flat.update({f"{name}/{k}": v for k, v in res.metrics.items()})
    flat["eval/seconds"] = time.perf_counter() - started
    flat["eval/generate_seconds"] = generate_s  # the rest of eval/seconds is scoring
    return flat, results
