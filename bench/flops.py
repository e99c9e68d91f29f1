"""FLOPs of a LoRA training step, counted by formula (pure; standard library only).

Per token, for a decoder whose matmul weights hold `n_matmul` parameters (every Linear,
the LM head included; the embedding lookup is no matmul) and whose adapters hold `n_lora`:

    forward                      2 * n_matmul + 2 * n_lora + attention
    backward, activation grads   2 * n_matmul + 2 * n_lora + 2 * attention
    backward, weight grads       2 * n_lora   (the frozen base gets none)

with attention = 4 * layers * seq * hidden per token forward (QK^T and AV, the causal mask
counted as full, as PaLM's MFU does). A full fine-tune would be 6 * n_matmul + 12*L*s*h.
"""

from __future__ import annotations


def attention_flops_per_token(layers: int, seq: int, hidden: int) -> float:
    """QK^T and AV forward FLOPs per token (causal mask counted as full)."""
    return 4.0 * layers * seq * hidden


def lora_step_flops_per_token(
    n_matmul: int, n_lora: int, layers: int, seq: int, hidden: int
) -> float:
    """Forward + backward FLOPs per token of LoRA training on a frozen base."""
    attn = attention_flops_per_token(layers, seq, hidden)
    forward = 2.0 * (n_matmul + n_lora) + attn
    backward = 2.0 * (n_matmul + n_lora) + 2.0 * attn + 2.0 * n_lora
    return forward + backward


def full_step_flops_per_token(n_matmul: int, layers: int, seq: int, hidden: int) -> float:
    """Forward + backward FLOPs per token of full fine-tuning (6N + 12*L*s*h)."""
    return 6.0 * n_matmul + 3.0 * attention_flops_per_token(layers, seq, hidden)


def matmul_flops(m: int, k: int, n: int) -> float:
    """FLOPs of an [m, k] x [k, n] product."""
    return 2.0 * m * k * n
