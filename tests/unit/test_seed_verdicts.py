"""Seed-aware verdicts: the hierarchical bootstrap, verdict words, pooled seed spread and
the seeds a still-inconclusive effect would need."""

import math

import numpy as np
import pytest

from sweeps.report.effects import (
    ExampleScores,
    hierarchical_effect,
    paired_effect,
    pooled_sd,
    seeds_needed,
    verdict,
)


def scores(meteor, preds=None, refs=None):
    n = len(meteor)
    preds = preds or ["the cat sat on the mat"] * n
    refs = refs or ["the cat sat on the mat"] * n
    arr = np.array(meteor, float)
    return ExampleScores({"meteor": arr, "rougeL": arr}, preds, refs)


def test_verdict_words_say_the_direction():
    assert verdict(0.5, 2.0) == "helps"
    assert verdict(-7.9, -6.3) == "hurts"  # a significant harm is no longer "not supported"
    assert verdict(-1.0, 1.0) == "inconclusive"
    assert verdict(0.0, 0.0) == "inconclusive"
    assert verdict(None, None) == "inconclusive"


def test_one_seed_each_is_the_paired_bootstrap():
    # Given one replicate per configuration, resampling seeds changes nothing: the
    # hierarchical interval is the example bootstrap's, to the digit (same resamples).
    control = scores([0.1, 0.2, 0.3, 0.2] * 10)
    treated = scores([0.2, 0.25, 0.4, 0.3] * 10)
    for metric in ("meteor", "bleu"):
        h = hierarchical_effect([([control], [treated])], metric, samples=300, seed=3)
        p = paired_effect([(control, treated)], metric, samples=300, seed=3)
        assert h == pytest.approx(p)


def test_seed_noise_widens_the_interval():
    # Given two configurations whose seeds scatter by +-2 points around a true +1 point
    # effect, the seed-aware interval must cover zero although each pair of runs differs
    # consistently on the examples.
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.4, 60)
    control = [scores(base + s) for s in (-0.02, 0.0, 0.02)]
    treated = [scores(base + 0.01 + s) for s in (0.02, -0.02, 0.0)]
    pt, lo, hi = hierarchical_effect([(control, treated)], "meteor", samples=2000)
    assert pt == pytest.approx(1.0)
    assert lo < 0 < hi and verdict(lo, hi) == "inconclusive"
    # One run of each (the example-only view) calls +3 points with a zero-width interval.
    ex = paired_effect([(control[1], treated[0])], "meteor", samples=500)
    assert ex == pytest.approx((3.0, 3.0, 3.0)) and verdict(*ex[1:]) == "helps"


def test_consistent_effect_survives_seeds():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.2, 0.4, 50)
    control = [scores(base + s) for s in (-0.002, 0.0, 0.002)]
    treated = [scores(base + 0.05 + s) for s in (0.001, -0.001, 0.0)]
    pt, lo, hi = hierarchical_effect([(control, treated)], "meteor", samples=500)
    assert pt == pytest.approx(5.0)
    assert 4.0 < lo < pt < hi < 6.0 and verdict(lo, hi) == "helps"


def test_pooled_sd_and_seeds_needed_formula():
    # SDs 1 and 3 over three seeds each: pooled variance (2*1 + 2*9) / 4 = 5.
    assert pooled_sd([[1.0, 2.0, 3.0], [0.0, 3.0, 6.0]]) == pytest.approx(math.sqrt(5.0))
    assert pooled_sd([[1.0], [2.0]]) is None
    # n = ceil(2 * ((1.95996 + 0.84162) * sd / effect)^2): sd 2, effect 1 -> 62.8 -> 63.
    assert seeds_needed(1.0, 2.0) == 63
    assert seeds_needed(-1.0, 2.0) == 63  # the sign of the effect does not matter
    assert seeds_needed(4.0, 1.0) == 2  # never fewer than two seeds
    assert seeds_needed(0.0, 2.0) is None and seeds_needed(1.0, None) is None
