"""`make gpu-check`: sweeplab's own trial (`sweeps.run.trial.run_trial`: TRL SFT with a PEFT
LoRA adapter, generation on the three eval sets, scoring) on a TinyLlama-shaped model, one
trial alone and then two sharing one GPU, with the figures that say whether a trial uses the
GPU well: training tokens/s and MFU against the measured bf16 matmul peak, generation
tokens/s, evaluation's share of trial time (measured, and at configs/tinyllama.yaml's sizes),
peak and post-trial memory.

    python scripts/gpu_check.py              # on a GPU machine (a few minutes)
    python scripts/gpu_check.py --dry-run    # the same path on the CPU, toy sizes

The model has TinyLlama-1.1B's dimensions and random weights (bench/tinyllama.py), its
tokenizer is trained here, the data is the demo corpus built here: no network. Packages the
machine lacks come from the wheelhouse `make gpu-wheelhouse` builds (bench/gpu/wheelhouse);
parts that still cannot run are skipped and named. Output: JSON lines, flushed one by one,
under bench/gpu/ (a timeout still leaves every figure measured so far).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WHEELHOUSE = ROOT / "bench" / "gpu" / "wheelhouse"
TRIAL_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "evaluate",
    "pydantic",
    "yaml",
    "nltk",
    "rouge_score",
    "sacrebleu",
)
OPTIONAL_PACKAGES = ("ray", "mlflow")
# Toy sizes for the dry run; on a GPU the tinyllama config's own sizes, fewer steps.
DRY_OVERRIDES = [
    "train.max_steps=4",
    "train.report_every=2",
    "train.batch_size=2",
    "train.grad_accum=1",
    "train.num_examples=32",
    "train.log_every=1",
    "train.max_length=96",
    "data.max_rows=400",
    "data.eval_size.alpaca=4",
    "data.eval_size.dolly=4",
    "data.eval_size.openorca=4",
    "generation.max_new_tokens=8",
    "generation.batch_size=4",
]
# 40 steps x 8 x 4 = 1,280 rows, which the demo corpus (3,000 Alpaca rows, less the 198 held
# out) fills; the tinyllama config's 48,000 it cannot.
GPU_OVERRIDES = [
    "train.max_steps=40",
    "train.report_every=20",
    "train.log_every=5",
    "train.num_examples=1280",
    "data.max_rows=20000",
]


class JsonLines:
    """Figures as they are measured: one JSON object a line, flushed and fsynced."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.file = path, path.open("a", encoding="utf-8")

    def __call__(self, event: str, **fields) -> dict:
        row = {"event": event, "t": round(time.time(), 3), **fields}
        self.file.write(json.dumps(row, default=str) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        print(f"{event}: {json.dumps(fields, default=str)[:400]}", flush=True)
        return row


def packages(wheelhouse: Path) -> dict:
    """Which packages import; when some do not, the wheelhouse (no network) installed into a
    folder put first on sys.path and on PYTHONPATH (the shared stage's worker processes
    inherit it). pip's own error is printed when it fails. Returns what is present, installed
    and still missing. `scripts/device_gpu_check.sh` installs first, so nothing is missing."""
    wanted = TRIAL_PACKAGES + OPTIONAL_PACKAGES
    missing = [p for p in wanted if importlib.util.find_spec(p) is None]
    installed, error = [], None
    if set(missing) & set(TRIAL_PACKAGES) and wheelhouse.is_dir() and any(wheelhouse.glob("*.whl")):
        target = wheelhouse.parent / "site"
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
        cmd += ["--find-links", str(wheelhouse), "--target", str(target)]
        proc = subprocess.run([*cmd, *wheel_names(wheelhouse)], capture_output=True, text=True)
        if proc.returncode == 0:
            sys.path.insert(0, str(target))
            os.environ["PYTHONPATH"] = os.pathsep.join(
                [str(target), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            )
            importlib.invalidate_caches()
            installed = [p for p in missing if importlib.util.find_spec(p) is not None]
        else:
            error = proc.stderr.strip()[-2000:]
            print(f"pip install --target {target} failed:\n{error}", file=sys.stderr, flush=True)
    still = [p for p in wanted if importlib.util.find_spec(p) is None]
    return {"installed_from_wheelhouse": installed, "missing": still, "pip_error": error}


def wheel_names(wheelhouse: Path) -> list[str]:
    """One requirement name per distribution in the wheelhouse: pip picks the file that fits
    this Python (it holds cp311 and cp312 builds of compiled packages)."""
    return sorted({w.name.split("-")[0] for w in wheelhouse.glob("*.whl")})


def machine(device: str) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    for name in ("transformers", "peft", "trl", "ray", "mlflow", "flash_attn"):
        spec = importlib.util.find_spec(name)
        info[name] = _version(name) if spec else None
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory=props.total_memory, cuda=torch.version.cuda)
    return info


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name.replace("_", "-"))
    except PackageNotFoundError:
        return "?"


def matmul_peak(device: str, n: int) -> float:
    """Measured bf16 [n, n] x [n, n] throughput, FLOP/s (the MFU denominator)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    reps = 3 if device == "cpu" else 50
    for _ in range(2):
        a @ b
    _sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2.0 * n**3 * reps / (time.perf_counter() - t)


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def prepare(work: Path, dry_run: bool, device: str) -> dict:
    """The demo corpus and a TinyLlama-shaped model built in `work`; the trial config doc."""
    from bench import tinyllama
    from demo.corpus import main as build_corpus
    from sweeps.config import load_config

    data = work / "data"
    if not (data / "alpaca_data.json").is_file():
        build_corpus(["--out", str(data)])
    rows = json.loads((data / "alpaca_data.json").read_text(encoding="utf-8"))
    texts = [f"{r['instruction']}\n{r['input']}\n{r['output']}" for r in rows]
    texts.append("### System:\n### Instruction:\n### Input:\n### Response:\n")
    dims = tinyllama.TOY if dry_run else tinyllama.TINYLLAMA
    model_dir = work / "model"
    if not (model_dir / "config.json").is_file():
        tinyllama.build(model_dir, dims, texts, device=device)
    overrides = [
        f"model.path={model_dir}",
        f"data.alpaca={data / 'alpaca_data.json'}",
        f"data.dolly={data / 'databricks-dolly-15k.jsonl'}",
        f"data.openorca={data / '1M-GPT4-Augmented.parquet'}",
        "data.skip_malformed=false",
        *(DRY_OVERRIDES if dry_run else GPU_OVERRIDES),
    ]
    if dry_run:
        overrides.append("model.dtype=float32")
    cfg = load_config(ROOT / "configs" / "tinyllama.yaml", overrides)
    return {"config": cfg.model_dump(mode="json"), "dims": dims}


def trial_figures(spec: dict, work: Path, peak: float, threads: int) -> dict:
    """One `run_trial` of the spec's config, timed; the figures of its training, evaluation
    and memory. The base model's scores are cached beside `work` (computed once)."""
    import torch

    from bench.flops import lora_step_flops_per_token
    from bench.tinyllama import matmul_params
    from sweeps.config import SweepConfig
    from sweeps.run.baseline import base_scores
    from sweeps.run.trial import TRAIN_HISTORY, eval_items, run_trial
    from training.memory import cuda_memory, release_memory
    from training.prepare import prepare_data

    sweep = SweepConfig.model_validate(spec["config"])
    cfg = sweep.trial({})
    data = prepare_data(cfg.data)
    items = {name: eval_items(exs) for name, exs in data.eval_sets.items()}
    started = time.perf_counter()
    base_cache = work.parent / "base_eval"
    base_scores(cfg.model, items, cfg.generation, base_cache)  # cached for the trial
    base_s = time.perf_counter() - started
    release_memory()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    before = {"rss": _rss(), **cuda_memory()}
    reports: list[dict] = []

    def report(metrics: dict, ckpt: Path) -> None:
        rows = json.loads((ckpt / "predictions.json").read_text(encoding="utf-8"))
        curve = json.loads(metrics.get(TRAIN_HISTORY, "[]"))
        rates = [p["metrics"]["train/tokens_per_s"] for p in curve]
        reports.append(
            {**metrics, "gen_tokens": sum(r["pred_tokens"] for r in rows), "rates": rates}
        )

    started = time.perf_counter()
    run_trial(cfg, data, work / "trial", report, sweep.search.objective, threads, base_cache)
    trial_s = time.perf_counter() - started
    after = {"rss": _rss(), "peak_rss": _peak_rss(), **cuda_memory()}
    dims, train = spec["dims"], cfg.train
    eval_s = sum(r["eval/seconds"] for r in reports)
    gen_s = sum(r.get("eval/generate_seconds", r["eval/seconds"]) for r in reports)
    tokens = sum(r.get("train/phase_tokens_seen", 0.0) for r in reports[-1:])
    rows_trained = train.max_steps * train.batch_size * train.grad_accum
    tokens_per_s = harmonic_mean([x for r in reports for x in r["rates"]])
    train_s = tokens / tokens_per_s if tokens_per_s else 0.0
    seq = tokens / rows_trained  # the mean row trained, not max_length
    per_token = lora_step_flops_per_token(
        matmul_params(dims), _lora_params(dims, cfg), dims["num_hidden_layers"], seq,
        dims["hidden_size"],
    )  # fmt: skip
    full = SweepConfig.model_validate(_tinyllama_doc()).train
    per_eval = eval_s / max(1, len(reports))
    at_config = full.num_reports * per_eval
    at_config_train = full.max_steps * train_s / train.max_steps
    return {
        "base_eval_s": base_s,
        "trial_s": trial_s,
        "train_s": train_s,
        "eval_s": eval_s,
        "generate_s": gen_s,
        "other_s": trial_s - train_s - eval_s,  # loading, data, checkpoints, saving
        "reports": len(reports),
        "steps": train.max_steps,
        "report_every": train.report_every,
        "train_tokens": tokens,
        "train_rows": rows_trained,
        "mean_row_tokens": seq,
        "train_tokens_per_s": tokens_per_s,
        "train_tokens_per_s_wall": tokens / (trial_s - eval_s) if trial_s > eval_s else 0.0,
        "flops_per_token": per_token,
        "mfu_measured_peak": tokens_per_s * per_token / peak,
        "gen_tokens": sum(r["gen_tokens"] for r in reports),
        "gen_tokens_per_s": sum(r["gen_tokens"] for r in reports) / gen_s if gen_s else 0.0,
        "eval_share": eval_s / trial_s,
        "eval_share_at_tinyllama_config": at_config / (at_config + at_config_train),
        "peak_gpu_bytes": after.get("peak_allocated"),
        "gpu_bytes_after_release": after.get("allocated"),
        "memory_before": before,
        "memory_after": after,
        "objective": reports[-1]["objective"] if reports else None,
    }


def harmonic_mean(rates: list[float]) -> float:
    """Tokens/s over intervals of equal steps (the training curve's points, each measured
    between two logs with evaluation left out): the rate of their summed time."""
    rates = [r for r in rates if r > 0]
    return len(rates) / sum(1.0 / r for r in rates) if rates else 0.0


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _lora_params(dims: dict, cfg) -> int:
    h, f, r = dims["hidden_size"], dims["intermediate_size"], cfg.lora.r
    kv = h * dims["num_key_value_heads"] // dims["num_attention_heads"]
    shapes = {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h)}
    shapes |= {"gate_proj": (h, f), "up_proj": (h, f), "down_proj": (f, h)}
    per_layer = sum(
        r * (i + o) for name, (i, o) in shapes.items() if name in cfg.lora.target_modules
    )
    return dims["num_hidden_layers"] * per_layer


def _tinyllama_doc() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "configs" / "tinyllama.yaml").read_text(encoding="utf-8"))


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def two_trials(spec_path: Path, work: Path, sharing: str, device: str, peak: float) -> list:
    """Two trials at once on one device: Ray tasks with num_gpus=0.5, or two processes each
    held to half the GPU's memory."""
    if sharing == "ray":
        import ray

        ray.init(
            num_gpus=1 if device == "cuda" else 0,
            include_dashboard=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
        )
        try:
            task = ray.remote(num_gpus=0.5 if device == "cuda" else 0, num_cpus=1)(_ray_trial)
            return ray.get([task.remote(str(spec_path), str(work / f"t{i}"), peak) for i in (0, 1)])
        finally:
            ray.shutdown()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path)]
    procs = [
        subprocess.Popen([*cmd, str(work / f"t{i}"), str(peak)], stdout=subprocess.PIPE, text=True)
        for i in (0, 1)
    ]
    out = []
    for p in procs:
        stdout, _ = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"trial process exited with {p.returncode}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _ray_trial(spec_path: str, work: str, peak: float) -> dict:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    return trial_figures(spec, Path(work), peak, threads=1)


def worker(spec_path: str, work: str, peak: str) -> int:
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_per_process_memory_fraction(0.5)
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    print(json.dumps(trial_figures(spec, Path(work), float(peak), threads=1)), flush=True)
    return 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU")
    p.add_argument("--out", type=Path, help="the JSON lines file (default: under bench/gpu/)")
    p.add_argument("--work", type=Path, help="scratch folder (default: bench/out/gpu-check)")
    p.add_argument("--sharing", choices=("auto", "ray", "processes"), default="auto")
    p.add_argument("--wheelhouse", type=Path, default=WHEELHOUSE)
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    wordnet = args.wheelhouse.parent / "nltk_data"  # METEOR's WordNet, zipped, if brought
    if wordnet.is_dir():
        os.environ.setdefault("NLTK_DATA", str(wordnet))
    if args.worker:
        return worker(*args.worker)
    found = packages(args.wheelhouse)
    import torch

    device = "cpu" if args.dry_run or not torch.cuda.is_available() else "cuda"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out = args.out or ROOT / "bench" / ("out" if device == "cpu" else "gpu") / f"{stamp}.jsonl"
    emit = JsonLines(out)
    emit("machine", device=device, dry_run=args.dry_run, **machine(device), **found)
    if device == "cpu" and not args.dry_run:
        emit("skipped", parts=["everything"], reason="no CUDA device visible to torch")
        return 1
    peak = matmul_peak(device, 256 if device == "cpu" else 8192)
    emit("matmul_peak", bf16_flops_per_s=peak)
    lacking = [p for p in TRIAL_PACKAGES if p in found["missing"]]
    if lacking:
        why = found["pip_error"] or "`make gpu-wheelhouse`, and carry bench/gpu/wheelhouse"
        emit("skipped", parts=["trials"], reason=f"missing {lacking}: {why}")
        return 1
    work = args.work or ROOT / "bench" / "out" / "gpu-check"
    spec = prepare(work, args.dry_run, device)
    spec_path = work / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    emit("config", train=spec["config"]["train"], generation=spec["config"]["generation"])
    emit("solo", **trial_figures(spec, work / "solo", peak, threads=os.cpu_count() or 1))
    sharing = args.sharing
    if sharing == "auto":
        sharing = "ray" if "ray" not in found["missing"] else "processes"
    started = time.time()
    shared = two_trials(spec_path, work, sharing, device, peak)
    for i, fig in enumerate(shared):
        emit("shared", trial=i, sharing=sharing, **fig)
    wall = time.time() - started
    emit(
        "done",
        shared_wall_s=wall,
        shared_train_tokens_per_s=sum(f["train_tokens"] for f in shared) / wall,
        shared_peak_gpu_bytes=sum(f["peak_gpu_bytes"] or 0 for f in shared),
        out=str(out),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
