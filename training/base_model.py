"""Load a base model and its tokenizer from a hub id or a local directory (safetensors only)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from common.errors import first_line
from training.config import ModelConfig
from training.loading import is_local


class ModelError(ValueError):
    """A base model that cannot be loaded; one line naming the path or id."""


def load_base_model(cfg: ModelConfig):
    """(model, tokenizer) loaded through `from_pretrained`, exactly as for a hub model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if is_local(cfg.path) and not Path(cfg.path).expanduser().is_dir():
        raise ModelError(f"model.path {cfg.path!r}: no such directory")
    kwargs = {"revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
    cuda = torch.cuda.is_available()
    if cuda and importlib.util.find_spec("flash_attn") is not None:
        kwargs["attn_implementation"] = "flash_attention_2"  # varlen kernels: padding-free packing
    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            cfg.path, dtype=getattr(torch, cfg.dtype), use_safetensors=True, **kwargs
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load model {cfg.path!r}: {first_line(exc)}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cuda:  # on the GPU from the start: the base evaluation too, not only the trainer
        model.to("cuda")
    return model, tokenizer


def check_model_path(cfg: ModelConfig) -> None:
    """Fail early, before any run is created, on a local model path that cannot load."""
    if not is_local(cfg.path):
        return
    path = Path(cfg.path).expanduser()
    if not path.is_dir():
        raise ModelError(f"model.path {cfg.path!r}: no such directory")
    if not (path / "config.json").is_file():
        raise ModelError(f"model.path {cfg.path!r}: no config.json (not a saved model)")
    if not any(path.glob("*.safetensors")):
        raise ModelError(f"model.path {cfg.path!r}: no .safetensors weights (only those load)")
