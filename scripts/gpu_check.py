"""GPU smoke benchmark: bf16 LoRA SFT of a ~100M-parameter Llama, two trials on one GPU.

Needs only torch, transformers and peft (no Ray, TRL, MLflow or network): the model is a
randomly initialized Llama built from a config, the data random tokens. Two trials share the
GPU through Ray's fractional GPUs (num_gpus=0.5 each) when Ray imports, else as two
processes each limited to half the GPU's memory. Prints tokens/s per trial and together, and
MFU against the GPU's bf16 dense peak (from its datasheet, and as measured here).

    python scripts/gpu_check.py              # on a GPU machine, < 5 minutes
    python scripts/gpu_check.py --dry-run    # tiny model, a few steps on the CPU
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flops import lora_step_flops_per_token  # noqa: E402  (standard library only)

# Dense bf16 tensor-core peaks from NVIDIA datasheets (no sparsity), FLOP/s.
BF16_PEAKS = (
    ("H200", 989e12),
    ("H100 SXM", 989e12),
    ("H100 NVL", 835e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10G", 70e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
)


@dataclass(frozen=True)
class Shape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    vocab: int
    seq: int
    batch: int
    warmup: int
    """Untimed steps first (kernel selection, allocator)."""
    seconds: float
    """Timed steps run for this long."""
    lead: float
    """Seconds given to both trials to start before their common timed window opens."""
    lora_r: int


FULL = Shape(768, 2048, 12, 12, 16000, 512, 16, 10, 20.0, 60.0, 16)
DRY = Shape(64, 128, 2, 4, 256, 32, 2, 1, 0.5, 5.0, 4)


def datasheet_peak(name: str) -> float | None:
    for key, peak in BF16_PEAKS:
        if key.lower() in name.lower():
            return peak
    return None


def build_model(shape: Shape, device, dtype):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.heads,
        vocab_size=shape.vocab,
        max_position_embeddings=max(512, shape.seq),
        tie_word_embeddings=False,
    )
    config._attn_implementation = "sdpa"
    base = LlamaForCausalLM(config).to(device=device, dtype=dtype)
    n_params = sum(p.numel() for p in base.parameters())
    n_matmul = n_params - base.get_input_embeddings().weight.numel()
    n_matmul -= sum(p.numel() for n, p in base.named_parameters() if "norm" in n)
    lora = LoraConfig(
        r=shape.lora_r,
        lora_alpha=2 * shape.lora_r,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"]
        + ["down_proj"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, lora)
    n_lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return model, n_params, n_matmul, n_lora


def run_trial(shape: Shape, trial: int, device_name: str, start_at: float | None = None) -> dict:
    """One LoRA SFT trial on random tokens, timed for `shape.seconds` after warmup steps.

    With `start_at` (a wall-clock time), timing starts then, so two trials share one window.
    """
    import torch

    device = torch.device(device_name)
    dtype = torch.bfloat16
    model, n_params, n_matmul, n_lora = build_model(shape, device, dtype)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    gen = torch.Generator().manual_seed(trial)
    tokens = torch.randint(0, shape.vocab, (shape.batch, shape.seq), generator=gen).to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> float:
        loss = model(input_ids=tokens, labels=tokens).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    for _ in range(shape.warmup):
        step()
    sync()
    if start_at is not None and start_at > time.time():
        time.sleep(start_at - time.time())
    started = time.time()
    steps = 0
    while True:
        loss = step()
        steps += 1
        if steps % 5 == 0 or device.type == "cpu":
            sync()
            if time.time() - started >= shape.seconds:
                break
    ended = time.time()
    n_tokens = shape.batch * shape.seq * steps
    per_token = lora_step_flops_per_token(n_matmul, n_lora, shape.layers, shape.seq, shape.hidden)
    return {
        "trial": trial,
        "params": n_params,
        "lora_params": n_lora,
        "flops_per_token": per_token,
        "tokens": n_tokens,
        "start": started,
        "end": ended,
        "tokens_per_s": n_tokens / (ended - started),
        "loss": float(loss),
    }


def matmul_peak(device_name: str, n: int) -> float:
    """Measured bf16 [n, n] x [n, n] throughput, FLOP/s."""
    import torch

    device = torch.device(device_name)
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    reps = 3 if device.type == "cpu" else 50
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2.0 * n**3 * reps / (time.perf_counter() - t)


def two_trials_ray(shape: Shape, device_name: str, gpus: float) -> list[dict]:
    import ray

    ray.init(
        num_cpus=max(2, os.cpu_count() or 2),
        num_gpus=1 if gpus else 0,
        include_dashboard=False,
        logging_level="WARNING",
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},  # workers import bench.flops
    )
    try:
        remote = ray.remote(num_gpus=gpus, num_cpus=1)(run_trial)
        start_at = time.time() + shape.lead
        return ray.get([remote.remote(shape, i, device_name, start_at) for i in range(2)])
    finally:
        ray.shutdown()


def two_trials_processes(shape: Shape, device_name: str, dry_run: bool) -> list[dict]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--device", device_name]
    cmd += ["--dry-run"] if dry_run else []
    cmd += ["--start-at", str(time.time() + shape.lead)]
    procs = [
        subprocess.Popen(cmd + ["--trial", str(i)], stdout=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=280)
        if p.returncode != 0:
            raise RuntimeError(f"trial process exited with {p.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def worker(args) -> int:
    import torch

    if args.device.startswith("cuda"):
        torch.cuda.set_per_process_memory_fraction(0.5)
    shape = DRY if args.dry_run else FULL
    print(json.dumps(run_trial(shape, args.trial, args.device, args.start_at)), flush=True)
    return 0


def summarize(trials: list[dict], peak: float | None, measured: float) -> dict:
    """Tokens/s of the trials together (sum of their rates), MFU, and how far their timed
    windows overlapped (1.0: they ran side by side the whole time)."""
    agg = sum(t["tokens_per_s"] for t in trials)
    flops = sum(t["tokens_per_s"] * t["flops_per_token"] for t in trials)
    union = max(t["end"] for t in trials) - min(t["start"] for t in trials)
    inter = min(t["end"] for t in trials) - max(t["start"] for t in trials)
    return {
        "aggregate_tokens_per_s": agg,
        "aggregate_flops_per_s": flops,
        "overlap": max(0.0, inter) / union,
        "mfu_datasheet": flops / peak if peak else None,
        "mfu_measured_peak": flops / measured,
    }


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="tiny model, few steps, on the CPU")
    p.add_argument(
        "--sharing",
        choices=("auto", "ray", "processes"),
        default="auto",
        help="how two trials share the device (auto: Ray if it imports)",
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--trial", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    p.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if args.worker:
        return worker(args)
    import torch

    if args.dry_run:
        device, name, shape = "cpu", "cpu (dry run)", DRY
    elif not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device visible to torch {torch.__version__}; nothing to check")
        return 1
    else:
        device, name, shape = "cuda", torch.cuda.get_device_name(0), FULL
    began = time.time()
    peak = None if args.dry_run else datasheet_peak(name)
    measured = matmul_peak(device, 256 if args.dry_run else 8192)
    print(f"device: {name}; torch {torch.__version__}")
    if args.dry_run:
        print("dry run: a tiny model on the CPU checks the code paths; its figures mean nothing")
    print(
        f"bf16 peak: datasheet {peak / 1e12:.0f} TFLOP/s" if peak else "bf16 peak: datasheet n/a",
        f"| measured matmul {measured / 1e12:.1f} TFLOP/s",
    )
    solo = run_trial(shape, 0, device)
    print(
        f"model: {solo['params'] / 1e6:.1f}M params, LoRA {solo['lora_params'] / 1e6:.2f}M; "
        f"{solo['flops_per_token'] / 1e9:.2f} GFLOP/token; batch {shape.batch} x {shape.seq}"
    )
    s = summarize([solo], peak, measured)
    print(f"one trial alone:   {solo['tokens_per_s']:>10.0f} tokens/s  {_mfu(s)}")

    sharing = args.sharing
    if sharing == "auto":
        try:
            import ray  # noqa: F401

            sharing = "ray"
        except ImportError:
            sharing = "processes"
    if sharing == "ray":
        how = "Ray tasks, num_gpus=0.5 each" if device == "cuda" else "Ray tasks on the CPU"
        trials = two_trials_ray(shape, device, 0.5 if device == "cuda" else 0)
    else:
        how = "two processes, each limited to half the GPU memory (Ray not installed)"
        if device == "cpu":
            how = "two processes on the CPU"
        trials = two_trials_processes(shape, device, args.dry_run)
    s = summarize(trials, peak, measured)
    print(f"two trials sharing the device ({how}):")
    for t in trials:
        print(f"  trial {t['trial']}: {t['tokens_per_s']:>10.0f} tokens/s  loss {t['loss']:.3f}")
    print(f"  together: {s['aggregate_tokens_per_s']:>10.0f} tokens/s  {_mfu(s)}")
    print(f"  timed windows overlapped {100 * s['overlap']:.0f}%")
    summary = {"device": name, "sharing": how, "solo": solo, "trials": trials, **s}
    summary["seconds"] = time.time() - began
    print("json: " + json.dumps({k: v for k, v in summary.items() if k not in ("solo", "trials")}))
    print(f"gpu-check: ok in {summary['seconds']:.0f} s")
    return 0


def _mfu(s: dict) -> str:
    sheet = f"{100 * s['mfu_datasheet']:.1f}%" if s["mfu_datasheet"] is not None else "n/a"
    return (
        f"{s['aggregate_flops_per_s'] / 1e12:.2f} TFLOP/s; MFU {sheet} of datasheet bf16 peak, "
        f"{100 * s['mfu_measured_peak']:.1f}% of measured matmul peak"
    )


if __name__ == "__main__":
    sys.exit(main())
