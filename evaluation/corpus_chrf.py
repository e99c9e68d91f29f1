"""Corpus chrF from per-example statistics, as sacrebleu (and so the Hub's `chrf`) computes it.

The canonical chrF is the Hub's `chrf` module (shipped in evaluation/metrics/chrf): sacrebleu's
`CHRF().corpus_score` with its defaults, character n-grams of order 1..6, no word n-grams,
beta 2, case kept, whitespace not counted, no epsilon smoothing. sacrebleu sums each
example's (hypothesis, reference, matching) n-gram counts over the corpus and computes one
F-score from the sums. Here those counts are an array's rows, taken from sacrebleu itself,
so a bootstrap resample recomputes corpus chrF from its own sums, never a mean of sentence
chrFs. Scores are in [0, 1] (sacrebleu's score / 100), like the other metrics.
"""

from __future__ import annotations

import numpy as np
from sacrebleu.metrics.chrf import CHRF

CHAR_ORDER, WORD_ORDER, BETA = CHRF.CHAR_ORDER, CHRF.WORD_ORDER, CHRF.BETA
ORDERS = CHAR_ORDER + WORD_ORDER
_CHRF = CHRF()  # the defaults above


def chrf_stats(predictions: list[str], references: list[str]) -> np.ndarray:
    """Per example: (hypothesis, reference, matching) n-gram counts for each order, flat."""
    # sacrebleu's own per-segment statistics (the ones `corpus_score` sums); one reference.
    rows = _CHRF._extract_corpus_statistics(list(predictions), [list(references)])
    return np.asarray(rows, dtype=np.float64).reshape(len(predictions), 3 * ORDERS)


def chrf_from_stats(totals: np.ndarray) -> np.ndarray | float:
    """Corpus chrF from summed statistics: (..., 18) -> (...), a float for one row.

    sacrebleu's effective-order rule: precision and recall are averaged over the orders
    where both sides have n-grams, then combined into F-beta; 0 when no order has any."""
    t = np.asarray(totals, dtype=np.float64)
    hyp, ref, match = t[..., 0::3], t[..., 1::3], t[..., 2::3]
    both = (hyp > 0) & (ref > 0)
    orders = np.maximum(both.sum(axis=-1), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(both, match / hyp, 0.0).sum(axis=-1) / orders
        recall = np.where(both, match / ref, 0.0).sum(axis=-1) / orders
        factor = BETA**2
        f = (1 + factor) * precision * recall / (factor * precision + recall)
    out = np.where(precision + recall > 0, f, 0.0)
    return float(out) if out.ndim == 0 else out
