"""The report loops over the metric registry: a sweep logged before chrF existed (its runs
have METEOR, BLEU and ROUGE-L only) still reports, without chrF; a sweep that logged chrF
reports it beside the other three. The sweeps are written straight into a store, shaped as
the trial logger writes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.analysis import FLAGS
from mlflow_server.tracking import Tracker
from sweeps.config import load_config
from sweeps.report.build import build_report
from sweeps.report.leaderboard import render, rows_from_runs
from tests.helpers import ROOT

SETS = ("alpaca", "dolly", "openorca")
POINTS = [  # the demo's first seeded points: pairs differ in lora.r and mix.openorca
    {"lora": {"r": 16}, "mix": {"openorca": 0.0, "dolly": 0.0}, "curriculum": "none"},
    {"lora": {"r": 32}, "mix": {"openorca": 0.0, "dolly": 0.0}, "curriculum": "none"},
    {"lora": {"r": 16}, "mix": {"openorca": 0.1, "dolly": 0.0}, "curriculum": "none"},
    {"lora": {"r": 16}, "mix": {"openorca": 0.3, "dolly": 0.0}, "curriculum": "none"},
]
REFS = [f"item {i} is a red box near the door" for i in range(12)]
STEP = 200


def _predictions(trial: int) -> list[str]:
    return [r if (i + trial) % 3 else f"item {i} is blue" for i, r in enumerate(REFS)]


def _table(trial: int) -> dict[str, list]:
    rows = []
    for ds in SETS:
        for i, (p, r) in enumerate(zip(_predictions(trial), REFS, strict=True)):
            score = 1.0 if p == r else 0.3 + 0.01 * trial
            rows.append(
                {"dataset": ds, "id": f"{ds}-{i}", "prediction": p, "reference": r}
                | {"meteor": score, "rougeL": score, "short_form": False}
                | {f: False for f in FLAGS}
            )
    return {k: [row[k] for row in rows] for k in rows[0]}


def _write_sweep(tracker: Tracker, cfg, metrics: tuple[str, ...], tmp: Path) -> str:
    """The sweep's parent run id, after four finished trials that logged `metrics`."""
    parent = tracker.start_sweep(cfg.name, {}, {})
    config = tmp / "sweep_config.json"
    config.write_text(json.dumps(cfg.model_dump(mode="json")), encoding="utf-8")
    tracker.log_artifact(parent, config)
    for t, point in enumerate(POINTS):
        run = tracker.start_trial(parent, f"t{t}", point, f"trial-t{t}")
        logged = {"objective": 0.4 + 0.01 * t}
        for ds in SETS:
            for k, m in enumerate(metrics):
                value = 0.3 + 0.01 * t + 0.001 * k
                logged[f"{ds}/{m}"] = value
                logged[f"{ds}/{m}_delta_pct"] = 5.0 * t - 2
                logged[f"{ds}/{m}_delta_pct_ci_low"] = 5.0 * t - 4
                logged[f"{ds}/{m}_delta_pct_ci_high"] = 5.0 * t
        tracker.log_metrics(run, logged, STEP)
        tracker.log_table(run, _table(t), f"eval/predictions_step{STEP}.json")
        tracker.end_run(run)
    return parent


@pytest.mark.parametrize(
    ("metrics", "has_chrf"),
    [(("meteor", "bleu", "rougeL"), False), (("meteor", "bleu", "rougeL", "chrf"), True)],
    ids=["logged-before-chrf", "with-chrf"],
)
def test_report_reads_sweeps_with_and_without_chrf(tmp_path, mlflow_uri, metrics, has_chrf):
    name = "old" if not has_chrf else "new"
    cfg = load_config(ROOT / "configs" / "demo.yaml", [f"name={name}"])
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = _write_sweep(tracker, cfg, metrics, tmp_path)

    md_path, _ = build_report(tracker, name, tmp_path / "report")

    md = md_path.read_text(encoding="utf-8")
    assert "4 finished trials" in md  # no trial dropped for lacking chrF
    assert "| Dataset | Samples | METEOR Δ | BLEU Δ | ROUGE-L Δ |" in md
    assert "| openorca/meteor |" in md and "| openorca/bleu |" in md
    assert ("chrF Δ" in md) is has_chrf
    assert ("| openorca/chrf |" in md) is has_chrf
    assert (tmp_path / "report" / "deltas_top_trials.png").stat().st_size > 5000
    if has_chrf:  # the paired effect of lora.r on chrF, recomputed from the texts
        line = next(x for x in md.splitlines() if x.startswith("| openorca/chrf |"))
        assert "n/a" not in line
    rows = rows_from_runs(tracker.trial_runs(parent), cfg)
    assert ("openorca/chrf" in render(rows, cfg)) is has_chrf
