"""Held-out examples as the items a model is evaluated on: each rendered with the training
template. Light (no torch): the driver builds them for the base model's scores."""

from __future__ import annotations

from evaluation.eval_sets import EvalItem
from training.examples import Example
from training.template import prompt_of


def eval_items(examples: list[Example]) -> list[EvalItem]:
    return [
        EvalItem(ex.id, prompt_of(ex), ex.response.strip(), ex.system, ex.category)
        for ex in examples
    ]
