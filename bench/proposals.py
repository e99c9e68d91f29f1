"""Optuna's proposal time and the "never propose twice" check as a sweep reaches 1,000 trials.

The searcher a sweep runs (`UniqueSearch(make_searcher(...))`, as `make_tuner` builds it, on
the space of `bench.short_trial`: two choices and a log-uniform learning rate) is asked for
one trial after another, each told its result before the next is asked (no Ray cluster: the
searcher alone). Timed per trial: `suggest` (Optuna's TPE proposal plus the check that the
configuration was never handed out before), and the check alone (`config_key` and the
lookup in what was handed out). Reported over the last 100 trials: mean and max. With one
objective, and with two (Optuna's multi-objective TPE), each a full run to `trials`.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.short_trial import quality, sweep_config

TWO = ({"metric": "openorca/meteor", "mode": "max"}, {"metric": "alpaca/meteor", "mode": "max"})
"""The two objectives of the multi-objective run."""


def time_proposals(cfg, trials: int, two_objectives: bool = False) -> dict:
    """Seconds per `suggest` and per never-twice check, trial by trial, for `trials`."""
    from sweeps.objective import Objective
    from sweeps.run.searcher import make_searcher
    from sweeps.run.tuner import param_space
    from sweeps.run.unique_search import UniqueSearch, config_key

    goal = Objective.parse(TWO) if two_objectives else cfg.search.goal()
    search = UniqueSearch(make_searcher(goal, cfg.search.seed, None))
    search.set_search_properties("objective", goal.first.mode, param_space(cfg))
    suggest_s, check_s, keys = [], [], set()
    for i in range(trials):
        trial_id = f"t{i:05d}"
        began = time.perf_counter()
        config = search.suggest(trial_id)
        suggest_s.append(time.perf_counter() - began)
        began = time.perf_counter()
        key = config_key(config)
        _ = key in search.seen
        check_s.append(time.perf_counter() - began)
        keys.add(key)
        q = quality(config)
        result = {"objective": q, "openorca/meteor": q, "alpaca/meteor": 1 - q}
        search.on_trial_complete(trial_id, result=result)
    return {"suggest_s": suggest_s, "check_s": check_s, "distinct": len(keys)}


def _tail(seconds: list[float], last: int = 100) -> tuple[float, float]:
    tail = seconds[-last:]
    return statistics.fmean(tail), max(tail)


def measure(trials: int, work: Path, log) -> dict:
    model_dir = work / "proposals" / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    cfg = sweep_config("proposals", model_dir, trials, 4)
    out: dict = {"proposal_trials": trials}
    for label, two in (("", False), ("_two_objectives", True)):
        began = time.perf_counter()
        t = time_proposals(cfg, trials, two)
        mean, worst = _tail(t["suggest_s"])
        check_mean, check_max = _tail(t["check_s"])
        first_mean, _ = _tail(t["suggest_s"][:100])
        out[f"proposal_s_mean_last_100{label}"] = mean
        out[f"proposal_s_max_last_100{label}"] = worst
        out[f"proposal_s_mean_first_100{label}"] = first_mean
        out[f"proposal_check_s_mean_last_100{label}"] = check_mean
        out[f"proposal_check_s_max_last_100{label}"] = check_max
        out[f"proposal_distinct{label}"] = t["distinct"]
        log(
            f"  {trials} proposals{label.replace('_', ' ')}: {time.perf_counter() - began:.0f} s;"
            f" last 100: mean {mean:.3f} s, max {worst:.3f} s (check {check_max * 1e6:.0f} us)"
        )
    return out
