"""Figure 6: how fast the three metrics score, and their share of a trial's evaluation.

On the demo config's eval sets (its sizes and generation settings) the demo base model
answers every prompt as `evaluation.eval_sets.evaluate_all` does, then
`evaluation.scoring.score` scores the answers (BLEU, ROUGE-L and METEOR together, per
example too). Loading WordNet and the metric modules is timed on its own first: it happens
once per process, not once per evaluation. metric_time_fraction = scoring seconds /
(generation + scoring seconds) over the three sets, WordNet already loaded.
"""

from __future__ import annotations

import time

from bench.settings import DEMO_CONFIG, Settings


def measure(s: Settings, log) -> dict:
    import torch

    from evaluation.eval_sets import generate_items
    from evaluation.scoring import load_metric, score
    from sweeps.cli import localize
    from sweeps.config import load_config
    from sweeps.trial import eval_items
    from training.base_model import load_base_model
    from training.prepare import prepare_data

    torch.set_num_threads(s.threads)
    t = time.perf_counter()
    meteor = load_metric("meteor")
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()
    meteor.compute(predictions=["a cat sat"], references=["the cat sits"])
    wordnet_s = time.perf_counter() - t
    t = time.perf_counter()
    load_metric("rouge"), load_metric("bleu")
    modules_s = time.perf_counter() - t

    sets = ("alpaca", "dolly", "openorca")
    overrides = [f"data.eval_size.{x}={s.eval_per_split}" for x in sets] if s.quick else []
    cfg = localize(load_config(DEMO_CONFIG, overrides))
    data = prepare_data(cfg.data)
    model, tok = load_base_model(cfg.model)
    model.eval()
    # As evaluate_all: every set's prompts generated in one call, then each set scored.
    sets = {name: eval_items(exs) for name, exs in data.eval_sets.items()}
    every = [it for items in sets.values() for it in items]
    t = time.perf_counter()
    gens = generate_items(model, tok, every, cfg.generation)
    gen_s = time.perf_counter() - t
    score_s = 0.0
    pairs = 0
    unchanged = True
    for items in sets.values():
        mine, gens = gens[: len(items)], gens[len(items) :]
        preds, refs = [x.text for x in mine], [it.reference for it in items]
        t = time.perf_counter()
        scores = score(preds, refs, per_example=True)
        score_s += time.perf_counter() - t
        pairs += len(preds)
        unchanged = unchanged and score(preds, refs, per_example=True) == scores
    log(f"  {pairs} pairs: generation {gen_s:.2f} s, scoring {score_s:.2f} s")
    return {
        "metric_pairs_per_s": pairs / score_s,
        "metric_time_fraction": score_s / (gen_s + score_s),
        "metric_values_unchanged": unchanged,
        "metric_pairs": pairs,
        "metric_score_s": score_s,
        "metric_generation_s": gen_s,
        "metric_wordnet_load_s": wordnet_s,
        "metric_modules_load_s": modules_s,
        "metric_fraction_with_wordnet_load": (score_s + wordnet_s) / (gen_s + score_s + wordnet_s),
    }
