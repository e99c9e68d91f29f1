"""A TinyLlama-shaped base model for `make gpu-check`, built offline: TinyLlama-1.1B's real
dimensions (22 layers, hidden 2048, 32 heads, 4 KV heads, intermediate 5632, vocab 32000)
with random weights, and a Llama-style BPE tokenizer (byte fallback, `<s>`/`</s>`/`<unk>`, no
pad token) trained here on the texts given, filler words added until it has an id for each of
the model's. Saved with `save_pretrained` (safetensors), so a trial loads it through the same
`from_pretrained` path as the hub model.

`TOY` keeps TinyLlama's proportions (grouped-query attention 8:1, SwiGLU 2.75x, untied
embeddings) at sizes a CPU trains in seconds: the dry run's model.
"""

from __future__ import annotations

from pathlib import Path

TINYLLAMA = dict(
    hidden_size=2048,
    intermediate_size=5632,
    num_hidden_layers=22,
    num_attention_heads=32,
    num_key_value_heads=4,
    vocab_size=32000,
    max_position_embeddings=2048,
)
TOY = dict(
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=8,
    num_key_value_heads=1,
    vocab_size=1024,
    max_position_embeddings=512,
)
SPECIALS = ("<unk>", "<s>", "</s>")


def train_tokenizer(texts: list[str], vocab_size: int):
    """A Llama-style tokenizer (SentencePiece-like BPE: metaspace, byte fallback) trained on
    `texts` (plus filler words when they are too few for `vocab_size` merges: every id the model
    can generate decodes to text); it has no pad token, like Llama's (the trial loader sets
    pad = eos)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.normalizer = normalizers.Sequence([])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip()]
    )
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*SPECIALS, *byte_tokens],
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    if tok.get_vocab_size() < vocab_size:  # too little text for the merges: filler words
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=[*SPECIALS, *byte_tokens], show_progress=False
        )
        tok.train_from_iterator([*texts, *filler_text(vocab_size)], trainer)
    if tok.get_vocab_size() != vocab_size:
        raise ValueError(f"tokenizer has {tok.get_vocab_size()} ids, the model {vocab_size}")
    tok.post_processor = TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def filler_text(vocab_size: int, seed: int = 0) -> list[str]:
    """Lines of random lowercase words, enough for BPE to learn `vocab_size` merges: the demo
    corpus alone gives ~3,200 of TinyLlama's 32,000 ids, and the ids past them would decode to
    nothing (a random model generates them ~90% of the time, so scoring would see blanks)."""
    import random
    import string

    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))

    return [" ".join(word() for _ in range(200)) for _ in range(max(1, vocab_size // 16))]


def build(out_dir: Path, dims: dict, texts: list[str], device: str = "cpu") -> Path:
    """A randomly initialized Llama of `dims` plus its tokenizer, saved to `out_dir`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(texts, dims["vocab_size"])
    config = LlamaConfig(
        **dims,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
        rms_norm_eps=1e-5,
    )
    torch.manual_seed(0)
    with torch.device(device):  # TinyLlama's 1.1B weights initialize in seconds on a GPU
        model = LlamaForCausalLM(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


def matmul_params(dims: dict) -> int:
    """Weights in matmuls per token (every Linear and the LM head; not the embedding)."""
    h, f, layers = dims["hidden_size"], dims["intermediate_size"], dims["num_hidden_layers"]
    kv = h * dims["num_key_value_heads"] // dims["num_attention_heads"]
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * f
    return layers * per_layer + h * dims["vocab_size"]
