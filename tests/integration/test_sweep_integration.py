"""A real 2-trial sweep: Ray Tune + Optuna + ASHA running TRL LoRA SFT on the demo model,
logged to a real MLflow SQLite store, driven through the `sweeplab` command."""

from __future__ import annotations

import json
import os
import re

import evaluate
import pytest
from mlflow import MlflowClient

from tests.helpers import (
    ROOT,
    SET_METRICS,
    SHARED_REPLICATES,
    run_python,
    run_sweeplab,
    small_sweep_config,
)

pytestmark = pytest.mark.integration


def test_two_trial_sweep_logs_everything(tmp_path, demo_assets, finished_sweep):
    # The run's shared finished sweep (`sweeplab sweep`, the default store in its folder);
    # what this test adds to it (a promotion, a report) no other reader of it asserts on.
    work, cfg, out = finished_sweep.work, finished_sweep.config, finished_sweep.stdout
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    assert "best trial" in out and "mlflow ui --backend-store-uri sqlite:///" in out
    assert "openorca/chrf" in out  # the fourth metric is a column of the printed table

    # Given the embedded default store inside the working directory ...
    db = work / "runs" / "mlflow.db"
    assert db.is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    chrf = evaluate.load(str(ROOT / "evaluation" / "metrics" / "chrf"), keep_in_memory=True)
    exp = client.get_experiment_by_name("itest")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweeplab.kind") == "sweep"]
    trial_runs = [r for r in runs if r.data.tags.get("sweeplab.kind") == "trial"]
    children = [r for r in trial_runs if "sweeplab.role" not in r.data.tags]
    replicas = [r for r in trial_runs if r.data.tags.get("sweeplab.role") == "replicate"]
    # ... then one parent, two search trials and their two replicates (`search.replicates`)
    # pointing at it, all finished.
    assert len(parents) == 1 and len(children) == 2 and len(replicas) == SHARED_REPLICATES
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    trial_ids = set()
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED"
        trial_ids.add(child.data.tags["sweeplab.trial_id"])
        params = child.data.params
        assert params["lora_r"] in ("16", "32") and params["mix.openorca"] in ("0.0", "0.3")
        assert params["curriculum"] == "none"
        for name in SET_METRICS:
            value = child.data.metrics[name]
            assert 0.0 <= value <= 1.0, (name, value)
        # chrF as logged is the canonical chrF (sacrebleu through the shipped evaluate
        # module) of the final per-example table's predictions, set by set.
        table = client.download_artifacts(child.info.run_id, "eval/predictions.json", tmp_path)
        data = json.loads(open(table, encoding="utf-8").read())
        rows = [dict(zip(data["columns"], r, strict=True)) for r in data["data"]]
        for ds in ("alpaca", "dolly", "openorca"):
            preds = [r["prediction"] for r in rows if r["dataset"] == ds]
            refs = [r["reference"] for r in rows if r["dataset"] == ds]
            canonical = chrf.compute(predictions=preds, references=refs)["score"] / 100
            assert child.data.metrics[f"{ds}/chrf"] == pytest.approx(canonical, abs=1e-6)
            assert f"{ds}/chrf_delta_pct" in child.data.metrics
        # Two reports per full trial (report_every 8 of 16 steps), at steps 8 and 16.
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "openorca/meteor")]
        assert steps and steps[0] == 8 and len(steps) == len(set(steps))
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"adapter", "data_manifest.json", "trial.json"} <= artifacts
        adapter = {a.path for a in client.list_artifacts(child.info.run_id, "adapter")}
        assert "adapter/adapter_model.safetensors" in adapter
    assert len(trial_ids) == 2
    # Each replicate re-ran one search trial's configuration with another training seed.
    assert {r.data.tags["sweeplab.replicate_of"] for r in replicas} == trial_ids
    by_trial = {c.data.tags["sweeplab.trial_id"]: c for c in children}
    for rep in replicas:
        twin = by_trial[rep.data.tags["sweeplab.replicate_of"]]
        assert rep.info.status == "FINISHED" and rep.data.tags["mlflow.parentRunId"]
        for key in ("lora.r", "mix.openorca", "curriculum", "train.max_steps"):
            assert rep.data.params[key] == twin.data.params[key]
        assert int(rep.data.params["train.seed"]) == int(twin.data.params["train.seed"]) + 1000
    assert "2 replicate(s) with another training seed" in out
    # What each trial cost, and the sweep's sums on the parent run (CPU trials: CPU-seconds
    # held = 1 CPU x wall).
    for child in children:
        m = child.data.metrics
        assert m["cost/wall_s"] > 0 and m["cost/accelerator_s"] == pytest.approx(m["cost/wall_s"])
        assert m["cost/tokens_trained"] > 0 and m["cost/tokens_generated"] > 0
        assert 0 < m["cost/eval_share"] < 1
    for key in ("cost/wall_s", "cost/accelerator_s", "cost/tokens_trained"):
        total = sum(c.data.metrics[key] for c in trial_runs)  # replicates cost too
        assert parent.data.metrics[key] == pytest.approx(total, rel=1e-6)
    assert parent.data.metrics["cost/trials"] == 4
    assert "CPU_h" in out and "cost: 2 trial(s)" in out and "replicates: 2 run(s)" in out
    # The trial with OpenOrca rows really trained on them.
    by_mix = {c.data.params["mix.openorca"]: c for c in children}
    assert set(by_mix) == {"0.0", "0.3"}

    # Malformed-row counts (none here) are on the parent run with the other data figures.
    assert parent.data.params["data_stats.openorca.skipped"] == "0"
    assert int(parent.data.params["data_stats.alpaca.rows"]) > 0

    # Re-running the finished sweep continues it: nothing reruns, no run changes.
    again = run_sweeplab("sweep", str(cfg), "--name", "itest", cwd=work, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "continuing" in again.stdout and "started" not in again.stdout
    rerun = {r.info.run_id: r for r in client.search_runs([exp.experiment_id])}
    assert set(rerun) == {r.info.run_id for r in runs}
    for child in children:
        assert rerun[child.info.run_id].info.end_time == child.info.end_time
    # ... but the same name with another config is refused, in one line.
    changed = run_sweeplab(
        "sweep",
        str(cfg),
        "--name",
        "itest",
        "--set",
        "train.max_steps=24",
        cwd=work,
        env=env,
        timeout=300,
    )
    assert changed.returncode == 2
    assert changed.stderr.strip().count("\n") == 0
    assert "was started with a different config (train.max_steps was 16, now 24)" in (
        changed.stderr
    )

    # Promotion: the best finished trial, picked from MLflow, registered once, alias set.
    def promote(*extra):
        return run_sweeplab("promote", "itest", *extra, cwd=work, env=env, timeout=300)

    # The test config's gate (alpaca/meteor >= 2) cannot pass: refused, then forced.
    gated = promote()
    assert gated.returncode == 2
    assert "fails promotion gate(s): alpaca/meteor >= 2" in gated.stderr
    assert not client.search_registered_models()
    first, second = promote("--force"), promote("--force")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "registered: models:/itest/1" in first.stdout and "FORCED" in first.stdout
    assert second.returncode == 0 and "already registered: models:/itest/1" in second.stdout
    versions = client.search_model_versions("name = 'itest'")
    assert len(versions) == 1
    version = client.get_model_version_by_alias("itest", "champion")
    best = max(trial_runs, key=lambda c: c.data.metrics["objective"])
    assert version.run_id == best.info.run_id
    assert version.tags["sweeplab.forced"] == "true"
    assert version.tags["sweeplab.failed_gates"] == "alpaca/meteor >= 2"
    assert version.tags["sweeplab.base_model"] == str(demo_assets["model"])
    assert len(version.tags["sweeplab.data_hash"]) == 64
    refused = promote("--objective", "openorca/nonexistent")
    assert refused.returncode == 2 and "no finished trial" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0

    # The champion loads through pyfunc in a fresh process and generates text.
    code = (
        "import json, mlflow; "
        f"mlflow.set_tracking_uri('sqlite:///{db}'); "
        "m = mlflow.pyfunc.load_model('models:/itest@champion'); "
        "out = m.predict(['What is 2 plus 3?', 'Name the capital of Velmora.']); "
        "print(json.dumps(out))"
    )
    proc = run_python(code, cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answers = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(answers, list) and len(answers) == 2
    assert all(isinstance(a, str) for a in answers) and any(a.strip() for a in answers)

    # The report: written, logged to the parent run, numbers matching the runs, deterministic.
    def report(out):
        return run_sweeplab("report", "itest", "--out", str(out), cwd=work, env=env, timeout=600)

    one, two = report(tmp_path / "r1"), report(tmp_path / "r2")
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    md = (tmp_path / "r1" / "report.md").read_text()
    assert md == (tmp_path / "r2" / "report.md").read_text()
    assert "| METEOR Δ | BLEU Δ | ROUGE-L Δ | chrF Δ |" in md
    assert "| openorca/chrf |" in md  # a verdict row for the fourth metric
    for section in (
        "Performance overview",
        "Verdicts",
        "### lora.r",
        "### mix.openorca",
        "Length analysis",
        "Error categories",
        "Deployment decision matrix",
    ):
        assert section in md
    page = (tmp_path / "r1" / "report.html").read_text()
    # Two plots, and "How much to mix"'s curves (the sweep searched mix.openorca).
    assert page.count("data:image/png;base64,") == 3 and "<table>" in page
    seed_run = by_mix["0.0"]
    delta = seed_run.data.metrics["openorca/meteor_delta_pct"]
    assert f"{delta:+.1f}%" in md
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.md", "report/report.html"} <= logged

    # Its verdicts count the training noise the replicates measured: the pooled SD it
    # states is the one recomputed from the runs' logged metrics, each pair compared at its
    # largest common step (a trial ASHA stopped at step 8 against its replicate's step 8).
    def at(run, key, step):
        return next(
            m.value for m in client.get_metric_history(run.info.run_id, key) if m.step == step
        )

    for ds in ("alpaca", "openorca"):
        key = f"{ds}/meteor"
        diffs = []
        for rep in replicas:
            twin = by_trial[rep.data.tags["sweeplab.replicate_of"]]
            step = max(m.step for m in client.get_metric_history(twin.info.run_id, key))
            diffs.append(100 * (at(rep, key, step) - at(twin, key, step)))
        sd = (sum(d * d / 2 for d in diffs) / len(diffs)) ** 0.5  # pooled over two pairs
        assert f"{key} {sd:.2f}" in md
    assert "from 2 replicate group(s) of 4 runs (in-sweep)" in md
    assert "ignore training noise" not in md
    # ... and are judged together: how many, at what false discovery rate.
    judged = re.search(r"(\d+) verdicts judged together, false discovery rate held at 5%", md)
    rows = [line for line in md.splitlines() if re.match(r"\| \w+/\w+ \| [-+n]", line)]
    with_p = [r for r in rows if r.split("|")[5].strip() != "n/a"]
    assert judged and int(judged.group(1)) == len(with_p)


def test_a_base_model_that_needs_remote_code_is_refused_and_runs_none(tmp_path, demo_assets):
    """A model folder whose config asks for its own Python (`auto_map`) to be run: one line
    naming it, exit 2, the code never ran, no sweep record left."""
    import shutil

    evil = tmp_path / "evil-model"
    shutil.copytree(demo_assets["model"], evil)
    config = json.loads((evil / "config.json").read_text())
    auto = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    config.update(model_type="evil", auto_map=auto)
    (evil / "config.json").write_text(json.dumps(config))
    ran = tmp_path / "it-ran"
    (evil / "evil.py").write_text(f"open({str(ran)!r}, 'w').write('x')\n")
    cfg = small_sweep_config(tmp_path, {**demo_assets, "model": evil})
    proc = run_sweeplab("sweep", str(cfg), "--name", "evil", cwd=tmp_path)
    err = [line for line in proc.stderr.splitlines() if "WARNING" not in line]
    assert proc.returncode == 2 and len(err) == 1, proc.stderr[-2000:]
    assert "custom code" in err[0] and str(evil) in err[0] and "ray::" not in err[0]
    assert not ran.exists() and not (tmp_path / "runs" / "ray" / "evil").exists()
