"""Greedy batched generation: left padding, length-sorted batches, end-of-sequence and
stop-string stops, prompts cut to fit the context, GPU batches as large as memory allows.

The decoding loop is our own rather than `model.generate`: it computes the same greedy tokens
(argmax of the last position's logits, positions from the attention mask as `generate` does)
but drops a row from the batch and its KV cache as soon as it has ended (end-of-sequence or
its own budget), so a batch no longer decodes finished rows until its longest answer ends,
and it skips `generate`'s per-step bookkeeping. `make bench` checks batched against
one-by-one output, and the integration tests check both against `model.generate`.

Stop strings (the prompt template's turn markers, passed in by the caller) end a row as soon
as its decoded text holds one, and the answer is cut before it: a base model that never emits
end-of-sequence would otherwise spend its whole budget writing invented "### Instruction:"
turns. Prompts longer than the context minus the token budget keep their end (where the
answer starts) and are counted. On a GPU a batch holds as many prompts as fit in a share of
free memory (all of them when they fit); on the CPU `batch_size` as given.
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
    """Stopped by the token budget, not by end-of-sequence or a stop string."""
    prompt_truncated: bool = False
    """The prompt was cut (its start dropped) to leave room for the answer in the context."""


def _budget(n: int, budgets: list[int] | None, i: int) -> int:
    return n if budgets is None else max(1, min(n, budgets[i]))


def kv_bytes_per_row(config, length: int, dtype_bytes: int) -> int:
    """Memory one row of a generation batch needs at `length` tokens: its KV cache, the
    prefill's widest activations (the MLP's) and one row of fp32 logits."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    kv = 2 * config.num_hidden_layers * kv_heads * head_dim * length * dtype_bytes
    prefill = length * (config.intermediate_size + 4 * config.hidden_size) * dtype_bytes
    return kv + prefill + 4 * config.vocab_size


def rows_that_fit(free_bytes: int, per_row: int, fraction: float, n: int, at_least: int) -> int:
    """A batch size: as many rows as `fraction` of free memory holds, at most `n` (all the
    prompts), never below `at_least` (the configured batch size)."""
    return max(1, min(n, max(at_least, int(fraction * free_bytes) // max(1, per_row))))


def _batch_size(model, n: int, length: int, batch_size: int, memory_fraction: float) -> int:
    device = next(model.parameters()).device
    if device.type != "cuda" or memory_fraction <= 0:
        return batch_size
    free, _ = torch.cuda.mem_get_info(device)
    per_row = kv_bytes_per_row(model.config, length, next(model.parameters()).element_size())
    return rows_that_fit(free, per_row, memory_fraction, n, batch_size)


def _context(model) -> int | None:
    return getattr(getattr(model, "config", None), "max_position_embeddings", None)


def _cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    cuts = [text.find(s) for s in stops if s in text]
    return (text[: min(cuts)].strip(), True) if cuts else (text, False)


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int = 64,
    batch_size: int = 32,
    budgets: list[int] | None = None,
    stop_strings: tuple[str, ...] = (),
    memory_fraction: float = 0.0,
) -> list[Generation]:
    """Greedy answers to `prompts`, in input order.

    `budgets` optionally caps each prompt's new tokens below `max_new_tokens`. Prompts are
    batched by length (and by budget) so little padding is generated. A row also stops once
    its text holds one of `stop_strings` (the answer is cut before it).
    """
    if not prompts:
        return []
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    context = _context(model)
    room = None if context is None else max(1, context - max_new_tokens)
    cut = [room is not None and len(e) > room for e in encoded]
    encoded = [e[-room:] if c else e for e, c in zip(encoded, cut, strict=True)]
    caps = [_budget(max_new_tokens, budgets, i) for i in range(len(prompts))]
    order = sorted(range(len(prompts)), key=lambda i: (caps[i], len(encoded[i])))
    longest = max(len(e) for e in encoded) + max(caps)
    batch_size = _batch_size(model, len(prompts), longest, batch_size, memory_fraction)
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
        stop = _StopCheck(tokenizer, stop_strings)
        outs = _greedy(model, ids.to(device), mask.to(device), [caps[i] for i in idx], eos, stop)
        for row, i in enumerate(idx):
            new = outs[row]
            ended = eos in new
            if ended:
                new = new[: new.index(eos)]
            text = tokenizer.decode(new, skip_special_tokens=True).strip()
            text, stopped = _cut_at_stop(text, stop_strings)
            results[i] = Generation(text, len(new), not (ended or stopped), cut[i])
    return results  # type: ignore[return-value]


class _StopCheck:
    """Whether a row's latest tokens complete a stop string (decodes a short tail only)."""

    def __init__(self, tokenizer, stops: tuple[str, ...]):
        self.tokenizer, self.stops = tokenizer, stops
        self.tail = max((len(s) for s in stops), default=0) + 2  # >= 1 character per token

    def __call__(self, tokens: list[int]) -> bool:
        if not self.stops:
            return False
        text = self.tokenizer.decode(tokens[-self.tail :], skip_special_tokens=True)
        return any(s in text for s in self.stops)


def _greedy(model, ids, mask, caps: list[int], eos: int, stop: _StopCheck) -> list[list[int]]:
    """New tokens per row (up to its cap, the end-of-sequence token included if reached, a
    stop string's tokens included if one ended it)."""
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
            if t != eos and len(new[row]) < caps[row] and not stop(new[row]):
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
