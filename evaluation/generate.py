"""Greedy batched generation: left padding, length-sorted batches, end-of-sequence stops.

The decoding loop is our own rather than `model.generate`: it computes the same greedy tokens
(argmax of the last position's logits, positions from the attention mask as `generate` does)
but drops a row from the batch and its KV cache as soon as it has ended (end-of-sequence or
its own budget), so a batch no longer decodes finished rows until its longest answer ends,
and it skips `generate`'s per-step bookkeeping. `make bench` checks batched against
one-by-one output, and the integration tests check both against `model.generate`.
"""

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
        outs = _greedy(model, ids.to(device), mask.to(device), [caps[i] for i in idx], eos)
        for row, i in enumerate(idx):
            new = outs[row]
            stopped = eos in new
            if stopped:
                new = new[: new.index(eos)]
            text = tokenizer.decode(new, skip_special_tokens=True).strip()
            results[i] = Generation(text, len(new), truncated=not stopped)
    return results  # type: ignore[return-value]


def _greedy(model, ids, mask, caps: list[int], eos: int) -> list[list[int]]:
    """New tokens per row (up to its cap, the end-of-sequence token included if reached)."""
    from transformers import DynamicCache

    position = mask.cumsum(-1) - 1
    position.masked_fill_(mask == 0, 1)  # as `generate` does; padded positions are masked
    cache = DynamicCache()
    logits = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=position,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=1,
    ).logits
    token = logits[:, -1, :].argmax(-1)
    new: list[list[int]] = [[] for _ in caps]
    alive = list(range(len(caps)))  # rows still decoding, by their index in `caps`
    while True:
        keep = []
        for pos, (row, t) in enumerate(zip(alive, token.tolist(), strict=True)):
            new[row].append(t)
            if t != eos and len(new[row]) < caps[row]:
                keep.append(pos)
        if not keep:
            return new
        if len(keep) < len(alive):
            index = torch.tensor(keep, device=ids.device)
            cache.batch_select_indices(index)
            mask, token = mask[index], token[index]
            alive = [alive[pos] for pos in keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        logits = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=mask.sum(-1, keepdim=True) - 1,
            past_key_values=cache,
            use_cache=True,
        ).logits
        token = logits[:, -1, :].argmax(-1)
