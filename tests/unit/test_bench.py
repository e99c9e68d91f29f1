"""The bench's pure parts: the FLOP formula, verdicts and the results table, and how sweep
results are summarized (steps trained, best config)."""

from __future__ import annotations

import json

from bench.flops import full_step_flops_per_token, lora_step_flops_per_token, matmul_flops
from bench.report import TARGETS, render_markdown, with_verdicts
from bench.sweep_overhead import summarize_trials
from bench.train_flops import gemm_shapes


def test_lora_step_skips_base_weight_grads():
    # Given no adapter, LoRA training is a full step minus the base's weight gradients (2N).
    n, layers, seq, hidden = 1_000_000, 4, 128, 128
    assert lora_step_flops_per_token(n, 0, layers, seq, hidden) == (
        full_step_flops_per_token(n, layers, seq, hidden) - 2 * n
    )
    # An adapter costs 6 FLOPs per parameter per token, like any trained weight.
    assert (
        lora_step_flops_per_token(n, 10, layers, seq, hidden)
        - lora_step_flops_per_token(n, 0, layers, seq, hidden)
        == 60
    )
    assert matmul_flops(2, 3, 4) == 48


def test_gemm_shapes_cover_every_linear_of_the_demo_llama():
    shapes = gemm_shapes(hidden=128, ffn=384, vocab=1024, layers=4)
    params = sum(i * o * c for i, o, c in shapes)
    assert params == 4 * (4 * 128 * 128 + 3 * 128 * 384) + 128 * 1024


def test_verdicts_and_table():
    results = {
        "overhead_ratio": 1.2,
        "eval_outputs_identical": True,
        "asha_step_fraction": 0.4,
        "machine": {"cpu_count": 2},
    }
    out = with_verdicts(results)
    assert out["overhead_ratio_target"] == "<= 1.05"
    assert out["overhead_ratio_meets_target"] is False
    assert out["eval_outputs_identical_meets_target"] is True
    assert out["asha_step_fraction_meets_target"] is True
    assert "parallel_speedup_meets_target" not in out
    json.dumps(out)  # serializable as results.json
    md = render_markdown(out, {"overhead_ratio": "Ray starts up."})
    assert "| `overhead_ratio` | 1.2 | <= 1.05 | **no** |" in md
    assert "Ray starts up." in md and "## Targets missed" in md


def test_every_issue_figure_has_a_target():
    assert {
        "overhead_ratio",
        "eval_batch_speedup",
        "eval_outputs_identical",
        "parallel_speedup",
        "asha_step_fraction",
        "asha_same_best",
        "train_flops_fraction_of_peak",
        "metric_time_fraction",
    } <= set(TARGETS)


def test_summarize_trials_counts_steps_and_picks_by_last_report():
    trials = [
        {"config": {"r": 16}, "reports": [{"step": 6, "objective": 0.5}]},
        {
            "config": {"r": 32},
            "reports": [{"step": 6, "objective": 0.2}, {"step": 12, "objective": 0.4}],
        },
    ]
    s = summarize_trials(trials)
    assert s["total_steps"] == 18
    assert json.loads(s["best"]) == {"r": 16}
    assert json.loads(summarize_trials(trials, mode="min")["best"]) == {"r": 32}
