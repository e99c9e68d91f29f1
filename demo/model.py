"""A tiny Llama base model for the offline demo, pretrained on the demo world's plain text.

The real project fine-tunes TinyLlama from the Hugging Face Hub; the demo has no Hub, so this
builds a stand-in locally: a byte-level BPE tokenizer (1024 tokens) and a ~1M-parameter
Llama-architecture causal LM pretrained for a few hundred steps on ``pretraining_text`` from
``demo.pretraining``. It knows the world's words and facts but has never seen the prompt
template, so its instruction-following scores start low, like a base model's.

The result is saved with ``save_pretrained`` and loads with ``AutoModelForCausalLM`` and
``AutoTokenizer`` like a Hub model. Builds are atomic (temp dir, then rename) and cached: a
marker file records a hash of every setting and of the training text.

A second, smaller base model (``--size mini``: 2 layers, hidden size 64, same tokenizer
recipe and pretraining text) makes model scale a searchable dimension of the demo (the seed
analysis' recommendation 2, in miniature: `configs/demo-scale.yaml`).

    python -m demo.model --out models/demo-llama [--steps 300] [--seed 0]
    python -m demo.model --out models/demo-llama-mini --size mini
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from demo import corpus
from demo.pretraining import pretraining_text
from training.template import render_prompt

MODEL_VERSION = 1
MARKER_NAME = "demo_model.json"
VOCAB_SIZE = 1024
SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>")  # ids 0..3, as in Llama
TEMPLATE_MARKERS = ("### System:", "### Instruction:", "### Input:", "### Response:")
ARCH = {
    "hidden_size": 128,
    "intermediate_size": 384,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 512,
}
SIZES = {
    "base": ARCH,
    "mini": {
        "hidden_size": 64,
        "intermediate_size": 192,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
    },
}
"""Architectures by size name; `base` is the demo model every config uses."""


def _template_texts(seed: int) -> list[str]:
    """A few hundred rows in the training prompt template, so its markers get their own merges.

    Used for the tokenizer only; the language model never sees the template.
    """
    rows = corpus.generate_rows(seed + 1, {"alpaca": 600, "dolly": 300, "openorca": 600})
    alpaca, dolly, orca = rows["alpaca"], rows["dolly"], rows["openorca"]
    return [
        *(render_prompt(r["instruction"], input=r["input"]) + r["output"] for r in alpaca),
        *(render_prompt(r["instruction"], input=r["context"]) + r["response"] for r in dolly),
        *(render_prompt(r["question"], r["system_prompt"]) + r["response"] for r in orca),
    ]


def train_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """Byte-level BPE (vocab VOCAB_SIZE) wrapped as a transformers fast tokenizer.

    Byte-level means every string encodes without <unk> and decodes back exactly.
    """
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        add_bos_token=True,
        add_eos_token=False,
        clean_up_tokenization_spaces=False,
        model_max_length=ARCH["max_position_embeddings"],
    )


def _token_stream(tokenizer: PreTrainedTokenizerFast, docs: list[str]) -> torch.Tensor:
    """All documents as one stream: <s> doc </s> <s> doc </s> ..."""
    ids: list[int] = []
    for enc in tokenizer(docs, add_special_tokens=False)["input_ids"]:
        ids += [tokenizer.bos_token_id, *enc, tokenizer.eos_token_id]
    return torch.tensor(ids, dtype=torch.long)


def _settings(
    seed: int,
    steps: int,
    batch_size: int,
    seq_len: int,
    lr: float,
    n_docs: int,
    text_sha: str,
    arch: dict | None = None,
) -> dict:
    return {
        "model_version": MODEL_VERSION,
        "corpus_version": corpus.GENERATOR_VERSION,
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "lr": lr,
        "n_docs": n_docs,
        "vocab_size": VOCAB_SIZE,
        "arch": arch or ARCH,
        "text_sha256": text_sha,
    }


def _settings_hash(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def read_marker(out_dir: Path) -> dict | None:
    """The build record of a finished demo model (settings, hash, loss, time), or None."""
    try:
        return json.loads((Path(out_dir) / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None


def pretrain(
    model: LlamaForCausalLM,
    stream: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    seq_len: int,
    lr: float,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> list[float]:
    """Plain next-token training on random windows of the stream; returns the loss per step."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    warmup = max(1, steps // 10)

    def lr_at(step: int) -> float:  # linear warmup, cosine decay to 10%
        if step < warmup:
            return lr * (step + 1) / warmup
        t = (step - warmup) / max(1, steps - warmup)
        return lr * (0.1 + 0.45 * (1 + math.cos(math.pi * t)))

    offsets = torch.arange(seq_len)
    losses = []
    model.train()
    for step in range(steps):
        starts = torch.randint(0, len(stream) - seq_len, (batch_size, 1), generator=gen)
        batch = stream[starts + offsets]
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if progress and (step % 50 == 0 or step == steps - 1):
            progress(f"step {step + 1:4d}/{steps}  loss {loss.item():.3f}")
    model.eval()
    return losses


def build_demo_model(
    out_dir: Path,
    seed: int = 0,
    steps: int = 300,
    *,
    batch_size: int = 32,
    seq_len: int = 128,
    lr: float = 3e-3,
    n_docs: int = 5000,
    size: str = "base",
    threads: int | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Build (or reuse) the demo tokenizer + model in out_dir; returns out_dir.

    Reuses out_dir as is when its marker records the same settings hash, unless force.
    ``size`` picks the architecture (`SIZES`: "base", or the smaller "mini").
    ``threads`` sets torch's intra-op threads for the build (None: torch's default). On a
    busy 2-core machine 1 thread is much faster than 2 fighting another process for cores.
    """
    out_dir = Path(out_dir)
    docs = pretraining_text(seed, n_docs)
    text_sha = hashlib.sha256("\x00".join(docs).encode()).hexdigest()
    settings = _settings(seed, steps, batch_size, seq_len, lr, n_docs, text_sha, SIZES[size])
    settings_hash = _settings_hash(settings)
    marker = read_marker(out_dir)
    if not force and marker and marker.get("settings_hash") == settings_hash:
        if progress:
            progress(f"cached: {out_dir} already holds this build ({settings_hash[:12]})")
        return out_dir

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        record, tokenizer, model = _build(docs, settings, progress)
    finally:
        torch.set_num_threads(previous_threads)
    record["settings_hash"] = settings_hash
    _save_atomically(out_dir, model, tokenizer, record)
    return out_dir


def _build(
    docs: list[str], settings: dict, progress: Callable[[str], None] | None
) -> tuple[dict, PreTrainedTokenizerFast, LlamaForCausalLM]:
    seed, steps, n_docs = settings["seed"], settings["steps"], settings["n_docs"]
    started = time.perf_counter()
    torch.manual_seed(seed)
    tokenizer = train_tokenizer(docs + _template_texts(seed))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **settings["arch"],
    )
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    stream = _token_stream(tokenizer, docs)
    if progress:
        progress(f"pretraining {n_params:,} parameters on {len(stream):,} tokens ({n_docs} docs)")
    losses = pretrain(
        model,
        stream,
        steps=steps,
        batch_size=settings["batch_size"],
        seq_len=settings["seq_len"],
        lr=settings["lr"],
        seed=seed,
        progress=progress,
    )
    tail = losses[-10:]
    record = {
        "settings": settings,
        "n_params": n_params,
        "train_tokens": len(stream),
        "initial_loss": losses[0],
        "final_loss": sum(tail) / len(tail),
        "seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(),
    }
    return record, tokenizer, model


def _save_atomically(
    out_dir: Path, model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, record: dict
) -> None:
    """Save into a temp dir beside out_dir, then swap it in: readers never see half a model."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER_NAME).write_text(json.dumps(record, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private; a saved model is for everyone to read
        for path in tmp.iterdir():
            path.chmod(0o644)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            shutil.rmtree(old)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.model",
        description="Build the offline demo base model (tokenizer + tiny Llama).",
    )
    parser.add_argument("--out", type=Path, default=Path("models/demo-llama"))
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the build")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--size", choices=sorted(SIZES), default="base", help="architecture")
    args = parser.parse_args(argv)
    out = build_demo_model(
        args.out,
        args.seed,
        args.steps,
        size=args.size,
        threads=args.threads,
        force=args.force,
        progress=print,
    )
    record = read_marker(out)
    assert record is not None
    print(
        f"demo model at {out}: {record['settings']['steps']} steps, "
        f"loss {record['initial_loss']:.3f} -> {record['final_loss']:.3f}, "
        f"{record['seconds']:.1f} s build, {record['n_params']:,} parameters"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
