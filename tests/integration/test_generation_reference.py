"""evaluation.generate's own greedy loop gives exactly what `model.generate` gives, on the
demo model alone and under a (randomly initialized, so non-trivial) LoRA adapter."""

from __future__ import annotations

import pytest
import torch

from evaluation.generate import generate
from training.base_model import load_base_model
from training.config import SOURCES, ModelConfig
from training.loading import load_source
from training.template import prompt_of

pytestmark = pytest.mark.integration


def reference(model, tok, prompts: list[str], max_new_tokens: int) -> list[str]:
    """One prompt at a time through transformers' own greedy `generate`."""
    texts = []
    for p in prompts:
        ids = torch.tensor([tok(p)["input_ids"]])
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        new = out[0, ids.shape[1] :].tolist()
        if tok.eos_token_id in new:
            new = new[: new.index(tok.eos_token_id)]
        texts.append(tok.decode(new, skip_special_tokens=True).strip())
    return texts


@pytest.fixture(scope="module")
def prompts(demo_assets):
    out = []
    for source in SOURCES:
        examples, _ = load_source(source, str(demo_assets[source]), max_rows=30)
        out += [prompt_of(ex) for ex in examples[::5]]
    return out


@pytest.mark.parametrize("adapter", [False, True])
def test_same_tokens_as_model_generate(demo_assets, prompts, adapter):
    model, tok = load_base_model(ModelConfig(path=str(demo_assets["model"])))
    if adapter:
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)
        config = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        model = get_peft_model(model, config)
    model.eval()
    ours = [g.text for g in generate(model, tok, prompts, max_new_tokens=24, batch_size=7)]
    assert ours == reference(model, tok, prompts, 24)
