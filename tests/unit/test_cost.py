"""What a trial costs: its own clock across a restore, the sweep's sums, and where they show
(the printed table, the report's cost section, a verdict's trials, seeds priced in hours)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sweeps.config import SweepConfig
from sweeps.cost import (
    ACCELERATOR_S,
    EVAL_SHARE,
    TOKENS_GENERATED,
    TOKENS_TRAINED,
    TRIALS,
    WALL_S,
    accelerator_seconds,
    spend,
    totals,
)
from sweeps.report.leaderboard import Row, render
from sweeps.report.runs import Trial
from sweeps.report.spend import cost_section, rests_on, seeds_cost
from sweeps.run.cost_meter import CostMeter


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _results(*tokens: int) -> dict:
    gens = [SimpleNamespace(tokens=t) for t in tokens]
    return {"alpaca": SimpleNamespace(generations=gens)}


def test_a_restored_trial_continues_its_own_count(tmp_path):
    # Given a trial that trained 10 s, evaluated 5 s and saw 300 tokens in phase 0 ...
    clock = Clock()
    meter = CostMeter(None, clock)
    clock.now += 10

    def evaluate():
        clock.now += 5
        return {}, _results(3, 4)

    meter.timed(evaluate)
    first = meter.at_report(tmp_path / "phase0-all" / "checkpoint-8", 300)
    assert first[WALL_S] == 15 and first[TOKENS_GENERATED] == 7
    assert first[TOKENS_TRAINED] == 300 and first[EVAL_SHARE] == pytest.approx(5 / 15)
    meter.save(tmp_path, first)
    # ... killed, down for an hour, restored from that checkpoint: the hour is not counted,
    # and a second phase adds its own tokens to the first's.
    clock.now += 3600
    again = CostMeter(tmp_path, clock)
    clock.now += 5
    second = again.at_report(tmp_path / "phase1-mix" / "checkpoint-4", 100)
    assert second[WALL_S] == 20 and second[TOKENS_TRAINED] == 400
    assert second[TOKENS_GENERATED] == 7 and second[EVAL_SHARE] == pytest.approx(5 / 20)


def test_accelerator_seconds_are_gpus_held_else_cpus_held():
    assert accelerator_seconds(100, gpu=0.5, cpu=4) == 50
    assert accelerator_seconds(100, gpu=0, cpu=2) == 200


def test_sweep_totals_sum_and_weight_the_evaluation_share():
    trials = [
        {WALL_S: 100, ACCELERATOR_S: 100, TOKENS_TRAINED: 10, EVAL_SHARE: 0.5},
        {WALL_S: 300, ACCELERATOR_S: 300, TOKENS_TRAINED: 30, EVAL_SHARE: 0.1},
        {"objective": 0.2},  # a run that never reported: no cost, not counted
    ]
    cost = totals(trials)
    assert cost[WALL_S] == 400 and cost[TOKENS_TRAINED] == 40 and cost[TRIALS] == 2
    assert cost[EVAL_SHARE] == pytest.approx((50 + 30) / 400)
    assert spend(cost) == {"gpu_hours": 400 / 3600, "wall_hours": 400 / 3600, "trials": 2}


def _cfg(**budget) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "search": {"space": {"lora.r": {"choice": [8, 16]}}, "budget": budget},
        }
    )


def _trial(i: int, accel: float) -> Trial:
    metrics = {"objective": 0.1 * i, WALL_S: accel, ACCELERATOR_S: accel}
    return Trial(Row(f"t{i}", f"r{i}", "FINISHED", {"lora.r": "8"}, metrics, False), {}, [])


def test_the_table_shows_each_trials_cost_and_the_total():
    rows = [_trial(1, 3600).row, _trial(2, 1800).row]
    text = render(rows, _cfg())
    assert "wall_s" in text and "CPU_h" in text and "1.000" in text and "0.500" in text
    assert "cost: 2 trial(s), 1.5 h CPU" in text


def test_report_shows_budget_and_spend_and_what_a_verdict_rests_on():
    cfg = _cfg(gpu_hours=2, trials=4)
    trials = [_trial(1, 3600), _trial(2, 1800)]
    md = "\n".join(cost_section(cfg, {}, trials))  # an old parent: summed from the trials
    assert "Spent: 2 trial(s), 1.5 h CPU" in md
    assert "| gpu_hours | 2 | 1.5 | 0.5 |" in md and "| trials | 4 | 2 | 2 |" in md
    assert rests_on(cfg, trials) == "rests on 2 trial(s), 1.5 h CPU"
    # 5 more seeds for each of two configurations at 0.75 h a run: 7.5 h.
    assert seeds_cost(cfg, 5, trials) == "5 (≈7.5 h CPU)"


def test_budget_limits_are_optional_and_checked():
    assert _cfg().search.budget.limits() == {}
    assert _cfg(trials=3, wall_hours=0.5).search.budget.limits() == {
        "wall_hours": 0.5,
        "trials": 3.0,
    }
    with pytest.raises(ValueError):
        _cfg(trials=0)
    with pytest.raises(ValueError):
        _cfg(gpu_hours=1, bogus=1)
