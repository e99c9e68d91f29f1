"""What a promoted model runs: base model + LoRA adapter + the training prompt template."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evaluation.generate import generate
from training.base_model import load_base_model
from training.config import ModelConfig
from training.sft import load_adapter
from training.template import render_prompt


def load_generator(artifacts: dict[str, str], config: dict) -> Callable[[list[str]], list[str]]:
    """A function from instructions to generated answers.

    `config` holds the base model reference (`model`) and generation settings; `artifacts`
    the adapter directory (which also holds the tokenizer).
    """
    model_cfg = ModelConfig.model_validate(config["model"])
    model, _ = load_base_model(model_cfg)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(artifacts["adapter"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_adapter(model, Path(artifacts["adapter"]))
    model.eval()
    max_new = int(config.get("max_new_tokens", 64))

    def predict(inputs: list) -> list[str]:
        prompts = []
        for item in inputs:
            if isinstance(item, dict):  # {"instruction", "system"?, "input"?}
                prompts.append(
                    render_prompt(
                        item["instruction"], item.get("system", ""), item.get("input", "")
                    )
                )
            else:
                prompts.append(render_prompt(str(item)))
        return [g.text for g in generate(model, tokenizer, prompts, max_new, batch_size=16)]

    return predict
