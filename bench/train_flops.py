"""Figure 5: training throughput and FLOP/s against this machine's matmul peak.

One LoRA trial's training (the demo config's first point: its data mixture, adapter, batch
size and max length) runs a few timed steps with TRL's SFTTrainer twice: padded batches (what
`training.sft.train_lora` does today) and padding-free BFD packing (`packing=True`, TRL's
default strategy, which flattens each batch into one sequence; transformers then builds a
block-diagonal causal mask from `position_ids`, so sdpa stays correct on the CPU).

FLOPs per step come from `torch.utils.flop_counter.FlopCounterMode` on one real batch
(forward + backward; what the kernels execute, padding and masked attention included) and,
for comparison, from the formula in `bench.flops` on useful (non-pad) tokens. The peak is
measured in the same run with the same thread count: torch.mm on the model's GEMM shapes
([tokens, hidden] x [hidden, out] for q/k/v/o, gate/up, down and the LM head, weighted by how
often each occurs), tokens = a padded batch's positions.
"""

from __future__ import annotations

import math
import time

from bench.flops import lora_step_flops_per_token, matmul_flops
from bench.settings import DEMO_CONFIG, POINTS, Settings

WARMUP_STEPS = 2


def gemm_shapes(hidden: int, ffn: int, vocab: int, layers: int) -> list[tuple[int, int, int]]:
    """(in, out, count) of every Linear in one forward of a Llama."""
    return [(hidden, hidden, 4 * layers), (hidden, ffn, 2 * layers), (ffn, hidden, layers)] + [
        (hidden, vocab, 1)
    ]


def matmul_peak(tokens: int, shapes: list[tuple[int, int, int]], threads: int) -> dict:
    """FLOP/s of torch.mm on these shapes: weighted by occurrence, and the best one."""
    import torch

    torch.set_num_threads(threads)
    total_flops = total_s = 0.0
    best = 0.0
    for k, n, count in shapes:
        a, b = torch.randn(tokens, k), torch.randn(k, n)
        for _ in range(3):
            torch.mm(a, b)
        reps = max(5, int(2e9 / matmul_flops(tokens, k, n)))
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        s = (time.perf_counter() - t) / reps
        best = max(best, matmul_flops(tokens, k, n) / s)
        total_flops += count * matmul_flops(tokens, k, n)
        total_s += count * s
    return {"weighted": total_flops / total_s, "best_shape": best}


def _batch_tokens(batch) -> tuple[int, int]:
    """(useful tokens, positions computed) of one collated batch."""
    ids = batch["input_ids"]
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum()), ids.numel()
    return ids.numel(), ids.numel()


def _counted_flops(model, batch) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    inputs = {k: v for k, v in batch.items() if hasattr(v, "to")}
    with FlopCounterMode(display=False) as counter:
        out = model(**inputs)
        out.loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def matmul_time_share(model, batch) -> float:
    """Share of one forward + backward's operator self time spent in matmul kernels."""
    from torch.profiler import ProfilerActivity, profile

    model.train()
    inputs = {k: v for k, v in batch.items() if hasattr(v, "to")}
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(**inputs).loss.backward()
    model.zero_grad(set_to_none=True)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    mm = sum(e.self_cpu_time_total for e in events if e.key in MATMUL_OPS)
    return mm / total if total else 0.0


def run_variant(model, tok, dataset, cfg, steps: int, packed: bool, work) -> dict:
    from transformers import TrainerCallback
    from trl import SFTTrainer

    from training.sft import sft_config

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter())

    # The trials' own trainer settings (fp32 on the CPU), timed with a constant LR.
    args = sft_config(
        work / ("packed" if packed else "padded"),
        WARMUP_STEPS + steps,
        cfg.train,
        seed=cfg.train.seed,
        lr_scheduler_type="constant",
        logging_steps=1000,
        packing=packed,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tok, callbacks=[Clock()]
    )
    batches = []
    for i, batch in enumerate(trainer.get_train_dataloader()):
        if i >= WARMUP_STEPS + steps:
            break
        batches.append(batch)
    useful = [_batch_tokens(b)[0] for b in batches[WARMUP_STEPS:]]
    positions = [_batch_tokens(b)[1] for b in batches[WARMUP_STEPS:]]
    counted = _counted_flops(model, batches[-1]) / _batch_tokens(batches[-1])[1]
    mm_share = matmul_time_share(model, batches[-1])
    trainer.train()
    seconds = times[-1] - times[WARMUP_STEPS - 1]
    n_steps = len(times) - WARMUP_STEPS
    useful_per_step = sum(useful) / len(useful)
    positions_per_step = sum(positions) / len(positions)
    return {
        "steps": n_steps,
        "seconds_per_step": seconds / n_steps,
        "useful_tokens_per_step": useful_per_step,
        "positions_per_step": positions_per_step,
        "tokens_per_s": useful_per_step * n_steps / seconds,
        "executed_flops_per_s": counted * positions_per_step * n_steps / seconds,
        "counted_flops_per_position": counted,
        "matmul_time_share": mm_share,
    }


def measure(s: Settings, work, log) -> dict:
    import torch

    from sweeps.config import load_config, localize
    from sweeps.run.plan import trial_phases
    from training.base_model import load_base_model
    from training.prepare import prepare_data
    from training.sft import attach_lora, to_dataset

    torch.set_num_threads(s.threads)
    sweep = localize(load_config(DEMO_CONFIG, s.sweep_budget.overrides()))
    cfg = sweep.trial(dict(POINTS[0]))
    data = prepare_data(cfg.data)
    dataset = to_dataset(trial_phases(cfg, data)[0])
    out: dict = {"train_threads": s.threads, "train_timed_steps": s.train_steps}
    variants = {}
    for packed in (False, True):
        model, tok = load_base_model(cfg.model)
        peft = attach_lora(model, cfg.lora, cfg.train.seed)
        name = "padding_free_packed" if packed else "padded"
        # A packed step costs several padded ones on the CPU (see the module doc): fewer steps.
        steps = max(2, s.train_steps // 3) if packed else s.train_steps
        variants[name] = run_variant(peft, tok, dataset, cfg, steps, packed, work)
        log(f"  {name}: {variants[name]['tokens_per_s']:.0f} useful tokens/s")
    mc = model.config
    n_lora = sum(p.numel() for p in peft.parameters() if p.requires_grad)
    n_matmul = sum(
        i * o * c
        for i, o, c in gemm_shapes(
            mc.hidden_size, mc.intermediate_size, mc.vocab_size, mc.num_hidden_layers
        )
    )
    tokens = int(variants["padded"]["positions_per_step"])
    peak = matmul_peak(
        tokens,
        gemm_shapes(mc.hidden_size, mc.intermediate_size, mc.vocab_size, mc.num_hidden_layers),
        s.threads,
    )
    log(f"  matmul peak on the model's shapes: {peak['weighted'] / 1e9:.1f} GFLOP/s")
    seq = variants["padded"]["positions_per_step"] / cfg.train.batch_size
    formula = lora_step_flops_per_token(
        n_matmul, n_lora, mc.num_hidden_layers, math.ceil(seq), mc.hidden_size
    )
    for name, v in variants.items():
        v["fraction_of_peak"] = v["executed_flops_per_s"] / peak["weighted"]
        v["model_flops_fraction_of_peak"] = formula * v["tokens_per_s"] / peak["weighted"]
        out[f"train_tokens_per_s_{name}"] = v["tokens_per_s"]
        out[f"train_flops_fraction_of_peak_{name}"] = v["fraction_of_peak"]
    best = max(variants, key=lambda k: variants[k]["tokens_per_s"])
    out.update(
        train_tokens_per_s=variants[best]["tokens_per_s"],
        train_flops_fraction_of_peak=variants[best]["fraction_of_peak"],
        train_best_variant=best,
        train_variants=variants,
        train_matmul_peak_flops_per_s=peak["weighted"],
        train_matmul_best_shape_flops_per_s=peak["best_shape"],
        train_formula_flops_per_token=formula,
        train_params_matmul=n_matmul,
        train_params_lora=n_lora,
    )
    return out
