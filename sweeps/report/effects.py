"""How much a search dimension moved each metric, with a 95% interval.

Two estimators, in order of preference:
- paired: trials that differ only in this dimension, compared at their largest common step
  on the same eval examples; a bootstrap over examples (the same resampled indices for both
  trials of every pair) gives the interval. BLEU is recomputed at corpus level per resample.
- regression: ordinary least squares over all finished trials of the metric on one
  treatment indicator per dimension (plus an intercept), with a t interval from the
  residuals; it is confounded by anything the indicators miss (a trial stopped early, say).
Effects are in points (x100 of a 0..1 metric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.bootstrap import bleu_from_stats, bleu_stats

LEVEL = 0.95


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
        if self.low is None or self.high is None:
            return "inconclusive"
        if self.low > 0:
            return "supported"
        if self.high < 0:
            return "not supported"
        return "inconclusive"

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
