"""The response model: a Gaussian process per metric on the searched values, checked on
synthetic sweeps whose true response is known (a quadratic in the OpenOrca share that peaks
at 0.25, a small rank and curriculum effect, Gaussian run-to-run noise)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from common.tags import REPORTS_TAG, ROLE_CONFIRM, ROLE_TAG, SEARCH_TAG_PREFIX
from sweeps.config import SweepConfig
from sweeps.report import gp
from sweeps.report.encoding import Encoder
from sweeps.report.leaderboard import Row
from sweeps.report.mix_curves import best_share, change, compromise, curve
from sweeps.report.noise import Noise
from sweeps.report.proposals import propose
from sweeps.report.response import REFIT_MAX, Z, fit_responses, searched, seed_sd
from sweeps.report.runs import Trial

SPACE = {
    "lora.r": {"choice": [16, 32]},
    "mix.openorca": {"choice": [0.0, 0.1, 0.2, 0.3, 0.4]},
    "mix.dolly": {"choice": [0.0, 0.2]},
    "curriculum": {"choice": ["none", "two_phase"]},
}
KEYS = ("openorca/meteor", "alpaca/meteor", "dolly/meteor")
PEAK = 0.25


def _cfg(**search) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "search": {"objective": "openorca/meteor", "space": SPACE} | search,
        }
    )


def truth(r: int, orca: float, dolly: float, curriculum: str) -> dict[str, float]:
    return {
        "openorca/meteor": 0.30 + 2 * PEAK * orca - orca**2 + 0.01 * (r == 32)
        + 0.01 * (curriculum == "two_phase"),
        "alpaca/meteor": 0.40 - 0.15 * orca - 0.05 * dolly + 0.005 * (r == 32),
        "dolly/meteor": 0.35 + 0.1 * dolly - 0.05 * orca,
    }  # fmt: skip


def trial(i: int, point: tuple, rng, noise: float, **tags) -> Trial:
    r, orca, dolly, curriculum = point
    metrics = {k: v + rng.normal(0, noise) for k, v in truth(*point).items()}
    metrics["alpaca/meteor_delta_pct"] = 100 * (metrics["alpaca/meteor"] / 0.40 - 1)
    params = {"lora.r": str(r), "mix.openorca": str(orca), "mix.dolly": str(dolly)}
    params["curriculum"] = curriculum
    row = Row(f"t{i:03d}", f"run{i:03d}", "FINISHED", params, metrics, tags.pop("early", False))
    return Trial(row, params, [], dict(tags))


def random_point(rng, orca=None) -> tuple:
    return (
        int(rng.choice([16, 32])),
        float(rng.choice([0.0, 0.1, 0.2, 0.3, 0.4]) if orca is None else orca),
        float(rng.choice([0.0, 0.2])),
        str(rng.choice(["none", "two_phase"])),
    )


def sweep(n: int, seed: int = 0, noise: float = 0.01) -> list[Trial]:
    rng = np.random.default_rng(seed)
    return [trial(i, random_point(rng), rng, noise) for i in range(n)]


def test_encoding_puts_each_dimension_on_its_scale():
    enc = Encoder.of(
        _cfg(
            space=SPACE | {"model.path": {"choice": ["a", "b", "c"]}, "lora.alpha": {"choice": [8]}}
        )
    )
    kinds = {d.key: d.kind for d in enc.dims}
    # A share is linear, a rank doubles (log2), two categories are one 0/1 column, three are
    # one-hot; a dimension with one value has no column.
    assert kinds == {
        "lora.r": "log2", "mix.openorca": "share", "mix.dolly": "share",
        "curriculum": "category", "model.path": "category",
    }  # fmt: skip
    row = enc.encode(
        {"lora.r": "64", "mix.openorca": 0.1, "mix.dolly": "0.2", "curriculum": "two_phase"}
        | {"model.path": "b"}
    )
    assert row == pytest.approx([2.0, 0.25, 1.0, 1.0, 0.0, 1.0, 0.0])
    assert enc.encode({"lora.r": 16, "mix.openorca": 0, "mix.dolly": 0, "curriculum": "x"}) is None
    seen = [{"lora.r": "16", "mix.openorca": "0.1", "mix.dolly": "0.0", "curriculum": "none"}]
    seen = [s | {"model.path": "a"} for s in seen]
    assert enc.outside(seen[0] | {"lora.r": 64, "curriculum": "two_phase"}, seen) == [
        "lora.r=64 is outside the trials' 16..16",
        "curriculum=two_phase was in no trial",
    ]


def test_searched_values_come_from_the_search_tags():
    # A local model path is a param only as name + content hash; the search tag holds the
    # value the search gave the trial.
    cfg = _cfg(space=SPACE | {"model.path": {"choice": ["/m/demo-llama", "/m/demo-llama-mini"]}})
    rng = np.random.default_rng(0)
    trials = []
    for i, path in enumerate(["/m/demo-llama", "/m/demo-llama-mini"] * 3):
        t = trial(i, random_point(rng), rng, 0.01, **{f"{SEARCH_TAG_PREFIX}model.path": path})
        t.params["model.path"] = f"{path.rsplit('/', 1)[1]}@sha256:0123abcd"
        trials.append(t)
    assert searched(cfg, trials[1])["model.path"] == "/m/demo-llama-mini"
    model = fit_responses(cfg, trials, KEYS)
    assert len(model.runs) == 6 and model.x.shape[1] == 5


def test_the_model_recovers_the_share_that_maximizes_the_objective():
    # Given 24 single-seed trials of a response that peaks at an OpenOrca share of 0.25 ...
    cfg = _cfg()
    trials = sweep(24)
    model = fit_responses(cfg, trials, KEYS)
    held = {"lora.r": 32, "mix.openorca": 0.0, "mix.dolly": 0.0, "curriculum": "none"}
    c = curve(model, "mix.openorca", held)
    peak = best_share(cfg.search.goal(), c, "openorca/meteor")
    # ... the curve peaks near it, and the share's interval holds it.
    assert abs(peak.share - PEAK) <= 0.05 and peak.low <= PEAK <= peak.high
    # What the share costs elsewhere: Alpaca loses 0.15 per unit share (-3.75 pts at 0.25).
    mean, lo, hi = change(c, "alpaca/meteor", 0.25, 0.0)
    assert lo < -0.15 * 0.25 < hi and mean < 0


def test_a_constraint_moves_the_compromise_below_the_peak():
    # Alpaca may lose at most 5% (its delta): 0.40 * (1 - 0.05) = 0.38 -> share <= 0.133.
    cfg = _cfg(constraints=["alpaca/meteor_delta_pct >= -5"])
    model = fit_responses(cfg, sweep(30, seed=1), [*KEYS, "alpaca/meteor_delta_pct"])
    held = {"lora.r": 16, "mix.openorca": 0.0, "mix.dolly": 0.0, "curriculum": "none"}
    c = curve(model, "mix.openorca", held)
    chosen = compromise(cfg.search.goal(), c, cfg.search.goal().default_pick())
    assert 0.08 <= chosen.share <= 0.17 and 0.0 < chosen.feasible <= 1.0
    assert best_share(cfg.search.goal(), c, "openorca/meteor").share > chosen.share


def test_intervals_cover_about_90_percent_of_new_runs():
    # Given small sweeps (12 trials) and, for each, new single-seed runs at configurations
    # no trial used (an OpenOrca share drawn anywhere in its span) ...
    cfg = _cfg()
    inside = total = 0
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        model = fit_responses(cfg, sweep(12, seed=seed), KEYS)
        for _ in range(12):
            point = random_point(rng, orca=float(rng.uniform(0, 0.4)))
            pred = model.predict(dict(zip(SPACE, point, strict=True)))
            for key, value in truth(*point).items():
                run = value + rng.normal(0, 0.01)
                inside += pred[key].low <= run <= pred[key].high
                total += 1
    # ... about 90% land inside their 90% interval (288 checks: 85-95% is within noise).
    assert 0.83 <= inside / total <= 0.97, inside / total


def test_leave_one_out_numbers_are_a_direct_refit_without_each_configuration():
    cfg = _cfg()
    model = fit_responses(cfg, sweep(10, seed=3), KEYS)
    check = model.validate("openorca/meteor")
    # Recomputed by hand: each trial left out, the model refitted on the others from the
    # full fit's hyperparameters, its held-out value compared with the 90% interval.
    full = model.models["openorca/meteor"]
    y = np.array([t.row.metrics["openorca/meteor"] for t in model.runs])
    means, inside = [], 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        mean, var = gp.fit(model.x[keep], y[keep], 0.0, full.theta).predict(model.x[[i]], run=True)
        means.append(mean[0])
        inside += abs(y[i] - mean[0]) <= Z * np.sqrt(var[0])
    assert check.runs == check.configurations == 10
    assert check.inside == inside
    assert check.rho == pytest.approx(spearmanr(means, y).statistic)
    assert "refitted" in check.method


def test_closed_form_leave_one_out_is_conditioning_on_the_others():
    # Beyond REFIT_MAX runs validation uses the closed form with the full fit's
    # hyperparameters: the same as conditioning each hyperparameter setting on the others.
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(REFIT_MAX + 5, 2))
    y = np.sin(4 * x[:, 0]) + 0.3 * x[:, 1] + rng.normal(0, 0.05, len(x))
    full = gp.fit(x, y)
    held = gp.held_out(x, y, np.arange(len(y)), 0.0, full, REFIT_MAX)
    assert "closed form" in held.method
    ys = (y - full.offset) / full.scale
    for i in (0, 7, len(y) - 1):
        keep = np.arange(len(y)) != i
        parts = []
        for s in full.settings:
            k = gp._kernel(gp._sqdist(x[keep], x[keep]), s.length, s.signal)
            k += s.noise * np.eye(len(k))
            ks = gp._kernel(gp._sqdist(x[[i]], x[keep]), s.length, s.signal)[0]
            sol = np.linalg.solve(k, np.column_stack([ys[keep] - s.beta, ks]))
            parts.append((s.beta + ks @ sol[:, 0], s.signal + s.noise - ks @ sol[:, 1]))
        m = np.mean([p[0] for p in parts])
        v = np.mean([p[1] + p[0] ** 2 for p in parts]) - m**2
        assert held.mean[i] == pytest.approx(full.offset + full.scale * m, rel=1e-6)
        assert held.var[i] == pytest.approx(v * full.scale**2, rel=1e-5)


def test_replicates_set_the_noise_floor_and_a_given_seed_sd_wins():
    cfg = _cfg()
    rng = np.random.default_rng(5)
    trials = sweep(8, seed=5)
    # Two configurations re-run with four seeds each (`sweeplab confirm`): noise SD 0.03.
    for j, point in enumerate([(32, 0.2, 0.0, "none"), (16, 0.0, 0.0, "none")]):
        for k in range(4):
            t = trial(100 + 4 * j + k, point, rng, 0.03, **{ROLE_TAG: ROLE_CONFIRM})
            trials.append(t)
    model = fit_responses(cfg, trials, KEYS)
    assert model.noise_from["openorca/meteor"] == "pooled over 2 replicated configuration(s)"
    assert model.configurations < len(model.runs) == 16
    floor = model.floors["openorca/meteor"]
    assert 0.01**2 < floor < 0.06**2
    assert all(s.noise * model.models[k].scale ** 2 >= floor * 0.999 for k in ["openorca/meteor"]
               for s in model.models[k].settings)  # fmt: skip
    given = fit_responses(cfg, trials, KEYS, seed_sd={"openorca/meteor": 0.05})
    assert given.noise_from["openorca/meteor"] == "the sweep's measured seed-to-seed SD"
    assert given.models["openorca/meteor"].noise >= 0.05**2 * 0.999
    assert given.noise_from["alpaca/meteor"].startswith("pooled")


def test_trials_stopped_early_are_placed_at_the_budget_they_reached():
    # Given six whole trials and two ASHA stopped: one after 2 of its 4 reports (200 steps,
    # a report every 50), one whose reports were not recorded ...
    cfg = _cfg()
    rng = np.random.default_rng(0)
    half = trial(50, random_point(rng), rng, 0.01, early=True, **{REPORTS_TAG: "2"})
    unknown = trial(51, random_point(rng), rng, 0.01, early=True)
    model = fit_responses(cfg, sweep(6) + [half, unknown], KEYS)
    # ... the first is fitted with its budget (0.5) as one more input, predictions are at
    # the whole budget (1), and the other is left out, counted.
    assert model.budgeted and model.stopped == 1 and len(model.runs) == 7
    assert model.x[-1, -1] == 0.5 and set(model.x[:-1, -1]) == {1.0}
    assert model.encode(dict(zip(SPACE, random_point(rng), strict=True)))[-1] == 1.0
    assert [t.row.trial_id for t in model.left_out] == ["t051"]
    # Without stopped trials the budget is no input.
    assert not fit_responses(cfg, sweep(6), KEYS).budgeted
    with pytest.raises(ValueError, match="at least 2 finished trials; found 1"):
        fit_responses(cfg, sweep(1), KEYS)


def test_the_model_is_deterministic_and_says_where_a_point_lies():
    cfg = _cfg()
    trials = sweep(10, seed=2)
    a, b = fit_responses(cfg, trials, KEYS), fit_responses(cfg, trials, KEYS)
    point = {"lora.r": 64, "mix.openorca": 0.15, "mix.dolly": 0.2, "curriculum": "none"}
    assert a.predict(point) == b.predict(point)
    near, dist = a.nearest(point)
    assert dist >= 1.0  # rank 64 is a whole searched span beyond 32
    assert a.outside(point) == ["lora.r=64 is outside the trials' 16..32"]


def test_the_measured_seed_noise_is_read_in_the_metrics_own_units():
    noise = Noise({"openorca/meteor": 2.0, "alpaca/meteor": 1.0}, {"openorca/meteor": 3}, 2, 4, ())
    # Points (x100) -> 0..1; a key without degrees of freedom is no measure.
    assert seed_sd(noise) == {"openorca/meteor": 0.02} and seed_sd(None) == {}


def test_proposals_are_untried_valid_points_where_the_model_expects_the_most():
    # Given an earlier sweep of 12 trials of a response that peaks at an OpenOrca share of 0.25
    cfg = _cfg()
    trials = sweep(12, seed=4)
    got = propose(cfg, [t.row for t in trials], 3)
    # ... three points of the space, none run before, each one a trial accepts, the first
    # at a share next to the peak.
    tried = {tuple(sorted(t.params.items())) for t in trials}
    assert len(got) == 3 and all(set(p) == set(SPACE) for p in got)
    assert all(tuple(sorted((k, str(v)) for k, v in p.items())) not in tried for p in got)
    assert all(cfg.trial(p) for p in got)
    assert got[0]["mix.openorca"] in (0.2, 0.3)
    assert propose(cfg, [t.row for t in trials[:1]], 3) == []  # no model of one trial
