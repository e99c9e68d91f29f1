"""Error control across a report's verdicts: the false discovery rate (Benjamini–Hochberg).

A report judges dozens of effects at once (every searched dimension on every set and
metric). Each at 95% alone, a few *helps* would appear by chance in a sweep that changed
nothing. Benjamini–Hochberg at level Q keeps the expected share of false *helps*/*hurts*
among those called at or below Q: the m p-values sorted, the largest k with
p_(k) <= k·Q/m and every smaller one are decisions. It is chosen over Bonferroni or Holm
(family-wise control, which loses nearly all power at m ≈ 40 with a handful of trials) and
over Benjamini–Yekutieli (valid under any dependence but ≈ 4.3 times stricter at m = 40):
a report's tests are positively dependent (the same trials behind METEOR, BLEU, ROUGE-L and
chrF of one set), the case BH is proven for (PRDS) and is robust to in simulation.

Each decided effect also gets an interval at level 1 - R·Q/m (R decisions out of m): the
false coverage-statement rate intervals of Benjamini & Yekutieli (2005), which exclude zero
exactly for the effects BH decided; the raw 95% interval stays beside it.
"""

from __future__ import annotations

from dataclasses import replace

from scipy import stats

from sweeps.report.effects import Effect, verdict

Q = 0.05
"""The false discovery rate the report's verdicts are held to."""


def bh(pvalues: list[float], q: float = Q) -> list[bool]:
    """Benjamini–Hochberg decisions for `pvalues`, in their order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    k = max((r + 1 for r, i in enumerate(order) if pvalues[i] <= (r + 1) * q / m), default=0)
    decided = set(order[:k])
    return [i in decided for i in range(m)]


def judge(effects: list[Effect], q: float = Q) -> tuple[list[Effect], int, int]:
    """(`effects` with their FDR-controlled verdicts and adjusted intervals, in order; m, R):
    an effect without a p-value (no interval) is inconclusive and not counted."""
    tested = [i for i, e in enumerate(effects) if e.p is not None]
    rejected = bh([effects[i].p for i in tested], q)
    m, r = len(tested), sum(rejected)
    level = adjusted_level(m, r, q)
    out = [replace(e, decided="inconclusive") for e in effects]
    for i, hit in zip(tested, rejected, strict=True):
        e = effects[i]
        half = float(stats.t.ppf(1 - (1 - level) / 2, e.df)) * e.se
        adjusted = (e.points - half, e.points + half)
        decided = verdict(*adjusted) if hit else "inconclusive"
        out[i] = replace(e, decided=decided, adjusted=adjusted)
    return out, m, r


def adjusted_level(m: int, r: int, q: float = Q) -> float:
    """The confidence level of the adjusted intervals: 1 - max(R, 1)·Q/m."""
    return 1 - max(r, 1) * q / m if m else 1 - q
