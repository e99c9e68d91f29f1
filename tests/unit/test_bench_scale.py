"""The bench's scale figures at toy size: the short trainable's checkpoints are what the MLflow
logger reads, the driver-cost summary and table, Optuna's proposals timed, confirm's plan
reading every run, and `--only` keeping the other figures. No Ray cluster (the driver-cost
run itself: tests/integration/test_driver_scale_integration.py)."""

from __future__ import annotations

import json

from bench.__main__ import earlier
from bench.driver_scale import summarize
from bench.explain import why
from bench.many_runs import confirm_plan, write_sweep
from bench.proposals import time_proposals
from bench.report import render_markdown, with_verdicts
from bench.short_trial import EVERY, sweep_config, trial_metrics, write_checkpoint
from common.tags import ADAPTER, DATA_MANIFEST, TRIAL_RECORD


def _side(s: float, results: int, **more) -> dict:
    return {"s": s, "results": results, "trials": 10, **more}


def _rows(keep_all: bool = True) -> list[dict]:
    swl = {"runs": 10, "writes": 150, "store_calls": 90, "backlog": 0, "fit_s": 5.0}
    swl |= {"put_s": 1.0, "send_s": 4.0, "logger_s": 2.0}
    rows = []
    for n, ray, s in ((10, 4.0, 8.0), (100, 4.0, 10.0), (1000, 4.0, 14.0)):
        row = {"trials": n, "repeats": 1, "ray": _side(ray, 40), "sweeplab": _side(s, 40, **swl)}
        if keep_all:
            row["ray_keep_all"] = _side(3.0, 40)
        rows.append(row)
    return rows


def test_summary_counts_the_added_cost_per_result_and_its_growth():
    out = summarize(_rows())
    assert out["driver_scales"] == [10, 100, 1000] and out["driver_added_against"] == "ray_keep_all"
    assert out["driver_ray_s_per_result_at_10"] == 0.1
    assert out["driver_ray_keep_all_s_per_result_at_10"] == 0.075
    # added: sweeplab minus Ray keeping every checkpoint; beside it, minus Ray keeping one
    assert abs(out["driver_added_s_per_result_at_10"] - 0.125) < 1e-12
    assert abs(out["driver_added_s_per_result_at_1000"] - 0.275) < 1e-12
    assert abs(out["driver_added_over_ray_s_per_result_at_1000"] - 0.25) < 1e-12
    assert abs(out["driver_added_cost_growth"] - 2.2) < 1e-9
    assert abs(out["driver_added_cost_growth_from_second"] - 0.275 / 0.175) < 1e-9
    assert out["driver_sweeplab_send_s_per_result_at_100"] == 0.1
    assert out["driver_sweeplab_store_calls_at_100"] == 90
    # an older measurement, without the second Ray side: counted against Ray keeping one
    old = summarize(_rows(keep_all=False))
    assert old["driver_added_against"] == "ray"
    assert abs(old["driver_added_s_per_result_at_1000"] - 0.25) < 1e-12


def test_results_show_each_scale_beside_ray_and_say_why_the_growth():
    results = {**summarize(_rows()), "driver_reports_per_trial": 4, "driver_concurrency": 2}
    md = render_markdown(with_verdicts({**results, "overhead_ratio": 1.3}), why(results))
    assert "| 1,000 | 1 | 4 (40) | 3 (40) | 14 (40) | 0.1 | 0.075 | 0.35 | 0.275 |" in md
    assert "| `driver_added_cost_growth` | 2.2 | <= 1.5 | **no** |" in md
    assert "overhead ratio: 1.3" in md and "1,000 trials: 0.275 s added per result" in md
    assert "2.2 store calls a result" in md


def test_the_short_trial_checkpoint_is_what_the_logger_reads(tmp_path):
    from sweeps.run.mlflow_logger import _points, _result_metrics, final_files, step_table_of

    config = {"lora.r": 8, "mix.openorca": 0.3, "train.learning_rate": 1e-4}
    metrics = trial_metrics(config, 2, 0.5)
    write_checkpoint(tmp_path, 2 * EVERY, metrics)
    columns, name = step_table_of(tmp_path)
    assert len(columns["dataset"]) == 6 and str(2 * EVERY) in name
    assert set(final_files(tmp_path)) == {ADAPTER, DATA_MANIFEST, TRIAL_RECORD}
    logged = _result_metrics(metrics)
    assert "objective" in logged and "openorca/meteor" in logged and "cost/wall_s" in logged
    assert [p["step"] for p in _points(metrics["train_history"])] == list(range(6, 11))
    assert trial_metrics(config, 2, 0.1)["objective"] == metrics["objective"]  # deterministic
    cfg = sweep_config("s", tmp_path, trials=3, reports=4)
    assert cfg.train.num_reports == 4 and cfg.search.num_samples == 3


def test_proposals_are_timed_and_never_repeat(tmp_path):
    cfg = sweep_config("s", tmp_path, trials=12, reports=4)
    for two in (False, True):
        t = time_proposals(cfg, 12, two_objectives=two)
        assert t["distinct"] == 12 and len(t["suggest_s"]) == len(t["check_s"]) == 12
        assert all(0 <= s < 5 for s in t["suggest_s"])


def test_confirm_plan_reads_every_run_and_starts_from_the_best(tmp_path, mlflow_uri):
    cfg = write_sweep(mlflow_uri, tmp_path, "toy", 5)
    got = confirm_plan(mlflow_uri, tmp_path, cfg)
    assert got["read"] == 5 and got["best_first"] and got["s"] > 0


def test_only_keeps_the_other_figures_of_the_same_settings(tmp_path):
    old = {
        "quick": False,
        "overhead_ratio": 1.2,
        "overhead_ratio_target": "<= 1.05",
        "sweeps_bench_s": 400.0,
        "finished_at": "2026-11-29 22:49 UTC",
    }
    (tmp_path / "results.json").write_text(json.dumps(old))
    kept = earlier(tmp_path, quick=False)
    assert kept["overhead_ratio"] == 1.2 and "overhead_ratio_target" not in kept
    assert kept["figures_at"] == {"sweeps": "2026-11-29 22:49 UTC"}
    assert earlier(tmp_path, quick=True) == {}  # a smoke run's numbers never mix in
    kept["figures_at"]["read_back"] = "2026-12-05 03:00 UTC"
    md = render_markdown(with_verdicts(kept), {})
    assert "Measured in parts (`sweeps` at 2026-11-29 22:49 UTC; `read_back` at" in md
