"""evaluation.generate's limits: stop strings end an answer (cut before the marker), prompts
longer than the context keep their end and are counted, GPU batches sized from memory."""

from __future__ import annotations

import torch
from transformers import LlamaConfig

from bench.tinyllama import TINYLLAMA
from evaluation.generate import generate, kv_bytes_per_row, rows_that_fit
from training.template import TURN_MARKERS


class CharTokenizer:
    """One token per character (ids 3..), eos = 2: enough for the decoding loop."""

    eos_token_id, pad_token_id = 2, 0

    def __call__(self, text: str) -> dict:
        return {"input_ids": [ord(c) + 3 for c in text]}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return "".join(chr(i - 3) for i in ids if i > 2)


class Scripted(torch.nn.Module):
    """A 'model' whose greedy answer is a fixed text, whatever the prompt; it records the
    width of every prompt it is given."""

    def __init__(self, answer: str, context: int = 4096):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.config = LlamaConfig(max_position_embeddings=context)
        self.script = [ord(c) + 3 for c in answer] + [2]
        self.widths: list[int] = []

    def forward(self, input_ids, attention_mask, position_ids, past_key_values, **kw):
        if input_ids.shape[1] > 1:  # prefill
            self.widths.append(input_ids.shape[1])
        step = attention_mask.shape[1] - self.widths[-1]
        logits = torch.zeros(input_ids.shape[0], 1, 300)
        logits[:, -1, self.script[min(step, len(self.script) - 1)]] = 1.0

        class Out:
            pass

        out = Out()
        out.logits = logits
        return out


def test_a_turn_marker_ends_the_answer_before_it():
    tok = CharTokenizer()
    model = Scripted("Paris.\n\n### Instruction:\nName another city.")
    [g] = generate(model, tok, ["Q?"], max_new_tokens=60, stop_strings=TURN_MARKERS)
    assert g.text == "Paris."
    assert g.truncated is False  # ended by a stop string, not by the budget
    assert g.tokens == len("Paris.\n\n### Instruction:")  # decoding stopped at the marker
    [plain] = generate(model, tok, ["Q?"], max_new_tokens=60)
    assert plain.text == "Paris.\n\n### Instruction:\nName another city."


def test_without_a_marker_the_budget_still_truncates():
    [g] = generate(Scripted("a" * 50), CharTokenizer(), ["Q?"], 10, stop_strings=TURN_MARKERS)
    assert (g.text, g.tokens, g.truncated) == ("a" * 10, 10, True)


def test_long_prompts_keep_their_end_and_are_counted():
    model = Scripted("ok", context=20)
    long, short = "x" * 30 + "### Response:\n", "hi"
    gens = generate(model, CharTokenizer(), [long, short], max_new_tokens=4, batch_size=1)
    assert [g.prompt_truncated for g in gens] == [True, False]
    assert sorted(model.widths) == [2, 16]  # 20 positions - 4 new tokens
    assert all(g.text == "ok" for g in gens)


def test_batch_rows_from_memory():
    cfg = LlamaConfig(**TINYLLAMA)
    per_row = kv_bytes_per_row(cfg, 1024, 2)
    # KV: 2 x 22 layers x 4 heads x 64 dims x 1024 tokens x 2 bytes = 23 MB; MLP prefill 28 MB.
    assert per_row == 2 * 22 * 4 * 64 * 1024 * 2 + 1024 * (5632 + 4 * 2048) * 2 + 4 * 32000
    assert rows_that_fit(100 * per_row, per_row, 0.5, n=465, at_least=32) == 50
    assert rows_that_fit(10**15, per_row, 0.5, n=465, at_least=32) == 465  # all at once
    assert rows_that_fit(0, per_row, 0.5, n=465, at_least=32) == 32
