import numpy as np
import pytest

from sweeps.report.effects import Effect, ExampleScores, paired_effect, regression_effect


def scores(meteor, preds=None, refs=None):
    n = len(meteor)
    preds = preds or ["the cat sat on the mat"] * n
    refs = refs or ["the cat sat on the mat"] * n
    arr = np.array(meteor, float)
    return ExampleScores({"meteor": arr, "rougeL": arr}, preds, refs)


def test_paired_effect_points_and_interval():
    control = scores([0.1, 0.2, 0.3, 0.2] * 10)
    treated = scores([0.2, 0.25, 0.4, 0.3] * 10)
    pt, lo, hi = paired_effect([(control, treated)], "meteor", samples=500)
    assert pt == pytest.approx(8.75)
    assert 0 < lo < pt < hi
    assert Effect("openorca/meteor", pt, lo, hi, "paired", 40).verdict == "helps"
    # No difference at all: a zero-width interval at zero is inconclusive, neither helps nor hurts.
    pt0, lo0, hi0 = paired_effect([(control, control)], "meteor", samples=200)
    assert (pt0, lo0, hi0) == (0.0, 0.0, 0.0)
    assert Effect("m", pt0, lo0, hi0, "paired", 40).verdict == "inconclusive"


def test_paired_bleu_is_corpus_level():
    refs = ["the cat sat on the mat today", "a dog ran in the park"] * 5
    good = scores([0.5] * 10, preds=refs, refs=refs)
    bad = scores([0.5] * 10, preds=["nothing like it"] * 10, refs=refs)
    pt, lo, hi = paired_effect([(bad, good)], "bleu", samples=200)
    assert pt == pytest.approx(100.0) and lo == pytest.approx(100.0)


def test_regression_recovers_a_known_effect():
    rng = np.random.default_rng(0)
    ind = rng.integers(0, 2, size=(12, 3)).astype(float)
    values = 0.2 + 0.05 * ind[:, 0] - 0.02 * ind[:, 1] + rng.normal(0, 0.003, 12)
    pt, lo, hi = regression_effect(ind, values, 0)
    assert pt == pytest.approx(5.0, abs=0.5) and lo > 0
    pt1, lo1, hi1 = regression_effect(ind, values, 1)
    assert hi1 < 0 and Effect("m", pt1, lo1, hi1, "r", 12).verdict == "hurts"
    # A dimension with no variation cannot be estimated.
    ind[:, 2] = 1.0
    assert regression_effect(ind, values, 2) == (None, None, None)
