"""A continuous dimension is reported as a slope per decade (log range) with an interval."""

from __future__ import annotations

import numpy as np

from sweeps.config import SweepConfig
from sweeps.report.leaderboard import Row
from sweeps.report.runs import Trial
from sweeps.report.verdicts import dimension_effects


def _cfg() -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "search": {
                "space": {
                    "train.learning_rate": {"low": 1e-5, "high": 1e-3, "log": True},
                    "lora.r": {"choice": [16, 32]},
                }
            },
        }
    )


def test_log_range_slope_per_decade_with_interval():
    # Given METEOR that rises 3 points per decade of learning rate (+1 point for r=32) ...
    rng = np.random.default_rng(0)
    trials = []
    for i in range(12):
        lr = 10 ** rng.uniform(-5, -3)
        r = (16, 32)[i % 2]
        metrics = {}
        for ds in ("alpaca", "dolly", "openorca"):
            for m in ("meteor", "bleu", "rougeL"):
                metrics[f"{ds}/{m}"] = (
                    0.3 + 0.03 * (np.log10(lr) + 4) + 0.01 * (r == 32) + rng.normal(0, 0.002)
                )
        params = {"train.learning_rate": str(lr), "lora.r": str(r)}
        trials.append(Trial(Row(f"t{i}", f"r{i}", "FINISHED", params, metrics, False), params, []))
    effects = dimension_effects(_cfg(), trials, "train.learning_rate", tables=None)
    meteor = {e.metric: e for e in effects}["alpaca/meteor"]
    # ... the report gives a slope per decade (points) whose interval holds the truth.
    assert "slope per decade of train.learning_rate" in meteor.method
    assert meteor.low < 3.0 < meteor.high and abs(meteor.points - 3.0) < 0.5
    assert meteor.verdict == "helps"
    assert len(effects) == 9 and all(e.points is not None for e in effects)


def test_too_few_trials_is_no_slope_not_a_crash():
    params = {"train.learning_rate": "1e-4", "lora.r": "16"}
    row = Row("t0", "r0", "FINISHED", params, {"alpaca/meteor": 0.3}, False)
    effects = dimension_effects(_cfg(), [Trial(row, params, [])], "train.learning_rate", None)
    assert all(e.points is None and e.verdict == "inconclusive" for e in effects)
