"""How much a search dimension moved each metric, with a 95% interval.

Two estimators, in order of preference:
- paired: trials that differ only in this dimension, compared at their largest common step
  on the same eval examples; a bootstrap over examples (the same resampled indices for both
  trials of every pair) gives the interval. Every metric is recomputed from the per-example
  statistics each resample draws (evaluation/metric_registry.py): BLEU and chrF at corpus
  level, METEOR and ROUGE-L as means.
- regression: ordinary least squares over all finished trials of the metric on one
  treatment indicator per dimension (plus an intercept), with a t interval from the
  residuals; it is confounded by anything the indicators miss (a trial stopped early, say).
- hierarchical (seed-aware), where a configuration was run with several training seeds
  (`sweeplab confirm`): each resample draws the seeds of each configuration with
  replacement, then the eval examples (the same indices for every run); the interval holds
  training noise as well as the choice of examples.
Effects are in points (x100 of a 0..1 metric). Verdicts say the direction: *helps* when the
whole interval is above zero, *hurts* when it is below, else *inconclusive*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from evaluation.metric_registry import Metric, mean_rows, metric

LEVEL = 0.95
POWER = 0.8


def verdict(low: float | None, high: float | None) -> str:
    """*helps* / *hurts* when the interval excludes zero on that side, else *inconclusive*."""
    if low is None or high is None:
        return "inconclusive"
    if low > 0:
        return "helps"
    if high < 0:
        return "hurts"
    return "inconclusive"


@dataclass(frozen=True)
class Effect:
    metric: str
    points: float | None
    low: float | None
    high: float | None
    method: str
    n: int
    """Example pairs (paired) or trials (regression) behind the estimate."""

    @property
    def verdict(self) -> str:
        return verdict(self.low, self.high)

    def text(self) -> str:
        if self.points is None:
            return f"{self.metric} n/a ({self.method})"
        ci = "" if self.low is None else f" [{self.low:+.1f}, {self.high:+.1f}]"
        return f"{self.metric} {self.points:+.1f} pts{ci}"


@dataclass(frozen=True)
class ExampleScores:
    """One trial's per-example results on one dataset at one step."""

    scores: dict[str, np.ndarray]
    """The per-example metrics' scores (its table's columns), by metric name."""
    predictions: list[str]
    references: list[str]
    _stats: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.predictions)

    def stats(self, m: Metric) -> np.ndarray:
        """The metric's per-example statistics: from the table's scores for a per-example
        metric, else recomputed from the texts (once)."""
        if m.name not in self._stats:
            self._stats[m.name] = (
                mean_rows(self.scores[m.name])
                if m.per_example
                else m.statistics(self.predictions, self.references)
            )
        return self._stats[m.name]


def _interval(boot: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(boot, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return float(lo), float(hi)


def paired_effect(
    pairs: list[tuple[ExampleScores, ExampleScores]],
    name: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(effect, low, high) in points on metric `name`: treatment minus control, the corpus
    metric of each pair averaged over pairs."""
    if len({c.n for c, _ in pairs}) > 1:
        return stratified_effect(pairs, name, samples, seed)
    m = metric(name)
    n = pairs[0][0].n
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    point = np.mean([m.corpus(t.stats(m)) - m.corpus(c.stats(m)) for c, t in pairs])
    boot = np.mean(
        [m.resampled(t.stats(m), idx) - m.resampled(c.stats(m), idx) for c, t in pairs], axis=0
    )
    lo, hi = _interval(boot)
    return 100 * float(point), 100 * lo, 100 * hi


def stratified_effect(
    pairs: list[tuple[ExampleScores, ExampleScores]],
    name: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """As `paired_effect` for pairs of different sizes (e.g. datasets): each pair resampled
    within itself, the per-pair differences averaged."""
    m = metric(name)
    rng = np.random.default_rng(seed)
    idx = [rng.integers(0, c.n, size=(samples, c.n)) for c, _ in pairs]
    point = np.mean([m.corpus(t.stats(m)) - m.corpus(c.stats(m)) for c, t in pairs])
    boot = np.mean(
        [
            m.resampled(t.stats(m), rows) - m.resampled(c.stats(m), rows)
            for (c, t), rows in zip(pairs, idx, strict=True)
        ],
        axis=0,
    )
    lo, hi = _interval(boot)
    return 100 * float(point), 100 * lo, 100 * hi


def regression_effect(
    indicators: np.ndarray, values: np.ndarray, column: int
) -> tuple[float | None, float | None, float | None]:
    """OLS coefficient of one indicator column (points) with a t interval."""
    from scipy import stats

    n = len(values)
    x = np.column_stack([np.ones(n), indicators])
    keep = [0] + [j + 1 for j in range(indicators.shape[1]) if indicators[:, j].std() > 0]
    if column + 1 not in keep:
        return None, None, None
    x = x[:, keep]
    col = keep.index(column + 1)
    df = n - x.shape[1]
    beta, *_ = np.linalg.lstsq(x, values, rcond=None)
    if df <= 0:
        return 100 * float(beta[col]), None, None
    resid = values - x @ beta
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    half = stats.t.ppf((1 + LEVEL) / 2, df) * np.sqrt(max(cov[col, col], 0.0))
    b = float(beta[col])
    return 100 * b, 100 * (b - half), 100 * (b + half)


def hierarchical_effect(
    groups: list[tuple[list[ExampleScores], list[ExampleScores]]],
    name: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(effect, low, high) in points on metric `name`: treated replicates minus control
    replicates, averaged over the (control, treated) groups. Each resample draws each
    configuration's seeds with replacement, then the eval examples (shared by every run, as
    they are the same items)."""
    m = metric(name)
    n = groups[0][0][0].n
    rng = np.random.default_rng(seed)
    idx = np.vstack([np.arange(n), rng.integers(0, n, size=(samples, n))])
    diffs = []
    for control, treated in groups:
        sides = []
        for runs in (control, treated):
            values = np.stack([m.resampled(r.stats(m), idx) for r in runs])  # (seeds, 1+samples)
            pick = rng.integers(0, len(runs), size=(len(runs), samples))
            boot = np.take_along_axis(values[:, 1:], pick, axis=0).mean(axis=0)
            sides.append(np.concatenate([[values[:, 0].mean()], boot]))
        diffs.append(sides[1] - sides[0])
    diff = np.mean(diffs, axis=0)
    lo, hi = np.percentile(diff[1:], [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return 100 * float(diff[0]), 100 * float(lo), 100 * float(hi)


def pooled_sd(groups: list[list[float]]) -> float | None:
    """The seed-to-seed standard deviation pooled over configurations: the square root of
    the within-configuration variances averaged with their degrees of freedom as weights."""
    dof = sum(len(g) - 1 for g in groups if len(g) > 1)
    if dof == 0:
        return None
    ss = sum(float(np.sum((np.array(g) - np.mean(g)) ** 2)) for g in groups if len(g) > 1)
    return math.sqrt(ss / dof)


def seeds_needed(effect: float, sd: float | None, power: float = POWER) -> int | None:
    """Seeds per configuration for a two-sided test at 1 - LEVEL to find a difference of
    `effect` between two configurations with power `power`, given the seed-to-seed SD:
    n = ceil(2 * ((z_(1-a/2) + z_power) * sd / effect)^2). None when not computable."""
    if sd is None or not effect or not math.isfinite(effect):
        return None
    z = NormalDist().inv_cdf((1 + LEVEL) / 2) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(2 * (z * sd / effect) ** 2))
