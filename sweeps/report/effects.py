"""How much a search dimension moved each metric, with a 95% interval.

Two estimators, in order of preference:
- paired: trials that differ only in this dimension, compared at their largest common step
  on the same eval examples; a bootstrap over examples (the same resampled indices for both
  trials of every pair) gives the interval. BLEU is recomputed at corpus level per resample.
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
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from evaluation.bootstrap import bleu_from_stats, bleu_stats

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

    meteor: np.ndarray
    rougeL: np.ndarray
    predictions: list[str]
    references: list[str]


def paired_effect(
    pairs: list[tuple[ExampleScores, ExampleScores]],
    metric: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(effect, low, high) in points: treatment minus control, pooled over pairs."""
    if len({len(c.meteor) for c, _ in pairs}) > 1:
        return stratified_effect(pairs, metric, samples, seed)
    n = len(pairs[0][0].meteor)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    if metric in ("meteor", "rougeL"):
        diff = np.stack([getattr(t, metric) - getattr(c, metric) for c, t in pairs])
        point = float(diff.mean())
        boot = diff[:, idx].mean(axis=(0, 2))
    else:  # corpus BLEU, per pair, averaged over pairs
        stats = [
            (bleu_stats(c.predictions, c.references), bleu_stats(t.predictions, t.references))
            for c, t in pairs
        ]
        point = float(
            np.mean([bleu_from_stats(t.sum(0)) - bleu_from_stats(c.sum(0)) for c, t in stats])
        )
        boot = np.array(
            [
                np.mean(
                    [
                        bleu_from_stats(t[row].sum(0)) - bleu_from_stats(c[row].sum(0))
                        for c, t in stats
                    ]
                )
                for row in idx
            ]
        )
    lo, hi = np.percentile(boot, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return 100 * point, 100 * float(lo), 100 * float(hi)


def _per_pair(c: ExampleScores, t: ExampleScores, metric: str):
    """A function from resampled rows to treatment minus control on them."""
    if metric in ("meteor", "rougeL"):
        diff = getattr(t, metric) - getattr(c, metric)
        return lambda rows: float(diff[rows].mean())
    tb, cb = bleu_stats(t.predictions, t.references), bleu_stats(c.predictions, c.references)
    return lambda rows: bleu_from_stats(tb[rows].sum(0)) - bleu_from_stats(cb[rows].sum(0))


def stratified_effect(
    pairs: list[tuple[ExampleScores, ExampleScores]],
    metric: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """As `paired_effect` for pairs of different sizes (e.g. datasets): each pair resampled
    within itself, the per-pair differences averaged."""
    rng = np.random.default_rng(seed)
    diffs = [_per_pair(c, t, metric) for c, t in pairs]
    idx = [rng.integers(0, len(c.meteor), size=(samples, len(c.meteor))) for c, _ in pairs]
    point = np.mean([d(slice(None)) for d in diffs])
    boot = np.array(
        [np.mean([d(rows[s]) for d, rows in zip(diffs, idx, strict=True)]) for s in range(samples)]
    )
    lo, hi = np.percentile(boot, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return 100 * float(point), 100 * float(lo), 100 * float(hi)


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


def _corpus_bleu_rows(runs: list[ExampleScores], idx: np.ndarray) -> np.ndarray:
    """Corpus BLEU of each run (rows) on each resample of examples (columns)."""
    out = np.empty((len(runs), len(idx)))
    for r, run in enumerate(runs):
        stats = bleu_stats(run.predictions, run.references)
        out[r] = [bleu_from_stats(stats[row].sum(0)) for row in idx]
    return out


def _per_resample(runs: list[ExampleScores], metric: str, idx: np.ndarray) -> np.ndarray:
    """(runs x resamples): each run's metric on each resample of the examples."""
    if metric in ("meteor", "rougeL"):
        scores = np.stack([getattr(r, metric) for r in runs])
        return scores[:, idx].mean(axis=2)
    return _corpus_bleu_rows(runs, idx)


def hierarchical_effect(
    groups: list[tuple[list[ExampleScores], list[ExampleScores]]],
    metric: str,
    samples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(effect, low, high) in points: treated replicates minus control replicates, averaged
    over the (control, treated) groups. Each resample draws each configuration's seeds with
    replacement, then the eval examples (shared by every run, as they are the same items)."""
    n = len(groups[0][0][0].meteor)
    rng = np.random.default_rng(seed)
    idx = np.vstack([np.arange(n), rng.integers(0, n, size=(samples, n))])
    diffs = []
    for control, treated in groups:
        sides = []
        for runs in (control, treated):
            values = _per_resample(runs, metric, idx)  # (seeds, 1 + samples)
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
