"""The searcher that proposes no configuration twice, and ASHA's rung decisions recorded."""

from types import SimpleNamespace

import pytest
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import Searcher, SearchGenerator
from ray.tune.search.optuna import OptunaSearch

from sweeps.run.mlflow_logger import stop_reason
from sweeps.run.rungs import AuditedASHA
from sweeps.run.unique_search import UniqueSearch, config_key


class Scripted(Searcher):
    """Proposes a fixed sequence; records what it was told."""

    def __init__(self, proposals):
        super().__init__(metric="m", mode="max")
        self.proposals, self.asked, self.told = list(proposals), [], []

    def suggest(self, trial_id):
        self.asked.append(trial_id)
        return self.proposals.pop(0) if self.proposals else Searcher.FINISHED

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.told.append((trial_id, result, error))


def test_duplicates_are_asked_again_and_told_failed():
    inner = Scripted([{"r": 16}, {"r": 16.0}, {"r": 16}, {"r": 32}])
    search = UniqueSearch(inner, retries=5)
    assert search.suggest("t1") == {"r": 16}
    # Given the inner searcher re-proposes r=16 twice (16.0 is the same value), the
    # wrapper tells it those failed and hands out r=32 under the trial's own id.
    assert search.suggest("t2") == {"r": 32}
    assert inner.asked == ["t1", "t2", "t2-retry1", "t2-retry2"]
    assert [(t, e) for t, _, e in inner.told] == [("t2", True), ("t2-retry1", True)]
    assert search.skipped == 2
    # Results of t2 reach the inner searcher under the id it proposed r=32 with.
    search.on_trial_complete("t2", {"m": 1.0})
    assert inner.told[-1] == ("t2-retry2", {"m": 1.0}, False)


def test_retries_are_bounded_and_end_the_search():
    inner = Scripted([{"r": 16}] * 10)
    search = UniqueSearch(inner, retries=3)
    search.suggest("t1")
    assert search.suggest("t2") == Searcher.FINISHED
    assert len(inner.asked) == 1 + 4  # the first trial, then 1 + 3 retries


def test_optuna_space_is_covered_without_repeats(tmp_path):
    # A 2 x 2 space: seeded TPE alone repeats configurations; wrapped, it proposes the
    # four distinct ones, then ends the search.
    space = {"lora.r": tune.choice([16, 32]), "mix.openorca": tune.choice([0.0, 0.3])}
    search = UniqueSearch(OptunaSearch(space=space, metric="m", mode="max", seed=0), retries=40)
    seen = []
    for i in range(6):
        cfg = search.suggest(f"t{i}")
        if cfg == Searcher.FINISHED:
            break
        seen.append(config_key(cfg))
        search.on_trial_complete(f"t{i}", {"m": float(i), "training_iteration": 1})
    assert len(seen) == 4 and len(set(seen)) == 4
    # Saved and restored, the wrapper still knows what it handed out.
    path = str(tmp_path / "searcher.pkl")
    search.save(path)
    again = UniqueSearch(OptunaSearch(space=space, metric="m", mode="max", seed=0))
    again.restore(path)
    assert again.seen == search.seen and again.suggest("t9") == Searcher.FINISHED
    # ... and so does a Tune experiment checkpoint (wrapper state beside Optuna's own).
    gen = SearchGenerator(search)
    gen.save_to_dir(str(tmp_path), session_str="s")
    restored = SearchGenerator(UniqueSearch(OptunaSearch(space=space, metric="m", mode="max")))
    restored.restore_from_dir(str(tmp_path))
    assert restored.searcher.seen == search.seen and restored.searcher.skipped == search.skipped


def _trial(i):
    return SimpleNamespace(trial_id=f"t{i}", config={}, evaluated_params={})


@pytest.mark.parametrize("mode", ["max", "min"])
def test_rung_decisions_match_asha_and_record_the_cutoff(mode):
    kw = dict(time_attr="it", metric="m", mode=mode, max_t=4, grace_period=1, reduction_factor=2)
    seen = []
    audited = AuditedASHA(**kw, on_decision=lambda t, d: seen.append((t.trial_id, d)))
    plain = ASHAScheduler(**kw)
    values = [0.5, 0.7, 0.4, 0.6]
    trials = [_trial(i) for i in range(len(values))]
    actions = []
    for sched in (audited, plain):
        for t in trials:
            sched.on_trial_add(None, t)
        actions.append(
            [
                sched.on_trial_result(None, t, {"it": 1, "m": v})
                for t, v in zip(trials, values, strict=True)
            ]
        )
    # Same decisions as Ray's own ASHA.
    assert actions[0] == actions[1]
    first = dict(seen)
    assert [d["rung"] for _, d in seen] == [1] * 4  # an int, as in the tag `sweeplab.rung.1`
    assert all(isinstance(d["rung"], int) for _, d in seen)
    assert first["t0"]["cutoff"] is None and first["t0"]["decision"] == "continue"
    # t1 was compared with t0's value alone (the median of one value).
    assert first["t1"]["cutoff"] == pytest.approx(0.5)
    stopped = [t for t, d in seen if d["decision"] == "stop"]
    assert stopped == [t.trial_id for t, a in zip(trials, actions[0], strict=True) if a == "STOP"]
    assert stopped == (["t2"] if mode == "max" else ["t1", "t3"])
    d = first[stopped[0]]
    assert d["value"] == pytest.approx(values[int(stopped[0][1])])
    worse = "<" if mode == "max" else ">"
    assert stop_reason(d).startswith(f"rung 1 (it): m {d['value']:.4f} {worse} cut-off")
    # The next rung (2) is a decision of its own; a result between rungs is none.
    audited.on_trial_result(None, trials[0], {"it": 2, "m": 0.1})
    assert seen[-1][0] == "t0" and seen[-1][1]["rung"] == 2 and seen[-1][1]["cutoff"] is None
    n = len(seen)
    audited.on_trial_result(None, trials[0], {"it": 3, "m": 0.1})
    assert len(seen) == n
