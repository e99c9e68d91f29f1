"""Training noise measured inside a sweep: which runs are replicates of one configuration,
the pooled spread, how a paired verdict's interval counts it, and the sweep's own replicate
plan (`search.replicates`)."""

import math

import numpy as np
import pytest

from common.tags import POINT_TAG, REPLICATE_OF_TAG, ROLE_CONFIRM, ROLE_REPLICATE, ROLE_TAG
from sweeps.config import SweepConfig
from sweeps.report.effects import Effect
from sweeps.report.leaderboard import Row
from sweeps.report.noise import EXAMPLES_ONLY, measure, net_weight_sq, with_noise
from sweeps.report.runs import Trial
from sweeps.run.confirm_plan import NOISE_SEED_OFFSET, noise_replicates, tags_of


def _trial(tid, meteor, tags=None, steps=(8, 16), params=None, stopped=False):
    row = Row(tid, f"run-{tid}", "FINISHED", params or {}, {"alpaca/meteor": meteor}, stopped)
    return Trial(row, dict(params or {}), list(steps), dict(tags or {}))


def _rep(tid, of, meteor, steps=(8, 16)):
    return _trial(tid, meteor, {ROLE_TAG: ROLE_REPLICATE, REPLICATE_OF_TAG: of}, steps)


def test_pooled_spread_of_in_sweep_and_confirm_replicates():
    # Given two search trials each re-run once with another seed, and a confirmed
    # configuration run with three seeds,
    search = [_trial("a", 0.30), _trial("b", 0.50), _trial("c", 0.40)]
    conf = {ROLE_TAG: ROLE_CONFIRM, POINT_TAG: "0"}
    reps = [
        _rep("a2", "a", 0.32),
        _rep("b2", "b", 0.47),
        _trial("k1", 0.20, conf),
        _trial("k2", 0.22, conf),
        _trial("k3", 0.27, conf),
    ]
    noise = measure(search, reps, ["alpaca/meteor"])
    # then the SD (points) pools the within-group variances over 1 + 1 + 2 dof.
    groups = [[30, 32], [50, 47], [20, 22, 27]]
    ss = sum(float(np.sum((np.array(g) - np.mean(g)) ** 2)) for g in groups)
    assert noise.sd["alpaca/meteor"] == pytest.approx(math.sqrt(ss / 4))
    assert noise.dof["alpaca/meteor"] == 4
    assert (noise.groups, noise.runs, noise.sources) == (3, 7, ("confirm", "in-sweep"))


def test_no_replicates_no_noise_and_unlike_steps_are_left_out():
    search = [_trial("a", 0.30, steps=(8,))]  # stopped at step 8; its replicate ran to 16
    assert measure(search, [_rep("a2", "a", 0.35)], ["alpaca/meteor"]) is None
    assert measure(search, [], ["alpaca/meteor"]) is None


def test_net_weights_of_pairs_sharing_a_control():
    # (c, t) once: 1 + 1. Two treated against one shared control: c weighs -1, each t 1/2.
    assert net_weight_sq([("c", "t")]) == pytest.approx(2.0)
    assert net_weight_sq([("c", "t1"), ("c", "t2")]) == pytest.approx(1.0 + 0.25 + 0.25)
    assert net_weight_sq([("c1", "t1"), ("c2", "t2")]) == pytest.approx(4 * 0.25)


def test_noise_widens_a_paired_interval_by_its_formula():
    from scipy import stats

    noise = measure(
        [_trial("a", 0.30), _trial("b", 0.50)],
        [_rep("a2", "a", 0.34), _rep("b2", "b", 0.46)],
        ["alpaca/meteor"],
    )
    sd = noise.sd["alpaca/meteor"]  # 4 / sqrt 2 points, 2 dof
    assert sd == pytest.approx(math.sqrt((8 + 8) / 2))
    e = Effect("alpaca/meteor", 3.0, 1.0, 5.0, "paired", 96, se=1.0, raw=(1.0, 5.0))
    wide = with_noise(e, noise, net_weight_sq([("c", "t")]))
    se = math.sqrt(1.0 + sd**2 * 2)
    df = se**4 / ((sd**2 * 2) ** 2 / 2)  # Welch–Satterthwaite, the bootstrap's df infinite
    half = stats.t.ppf(0.975, df) * se
    assert (wide.low, wide.high) == pytest.approx((3 - half, 3 + half))
    assert wide.raw == (1.0, 5.0) and wide.se == pytest.approx(se)
    assert wide.verdict == "inconclusive" and e.verdict == "helps"
    assert "training noise" in wide.evidence
    # Without a measure the interval stays, and says it is examples only.
    assert with_noise(e, None, 2.0).low == 1.0
    assert with_noise(e, None, 2.0).evidence == EXAMPLES_ONLY


def _cfg(**search):
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "train": {"seed": 7},
            "search": {
                "space": {
                    "lora.r": {"choice": [16, 32]},
                    "mix.openorca": {"choice": [0.0, 0.3]},
                },
                **search,
            },
        }
    )


def _row(i, r, oo, obj, stopped=False, status="FINISHED"):
    params = {"lora.r": str(r), "mix.openorca": str(oo)}
    metrics = {f"{s}/meteor": obj for s in ("alpaca", "dolly", "openorca")}
    return Row(f"t{i}", f"run{i}", status, params, metrics, stopped)


def test_the_sweep_replicates_the_seed_like_trial_then_the_best_at_full_budget():
    cfg = _cfg()
    rows = [
        _row(0, 32, 0.3, 0.9, stopped=True),  # best, but stopped early: not preferred
        _row(1, 32, 0.0, 0.5),
        _row(2, 16, 0.0, 0.2),  # the seed's setup (r=16, no mixing)
        _row(3, 16, 0.3, 0.6),
        _row(4, 32, 0.3, 0.95, status="FAILED"),
    ]
    reps = noise_replicates(rows, cfg, 2)
    assert [r["of"] for r in reps] == ["t2", "t3"]
    assert reps[0]["overrides"] == {
        "lora.r": 16,
        "mix.openorca": 0.0,
        "train.seed": 7 + NOISE_SEED_OFFSET,
    }
    tags = tags_of({"confirm": reps[1]})
    assert tags[ROLE_TAG] == ROLE_REPLICATE and tags[REPLICATE_OF_TAG] == "t3"
    assert noise_replicates(rows, cfg, 0) == [] and noise_replicates([], cfg, 2) == []


def test_a_searched_seed_is_offset_from_the_trials_own():
    cfg = SweepConfig.model_validate(
        {
            "name": "aa",
            "model": {"path": "m"},
            "search": {"space": {"train.seed": {"choice": [0, 1, 2]}}},
        }
    )
    rows = [Row(f"t{s}", f"r{s}", "FINISHED", {"train.seed": str(s)}, {}, False) for s in (0, 1)]
    reps = noise_replicates(rows, cfg, 2)
    assert sorted(r["overrides"]["train.seed"] for r in reps) == [1000, 1001]


def test_replicates_are_on_by_default_and_no_op_settings_are_checked():
    assert _cfg().search.replicates == 2
    assert _cfg(replicates=0, no_op=["train.threads"]).search.no_op == ("train.threads",)
    with pytest.raises(ValueError, match="search.no_op: 'train.nope' is not a trial setting"):
        _cfg(no_op=["train.nope"])
