"""Promotion without a store: the shipped code, the pinned requirements, the base model's
verification, the trial-record check, the champion/challenger comparison, `serve`'s command."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from sweeps.config import SweepConfig
from sweeps.promote.champion import compare
from sweeps.promote.promotion import (
    PromotionRefused,
    check_adapter_files,
    check_trial_model,
    pick_best,
)
from sweeps.promote.serving import split_target
from sweeps.promote.shipping import PACKAGE, SHIPPED, build_code_dir, closure, pinned
from sweeps.report.effects import ExampleScores, paired_effect
from sweeps.report.leaderboard import Row
from training.verified_load import BaseModelMismatch, content_sha256, locate_base

PROJECT = {"common", "training", "evaluation", "mlflow_server", "sweeps", "demo"}


def test_shipped_code_is_self_contained(tmp_path):
    pkg = build_code_dir(tmp_path)
    assert pkg.name == PACKAGE
    assert sorted(p.name for p in pkg.iterdir()) == sorted([*SHIPPED, "__init__.py"])
    for f in pkg.glob("*.py"):
        tree = ast.parse(f.read_text())
        top = {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not _type_only(tree, n)
        } | {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        assert not top & PROJECT, (f.name, top & PROJECT)


def _type_only(tree: ast.AST, node: ast.ImportFrom) -> bool:
    """An import under `if TYPE_CHECKING:`."""
    return any(
        isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING" and node in n.body
        for n in ast.walk(tree)
    )


def test_requirements_are_exact_pins_of_what_is_installed():
    from importlib import metadata

    pins = dict(p.split("==") for p in pinned())
    assert pins["torch"] == metadata.version("torch")
    assert pins["mlflow-skinny"] == metadata.version("mlflow-skinny")
    assert {"transformers", "peft", "safetensors", "tokenizers"} <= set(pins)
    locked = dict(p.split("==") for p in closure())
    assert all(locked[k] == v for k, v in pins.items())
    assert len(locked) > len(pins)  # what they pull in is pinned too


def test_base_model_is_verified_by_content(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "config.json").write_text("{}")
    digest = content_sha256(tmp_path)
    assert len(digest) == 64 and digest == content_sha256(tmp_path)
    ref = {"kind": "local", "path": str(tmp_path), "sha256": digest}
    assert locate_base(ref) == (str(tmp_path), None)
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(BaseModelMismatch, match="is not the trained-on"):
        locate_base(ref)
    with pytest.raises(BaseModelMismatch, match="no such directory"):
        locate_base(ref, str(tmp_path / "gone"))
    hub = {"kind": "hub", "hub_id": "org/name", "commit": "a" * 40}
    assert locate_base(hub) == ("org/name", "a" * 40)


def _cfg(**model) -> SweepConfig:
    return SweepConfig(name="s", model={"path": "/models/base", **model})


@pytest.mark.parametrize(
    "claimed, needle",
    [
        ({"path": "/elsewhere"}, "model.path='/elsewhere'"),
        ({"trust_remote_code": True}, "model.trust_remote_code=True"),
    ],
)
def test_a_tampered_trial_record_is_refused(claimed, needle):
    cfg = _cfg()
    trial = {"config": {"model": {**cfg.model.model_dump(mode="json"), **claimed}}}
    with pytest.raises(PromotionRefused, match="refusing to promote") as err:
        check_trial_model(trial, cfg, "t1")
    assert needle in str(err.value) and "\n" not in str(err.value)
    check_trial_model({"config": {"model": cfg.model.model_dump(mode="json")}}, cfg, "t1")


def test_remote_code_is_never_promoted():
    cfg = _cfg(trust_remote_code=True)
    with pytest.raises(PromotionRefused, match="never runs remote code"):
        check_trial_model({"config": {"model": cfg.model.model_dump(mode="json")}}, cfg, "t")


def test_best_follows_the_mode():
    rows = [
        Row(str(i), f"r{i}", "FINISHED", {}, {"loss": v}, False) for i, v in enumerate([3, 1, 2])
    ]
    assert pick_best(rows, "loss", "min").run_id == "r1"
    assert pick_best(rows, "loss", "max").run_id == "r0"


def _rows(meteor: list[float], ds: str = "alpaca") -> dict:
    return {
        (ds, str(i)): {"dataset": ds, "id": str(i), "meteor": m, "rougeL": m,
                       "prediction": "a b", "reference": "a b"}
        for i, m in enumerate(meteor)
    }  # fmt: skip


def test_challenger_must_beat_the_champion_beyond_the_noise():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.6, 40)
    champion = _rows(list(base))
    noisy = _rows(list(base + rng.normal(0, 0.05, 40)))
    better = _rows(list(base + 0.1))
    tie = compare(champion, noisy, "alpaca/meteor", "max")
    assert tie.n == 40 and tie.low < 0 < tie.high and not tie.beats
    win = compare(champion, better, "alpaca/meteor", "max")
    assert win.points == pytest.approx(10.0) and win.beats
    assert not compare(champion, better, "alpaca/meteor", "min").beats
    assert compare(better, champion, "alpaca/meteor", "min").beats
    # Only shared examples count; none shared, nothing can be shown.
    assert compare(champion, _rows([0.9] * 3, "dolly"), "alpaca/meteor", "max").n == 0
    assert not compare(champion, _rows([0.9] * 3, "dolly"), "alpaca/meteor", "max").beats


def test_a_win_inside_the_measured_training_noise_keeps_the_champion():
    from sweeps.report.noise import Noise

    base = np.random.default_rng(1).uniform(0.2, 0.6, 40)
    champion, better = _rows(list(base)), _rows(list(base + 0.03))
    examples_only = compare(champion, better, "alpaca/meteor", "max")
    assert examples_only.beats and examples_only.evidence.startswith("examples only")
    # Given a seed-to-seed SD of 4 points (2 dof), a +3 point win is inside the noise ...
    noise = Noise({"alpaca/meteor": 4.0}, {"alpaca/meteor": 2}, 2, 4, ("in-sweep",))
    noisy = compare(champion, better, "alpaca/meteor", "max", noise)
    assert noisy.points == pytest.approx(3.0) and not noisy.beats
    assert noisy.low < 0 < noisy.high and "training noise" in noisy.text()
    # ... and a +30 point one is not.
    assert compare(champion, _rows(list(base + 0.3)), "alpaca/meteor", "max", noise).beats


def test_mean_objective_pools_datasets_of_different_sizes():
    a = {**_rows([0.2] * 10, "alpaca"), **_rows([0.4] * 6, "dolly"), **_rows([0.1] * 8, "openorca")}
    b = {**_rows([0.3] * 10, "alpaca"), **_rows([0.4] * 6, "dolly"), **_rows([0.1] * 8, "openorca")}
    cmp = compare(a, b, "mean_meteor", "max")
    assert cmp.n == 24 and cmp.points == pytest.approx(10.0 / 3)


def test_equal_sized_pairs_keep_the_reports_numbers():
    rng = np.random.default_rng(0)
    s = [
        ExampleScores(
            {"meteor": rng.uniform(size=9), "rougeL": rng.uniform(size=9)}, ["x"] * 9, ["x"] * 9
        )
        for _ in range(4)
    ]
    point, lo, hi = paired_effect([(s[0], s[1]), (s[2], s[3])], "meteor")
    meteor = [x.scores["meteor"] for x in s]
    diff = np.concatenate([meteor[1] - meteor[0], meteor[3] - meteor[2]])
    assert point == pytest.approx(100 * diff.mean()) and lo < point < hi


def test_serve_names_the_alias():
    assert split_target("sw") == ("sw", "champion")
    assert split_target("sw@challenger") == ("sw", "challenger")


@pytest.mark.parametrize(
    "extra, needle",
    [
        ("adapter_model.bin", "'adapter_model.bin', not safetensors"),
        ("sub/optimizer.pt", "'sub/optimizer.pt'"),
        ("payload.pkl", "'payload.pkl'"),
    ],
)
def test_an_adapter_holding_a_possible_pickle_is_refused(tmp_path, extra, needle):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    for name in ("adapter_model.safetensors", "adapter_config.json", "tokenizer.json"):
        (adapter / name).write_bytes(b"{}")
    check_adapter_files(adapter, "t1")  # what a trial writes passes
    (adapter / extra).parent.mkdir(exist_ok=True)
    (adapter / extra).write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(PromotionRefused, match="refusing to promote") as err:
        check_adapter_files(adapter, "t1")
    assert needle in str(err.value) and "\n" not in str(err.value)
    (adapter / extra).unlink()
    (adapter / "adapter_model.safetensors").unlink()
    with pytest.raises(PromotionRefused, match="no adapter_model.safetensors"):
        check_adapter_files(adapter, "t1")


def test_several_objectives_promote_the_front_member_the_rule_chooses():
    from sweeps.objective import Objective, Pick
    from sweeps.promote.promotion import choose

    goal = Objective.parse(
        [{"metric": "a/meteor", "mode": "max"}, {"metric": "b/meteor", "mode": "max"}],
        ["b/meteor_delta_pct >= -5"],
    )

    def row(i, a, b, d):
        metrics = {"a/meteor": a, "b/meteor": b, "b/meteor_delta_pct": d}
        return Row(f"t{i}", f"r{i}", "FINISHED", {}, metrics, False)

    rows = [row(0, 0.9, 0.1, -9), row(1, 0.5, 0.5, -1), row(2, 0.3, 0.8, 0)]
    best, rule = choose(rows, goal, None)
    # t0 is best on `a` but breaks the constraint: never promoted.
    assert best.trial_id == "t1" and rule.endswith("promotion.pick {first: a/meteor}")
    assert choose(rows, goal, Pick(first="b/meteor"))[0].trial_id == "t2"
    with pytest.raises(PromotionRefused, match="t0 breaks b/meteor_delta_pct >= -5"):
        choose(rows[:1], goal, None)
    with pytest.raises(PromotionRefused, match="no finished trial with metric 'b/meteor'"):
        choose([Row("t9", "r9", "FINISHED", {}, {"a/meteor": 1.0}, False)], goal, None)
    one = Objective.single("a/meteor", "min")
    assert choose(rows, one, None) == (rows[2], "best on a/meteor (min)")


def test_weighted_rule_compares_the_weighted_sum_conservatively():
    from sweeps.objective import Objective, Pick
    from sweeps.promote.champion import compare_by_rule

    goal = Objective.parse(
        [{"metric": "alpaca/meteor", "mode": "max"}, {"metric": "dolly/meteor", "mode": "min"}]
    )
    champion = {**_rows([0.3] * 30, "alpaca"), **_rows([0.3] * 30, "dolly")}
    better = {**_rows([0.4] * 30, "alpaca"), **_rows([0.2] * 30, "dolly")}
    cmp = compare_by_rule(
        champion, better, goal, Pick(weights={"alpaca/meteor": 1, "dolly/meteor": 2})
    )
    # +10 points on alpaca, -10 on dolly (a min objective: counts +10, twice).
    assert cmp.points == pytest.approx(30.0) and cmp.beats
    assert "weights" in cmp.text()
    first = compare_by_rule(champion, better, goal, Pick(first="dolly/meteor"))
    assert first.mode == "min" and first.beats
