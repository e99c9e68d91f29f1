"""The metrics every eval set is scored with: one entry each, which scoring, the paired
bootstrap, the base deltas and the report's tables and plots all loop over.

A metric is its per-example sufficient statistics (one row of numbers per example) and how
a corpus score follows from their sum. A mean of per-example scores (METEOR, ROUGE-L) has
the row (score, 1); corpus BLEU and chrF have n-gram counts. A bootstrap resample sums the
rows it draws, so corpus metrics are recomputed per resample, never averaged per sentence.
Adding a metric is one module (its statistics and aggregation) and one entry in METRICS.

MLflow metric names are `dataset/metric` (`openorca/meteor`), so the UI groups them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

Statistics = Callable[[list[str], list[str]], np.ndarray]


@dataclass(frozen=True)
class Metric:
    name: str
    """The key after the dataset in MLflow (`openorca/<name>`) and the per-example column."""
    label: str
    """How a report prints it."""
    higher_is_better: bool
    statistics: Statistics
    """(predictions, references) -> per-example statistics, one row per example."""
    aggregate: Callable[[np.ndarray], np.ndarray | float]
    """Statistics summed over examples, (..., k) -> the corpus score (...), in [0, 1]."""
    per_example: bool = False
    """A mean of per-example scores: rows are (score, 1) and the score is a table column."""

    def corpus(self, stats: np.ndarray) -> float:
        """The corpus score of these examples' statistics."""
        return float(self.aggregate(np.asarray(stats, dtype=np.float64).sum(axis=0)))

    def resampled(self, stats: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The corpus score on each resample; `idx` is (resamples, n) example indices."""
        return np.asarray(self.aggregate(draw_counts(idx, len(stats)) @ stats), dtype=np.float64)


def draw_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(resamples, n): how often each example is drawn in each resample."""
    idx = np.asarray(idx)
    flat = (idx + n * np.arange(len(idx))[:, None]).ravel()
    return np.bincount(flat, minlength=len(idx) * n).reshape(len(idx), n).astype(np.float64)


def mean_rows(scores: np.ndarray) -> np.ndarray:
    """A per-example metric's statistics: (score, 1) per example, so sums give the mean."""
    scores = np.asarray(scores, dtype=np.float64)
    return np.column_stack([scores, np.ones_like(scores)])


def _mean(totals: np.ndarray) -> np.ndarray | float:
    t = np.asarray(totals, dtype=np.float64)
    out = np.where(t[..., 1] > 0, t[..., 0] / np.where(t[..., 1] > 0, t[..., 1], 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def _meteor(predictions: list[str], references: list[str]) -> np.ndarray:
    from evaluation.scoring import meteor_scores  # evaluate and WordNet only when scoring

    return mean_rows(meteor_scores(predictions, references))


def _rouge_l(predictions: list[str], references: list[str]) -> np.ndarray:
    from evaluation.scoring import rouge_l_scores

    return mean_rows(rouge_l_scores(predictions, references))


def _bleu_stats(predictions: list[str], references: list[str]) -> np.ndarray:
    from evaluation.corpus_bleu import bleu_stats  # sacrebleu only when scoring: a config
    # names metrics (`sweeplab validate`) without it

    return bleu_stats(predictions, references)


def _bleu(totals: np.ndarray) -> np.ndarray | float:
    from evaluation.corpus_bleu import bleu_from_stats

    return bleu_from_stats(totals)


def _chrf_stats(predictions: list[str], references: list[str]) -> np.ndarray:
    from evaluation.corpus_chrf import chrf_stats

    return chrf_stats(predictions, references)


def _chrf(totals: np.ndarray) -> np.ndarray | float:
    from evaluation.corpus_chrf import chrf_from_stats

    return chrf_from_stats(totals)


METEOR = Metric("meteor", "METEOR", True, _meteor, _mean, per_example=True)
METRICS: tuple[Metric, ...] = (
    METEOR,
    Metric("bleu", "BLEU", True, _bleu_stats, _bleu),
    Metric("rougeL", "ROUGE-L", True, _rouge_l, _mean, per_example=True),
    Metric("chrf", "chrF", True, _chrf_stats, _chrf),
)
"""What each eval set reports, in report order."""
HEADLINE = METEOR
"""The metric progress tables, the UI's default view and a verdict's first lines lead with."""


def metric(name: str) -> Metric:
    """The registry entry named `name`."""
    for m in METRICS:
        if m.name == name:
            return m
    raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(names())}")


def names() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS)


def metric_keys(datasets: Iterable[str], metrics: Iterable[Metric] = METRICS) -> list[str]:
    """`dataset/metric` for every dataset and metric, datasets first."""
    metrics = tuple(metrics)
    return [f"{d}/{m.name}" for d in datasets for m in metrics]


def logged(runs: Iterable[Mapping[str, float]], datasets: Iterable[str]) -> tuple[Metric, ...]:
    """The metrics every evaluated run logged on every dataset (a run that logged none is
    not evaluated). A sweep logged before a metric existed reports without it."""
    datasets = tuple(datasets)
    evaluated = [r for r in runs if any(k in r for k in metric_keys(datasets))]
    return tuple(
        m for m in METRICS if all(f"{d}/{m.name}" in r for r in evaluated for d in datasets)
    )
