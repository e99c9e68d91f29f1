"""`sweeplab sweep --from`: which earlier trials become history, which points come first,
and that the searcher starts from them without proposing an earlier configuration again."""

import pytest
from ray import tune

from sweeps.config import SweepConfig
from sweeps.objective import Objective, Target
from sweeps.report.leaderboard import Row
from sweeps.run.searcher import make_searcher
from sweeps.run.unique_search import UniqueSearch, config_key
from sweeps.run.warm_start import WarmStart, _first_difference, _in_space


def _cfg(space=None, **train):
    return SweepConfig.model_validate(
        {
            "name": "new",
            "model": {"path": "m"},
            "train": {"max_steps": 16, "report_every": 8, **train},
            "search": {
                "space": space
                or {"lora.r": {"choice": [16, 32]}, "mix.openorca": {"low": 0.0, "high": 0.3}}
            },
        }
    )


def _row(r, oo, obj=0.5):
    return Row("t", "run", "FINISHED", {"lora.r": str(r), "mix.openorca": str(oo)}, {}, False)


def test_earlier_trials_are_points_of_this_space_or_left_out():
    cfg = _cfg()
    assert _in_space(cfg, _row(32, 0.1)) == {"lora.r": 32, "mix.openorca": 0.1}
    assert _in_space(cfg, _row(8, 0.1)) is None  # rank 8 is not a choice here
    assert _in_space(cfg, _row(16, 0.4)) is None  # outside the range


def test_trials_count_as_run_here_only_when_trained_alike():
    assert _first_difference(_cfg(), _cfg()) == ""
    assert _first_difference(_cfg(), _cfg(max_steps=24)) == "train.max_steps was 16, now 24"
    # A key searched in either sweep is not a difference.
    other = _cfg(space={"lora.r": {"choice": [16, 32]}})
    assert _first_difference(other, _cfg()) == ""


def test_first_points_skip_what_ran_and_keep_the_configs_own():
    ran = {"lora.r": 16, "mix.openorca": 0.0}
    w = WarmStart(
        "old",
        True,
        "",
        first=({"lora.r": 32, "mix.openorca": 0.2}, ran),
        tried=frozenset({config_key(ran)}),
    )
    own = [ran, {"lora.r": 32, "mix.openorca": 0.3}]
    assert w.points(own) == [{"lora.r": 32, "mix.openorca": 0.2}, own[1]]


@pytest.mark.parametrize("multi", [False, True])
def test_the_searcher_starts_from_the_history_and_never_reruns_it(multi):
    goal = (
        Objective((Target(metric="alpaca/meteor"), Target(metric="openorca/meteor")))
        if multi
        else Objective.single("objective")
    )
    history = [
        ({"lora.r": 16}, (0.1, 0.2) if multi else (0.1,), ()),
        ({"lora.r": 32}, (0.3, 0.1) if multi else (0.3,), ()),
    ]
    inner = make_searcher(goal, 0, None, history)
    search = UniqueSearch(inner, retries=3)
    search.seen |= {config_key(p) for p, _, _ in history}
    space = {"lora.r": tune.choice([16, 32, 64])}
    assert search.set_search_properties("objective", "max", space)
    study = inner._ot_study
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert [t.params["lora.r"] for t in study.trials] == [16, 32]
    assert [t.values for t in study.trials] == [list(v) for _, v, _ in history]
    # Only the untried configuration is proposed; then the space is exhausted.
    assert search.suggest("a") == {"lora.r": 64}
    search.on_trial_complete("a", {"objective": 0.2, "alpaca/meteor": 0.2, "openorca/meteor": 0.2})
    assert search.suggest("b") == "FINISHED"
