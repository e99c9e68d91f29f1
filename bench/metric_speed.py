"""Figure 6: how fast the metrics score, and their share of a trial's evaluation.

On the demo config's eval sets (its sizes and generation settings) the demo base model
answers every prompt as `evaluation.eval_sets.evaluate_all` does, then
`evaluation.scoring.score` scores the answers (every registry metric together, per
example too). Loading WordNet and the metric modules is timed on its own first: it happens
once per process, not once per evaluation. Each set is scored twice: the first time fills
METEOR's per-word caches, the second finds them warm (and must give the same values). A demo
trial evaluates `num_reports` times in one process, so metric_time_fraction = (first + (k-1)
x again) / (k x generation + first + (k-1) x again) with k = num_reports, WordNet loaded.
"""

from __future__ import annotations

import time

from bench.settings import DEMO_CONFIG, Settings


def measure(s: Settings, log) -> dict:
    import torch

    from evaluation.eval_sets import generate_items
    from evaluation.scoring import load_metric, score
    from sweeps.config import load_config, localize
    from sweeps.run.eval_items import eval_items
    from training.base_model import load_base_model
    from training.prepare import prepare_data

    torch.set_num_threads(s.threads)
    t = time.perf_counter()
    meteor = load_metric("meteor")
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
    cold_s = warm_s = 0.0
    pairs = 0
    unchanged = True
    for items in sets.values():
        mine, gens = gens[: len(items)], gens[len(items) :]
        preds, refs = [x.text for x in mine], [it.reference for it in items]
        t = time.perf_counter()
        first = score(preds, refs, per_example=True)
        cold_s += time.perf_counter() - t
        t = time.perf_counter()
        again = score(preds, refs, per_example=True)
        warm_s += time.perf_counter() - t
        pairs += len(preds)
        unchanged = unchanged and first == again
    # A trial scores `num_reports` times in one process: the first evaluation fills METEOR's
    # per-word caches (stems, WordNet lemma names), the later ones find most words there.
    k = cfg.train.num_reports
    trial_score_s = cold_s + (k - 1) * warm_s
    log(
        f"  {pairs} pairs: generation {gen_s:.2f} s, scoring {cold_s:.2f} s first, "
        f"{warm_s:.2f} s again"
    )
    return {
        "metric_pairs_per_s": pairs / warm_s,
        "metric_time_fraction": trial_score_s / (k * gen_s + trial_score_s),
        "metric_values_unchanged": unchanged,
        "metric_pairs": pairs,
        "metric_pairs_per_s_first_evaluation": pairs / cold_s,
        "metric_time_fraction_first_evaluation": cold_s / (gen_s + cold_s),
        "metric_evaluations_per_trial": k,
        "metric_score_s_first": cold_s,
        "metric_score_s_again": warm_s,
        "metric_generation_s": gen_s,
        "metric_wordnet_load_s": wordnet_s,
        "metric_modules_load_s": modules_s,
        "metric_fraction_with_wordnet_load": (trial_score_s + wordnet_s)
        / (k * gen_s + trial_score_s + wordnet_s),
    }
