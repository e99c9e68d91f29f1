"""The searcher a sweep's objective asks for: several objectives and constraints reach Optuna."""

from __future__ import annotations

from ray import tune

from sweeps.objective import Objective
from sweeps.run.searcher import CONSTRAINTS_ATTR, ConstrainedOptunaSearch, make_searcher
from sweeps.run.unique_search import UniqueSearch

SPACE = {"lora.r": tune.choice([16, 32, 64]), "mix.openorca": tune.choice([0.0, 0.1, 0.3])}
TWO = Objective.parse(
    [{"metric": "openorca/meteor", "mode": "max"}, {"metric": "mean_meteor", "mode": "min"}],
    ["alpaca/meteor_delta_pct >= -5"],
)


def _result(oo: float, mean: float, delta: float) -> dict:
    return {"openorca/meteor": oo, "mean_meteor": mean, "alpaca/meteor_delta_pct": delta}


def test_one_plain_objective_is_ray_optuna_as_always():
    s = make_searcher(Objective.single("openorca/meteor"), 0, None)
    assert type(s).__name__ == "OptunaSearch" and s.metric is None


def test_several_objectives_and_constraints_reach_the_study():
    # Given the sweep's wrapper, and Tune's own metric (the scheduler's one number) ...
    searcher = UniqueSearch(make_searcher(TWO, 0, None))
    assert searcher.set_search_properties("objective", "max", SPACE)
    inner = searcher.searcher
    assert isinstance(inner, ConstrainedOptunaSearch)
    # ... the searcher keeps its own metric and mode lists, one study direction each.
    assert searcher.metric == ["openorca/meteor", "mean_meteor"]
    assert [d.name for d in inner._ot_study.directions] == ["MAXIMIZE", "MINIMIZE"]
    for i, (delta, ok) in enumerate([(-1.0, True), (-9.0, False)]):
        assert searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", _result(0.3, 0.2, delta))
        trial = inner._ot_study.trials[-1]
        assert trial.values == [0.3, 0.2]
        assert (trial.user_attrs[CONSTRAINTS_ATTR][0] <= 0) is ok
        # Optuna's sampler saw the same numbers (its own record of the constraints).
        assert (trial.system_attrs["constraints"][0] <= 0) is ok
    # A trial that errored: no values, no crash.
    assert searcher.suggest("t9")
    searcher.on_trial_complete("t9", None, error=True)
    assert inner._ot_study.trials[-1].state.name == "FAIL"
