"""Load a base model and its tokenizer from a hub id or a local directory (safetensors only)."""

from __future__ import annotations

import importlib.util
import json
import struct
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
    except RecursionError:
        raise ModelError(f"cannot load model {cfg.path!r}: a file is nested too deeply") from None
    except Exception as exc:  # OSError, ValueError, safetensors' SafetensorError, ...
        if isinstance(exc, ImportError | MemoryError):
            raise
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
    for name in ("config.json", "tokenizer_config.json"):
        if (path / name).is_file():
            _check_json(path / name, cfg.path)
    for weights in sorted(path.glob("*.safetensors")):
        problem = safetensors_problem(weights)
        if problem:
            raise ModelError(f"model.path {cfg.path!r}: {weights.name} {problem}")


def _check_json(file: Path, where: str) -> None:
    try:
        json.loads(file.read_text(encoding="utf-8"))
    except RecursionError:
        raise ModelError(f"model.path {where!r}: {file.name} is nested too deeply") from None
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"model.path {where!r}: {file.name} unreadable ({first_line(exc)})"
        ) from None


def safetensors_problem(file: Path) -> str | None:
    """Why a safetensors file cannot load (truncated, corrupt header), or None. Reads the
    header only: 8 bytes of length, a JSON table of tensors and their byte ranges."""
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                return "is truncated (no header)"
            n = struct.unpack("<Q", raw)[0]
            if n > min(size - 8, 100 << 20):
                return "is truncated or corrupt (header past the end of the file)"
            header = json.loads(fh.read(n))
    except RecursionError:
        return "is corrupt (its header is nested too deeply)"
    except (OSError, ValueError) as exc:
        return f"is corrupt ({first_line(exc)})"
    if not isinstance(header, dict):
        return "is corrupt (its header is not a table)"
    ends = [
        v["data_offsets"][1]
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict) and len(v.get("data_offsets", ())) == 2
    ]
    if len(ends) != len([k for k in header if k != "__metadata__"]):
        return "is corrupt (a tensor without its byte range)"
    need = 8 + n + max(ends, default=0)
    if size < need:
        return f"is truncated ({size} of {need} bytes)"
    return None
