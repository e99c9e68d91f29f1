"""scripts/gpu_check.py's pure parts: the TinyLlama shape, its FLOP count, the JSON lines
(the dry run end to end: tests/integration/test_gpu_check.py)."""

from __future__ import annotations

import json
import sys

from bench.tinyllama import TINYLLAMA, TOY, matmul_params
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check  # noqa: E402


def test_tinyllama_dimensions_and_matmul_weights():
    assert (TINYLLAMA["num_hidden_layers"], TINYLLAMA["hidden_size"]) == (22, 2048)
    assert (TINYLLAMA["num_attention_heads"], TINYLLAMA["num_key_value_heads"]) == (32, 4)
    assert (TINYLLAMA["intermediate_size"], TINYLLAMA["vocab_size"]) == (5632, 32000)
    # TinyLlama-1.1B: 1.100B parameters = matmul weights + the 65.5M input embedding + norms.
    total = matmul_params(TINYLLAMA) + 32000 * 2048 + (2 * 22 + 1) * 2048
    assert total == 1_100_048_384
    # The toy keeps the proportions: grouped-query 8:1, SwiGLU 2.75x.
    assert TOY["num_attention_heads"] // TOY["num_key_value_heads"] == 8
    assert TOY["intermediate_size"] / TOY["hidden_size"] == 2.75


def test_json_lines_are_written_as_they_come(tmp_path):
    emit = gpu_check.JsonLines(tmp_path / "out.jsonl")
    emit("solo", train_tokens_per_s=12.5)
    # Readable before the writer is closed (a timeout still leaves every figure so far).
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows[0]["event"] == "solo" and rows[0]["train_tokens_per_s"] == 12.5


def test_lora_parameters_of_the_tinyllama_config():
    class Cfg:
        class lora:  # noqa: N801
            r = 16
            target_modules = ("q_proj", "k_proj", "v_proj", "o_proj")

    # q, o: 16 x (2048 + 2048); k, v: 16 x (2048 + 256); 22 layers.
    assert gpu_check._lora_params(TINYLLAMA, Cfg) == 22 * 16 * (2 * 4096 + 2 * 2304)
