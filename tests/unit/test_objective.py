"""`sweeps.objective`: parsing, values, comparisons, constraints and the Pareto front."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pytest
import yaml

from sweeps.config import ConfigError, load_config
from sweeps.objective import Constraint, Objective, Pick, Target, metric_value


@dataclass
class R:
    trial_id: str
    metrics: dict[str, float]
    status: str = "FINISHED"
    params: dict = field(default_factory=dict)


TWO = Objective.parse(
    [{"metric": "openorca/meteor", "mode": "max"}, {"metric": "alpaca/meteor", "mode": "max"}]
)


def r(tid, oo, al, **more) -> R:
    return R(tid, {"openorca/meteor": oo, "alpaca/meteor": al, **more})


# -- values ----------------------------------------------------------------------------------
def test_mean_objective_averages_the_three_sets():
    m = {"alpaca/meteor": 0.3, "dolly/meteor": 0.2, "openorca/meteor": 0.1}
    assert metric_value(m, "mean_meteor") == pytest.approx(0.2)
    assert Objective.single("mean_meteor").value(m) == pytest.approx(0.2)
    del m["dolly/meteor"]
    assert metric_value(m, "mean_meteor") is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "x", True])
def test_missing_or_not_a_number_is_no_value(bad):
    assert metric_value({"a/meteor": bad}, "a/meteor") is None
    assert metric_value({}, "a/meteor") is None


# -- constraints -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "x", "holds"),
    [
        ("alpaca/meteor_delta_pct >= -5", -5.0, True),
        ("alpaca/meteor_delta_pct >= -5", -5.01, False),
        ("alpaca/meteor_delta_pct > -5", -5.0, False),
        ("alpaca/meteor_delta_pct<=1e-2", 0.01, True),
        ("alpaca/meteor_delta_pct < 0", -0.1, True),
        ("alpaca/meteor_delta_pct < 0", float("nan"), False),
    ],
)
def test_constraint_holds_and_its_violation_agrees(text, x, holds):
    c = Constraint.parse(text)
    assert c.holds({c.metric: x}) is holds
    # Optuna's convention: <= 0 exactly when it holds.
    assert (c.violation({c.metric: x}) <= 0) is holds


def test_a_missing_constraint_metric_breaks_it():
    c = Constraint.parse("alpaca/meteor_delta_pct >= -5")
    assert not c.holds({}) and c.violation({}) > 0
    assert str(c) == "alpaca/meteor_delta_pct >= -5"


@pytest.mark.parametrize("text", ["alpaca/meteor", "a >= b", "a == 1", "a >= nan", "a >= inf"])
def test_bad_constraints_are_refused(text):
    with pytest.raises(ValueError, match="constraint"):
        Constraint.parse(text)


# -- one objective: today's "best" -----------------------------------------------------------
def test_single_best_follows_the_mode_and_ties_go_to_the_first():
    rows = [R("t0", {"x/meteor": 0.2}), R("t1", {"x/meteor": 0.5}), R("t2", {"x/meteor": 0.5})]
    assert Objective.single("x/meteor", "max").best(rows).trial_id == "t1"
    assert Objective.single("x/meteor", "min").best(rows).trial_id == "t0"
    # Both tied trials are on the (one-objective) front.
    assert [x.trial_id for x in Objective.single("x/meteor").front(rows)] == ["t1", "t2"]


def test_single_best_skips_unfinished_nan_and_missing():
    rows = [
        R("t0", {"x/meteor": 0.9}, status="FAILED"),
        R("t1", {"x/meteor": float("nan")}),
        R("t2", {}),
        R("t3", {"x/meteor": 0.1}),
    ]
    assert Objective.single("x/meteor").best(rows).trial_id == "t3"
    assert Objective.single("x/meteor").best(rows[:3]) is None
    assert Objective.single("x/meteor").best([]) is None


def test_ranked_is_best_first_in_either_mode():
    rows = [R(f"t{i}", {"x/meteor": v}) for i, v in enumerate([0.3, 0.1, 0.2])]
    assert [x.trial_id for x in Objective.single("x/meteor", "max").ranked(rows)] == [
        "t0",
        "t2",
        "t1",
    ]
    assert [x.trial_id for x in Objective.single("x/meteor", "min").ranked(rows)] == [
        "t1",
        "t2",
        "t0",
    ]


# -- several objectives ----------------------------------------------------------------------
def test_dominance_needs_one_strictly_better():
    a, b, c = r("a", 0.5, 0.5), r("b", 0.5, 0.4), r("c", 0.5, 0.5)
    assert TWO.dominates(a.metrics, b.metrics) and not TWO.dominates(b.metrics, a.metrics)
    assert not TWO.dominates(a.metrics, c.metrics) and not TWO.dominates(c.metrics, a.metrics)


def test_min_max_mix_flips_the_min_objective():
    obj = Objective.parse(
        [{"metric": "a/meteor", "mode": "max"}, {"metric": "a/bleu", "mode": "min"}]
    )
    low_bleu = R("p", {"a/meteor": 0.5, "a/bleu": 0.1})
    high_bleu = R("q", {"a/meteor": 0.5, "a/bleu": 0.3})
    assert obj.dominates(low_bleu.metrics, high_bleu.metrics)
    assert [x.trial_id for x in obj.front([high_bleu, low_bleu])] == ["p"]


def test_front_of_a_trade_off_with_ties():
    rows = [
        r("t0", 0.1, 0.9),
        r("t1", 0.5, 0.5),
        r("t2", 0.9, 0.1),
        r("t3", 0.4, 0.4),  # dominated by t1
        r("t4", 0.5, 0.5),  # tie with t1: both on the front
        R("t5", r("t5", 0.95, 0.95).metrics, status="RUNNING"),
    ]
    assert [x.trial_id for x in TWO.front(rows)] == ["t0", "t1", "t2", "t4"]
    st = TWO.statuses(rows)
    assert st["t3"].pareto is False and st["t3"].dominated_by == "t1"
    assert st["t5"].pareto is False and st["t5"].dominated_by is None
    assert "not finished" in st["t5"].why
    assert all(st[t].pareto for t in ("t0", "t1", "t2", "t4"))


def test_constraints_keep_breakers_off_the_front_and_nothing_names_them():
    obj = Objective.parse(TWO.targets, ["alpaca/meteor_delta_pct >= -5"])
    rows = [
        r("t0", 0.9, 0.1, **{"alpaca/meteor_delta_pct": -8.0}),  # best openorca, breaks
        r("t1", 0.5, 0.5, **{"alpaca/meteor_delta_pct": -1.0}),
        r("t2", 0.4, 0.4, **{"alpaca/meteor_delta_pct": 0.0}),
        r("t3", 0.6, 0.2),  # constraint metric missing: breaks
    ]
    assert [x.trial_id for x in obj.front(rows)] == ["t1"]
    st = obj.statuses(rows)
    assert st["t0"].why == "breaks alpaca/meteor_delta_pct >= -5" and st["t0"].dominated_by is None
    assert st["t2"].dominated_by == "t1"
    assert not st["t3"].pareto
    assert obj.choose(rows).trial_id == "t1"
    assert obj.best(rows).trial_id == "t1"


def test_missing_objective_is_never_on_the_front():
    rows = [r("t0", 0.5, float("nan")), R("t1", {"openorca/meteor": 0.9}), r("t2", 0.1, 0.1)]
    assert [x.trial_id for x in TWO.front(rows)] == ["t2"]
    assert "no value for alpaca/meteor" in TWO.statuses(rows)["t0"].why


def test_front_matches_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    for _ in range(30):
        pts = rng.integers(0, 4, size=(9, 2)) / 4  # many ties
        rows = [r(f"t{i}", *p) for i, p in enumerate(pts)]
        front = {x.trial_id for x in TWO.front(rows)}
        for i, p in enumerate(pts):
            beaten = any((q >= p).all() and (q > p).any() for q in pts)
            assert (f"t{i}" in front) is (not beaten)
        # No two front members dominate each other, and every other row is dominated by
        # the front member it names.
        for a, b in combinations([x for x in rows if x.trial_id in front], 2):
            assert not TWO.dominates(a.metrics, b.metrics)
        st = TWO.statuses(rows)
        by_id = {x.trial_id: x for x in rows}
        for tid, s in st.items():
            if not s.pareto:
                assert s.dominated_by in front
                assert TWO.dominates(by_id[s.dominated_by].metrics, by_id[tid].metrics)


# -- choosing one front member ---------------------------------------------------------------
def test_pick_first_and_weights_choose_among_the_front():
    rows = [r("t0", 0.1, 0.9), r("t1", 0.5, 0.6), r("t2", 0.9, 0.1), r("t3", 0.05, 0.05)]
    assert TWO.choose(rows).trial_id == "t2"  # default: best on the first objective
    assert TWO.choose(rows, Pick(first="alpaca/meteor")).trial_id == "t0"
    assert TWO.choose(rows, Pick(weights={"openorca/meteor": 1, "alpaca/meteor": 1})).trial_id == (
        "t1"
    )
    with pytest.raises(ValueError, match="not one of the objectives"):
        TWO.choose(rows, Pick(first="dolly/meteor"))


def test_weights_respect_a_min_objective():
    obj = Objective.parse(
        [{"metric": "a/meteor", "mode": "max"}, {"metric": "a/bleu", "mode": "min"}]
    )
    rows = [R("p", {"a/meteor": 0.6, "a/bleu": 0.5}), R("q", {"a/meteor": 0.5, "a/bleu": 0.1})]
    assert obj.choose(rows, Pick(weights={"a/meteor": 1, "a/bleu": 1})).trial_id == "q"


def test_pick_needs_exactly_one_rule():
    with pytest.raises(ValueError, match="exactly one"):
        Pick()
    with pytest.raises(ValueError, match="exactly one"):
        Pick(first="a/meteor", weights={"a/meteor": 1})
    assert str(Pick(first="a/meteor")) == "first: a/meteor"


def test_an_objective_cannot_name_a_metric_twice():
    with pytest.raises(ValueError, match="twice"):
        Objective((Target(metric="a/meteor"), Target(metric="a/meteor", mode="min")))


def test_label_names_objectives_and_constraints():
    obj = Objective.parse(TWO.targets, ["alpaca/meteor_delta_pct >= -5"])
    assert obj.label() == (
        "openorca/meteor (max), alpaca/meteor (max); subject to alpaca/meteor_delta_pct >= -5"
    )
    assert obj.first.metric == "openorca/meteor" and obj.multi
    assert not math.isnan(obj.score(r("x", 0.2, 0.3).metrics, Pick(first="alpaca/meteor")))


# -- the config ------------------------------------------------------------------------------
def _cfg(tmp_path, search, promotion=None):
    doc = {"name": "t", "model": {"path": "m"}, "search": search}
    if promotion is not None:
        doc["promotion"] = promotion
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(path)


def test_config_single_objective_key_stays_valid(tmp_path):
    cfg = _cfg(tmp_path, {"objective": "openorca/meteor", "mode": "min"})
    goal = cfg.search.goal()
    assert goal.metrics == ("openorca/meteor",) and goal.modes == ("min",) and not goal.multi


def test_config_objectives_and_constraints(tmp_path):
    cfg = _cfg(
        tmp_path,
        {
            "objectives": [
                {"metric": "openorca/meteor", "mode": "max"},
                {"metric": "alpaca/meteor", "mode": "max"},
            ],
            "constraints": ["alpaca/meteor_delta_pct >= -5"],
        },
        {"pick": {"first": "alpaca/meteor"}},
    )
    goal = cfg.search.goal()
    assert goal.metrics == ("openorca/meteor", "alpaca/meteor") and goal.multi
    assert [str(c) for c in goal.constraints] == ["alpaca/meteor_delta_pct >= -5"]
    assert cfg.promotion.pick.first == "alpaca/meteor"


@pytest.mark.parametrize(
    ("search", "promotion", "message"),
    [
        ({"objectives": [{"metric": "nope/meteor"}]}, None, "objectives[0].metric"),
        ({"objectives": [{"metric": "alpaca/meteor", "mode": "up"}]}, None, "mode"),
        ({"constraints": ["alpaca/meteor >= x"]}, None, "constraint"),
        ({"constraints": ["nope/meteor >= 1"]}, None, "search.constraints[0]"),
        (
            {"objective": "dolly/meteor", "objectives": [{"metric": "alpaca/meteor"}]},
            None,
            "not both",
        ),
        (
            {"objectives": [{"metric": "alpaca/meteor"}, {"metric": "alpaca/meteor"}]},
            None,
            "twice",
        ),
        (
            {"objectives": [{"metric": "alpaca/meteor"}]},
            {"pick": {"first": "dolly/meteor"}},
            "promotion.pick",
        ),
        ({}, {"pick": {}}, "exactly one"),
    ],
)
def test_config_refuses_bad_objectives_in_one_line(tmp_path, search, promotion, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as e:
        _cfg(tmp_path, search, promotion)
    assert "\n" not in str(e.value)
