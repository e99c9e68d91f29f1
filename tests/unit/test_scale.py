"""Model scale as a dimension (which base for which trial), the structured demo source, and
the report's format-compliance effect."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from demo import corpus as dc
from demo import model as dm
from evaluation.analysis import flag_example
from sweeps.config import SweepConfig, localize
from sweeps.report.compliance import compliance, paired_compliance
from sweeps.run import base_models


def _sweep(tmp_path, **search) -> SweepConfig:
    for name in ("big", "small"):
        (tmp_path / name).mkdir(exist_ok=True)
    return SweepConfig.model_validate(
        {"name": "s", "model": {"path": str(tmp_path / "big")}, "search": search}
    )


def test_each_searched_model_once_in_order(tmp_path):
    big, small = str(tmp_path / "big"), str(tmp_path / "small")
    cfg = _sweep(
        tmp_path,
        space={"model.path": {"choice": [small, big]}, "lora.r": {"choice": [16, 32]}},
        points_to_evaluate=[{"model.path": big, "lora.r": 16}],
    )
    assert [m.path for m in base_models.searched_models(cfg)] == [small, big]
    # Without a model dimension: the config's own model, whatever else is searched.
    plain = _sweep(tmp_path, space={"lora.r": {"choice": [16, 32]}})
    assert [m.path for m in base_models.searched_models(plain)] == [big]
    both = _sweep(
        tmp_path,
        space={"model.path": {"choice": [big]}, "model.revision": {"choice": ["main", "v2"]}},
    )
    assert [base_models.model_label(m) for m in base_models.searched_models(both)] == [
        "big:main",
        "big:v2",
    ]


def test_score_bases_scores_each_model_once_and_each_trial_gets_its_own(tmp_path):
    big, small = str(tmp_path / "big"), str(tmp_path / "small")
    cfg = _sweep(tmp_path, space={"model.path": {"choice": [big, small]}})
    calls = []

    def fake_base_scores(model, items, settings, cache_dir):
        calls.append(model.path)
        return {"metrics": {"alpaca/meteor": 0.1 if model.path == big else 0.05}}

    said: list[str] = []
    bases = base_models.score_bases(
        cfg,
        {},
        tmp_path / "cache",
        lambda m: fake_base_scores(m, {}, None, tmp_path / "cache"),
        say=said.append,
    )
    assert calls == [big, small]
    by_label = {
        base_models.model_label(m): bases[base_models.model_key(m)]["metrics"]["alpaca/meteor"]
        for m in base_models.searched_models(cfg)
    }
    assert by_label == {"big": 0.1, "small": 0.05}
    assert [s.split(":")[0].strip() for s in said] == ["base model big", "base model small"]
    assert all("evaluating" in s for s in said)


def test_base_cache_key_differs_per_model(tmp_path):
    from evaluation.config import GenerationSettings
    from sweeps.run.baseline import cache_path

    big, small = str(tmp_path / "big"), str(tmp_path / "small")
    cfg = _sweep(tmp_path, space={"model.path": {"choice": [big, small]}})
    a, b = (
        cache_path(m, {}, GenerationSettings(), tmp_path) for m in base_models.searched_models(cfg)
    )
    assert a != b and a.parent == b.parent == tmp_path
    # A trial's model is the searched value: its cache file is its own model's.
    trial = cfg.trial({"model.path": small})
    assert cache_path(trial.model, {}, GenerationSettings(), tmp_path) == b


def test_localize_makes_searched_model_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _sweep(
        tmp_path,
        space={"model.path": {"choice": ["big", "small"]}},
        points_to_evaluate=[{"model.path": "small"}],
    )
    local = localize(cfg)
    assert local.search.space["model.path"].choice == (
        str(tmp_path / "big"),
        str(tmp_path / "small"),
    )
    assert local.search.points_to_evaluate == ({"model.path": str(tmp_path / "small")},)


def test_compliance_is_paired_over_short_form_examples():
    rows = [
        {"dataset": "structured", "short_form": True, "format_violation": v}
        for v in (False, True, True, False)
    ] + [{"dataset": "alpaca", "short_form": False, "format_violation": False}]
    assert compliance(rows, "structured").tolist() == [1.0, 0.0, 0.0, 1.0]
    assert len(compliance(rows, "alpaca")) == 0
    control = np.array([1.0, 0.0, 0.0, 1.0] * 10)
    treated = np.array([1.0, 1.0, 1.0, 1.0] * 10)
    pt, lo, hi = paired_compliance([(control, treated)])
    assert pt == pytest.approx(50.0) and 30.0 < lo < 50.0 < hi < 70.0
    assert paired_compliance([(np.array([]), np.array([]))]) == (None, None, None)


@pytest.fixture(scope="module")
def structured_rows():
    return dc.generate_rows(seed=0)["structured"]


def test_structured_source_is_short_fixed_format_answers(structured_rows):
    rows = structured_rows
    assert len(rows) == dc.DEFAULT_SIZES["structured"]
    assert list(rows[0]) == ["task", "system", "prompt", "text", "target"]
    assert {r["task"] for r in rows} == {"classify", "extract", "format"}
    for r in rows:
        target = r["target"]
        assert len(target.split()) <= 4, r  # short-form: format compliance is scored
        if target.startswith("{"):
            value = next(iter(json.loads(target).values()))
            assert value in r["text"]
        elif r["task"] == "format":
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
        elif target.startswith("Answer: "):
            assert target.removeprefix("Answer: ") in ("Hope Speech", "Not Hope Speech")
        else:
            assert target in ("positive", "negative")
    # A chatty answer to a structured row is a format violation; the label alone is not.
    r = next(r for r in rows if r["target"].startswith("{"))
    chatty = f"Sure! The sentence says {r['text']} so that is the answer you need."
    assert flag_example(chatty, r["target"], r["system"], False).format_violation
    assert not flag_example(r["target"], r["target"], r["system"], False).format_violation


def test_structured_rows_have_their_own_stream(structured_rows):
    small = dc.generate_rows(seed=0, sizes={"alpaca": 60, "dolly": 60, "openorca": 60})
    assert small["structured"] == structured_rows  # other sizes: the same structured rows
    assert dc.generate_rows(seed=1, sizes={"structured": 40})["structured"] != structured_rows[:40]


def test_the_demo_model_settings_are_unchanged_and_mini_is_smaller():
    # The hash of the default build's settings, as recorded in models/demo-llama: the
    # existing demo model is not rebuilt (same bytes) by the size option.
    docs_sha = "d557530933de73a26ada90e8de9e88cdb510c94164830990d928ea31b097b5a1"
    settings = dm._settings(0, 300, 32, 128, 3e-3, 5000, docs_sha, dm.SIZES["base"])
    assert dm._settings_hash(settings) == (
        "ee11df4d89eee6db54d0d0a259017ae873f0d2f97c2fdca21b84e22dc9ee8ff3"
    )
    base, mini = dm.SIZES["base"], dm.SIZES["mini"]
    assert mini["num_hidden_layers"] < base["num_hidden_layers"]
    assert mini["hidden_size"] < base["hidden_size"]


def test_the_seed_like_trial_has_no_declared_source_rows_either():
    from sweeps.report.leaderboard import Row
    from sweeps.report.runs import Trial
    from sweeps.report.verdicts import seed_like

    def trial(tid: str, **params: str) -> Trial:
        base = {"lora_r": "16", "curriculum": "none", "mix.openorca": "0.0", "mix.dolly": "0.0"}
        return Trial(Row(tid, tid, "FINISHED", {}, {}, False), base | params, [8])

    mixed = trial("a", **{"mix.structured": "0.3"})
    plain = trial("b", **{"mix.structured": "0.0", "lora_r": "32"})
    assert seed_like([mixed, plain]) is plain
    assert seed_like([mixed]) is None
