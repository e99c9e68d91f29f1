"""Trainer settings that follow the hardware: fp32 and padded batches on the CPU, as before;
bf16 + TF32 and packed or length-grouped batches on a GPU; gradient checkpointing opt-in."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from training.config import TrainConfig
from training.sft import batching_of, hardware_settings, sft_config

CPU_SETTINGS = dict(
    bf16=False,
    fp16=False,
    tf32=None,
    activation_checkpointing=False,
    packing=False,
    train_sampling_strategy="random",
)


def test_cpu_keeps_fp32_padded_batches_in_random_order():
    assert hardware_settings(TrainConfig(), "sdpa", cuda=False, bf16_ok=False) == CPU_SETTINGS


def test_gpu_trains_in_bf16_with_tf32_and_no_recomputation():
    s = hardware_settings(TrainConfig(), "sdpa", cuda=True)
    assert (s["bf16"], s["fp16"], s["tf32"], s["activation_checkpointing"]) == (
        True,
        False,
        True,
        False,
    )
    old = hardware_settings(TrainConfig(), "sdpa", cuda=True, bf16_ok=False)
    assert (old["bf16"], old["fp16"], old["tf32"]) == (False, True, None)


@pytest.mark.parametrize(
    ("attn", "cuda", "expected"),
    [
        ("flash_attention_2", True, "packed"),
        ("flash_attention_3", True, "packed"),
        ("sdpa", True, "grouped"),
        ("eager", True, "grouped"),
        ("flash_attention_2", False, "padded"),
        (None, False, "padded"),
    ],
)
def test_auto_batching_packs_only_where_attention_runs_varlen(attn, cuda, expected):
    assert batching_of(TrainConfig(), attn, cuda) == expected


def test_batching_and_checkpointing_as_configured():
    train = TrainConfig(batching="packed", gradient_checkpointing=True)
    s = hardware_settings(train, "sdpa", cuda=False)
    assert s["packing"] is True and s["activation_checkpointing"] is True
    grouped = hardware_settings(TrainConfig(batching="grouped"), None, cuda=False)
    assert grouped["train_sampling_strategy"] == "group_by_length"
    with pytest.raises(ValidationError, match="batching"):
        TrainConfig(batching="bucketed")


def test_sft_config_on_this_cpu(tmp_path):
    args = sft_config(tmp_path, 4, TrainConfig(), seed=0)
    # TRL's own defaults would be gradient_checkpointing=True and bf16=True.
    assert args.activation_checkpointing is False and args.gradient_checkpointing is False
    assert args.bf16 is False and args.fp16 is False and args.use_cpu is True
    assert args.packing is False and args.train_sampling_strategy == "random"
    assert args.include_num_input_tokens_seen == "non_padding"
