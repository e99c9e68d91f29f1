"""What a trial's MLflow run says about itself: its name, tags, portable params, dataset
inputs, training curve and system metrics; and the links the end of a sweep prints."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from urllib.parse import unquote

from common.files import content_id
from mlflow_server.datasets import DIGEST_LEN, digest_of
from mlflow_server.outbox import Outbox
from mlflow_server.system_metrics import SystemSampler
from mlflow_server.tracking import Tracker, compare_url, runs_table_url
from sweeps.config import load_config
from sweeps.run.describe import (
    eval_datasets,
    portable_params,
    run_name,
    search_tags,
    training_datasets,
)
from sweeps.run.plan import trial_phases
from sweeps.run.ui_views import views
from tests.helpers import config_yaml
from training.mixing import content_hash, manifest
from training.prepare import prepare_data
from training.sft import curve_point


def test_run_name_spells_the_searched_values():
    searched = {"lora.r": 32, "mix.openorca": 0.3, "mix.dolly": 0.0, "curriculum": "none"}
    assert run_name(searched) == "r32-orca0.3-dolly0-none"
    assert run_name({"lora.r": 16, "curriculum": "two_phase", "train.learning_rate": 0.002}) == (
        "r16-two_phase-learning_rate0.002"
    )
    assert run_name({}) == "defaults"
    assert search_tags(searched) == {
        "sweeplab.search.lora.r": "32",
        "sweeplab.search.mix.openorca": "0.3",
        "sweeplab.search.mix.dolly": "0",
        "sweeplab.search.curriculum": "none",
    }


def test_params_name_local_files_by_content_and_keep_hub_ids(tmp_path):
    data = tmp_path / "alpaca_data.json"
    data.write_text("[1, 2]")
    model = tmp_path / "m"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    params = {"model.path": str(model), "data.alpaca": str(data), "data.dolly": "org/dolly"}
    out, tags = portable_params(params)
    assert out["data.alpaca"] == f"alpaca_data.json@sha256:{content_id(data)}"
    assert out["model.path"] == f"m@sha256:{content_id(model)}"
    assert out["data.dolly"] == "org/dolly" and "sweeplab.path.data.dolly" not in tags
    assert tags == {"sweeplab.path.model.path": str(model), "sweeplab.path.data.alpaca": str(data)}
    # The identity follows the content, not the place.
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    (copy / "alpaca_data.json").write_text("[1, 2]")
    assert content_id(copy / "alpaca_data.json") == content_id(data)
    data.write_text("[1, 3]")
    assert content_id(data) != content_id(copy / "alpaca_data.json")


def test_dataset_specs_match_the_trial_manifest(tmp_path, tiny_data):
    cfg = load_config(
        config_yaml(tmp_path, tiny_data), ["curriculum=two_phase", "mix.openorca=0.2"]
    )
    data = prepare_data(cfg.data)
    evals, trains = eval_datasets(cfg, data), training_datasets(cfg, data)
    m = manifest(trial_phases(cfg, data), data.eval_sets)
    assert [d["name"] for d in evals] == ["alpaca-eval", "dolly-eval", "openorca-eval"]
    assert [d["name"] for d in trains] == ["train-phase0-alpaca", "train-phase1-mixture"]
    for d in evals:
        set_ = d["name"].removesuffix("-eval")
        assert d["content_hash"] == m["eval_sets"][set_]["content_hash"]
        assert d["profile"]["rows"] == m["eval_sets"][set_]["rows"] == len(data.eval_sets[set_])
        assert d["context"] == "evaluation" and d["source"] == {"file": str(tiny_data[set_])}
    for d, phase in zip(trains, m["phases"], strict=True):
        assert d["content_hash"] == phase["content_hash"] and d["context"] == "training"
    # The top-level hash (promotion's data hash) is the one over all phases, as before.
    phases = trial_phases(cfg, data)
    assert m["content_hash"] == content_hash(ex for p in phases for ex in p.examples)
    assert len({d["content_hash"] for d in evals + trains}) == 5


def test_curve_point_keeps_nan():
    logs = {"loss": float("nan"), "learning_rate": 0.01, "grad_norm": 2.5, "num_tokens": 9}
    point = curve_point(30, logs, tokens_per_s=120.0, epoch=0.5)
    assert point["step"] == 30 and point["timestamp"] > 0
    m = point["metrics"]
    assert math.isnan(m["train/loss"]) and m["train/learning_rate"] == 0.01
    assert m["train/grad_norm"] == 2.5 and m["train/tokens_per_s"] == 120.0
    assert m["train/epoch"] == 0.5 and set(m) == {
        "train/loss",
        "train/learning_rate",
        "train/grad_norm",
        "train/tokens_per_s",
        "train/epoch",
    }


def test_system_sampler_uses_mlflows_monitors_and_continues_its_steps():
    sampler = SystemSampler(start_step=7, interval=0.2).start()
    time.sleep(0.7)
    points = sampler.drain()
    sampler.stop()
    steps = [p["step"] for p in points]
    assert steps == list(range(7, 7 + len(steps))) and len(steps) >= 2
    assert sampler.next_step == steps[-1] + 1
    m = points[-1]["metrics"]
    assert 0 <= m["system/cpu_utilization_percentage"] <= 100
    assert m["system/system_memory_usage_megabytes"] > 0
    assert sampler.drain()[0]["step"] == sampler.next_step - 1  # one sample taken at drain


def _outbox(tracker: Tracker, root: Path, parent: str) -> Outbox:
    return Outbox(tracker, root, parent, out=open("/dev/null", "w"))  # noqa: SIM115


def test_outbox_series_inputs_and_names(tmp_path, mlflow_uri, tiny_data):
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    box = _outbox(tracker, tmp_path / "outbox", parent)
    for trial in ("t1", "t2"):  # two trials with the same searched values
        box.put("trial", trial, params={"lora_r": 8}, run_name="r8-orca0")
    curve = [
        {"step": s, "timestamp": 1000 + s, "metrics": {"train/loss": v, "train/epoch": s / 10}}
        for s, v in ((2, 3.0), (4, float("nan")))
    ]
    box.put("points", "t1", points=curve, dedupe_key="train/loss")
    # A resumed trial reports step 4 again and goes on to 6: only step 6 is new.
    again = [{"step": 4, "timestamp": 9000, "metrics": {"train/loss": 1.0}}]
    again.append({"step": 6, "timestamp": 9001, "metrics": {"train/loss": 2.0}})
    box.put("points", "t1", points=again, dedupe_key="train/loss")
    spec = {
        "name": "alpaca-eval",
        "context": "evaluation",
        "content_hash": "ab" * 32,
        "source": {"file": str(tiny_data["alpaca"])},
        "profile": {"rows": 8},
    }
    mix = {**spec, "name": "train-phase0-mixture", "context": "training", "content_hash": "cd" * 32}
    mix["source"] = {"mixture": {"alpaca": str(tiny_data["alpaca"]), "openorca": "Open-Orca/x"}}
    hub = {**spec, "name": "dolly-eval", "content_hash": "ef" * 32, "source": {"hub": "a/b"}}
    box.put("inputs", "t1", datasets=[spec, mix, hub])
    box.put("inputs", "t1", datasets=[spec])  # replayed: no second input
    assert box.flush(60) and box.pending() == 0
    box.close()

    runs = {r.data.tags["sweeplab.trial_id"]: r for r in tracker.trial_runs(parent)}
    assert runs["t1"].info.run_name == "r8-orca0"
    assert runs["t2"].info.run_name == "r8-orca0-t2"  # unique within the sweep
    run_id = runs["t1"].info.run_id
    history = tracker.client.get_metric_history(run_id, "train/loss")
    got = sorted((m.step, m.value) for m in history)
    assert [s for s, _ in got] == [2, 4, 6] and math.isnan(got[1][1]) and got[2][1] == 2.0
    inputs = tracker.client.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 3
    by_name = {i.dataset.name: i for i in inputs}
    ds = by_name["alpaca-eval"]
    assert ds.dataset.digest == digest_of("ab" * 32) == ("ab" * 32)[:DIGEST_LEN]
    assert json.loads(ds.dataset.profile) == {"content_hash": "ab" * 32, "rows": 8}
    assert str(tiny_data["alpaca"].name) in ds.dataset.source
    assert {t.key: t.value for t in ds.tags}["mlflow.data.context"] == "evaluation"
    assert by_name["train-phase0-mixture"].dataset.source_type == "code"
    assert "Open-Orca/x" in by_name["train-phase0-mixture"].dataset.source
    assert json.loads(by_name["dolly-eval"].dataset.source)["path"] == "a/b"


def test_ui_links_open_the_runs_table_and_the_compare_view():
    url = runs_table_url("http://127.0.0.1:5000", "3", "sweeplab-runs")
    assert url == "http://127.0.0.1:5000/#/experiments/3/runs?viewStateShareKey=sweeplab-runs"
    assert runs_table_url("http://h:1", "3") == "http://h:1/#/experiments/3/runs"
    cmp_ = unquote(compare_url("http://h:1", "3", ["a1", "b2"]))
    assert cmp_ == 'http://h:1/#/compare-runs?runs=["a1","b2"]&experiments=["3"]'


def test_shared_views_show_the_objective_and_the_searched_values(tmp_path, tiny_data):
    cfg = load_config(config_yaml(tmp_path, tiny_data), [])
    cfg = cfg.model_copy(update={"search": cfg.search.model_copy(update={"space": {}})})
    got = views(cfg, "p1")
    assert set(got) == {"sweeplab-runs", "sweeplab-curves", "sweeplab-grouped"}
    runs = got["sweeplab-runs"]
    assert runs["orderByKey"] == "metrics.`objective`" and runs["orderByAsc"] is False
    assert runs["selectedColumns"][:2] == ["metrics.`objective`", "metrics.`alpaca/meteor`"]
    assert got["sweeplab-curves"]["chartsSearchFilter"] == "train/loss"
    assert got["sweeplab-grouped"]["runsExpanded"] == {"p1": True}
    assert "orderByKey" not in got["sweeplab-grouped"]
