"""Model scale and a declared fourth source in one real sweep: two base models of different
size, each scored once; a structured-output source mixed in; its effect on format
compliance in the report with an interval."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from mlflow import MlflowClient

from demo import corpus as dc
from demo import model as dm
from sweeps.run.state import BASE_CACHE_ENV
from tests.helpers import (
    DEMO_DATA,
    DEMO_MODEL,
    SET_METRICS,
    clean_env,
    run_sweeplab,
    small_sweep_config,
    sweep_runs,
    write_jsonl,
)

pytestmark = pytest.mark.integration

STRUCTURED = {
    "instruction": "prompt",
    "input": "text",
    "response": "target",
    "system": "system",
    "category": "task",
}


@pytest.fixture
def scale_assets(tmp_path, request) -> dict:
    """The demo's three files and model (read only), a tiny second model, structured rows."""
    three = {s: DEMO_DATA / dc.FILE_NAMES[s] for s in ("alpaca", "dolly", "openorca")}
    if not all(p.is_file() for p in three.values()) or not DEMO_MODEL.is_dir():
        built = request.getfixturevalue("demo_assets")
        three, model = {s: built[s] for s in three}, built["model"]
    else:
        model = DEMO_MODEL
    mini = dm.build_demo_model(
        tmp_path / "models" / "demo-llama-mini",
        size="mini",
        steps=60,
        batch_size=8,
        seq_len=64,
        n_docs=300,
        threads=1,
    )
    rows = dc.generate_rows(0, {"alpaca": 1, "dolly": 1, "openorca": 1, "structured": 160})
    structured = write_jsonl(tmp_path / "structured.jsonl", rows["structured"])
    return {**three, "model": model, "mini": mini, "structured": structured}


def _config(tmp_path, assets) -> str:
    big, mini = str(assets["model"]), str(assets["mini"])
    path = small_sweep_config(
        tmp_path,
        assets,
        num_samples=3,
        space={"model.path": {"choice": [big, mini]}, "mix.structured": {"choice": [0.0, 0.3]}},
        points_to_evaluate=[
            {"model.path": big, "mix.structured": 0.0},
            {"model.path": big, "mix.structured": 0.3},
            {"model.path": mini, "mix.structured": 0.0},
        ],
        scheduler={"kind": "fifo"},
    )
    doc = yaml.safe_load(path.read_text())
    doc["name"] = "scale"
    doc["data"]["sources"] = {
        "structured": {"path": str(assets["structured"]), "columns": STRUCTURED, "eval_size": 24}
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_two_models_and_a_declared_source(tmp_path, scale_assets):
    # A Ray of its own, even where other tests left a cluster running on this machine; the
    # base scores in this project's runs/base_eval/, not the test run's shared cache.
    env = clean_env(RAY_ADDRESS="local", **{BASE_CACHE_ENV: ""})
    proc = run_sweeplab(
        "sweep", _config(tmp_path, scale_assets), cwd=tmp_path, env=env, timeout=1500
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    # One base evaluation per model: two log lines, two cache files.
    assert "base model demo-llama: evaluating" in proc.stdout
    assert "base model demo-llama-mini: evaluating" in proc.stdout
    caches = sorted((tmp_path / "runs" / "base_eval").glob("base-*.json"))
    assert len(caches) == 2
    for c in caches:
        data = json.loads(c.read_text())
        assert set(data["sets"]) == {"alpaca", "dolly", "openorca", "structured"}

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    (parent,), trials = sweep_runs(client, "scale")
    assert len(trials) == 3 and all(t.info.status == "FINISHED" for t in trials)
    assert {"base/demo-llama/alpaca/meteor", "base/demo-llama-mini/alpaca/meteor"} <= set(
        parent.data.metrics
    )
    by_model = {}
    for t in trials:
        m = t.data.metrics
        assert all(name in m for name in SET_METRICS)
        assert 0.0 <= m["structured/format_compliance"] <= 1.0
        # Every delta is against the trial's own model's base, which the parent run records:
        # logged exactly where that base scored above 0, and equal to the change against it.
        # params name a local model by folder + content hash (`demo-llama@sha256:...`)
        label = t.data.params["model.path"].split("@", 1)[0].rsplit("/", 1)[-1]
        base = {
            k.removeprefix(f"base/{label}/"): v
            for k, v in parent.data.metrics.items()
            if k.startswith(f"base/{label}/") and k.endswith(("/meteor", "/rougeL"))
        }
        assert len(base) == 8  # four sets, two metrics
        deltas = {k for k in m if k.endswith(("/meteor_delta_pct", "/rougeL_delta_pct"))}
        assert deltas == {f"{k}_delta_pct" for k, v in base.items() if v > 0}
        for key in deltas:
            metric = key.removesuffix("_delta_pct")
            own = 100 * (m[metric] - base[metric]) / base[metric]
            assert m[key] == pytest.approx(own, rel=1e-6, abs=1e-6)
        by_model.setdefault(label, []).append(t)
    assert sorted(len(v) for v in by_model.values()) == [1, 2]
    # Two bases, not one: the models score differently.
    base_scores = [parent.data.metrics[f"base/{k}/alpaca/rougeL"] for k in by_model]
    assert base_scores[0] != base_scores[1]

    # The report: the structured source's effect on format compliance, with an interval.
    out = tmp_path / "report"
    proc = run_sweeplab("report", "scale", "--out", str(out), cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (out / "report.md").read_text()
    section = md.split("### mix.structured", 1)[1].split("###", 1)[0]
    assert "paired: 1 pair(s) differing only in mix.structured" in section
    row = re.search(
        r"\| structured/format_compliance \| ([+-]\d+\.\d) \| \[([+-]\d+\.\d), ([+-]\d+\.\d)\] \|",
        section,
    )
    assert row, section
    pt, lo, hi = map(float, row.groups())
    assert lo <= pt <= hi
    assert "for structured: `structured/format_compliance" in section
    assert "### model.path" in md and "| structured | 24 |" in md
