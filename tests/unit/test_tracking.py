import sys
from pathlib import Path

import pytest

from mlflow_server.tracking import (
    Tracker,
    flatten,
    resolve_tracking_uri,
    ui_command,
)
from sweeps.config import load_config
from sweeps.report.leaderboard import best, render, rows_from_runs
from tests.helpers import ROOT


def test_tracking_uri_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5555")
    assert resolve_tracking_uri(None, tmp_path) == "http://127.0.0.1:5555"
    assert resolve_tracking_uri("sqlite:////x.db", tmp_path) == "sqlite:////x.db"
    # The command runs as printed: this environment's own mlflow, not one that must be on PATH.
    # It starts no idle job runner (MLflow's eight `huey_consumer` processes).
    quiet, _, command = ui_command("sqlite:////a/b.db", tmp_path).partition(" ")
    assert quiet == "MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false"
    exe, _, rest = command.partition(" ")
    assert rest.startswith("ui --backend-store-uri sqlite:////a/b.db --host 127.0.0.1")
    assert exe == str(Path(sys.executable).parent / "mlflow") and Path(exe).is_file()


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None}) == {
        "a.b": 1,
        "a.c.d": [1, 2],
        "e": None,
    }


def test_sweep_and_trial_runs(tmp_path: Path, mlflow_uri: str):
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s1", {"config": {"lora": {"r": 16}}}, {})
    child = tracker.start_trial(parent, "t1", {"lora_r": 32, "mix": {"openorca": 0.2}}, "trial-t1")
    # Starting the same trial again reuses its run: one child run per trial id.
    assert tracker.start_trial(parent, "t1", {"lora_r": 32}, "trial-t1") == child
    tracker.log_metrics(child, {"openorca/meteor": 0.5, "objective": 0.4, "bad": float("nan")}, 50)
    tracker.log_metrics(child, {"openorca/meteor": 0.6, "objective": 0.45}, 100)
    tracker.end_run(child)
    other = tracker.start_trial(parent, "t2", {"lora_r": 16, "mix": {"openorca": 0.0}}, "trial-t2")
    tracker.log_metrics(other, {"openorca/meteor": 0.3, "objective": 0.5}, 50)
    tracker.end_run(other, "FAILED", error="boom")

    runs = tracker.trial_runs(parent)
    assert len(runs) == 2
    run = tracker.client.get_run(child)
    assert run.data.params["lora_r"] == "32" and run.data.params["mix.openorca"] == "0.2"
    assert run.data.tags["sweeplab.trial_id"] == "t1"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.metrics == {"openorca/meteor": 0.6, "objective": 0.45}
    hist = tracker.client.get_metric_history(child, "openorca/meteor")
    assert [(m.step, m.value) for m in hist] == [(50, 0.5), (100, 0.6)]
    assert tracker.client.get_run(other).data.tags["sweeplab.error"] == "boom"
    artifact_root = tracker.client.get_experiment_by_name("s1").artifact_location
    assert artifact_root == (tmp_path / "runs" / "mlartifacts" / "s1").resolve().as_uri()

    cfg = load_config(
        ROOT / "configs" / "demo.yaml", ["search.space={}", "search.points_to_evaluate=[]"]
    )
    rows = rows_from_runs(runs, cfg)
    # The failed trial has the higher objective but only finished trials can be best.
    assert best(rows, cfg.search.goal()).trial_id == "t1"
    table = render(rows, cfg)
    assert f"* best trial t1 ({cfg.search.objective} = 0.4500)" in table
    assert "failed" in table


def test_leaderboard_artifacts(tmp_path):
    import csv

    from sweeps.config import eval_metric_keys
    from sweeps.report.leaderboard import Row
    from sweeps.report.plots import write_leaderboard

    cfg = load_config(ROOT / "configs" / "demo.yaml")
    rows = [
        Row(
            f"t{i}",
            f"run{i}",
            "FINISHED",
            {
                "lora.r": str(16 * (1 + i % 2)),
                "mix.openorca": str(0.1 * i),
                "mix.dolly": "0.0",
                "curriculum": "none" if i % 2 else "two_phase",
            },
            {**{m: 0.1 * i + 0.01 for m in eval_metric_keys()}, "objective": 0.1 * i},
            False,
        )
        for i in range(3)
    ]
    paths = write_leaderboard(rows, cfg, tmp_path / "lb")
    assert [p.name for p in paths] == [
        "leaderboard.csv",
        "objective_by_dimension.png",
        "metrics_by_trial.png",
    ]
    table = list(csv.DictReader((tmp_path / "lb" / "leaderboard.csv").open()))
    assert [r["trial_id"] for r in table] == ["t2", "t1", "t0"]  # best first
    assert table[0]["best"] == "True" and float(table[0]["openorca/meteor"]) == pytest.approx(0.21)
    for png in paths[1:]:
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
