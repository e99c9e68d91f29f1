"""A promoted model's base weights, verified, plus its LoRA adapter; the merged model.

Self-contained on purpose: a promoted model ships this file in its `code/` directory and
imports it where sweeplab is not installed, so it imports only the standard library at the
top and torch, transformers and peft inside functions.

The base model is referenced, never trusted by name alone: a hub model by id and the commit
the adapter was trained on; a local directory by its path and the sha256 of its files
(`content_sha256`), checked before anything is loaded from it. Remote code never runs:
`trust_remote_code` is always off here, whatever a record says.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


class BaseModelMismatch(ValueError):
    """The base model found is not the one the adapter was trained on; one line."""


def content_sha256(path: str | Path) -> str:
    """sha256 over a directory's files (relative names and bytes), hidden files aside."""
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        h.update(rel.as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def locate_base(ref: dict, path_override: str | None = None) -> tuple[str, str | None]:
    """(where to load from, revision): the hub id at its commit, or a verified local path."""
    if ref["kind"] == "hub":
        return ref["hub_id"], ref["commit"]
    path = Path(path_override or ref["path"]).expanduser()
    if not path.is_dir():
        raise BaseModelMismatch(
            f"base model {str(path)!r}: no such directory (pass model_config="
            '{"base_model_path": DIR} to load_model to point at a copy)'
        )
    found = content_sha256(path)
    if found != ref["sha256"]:
        raise BaseModelMismatch(
            f"base model {str(path)!r}: sha256 {found[:16]}... is not the trained-on "
            f"{ref['sha256'][:16]}..."
        )
    return str(path), None


def load_with_adapter(ref: dict, adapter_dir: str | Path, path_override: str | None = None):
    """(model with the LoRA adapter, tokenizer saved beside the adapter), in eval mode."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location, revision = locate_base(ref, path_override)
    if not any(Path(adapter_dir).glob("*.safetensors")):
        raise FileNotFoundError(f"{adapter_dir}: no adapter .safetensors weights")
    model = AutoModelForCausalLM.from_pretrained(
        location,
        revision=revision,
        dtype=getattr(torch, ref.get("dtype", "float32")),
        use_safetensors=True,
        trust_remote_code=False,
    )
    tokenizer = AutoTokenizer.from_pretrained(str(adapter_dir), trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    return model.eval(), tokenizer


def save_merged(model, tokenizer, out_dir: str | Path) -> Path:
    """Base + LoRA folded together (`merge_and_unload`), as safetensors with the tokenizer."""
    merged = model.merge_and_unload()
    merged.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    return Path(out_dir)
