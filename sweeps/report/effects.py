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
whole interval is above zero, *hurts* when it is below, else *inconclusive*; a report's
verdicts are then decided together, with the false discovery rate controlled over all of
them (`sweeps.report.fdr`), and a paired interval widened by the sweep's measured training
noise (`sweeps.report.noise`).
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
    """The 95% interval: examples and, where measured, training noise (`noise.with_noise`)."""
    method: str
    n: int
    """Example pairs (paired) or trials (regression) behind the estimate."""
    se: float | None = None
    """The standard error of `points` behind `low`/`high` (the bootstrap's SD, or OLS's)."""
    df: float = math.inf
    """Degrees of freedom of its t quantile (infinite: normal)."""
    raw: tuple[float, float] | None = None
    """The examples-only interval (paired: the bootstrap's percentiles), before noise."""
    evidence: str = ""
    """What the interval counts: `examples only ...`, `examples + training noise ...`."""
    noise_sd: float | None = None
    """The seed-to-seed SD of one run (points) counted in the interval, where it was."""
    decided: str | None = None
    """The verdict once the report's false discovery rate is controlled (`fdr.judge`)."""
    adjusted: tuple[float, float] | None = None
    """The interval at the FDR-adjusted level (false coverage-statement rate)."""

    @property
    def verdict(self) -> str:
        return self.decided if self.decided is not None else verdict(self.low, self.high)

    @property
    def p(self) -> float | None:
        """Two-sided p-value of no effect, from `points`, `se` and `df`."""
        if self.points is None or not self.se:
            return None
        from scipy import stats

        return float(2 * stats.t.sf(abs(self.points) / self.se, self.df))

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


def estimate(metric_key: str, point: float, boot: np.ndarray, method: str, n: int) -> Effect:
    """An examples-only effect from a bootstrap (0..1 units): points, percentile interval,
    and the bootstrap's SD as its standard error."""
    lo, hi = _interval(boot)
    raw = (100 * lo, 100 * hi)
    se = 100 * float(np.std(boot, ddof=1))
    return Effect(metric_key, 100 * point, *raw, method, n, se=se, raw=raw)


def paired_effect(
    pairs: list[tuple[ExampleScores, ExampleScores]],
    name: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(effect, low, high) in points on metric `name`: treatment minus control, the corpus
    metric of each pair averaged over pairs."""
    point, boot = paired_boot(pairs, name, samples, seed)
    lo, hi = _interval(boot)
    return 100 * point, 100 * lo, 100 * hi


def paired_boot(
    pairs: list[tuple[ExampleScores, ExampleScores]],
    name: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """(effect, bootstrap draws of it), 0..1 units: the same resampled example indices for
    both trials of every pair; pairs of different sizes each resampled within itself."""
    m = metric(name)
    rng = np.random.default_rng(seed)
    if len({c.n for c, _ in pairs}) > 1:
        idx = [rng.integers(0, c.n, size=(samples, c.n)) for c, _ in pairs]
    else:
        idx = [rng.integers(0, pairs[0][0].n, size=(samples, pairs[0][0].n))] * len(pairs)
    point = np.mean([m.corpus(t.stats(m)) - m.corpus(c.stats(m)) for c, t in pairs])
    boot = np.mean(
        [
            m.resampled(t.stats(m), rows) - m.resampled(c.stats(m), rows)
            for (c, t), rows in zip(pairs, idx, strict=True)
        ],
        axis=0,
    )
    return float(point), boot


def regression_effect(
    indicators: np.ndarray, values: np.ndarray, column: int
) -> tuple[float | None, float | None, float | None]:
    """OLS coefficient of one indicator column (points) with a t interval."""
    return ols(indicators, values, column)[:3]


def regressed(key: str, x: np.ndarray, values: np.ndarray, column: int, method: str) -> Effect:
    """The OLS coefficient of column `column` as an effect on `key`: its t interval's
    residuals hold every trial's training noise, so nothing is added to it."""
    pt, lo, hi, se, df = ols(x, values, column)
    raw = None if lo is None else (lo, hi)
    evidence = "trials (residual spread: training noise included)"
    return Effect(key, pt, lo, hi, method, len(values), se, df, raw, evidence)


def ols(indicators: np.ndarray, values: np.ndarray, column: int) -> tuple:
    """(coefficient, low, high, standard error, residual df) of one column, in points."""
    from scipy import stats

    n = len(values)
    x = np.column_stack([np.ones(n), indicators])
    keep = [0] + [j + 1 for j in range(indicators.shape[1]) if indicators[:, j].std() > 0]
    if column + 1 not in keep:
        return None, None, None, None, math.inf
    x = x[:, keep]
    col = keep.index(column + 1)
    df = n - x.shape[1]
    beta, *_ = np.linalg.lstsq(x, values, rcond=None)
    if df <= 0:
        return 100 * float(beta[col]), None, None, None, math.inf
    resid = values - x @ beta
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.pinv(x.T @ x)
    se = float(np.sqrt(max(cov[col, col], 0.0)))
    half = stats.t.ppf((1 + LEVEL) / 2, df) * se
    b = float(beta[col])
    return 100 * b, 100 * (b - half), 100 * (b + half), 100 * se, float(df)


def hierarchical_effect(
    groups: list[tuple[list[ExampleScores], list[ExampleScores]]],
    name: str,
    samples: int = 1000,
    seed: int = 0,
    with_se: bool = False,
) -> tuple[float, ...]:
    """(effect, low, high[, standard error]) in points on metric `name`: treated
    replicates minus control replicates, averaged over the (control, treated) groups. Each
    resample draws each configuration's seeds with replacement, then the eval examples
    (shared by every run, as they are the same items)."""
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
    if with_se:
        return (
            100 * float(diff[0]),
            100 * float(lo),
            100 * float(hi),
            100 * float(np.std(diff[1:], ddof=1)),
        )
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
