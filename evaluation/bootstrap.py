"""Deltas against the base model with paired bootstrap intervals over eval examples.

METEOR and ROUGE-L are means of per-example scores; BLEU is corpus-level, so each resample
recomputes corpus BLEU from per-example n-gram statistics (the same numbers the canonical
script sums), never a mean of sentence BLEUs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

MAX_ORDER = 4
_TOK = Tokenizer13a()


def _ngrams(tokens: list[str]) -> Counter:
    counts: Counter = Counter()
    for n in range(1, MAX_ORDER + 1):
        counts.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return counts


def bleu_stats(predictions: list[str], references: list[str]) -> np.ndarray:
    """Per example: clipped matches (4), possible matches (4), hypothesis and reference length."""
    rows = np.zeros((len(predictions), 2 * MAX_ORDER + 2), dtype=np.float64)
    for i, (pred, ref) in enumerate(zip(predictions, references, strict=True)):
        hyp, r = _TOK(pred).split(), _TOK(ref).split()
        for ngram, count in (_ngrams(hyp) & _ngrams(r)).items():
            rows[i, len(ngram) - 1] += count
        for n in range(1, MAX_ORDER + 1):
            rows[i, MAX_ORDER + n - 1] = max(len(hyp) - n + 1, 0)
        rows[i, -2], rows[i, -1] = len(hyp), len(r)
    return rows


def bleu_from_stats(totals: np.ndarray) -> float:
    """Corpus BLEU (no smoothing, canonical brevity penalty) from summed statistics."""
    matches, possible = totals[:MAX_ORDER], totals[MAX_ORDER : 2 * MAX_ORDER]
    hyp_len, ref_len = totals[-2], totals[-1]
    precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible, strict=True)]
    if min(precisions) <= 0 or hyp_len == 0 or ref_len == 0:
        return 0.0
    geo = math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    ratio = hyp_len / ref_len
    return geo * (1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio))


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
    """Deltas of `meteor`, `rougeL` (per-example arrays) and `bleu` (per-example stats).

    The same resampled example indices are used for trial and base (paired).
    """
    n = len(trial["meteor"])
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2
    out: dict[str, Delta] = {}
    for metric in ("meteor", "rougeL"):
        t, b = np.asarray(trial[metric], float), np.asarray(base[metric], float)
        point_t, point_b = float(t.mean()), float(b.mean())
        bt, bb = t[idx].mean(axis=1), b[idx].mean(axis=1)
        out[metric] = _delta(point_t, point_b, bt, bb, lo_q, hi_q)
    ts, bs = np.asarray(trial["bleu_stats"]), np.asarray(base["bleu_stats"])
    point_t, point_b = bleu_from_stats(ts.sum(0)), bleu_from_stats(bs.sum(0))
    bt = np.array([bleu_from_stats(ts[row].sum(0)) for row in idx])
    bb = np.array([bleu_from_stats(bs[row].sum(0)) for row in idx])
    out["bleu"] = _delta(point_t, point_b, bt, bb, lo_q, hi_q)
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
