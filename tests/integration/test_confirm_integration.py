"""A tiny sweep, then `sweeplab confirm --top 1 --seeds 2`, then `sweeplab report`: replicates
as child runs of the sweep, seed spread and seed-aware intervals in the report that match
the runs, and the rung decision that stopped a trial on that trial's run."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.helpers import clean_env, run_sweeplab, small_sweep_config, sweep_runs

pytestmark = pytest.mark.integration

SPACE = {
    "lora.r": {"choice": [16, 32]},
    "mix.openorca": {"choice": [0.0, 0.3]},
    # Answers cut to one token score near zero whatever the training: that trial trails the
    # one before it at ASHA's first rung and is stopped, so there is a stop to audit. The
    # third then faces a cutoff a third of the way up from that near-zero score (reduction
    # factor 1.5) and goes on, whatever small differences another CPU makes in the scores.
    "generation.max_new_tokens": {"choice": [24, 1]},
}
POINTS = [
    {"lora.r": 16, "mix.openorca": 0.0, "generation.max_new_tokens": 24},
    {"lora.r": 32, "mix.openorca": 0.0, "generation.max_new_tokens": 1},
    {"lora.r": 32, "mix.openorca": 0.3, "generation.max_new_tokens": 24},
]
SCHEDULER = {"kind": "asha", "grace_period": 1, "reduction_factor": 1.5}


def _searched(run) -> tuple:
    return tuple(run.data.params[k] for k in SPACE)


def test_confirm_adds_replicates_and_the_report_is_seed_aware(tmp_path, demo_assets):
    cfg = small_sweep_config(
        tmp_path,
        demo_assets,
        num_samples=3,
        max_concurrent=1,  # one at a time: ASHA sees the trials in a fixed order
        space=SPACE,
        points_to_evaluate=POINTS,
        scheduler=SCHEDULER,
    )
    proc = run_sweeplab("sweep", str(cfg), cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    proc = run_sweeplab(
        "confirm", "itest", "--top", "1", "--seeds", "2", cwd=tmp_path, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert "2 configurations x 2 seeds = 4 full-budget runs" in proc.stdout

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (parent,), children = sweep_runs(client, "itest")
    search = [c for c in children if c.data.tags.get("sweeplab.role") != "confirm"]
    reps = [c for c in children if c.data.tags.get("sweeplab.role") == "confirm"]
    # Given 3 search trials and 2 configurations x 2 seeds of replicates ...
    assert len(search) == 3 and len(reps) == 4
    # ... no two search trials share all searched values ...
    assert len({_searched(c) for c in search}) == 3
    # ... and the replicates are finished children of the sweep's parent run, two seeds
    # (train.seed 1 and 2, the sweep's being 0) of each of two distinct configurations, one
    # of them the seed-like baseline (r=16, Alpaca only).
    by_point: dict[str, list] = {}
    for r in reps:
        assert r.info.status == "FINISHED"
        assert r.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert r.data.tags["sweeplab.stopped_early"] == "false"
        by_point.setdefault(r.data.tags["sweeplab.point"], []).append(r)
    assert len(by_point) == 2
    for runs in by_point.values():
        assert sorted(r.data.tags["sweeplab.replicate"] for r in runs) == ["0", "1"]
        assert sorted(r.data.params["train.seed"] for r in runs) == ["1", "2"]
        assert len({_searched(r) for r in runs}) == 1
    configs = {_searched(runs[0]) for runs in by_point.values()}
    assert ("16", "0.0", "24") in configs
    assert parent.info.status == "FINISHED"
    # What the search and the confirmation cost, summed on the parent run.
    assert parent.data.metrics["cost/trials"] == 7
    total = sum(c.data.metrics["cost/accelerator_s"] for c in children)
    assert parent.data.metrics["cost/accelerator_s"] == pytest.approx(total, rel=1e-6)

    # The rung decision that stopped the one-token trial is on its run.
    (stopped,) = [c for c in search if c.data.tags["sweeplab.stopped_early"] == "true"]
    assert stopped.data.params["generation.max_new_tokens"] == "1"
    decision = json.loads(stopped.data.tags["sweeplab.rung.1"])
    assert decision["decision"] == "stop" and decision["metric"] == "objective"
    at_rung = client.get_metric_history(stopped.info.run_id, "objective")
    assert decision["value"] == pytest.approx(at_rung[0].value)
    assert decision["value"] < decision["cutoff"]
    assert "-> stop" in stopped.data.tags["sweeplab.stop_reason"]

    # The report: spread per metric, seed-aware intervals matching the runs, stopped trials.
    proc = run_sweeplab("report", "itest", cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "runs" / "reports" / "itest" / "report.md").read_text()
    assert "## Seed-to-seed spread" in md and "## Seed-aware verdicts" in md
    assert "*search*: the search's single-seed trials" in md and "## Trials stopped early" in md
    # The confirmed replicates are the report's measure of training noise as well.
    assert re.search(r"from 2 replicate group\(s\) of \d+ runs \(confirm\)", md), md[:1500]
    assert "Spent: 7 trial(s)" in md and "Cost: this verdict rests on 3 trial(s)" in md
    assert stopped.data.tags["sweeplab.trial_id"] in md.split("## Trials stopped early")[1]
    spread = md.split("## Seed-to-seed spread")[1].split("## Seed-aware verdicts")[0]
    for point, runs in by_point.items():
        values = [100 * r.data.metrics["alpaca/meteor"] for r in runs]
        sd = np.std(values, ddof=1)
        row = next(line for line in spread.splitlines() if line.startswith("| alpaca/meteor |"))
        assert f"{sd:.2f}" in row.split("|")[2 + int(point)], (row, sd)
    # mix.openorca: the treated configuration's mean over its seeds minus the baseline's.
    base = next(runs for runs in by_point.values() if _searched(runs[0])[1] == "0.0")
    treated = next(runs for runs in by_point.values() if _searched(runs[0])[1] == "0.3")
    effect = 100 * (
        np.mean([r.data.metrics["alpaca/meteor"] for r in treated])
        - np.mean([r.data.metrics["alpaca/meteor"] for r in base])
    )
    section = md.split("### mix.openorca")[-1]
    row = next(line for line in section.splitlines() if line.startswith("| alpaca/meteor |"))
    seed_cell = row.split("|")[4].strip()
    m = re.match(r"([+-]\d+\.\d) \[([+-]\d+\.\d), ([+-]\d+\.\d)\]", seed_cell)
    assert m, row
    assert float(m.group(1)) == pytest.approx(effect, abs=0.051)
    assert float(m.group(2)) <= float(m.group(1)) <= float(m.group(3))
    assert row.split("|")[5].strip() in ("helps", "hurts", "inconclusive")


def test_resume_retry_failed_continues_a_failed_trial_in_its_run(tmp_path, demo_assets):
    # Given a sweep whose r=32 trial fails once at its second report (step 16) ...
    cfg = small_sweep_config(tmp_path, demo_assets, scheduler={"kind": "fifo"})
    faults = {
        "state_dir": str(tmp_path / "faults"),
        "faults": [{"kind": "exception", "at_step": 16, "when": {"lora.r": 32}, "times": 1}],
    }
    env = clean_env(SWEEPLAB_FAULTS=json.dumps(faults))
    proc = run_sweeplab("sweep", str(cfg), cwd=tmp_path, env=env, timeout=1200)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    _, before = sweep_runs(client, "itest")
    status = {r.data.params["lora.r"]: r for r in before}
    assert status["32"].info.status == "FAILED", proc.stdout[-3000:] + proc.stderr[-3000:]
    assert status["16"].info.status == "FINISHED"
    # Killed as if just after the failure, before Ray saved its record of it (Ray saves it on
    # its own period): the record calls the trial running. A plain resume does not run it.
    _record_running(tmp_path / "runs" / "ray" / "itest", {"lora.r": 32})
    proc = run_sweeplab("resume", "itest", cwd=tmp_path, env=env, timeout=1200)
    assert "had failed (step 8) before the driver was killed" in proc.stdout, proc.stdout
    failed = client.get_run(status["32"].info.run_id)
    assert (failed.info.status, failed.info.end_time) == ("FAILED", status["32"].info.end_time)
    assert [m.step for m in client.get_metric_history(failed.info.run_id, "objective")] == [8]
    # ... `resume --retry-failed` runs it again from its step-8 checkpoint, in the same run.
    proc = run_sweeplab("resume", "itest", "--retry-failed", cwd=tmp_path, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _, after = sweep_runs(client, "itest")
    assert {r.info.run_id for r in after} == {r.info.run_id for r in before}
    again = {r.data.params["lora.r"]: r for r in after}
    retried = again["32"]
    assert retried.info.status == "FINISHED"
    assert retried.data.tags["sweeplab.retried_after_failure"] == "true"
    assert retried.data.tags["sweeplab.resumed_from_step"] == "8"
    steps = [m.step for m in client.get_metric_history(retried.info.run_id, "objective")]
    assert sorted(steps) == [8, 16]  # step 8 not logged twice
    # The trial that had finished is untouched.
    assert again["16"].info.end_time == status["16"].info.end_time


def _record_running(exp_dir, config: dict) -> None:
    """Ray's newest record of the sweep, with the trial of `config` set back to RUNNING."""
    path = max(exp_dir.glob("experiment_state-*.json"))
    state = json.loads(path.read_text())
    for entry in state["trial_data"]:
        trial = json.loads(entry[0])
        if trial["config"] == {**trial["config"], **config}:
            trial["status"] = "RUNNING"
            entry[0] = json.dumps(trial)
    path.write_text(json.dumps(state))
