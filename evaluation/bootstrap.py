"""Deltas against the base model with paired bootstrap intervals over eval examples.

Every metric of the registry is a corpus score from summed per-example statistics, so each
resample sums the statistics of the examples it draws: a mean for METEOR and ROUGE-L, corpus
BLEU and chrF recomputed from n-gram counts (the same numbers the canonical scripts sum),
never a mean of sentence scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evaluation.metric_registry import METRICS


@dataclass(frozen=True)
class Delta:
    base: float
    value: float
    pct: float | None
    """Relative change in percent; None when the base is 0."""
    ci_low: float | None
    ci_high: float | None


def _pct(value: float, base: float) -> float | None:
    return None if base == 0 else 100.0 * (value - base) / base


def paired_bootstrap(
    trial: dict[str, np.ndarray],
    base: dict[str, np.ndarray],
    samples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Delta]:
    """Each metric's delta, from per-example statistics by metric name (`statistics`).

    The same resampled example indices are used for trial and base (paired).
    """
    n = len(trial[METRICS[0].name])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    out: dict[str, Delta] = {}
    for m in METRICS:
        t, b = np.asarray(trial[m.name], float), np.asarray(base[m.name], float)
        bt, bb = m.resampled(t, idx), m.resampled(b, idx)
        out[m.name] = _delta(m.corpus(t), m.corpus(b), bt, bb, lo_q, hi_q)
    return out


def _delta(point_t, point_b, bt, bb, lo_q, hi_q) -> Delta:
    pct = _pct(point_t, point_b)
    valid = bb != 0
    if pct is None or not valid.any():
        return Delta(point_b, point_t, pct, None, None)
    rel = 100.0 * (bt[valid] - bb[valid]) / bb[valid]
    return Delta(
        point_b, point_t, pct, float(np.percentile(rel, lo_q)), float(np.percentile(rel, hi_q))
    )
