"""The report's error control: Benjamini–Hochberg decisions and their adjusted intervals."""

import numpy as np
from scipy.stats import false_discovery_control

from sweeps.report.effects import Effect
from sweeps.report.fdr import adjusted_level, bh, judge


def _effect(points: float, se: float, df: float = float("inf")) -> Effect:
    return Effect("alpaca/meteor", points, points - 2 * se, points + 2 * se, "m", 10, se, df)


def test_bh_step_up_decisions_by_hand():
    # Sorted p: .01 <= 1*.05/4; .03 > 2*.05/4; .04 > 3*.05/4; .2 > .05: only the first.
    assert bh([0.04, 0.01, 0.2, 0.03]) == [False, True, False, False]
    # Step-up: .012 <= .0125 (k=1) and .024 <= .025 (k=2), though .024 > .0125.
    assert bh([0.024, 0.012, 0.5, 0.9]) == [True, True, False, False]
    assert bh([]) == []


def test_bh_agrees_with_scipys_adjusted_p_values():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.01, size=8)])
        expected = false_discovery_control(p, method="bh") <= 0.05
        assert bh(list(p)) == list(expected)


def test_decided_effects_are_exactly_those_whose_adjusted_interval_excludes_zero():
    effects = [_effect(x, 1.0) for x in (5.0, -4.0, 1.0, 0.2, 2.2, -0.5)] + [
        Effect("dolly/bleu", None, None, None, "m", 0)
    ]
    judged, m, r = judge(effects)
    assert (m, r) == (6, 2)  # the effect without an interval is not counted
    assert [e.verdict for e in judged] == ["helps", "hurts"] + ["inconclusive"] * 5
    level = adjusted_level(m, r)
    assert level == 1 - 2 * 0.05 / 6
    for e in judged[:6]:
        lo, hi = e.adjusted
        assert (lo > 0 or hi < 0) == (e.verdict != "inconclusive")
    # 2.2 SE alone is "significant" at 95% (p = .028) but not once 6 verdicts are judged.
    assert judged[4].low > 0 and judged[4].verdict == "inconclusive"


def test_null_effects_are_rarely_called_with_fdr_control():
    # Given 40 verdicts on effects that are all zero (estimates ~ N(0, 1)), when judged
    # together, then some verdict is called in about 5% of reports (FDR = FWER under the
    # null), where 95% intervals one at a time call one in 1 - .95^40 = 87% of them.
    rng = np.random.default_rng(1)
    reports = 400
    called = raw = 0
    for _ in range(reports):
        effects = [_effect(float(x), 1.0) for x in rng.normal(size=40)]
        judged, _, r = judge(effects)
        called += r > 0
        raw += any(abs(e.points) > 1.96 for e in effects)
    assert called / reports < 0.09
    assert raw / reports > 0.8
