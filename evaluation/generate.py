"""Greedy batched generation: left padding, length-sorted batches, end-of-sequence stops."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int
    """Generated tokens, end-of-sequence excluded."""
    truncated: bool
    """Stopped by the token budget, not by end-of-sequence."""


def _budget(n: int, budgets: list[int] | None, i: int) -> int:
    return n if budgets is None else max(1, min(n, budgets[i]))


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int = 64,
    batch_size: int = 32,
    budgets: list[int] | None = None,
) -> list[Generation]:
    """Greedy answers to `prompts`, in input order.

    `budgets` optionally caps each prompt's new tokens below `max_new_tokens`. Prompts are
    batched by length (and by budget) so little padding is generated.
    """
    if not prompts:
        return []
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    caps = [_budget(max_new_tokens, budgets, i) for i in range(len(prompts))]
    order = sorted(range(len(prompts)), key=lambda i: (caps[i], len(encoded[i])))
    device = next(model.parameters()).device
    results: list[Generation | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = encoded[i]
            ids[row, width - len(seq) :] = torch.tensor(seq)
            mask[row, width - len(seq) :] = 1
        cap = max(caps[i] for i in idx)
        out = model.generate(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            max_new_tokens=cap,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos,
            pad_token_id=pad,
        )
        for row, i in enumerate(idx):
            new = out[row, width:].tolist()[: caps[i]]
            stopped = eos in new
            if stopped:
                new = new[: new.index(eos)]
            text = tokenizer.decode(new, skip_special_tokens=True).strip()
            results[i] = Generation(text, len(new), truncated=not stopped)
    return results  # type: ignore[return-value]
