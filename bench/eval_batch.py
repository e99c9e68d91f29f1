"""Figure 2: batched vs one-by-one greedy generation on the three eval splits.

The demo base model answers the same prompts twice through `evaluation.generate.generate`,
all three splits in one call as `evaluation.eval_sets.evaluate_all` does: at the demo's
generation batch size (left-padded, length-sorted batches) and at batch size 1. Texts and
token counts must match exactly.
"""

from __future__ import annotations

import time

from bench.settings import DEMO_CONFIG, Settings


def measure(s: Settings, log) -> dict:
    import torch

    from evaluation.generate import generate
    from sweeps.config import load_config, localize
    from sweeps.run.eval_items import eval_items
    from training.base_model import load_base_model
    from training.prepare import prepare_data

    overrides = [f"data.eval_size.{x}={s.eval_per_split}" for x in ("alpaca", "dolly", "openorca")]
    cfg = localize(load_config(DEMO_CONFIG, overrides))
    torch.set_num_threads(s.threads)
    data = prepare_data(cfg.data)
    model, tok = load_base_model(cfg.model)
    model.eval()
    g = cfg.generation
    prompts = {n: [it.prompt for it in eval_items(exs)] for n, exs in data.eval_sets.items()}
    generate(model, tok, prompts["alpaca"][:4], g.max_new_tokens, g.batch_size)  # warm-up
    every = [p for ps in prompts.values() for p in ps]
    t = time.perf_counter()
    batched = generate(model, tok, every, g.max_new_tokens, g.batch_size)
    batched_s = time.perf_counter() - t
    t = time.perf_counter()
    single = generate(model, tok, every, g.max_new_tokens, 1)
    single_s = time.perf_counter() - t
    mismatches = sum(a != b for a, b in zip(batched, single, strict=True))
    same = mismatches == 0
    tokens = sum(x.tokens for x in batched)
    log(f"  {len(every)} prompts: {batched_s:.2f} s batched, {single_s:.2f} s one by one")
    return {
        "eval_batch_speedup": single_s / batched_s,
        "eval_outputs_identical": same,
        "eval_batched_s": batched_s,
        "eval_one_by_one_s": single_s,
        "eval_prompts": sum(len(p) for p in prompts.values()),
        "eval_mismatches": mismatches,
        "eval_batch_size": g.batch_size,
        "eval_max_new_tokens": g.max_new_tokens,
        "eval_generated_tokens": tokens,
        "eval_threads": s.threads,
    }
