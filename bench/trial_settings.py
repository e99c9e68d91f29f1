"""Figure 6: what the trial settings change, as ratios measured in one run.

Training: the same trial (the demo config's 30%-OpenOrca point, whose rows differ most in
length) through `training.sft.sft_config` with each `train.batching`: padded batches in random
order (the CPU's default), length-grouped batches, and padding-free BFD packing. Tokens are
the trainer's own count of non-padding tokens; a packed step holds more of them.

Generation: the demo base model answers the three eval splits with and without the prompt
template's turn markers as stop strings (`evaluation.generate`), on the same prompts.
"""

from __future__ import annotations

import time

from bench.settings import DEMO_CONFIG, POINTS, Settings

WARMUP_STEPS = 1


def train_rate(model, tok, dataset, train, steps: int, work) -> dict:
    """Non-padding tokens per second over `steps` timed steps after a warm-up step."""
    from transformers import TrainerCallback
    from trl import SFTTrainer

    from training.sft import sft_config

    marks: list[tuple[float, int]] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append((time.perf_counter(), state.num_input_tokens_seen))

    args = sft_config(
        work / train.batching,
        WARMUP_STEPS + steps,
        train,
        seed=train.seed,
        lr_scheduler_type="constant",
        logging_steps=1000,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tok, callbacks=[Clock()]
    )
    trainer.train()
    (t0, n0), (t1, n1) = marks[WARMUP_STEPS - 1], marks[-1]
    return {"tokens_per_s": (n1 - n0) / (t1 - t0), "tokens_per_step": (n1 - n0) / steps}


def measure(s: Settings, work, log) -> dict:
    import torch

    from sweeps.config import load_config, localize
    from sweeps.run.plan import trial_phases
    from training.base_model import load_base_model
    from training.prepare import prepare_data
    from training.sft import attach_lora, to_dataset

    torch.set_num_threads(s.threads)
    sweep = localize(load_config(DEMO_CONFIG, s.sweep_budget.overrides()))
    cfg = sweep.trial(dict(POINTS[3]))
    data = prepare_data(cfg.data)
    dataset = to_dataset(trial_phases(cfg, data)[0])
    out: dict = {}
    for batching in ("padded", "grouped", "packed"):
        model, tok = load_base_model(cfg.model)
        peft = attach_lora(model, cfg.lora, cfg.train.seed)
        train = cfg.train.model_copy(update={"batching": batching})
        r = train_rate(peft, tok, dataset, train, s.train_steps, work)
        out[f"settings_train_tokens_per_s_{batching}"] = r["tokens_per_s"]
        out[f"settings_train_tokens_per_step_{batching}"] = r["tokens_per_step"]
        log(f"  {batching}: {r['tokens_per_s']:.0f} non-padding tokens/s")
    padded = out["settings_train_tokens_per_s_padded"]
    out["settings_grouped_vs_padded"] = out["settings_train_tokens_per_s_grouped"] / padded
    out["settings_packed_vs_padded"] = out["settings_train_tokens_per_s_packed"] / padded
    return out | generation_with_stops(s, log)


def generation_with_stops(s: Settings, log) -> dict:
    import torch

    from evaluation.generate import generate
    from sweeps.config import load_config, localize
    from sweeps.run.eval_items import eval_items
    from training.base_model import load_base_model
    from training.prepare import prepare_data
    from training.template import TURN_MARKERS

    overrides = [f"data.eval_size.{x}={s.eval_per_split}" for x in ("alpaca", "dolly", "openorca")]
    cfg = localize(load_config(DEMO_CONFIG, overrides))
    torch.set_num_threads(s.threads)
    data = prepare_data(cfg.data)
    model, tok = load_base_model(cfg.model)
    model.eval()
    g = cfg.generation
    prompts = [it.prompt for exs in data.eval_sets.values() for it in eval_items(exs)]
    runs = {}
    for name, stops in (("without", ()), ("with", TURN_MARKERS)):
        t = time.perf_counter()
        gens = generate(model, tok, prompts, g.max_new_tokens, g.batch_size, stop_strings=stops)
        runs[name] = (time.perf_counter() - t, gens)
    (plain_s, plain), (stop_s, stopped) = runs["without"], runs["with"]
    changed = sum(a.text != b.text for a, b in zip(plain, stopped, strict=True))
    log(f"  generation: {plain_s:.2f} s without stop strings, {stop_s:.2f} s with")
    return {
        "settings_gen_stop_time_ratio": stop_s / plain_s,
        "settings_gen_stop_tokens_ratio": sum(x.tokens for x in stopped)
        / max(1, sum(x.tokens for x in plain)),
        "settings_gen_stop_changed_answers": changed,
        "settings_gen_prompts": len(prompts),
    }
