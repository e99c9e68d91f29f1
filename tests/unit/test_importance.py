"""Parameter importance per objective (PED-ANOVA over the finished trials, from the record)."""

from __future__ import annotations

import numpy as np

from sweeps.config import SweepConfig
from sweeps.report.importance import as_metrics, importance_section, importances
from sweeps.report.leaderboard import Row


def _cfg() -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "search": {
                "space": {
                    "train.learning_rate": {"low": 1e-5, "high": 1e-3, "log": True},
                    "lora.r": {"choice": [16, 32]},
                },
                "objectives": [
                    {"metric": "openorca/meteor", "mode": "max"},
                    {"metric": "alpaca/meteor", "mode": "min"},
                ],
            },
        }
    )


def test_the_dimension_that_moves_the_objective_matters_most():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        lr, r = 10 ** rng.uniform(-5, -3), (16, 32)[i % 2]
        metrics = {"openorca/meteor": 0.3 + 0.1 * (np.log10(lr) + 4), "alpaca/meteor": 0.3}
        metrics["alpaca/meteor"] += 0.1 * (r == 32) + rng.normal(0, 1e-4)
        params = {"train.learning_rate": str(lr), "lora.r": str(r)}
        rows.append(Row(f"t{i}", f"r{i}", "FINISHED", params, metrics, False))
    rows.append(Row("tx", "rx", "FAILED", {"train.learning_rate": "1e-4", "lora.r": "16"}, {}, 0))
    found = importances(_cfg(), rows)
    assert found["openorca/meteor"]["train.learning_rate"] > found["openorca/meteor"]["lora.r"]
    assert found["alpaca/meteor"]["lora.r"] > found["alpaca/meteor"]["train.learning_rate"]
    assert set(as_metrics(found)) == {
        f"importance/{m}/{d}"
        for m in ("openorca/meteor", "alpaca/meteor")
        for d in ("train.learning_rate", "lora.r")
    }
    md = "\n".join(importance_section(_cfg(), found))
    assert "| lora.r |" in md and "PED-ANOVA" in md


def test_too_few_trials_says_so():
    row = Row("t0", "r0", "FINISHED", {"train.learning_rate": "1e-4", "lora.r": "16"}, {}, False)
    assert importances(_cfg(), [row]) == {}
    assert "Not computed" in "\n".join(importance_section(_cfg(), {}))
