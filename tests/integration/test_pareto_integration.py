"""A real 3-trial sweep with two objectives and a constraint, through the `sweeplab`
command: every trial run carries its place on the Pareto front, the front is exactly the one
recomputed here from the logged metrics, the report shows it, and `sweeplab promote`
promotes the front member its rule chooses."""

from __future__ import annotations

import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers import clean_env, run_sweeplab, small_sweep_config

pytestmark = pytest.mark.integration

OBJECTIVES = [("openorca/meteor", "max"), ("alpaca/meteor", "max")]
CONSTRAINT = ("alpaca/meteor_delta_pct", -100.0)  # >= -100: a METEOR of 0 still meets it


def _front(runs) -> set[str]:
    """Recomputed from scratch: finished, constraint met, no other such run at least as
    good on both objectives and better on one."""
    ok = [
        r
        for r in runs
        if r.info.status == "FINISHED" and r.data.metrics.get(CONSTRAINT[0], -1e9) >= CONSTRAINT[1]
    ]
    vals = {r.info.run_id: [r.data.metrics[m] for m, _ in OBJECTIVES] for r in ok}

    def beats(a, b):
        return all(x >= y for x, y in zip(a, b, strict=True)) and a != b

    return {i for i, v in vals.items() if not any(beats(w, v) for w in vals.values())}


def test_two_objective_sweep_tags_reports_and_promotes_the_front(tmp_path, demo_assets):
    path = small_sweep_config(
        tmp_path,
        demo_assets,
        num_samples=3,
        objectives=[{"metric": m, "mode": d} for m, d in OBJECTIVES],
        constraints=[f"{CONSTRAINT[0]} >= {CONSTRAINT[1]:g}"],
    )
    doc = yaml.safe_load(path.read_text())
    doc["train"].update(max_steps=8, report_every=4, num_examples=64)
    doc["promotion"] = {"gates": [], "pick": {"first": "alpaca/meteor"}}
    path.write_text(yaml.safe_dump(doc))
    env = clean_env()
    proc = run_sweeplab("sweep", str(path), cwd=tmp_path, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert "* Pareto front of openorca/meteor (max), alpaca/meteor (max)" in proc.stdout

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("itest")
    runs = [
        r
        for r in client.search_runs([exp.experiment_id])
        if r.data.tags.get("sweeplab.kind") == "trial"
    ]
    assert len(runs) == 3
    # Every trial run carries the tag; the `true` ones are exactly the recomputed front.
    assert all(r.data.tags["sweeplab.pareto"] in ("true", "false") for r in runs)
    tagged = {r.info.run_id for r in runs if r.data.tags["sweeplab.pareto"] == "true"}
    assert tagged == _front(runs) and tagged
    ids = {r.info.run_id: r.data.tags["sweeplab.trial_id"] for r in runs}
    for r in runs:
        if r.info.run_id not in tagged and "sweeplab.dominated_by" in r.data.tags:
            assert r.data.tags["sweeplab.dominated_by"] in {ids[i] for i in tagged}
    # ASHA's rung decisions say what they compared: the first objective.
    for r in runs:
        for key, value in r.data.tags.items():
            if key.startswith("sweeplab.rung."):
                assert "openorca/meteor (max) (the first of 2 objectives)" in value

    report = run_sweeplab("report", "itest", "--out", str(tmp_path / "rep"), cwd=tmp_path, env=env)
    assert report.returncode == 0, report.stderr[-3000:]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Pareto front" in md and "**front**" in md and "[" in md
    assert (tmp_path / "rep" / "pareto_front.png").is_file()

    promoted = run_sweeplab("promote", "itest", cwd=tmp_path, env=env, timeout=300)
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    assert "chosen by: Pareto front member chosen by promotion.pick {first: alpaca/meteor}" in (
        promoted.stdout
    )
    version = client.get_model_version_by_alias("itest", "champion")
    assert version.run_id in tagged
    front_alpaca = {
        i: r.data.metrics["alpaca/meteor"] for r in runs if (i := r.info.run_id) in tagged
    }
    assert front_alpaca[version.run_id] == max(front_alpaca.values())
    assert version.tags["sweeplab.pick_rule"].endswith("{first: alpaca/meteor}")
