"""Score a model on the held-out sets: generate, then METEOR / BLEU / ROUGE-L per dataset."""

from __future__ import annotations

import time
from dataclasses import dataclass

from evaluation.config import GenerationSettings
from evaluation.generate import Generation, generate
from evaluation.scoring import score

METRICS = ("meteor", "bleu", "rougeL")


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
    """`meteor`, `bleu`, `rougeL` and length figures for one dataset."""
    generations: list[Generation]
    per_example: list[dict]


def reference_budgets(
    tokenizer, items: list[EvalItem], settings: GenerationSettings
) -> list[int] | None:
    if settings.length_multiple is None:
        return None
    return [
        max(1, round(settings.length_multiple * len(tokenizer(it.reference)["input_ids"])))
        for it in items
    ]


def evaluate_set(
    model, tokenizer, items: list[EvalItem], settings: GenerationSettings
) -> SetResult:
    gens = generate(
        model,
        tokenizer,
        [it.prompt for it in items],
        settings.max_new_tokens,
        settings.batch_size,
        reference_budgets(tokenizer, items, settings),
    )
    scores = score([g.text for g in gens], [it.reference for it in items], per_example=True)
    metrics = {m: float(scores[m]) for m in METRICS}
    return SetResult(metrics, gens, scores["per_example"])


def evaluate_all(
    model, tokenizer, eval_sets: dict[str, list[EvalItem]], settings: GenerationSettings
) -> tuple[dict[str, float], dict[str, SetResult]]:
    """Metrics named `dataset/metric` for every set, plus each set's full result."""
    flat: dict[str, float] = {}
    results: dict[str, SetResult] = {}
    started = time.perf_counter()
    for name, items in eval_sets.items():
        res = evaluate_set(model, tokenizer, items, settings)
        results[name] = res
        flat.update({f"{name}/{k}": v for k, v in res.metrics.items()})
    flat["eval/seconds"] = time.perf_counter() - started
    return flat, results
