"""`scripts/gpu_check.py --dry-run`: sweeplab's real `run_trial` on a TinyLlama-shaped model at
toy sizes on the CPU, one trial alone and two side by side, every figure as a JSON line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, clean_env

pytestmark = pytest.mark.integration

FIGURES = {
    "train_tokens_per_s",
    "mfu_measured_peak",
    "gen_tokens_per_s",
    "eval_share",
    "eval_share_at_tinyllama_config",
    "memory_before",
    "memory_after",
}


def test_dry_run_runs_the_real_trial_and_writes_json_lines(tmp_path):
    out = tmp_path / "gpu.jsonl"
    args = ["--dry-run", "--sharing", "processes", "--out", str(out), "--work", str(tmp_path)]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    events = [r["event"] for r in rows]
    assert events == ["machine", "matmul_peak", "config", "solo", "shared", "shared", "done"]
    machine = rows[0]
    assert machine["dry_run"] is True and machine["missing"] == []
    solo, shared = rows[3], rows[4:6]
    for trial in (solo, *shared):
        assert FIGURES <= set(trial)
        assert trial["reports"] == 2 and trial["steps"] == 4
        assert trial["train_tokens"] > 0 and trial["train_tokens_per_s"] > 0
        assert 0 < trial["eval_share"] < 1 and 0 < trial["mfu_measured_peak"] < 1
    # The same trial config, seed and data: the same result alone and side by side.
    assert solo["objective"] == shared[0]["objective"] == shared[1]["objective"]
    assert (tmp_path / "model" / "config.json").is_file()
    model_cfg = json.loads((tmp_path / "model" / "config.json").read_text())
    assert model_cfg["num_key_value_heads"] * 8 == model_cfg["num_attention_heads"]  # GQA 8:1
    tok_cfg = json.loads((tmp_path / "model" / "tokenizer_config.json").read_text())
    assert tok_cfg.get("pad_token") is None  # Llama-style: the trial sets pad = eos
