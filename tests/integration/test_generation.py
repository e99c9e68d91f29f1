"""Generation on the demo model: batched equals one-by-one; budgets and EOS are honoured."""

from __future__ import annotations

import pytest

from evaluation.generate import generate
from training.base_model import load_base_model
from training.config import SOURCES, ModelConfig
from training.loading import load_source
from training.template import prompt_of

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_and_prompts(demo_assets):
    model, tok = load_base_model(ModelConfig(path=str(demo_assets["model"])))
    model.eval()
    prompts = []
    for source in SOURCES:
        examples, _ = load_source(source, str(demo_assets[source]), max_rows=40)
        prompts += [prompt_of(ex) for ex in examples[::4]]
    return model, tok, prompts


def test_batched_equals_one_by_one(model_and_prompts):
    model, tok, prompts = model_and_prompts
    batched = generate(model, tok, prompts, max_new_tokens=32, batch_size=16)
    single = generate(model, tok, prompts, max_new_tokens=32, batch_size=1)
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.truncated for g in batched] == [g.truncated for g in single]
    assert len({g.text for g in batched}) > 1  # not one degenerate answer for all


def test_budgets_cap_each_answer(model_and_prompts):
    model, tok, prompts = model_and_prompts
    budgets = [3 + (i % 5) for i in range(len(prompts))]
    gens = generate(model, tok, prompts, max_new_tokens=32, batch_size=8, budgets=budgets)
    full = generate(model, tok, prompts, max_new_tokens=32, batch_size=8)
    assert any(g.truncated for g in gens)
    for g, whole, cap in zip(gens, full, budgets, strict=True):
        assert g.tokens <= cap
        if g.truncated:
            assert g.tokens == cap
        # Greedy decoding is causal: a capped answer is a prefix of the uncapped one.
        assert whole.text.startswith(g.text.rstrip())
        assert whole.tokens >= g.tokens
