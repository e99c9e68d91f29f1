"""Corpus BLEU from per-example statistics, as the local `bleu` module computes it.

Each example's row holds its clipped n-gram matches and possible matches (orders 1..4) and
its hypothesis and reference lengths (sacrebleu's 13a tokens, one reference). Summed over a
corpus they give the canonical corpus BLEU (no smoothing, brevity penalty); summed over a
bootstrap resample they give that resample's corpus BLEU, never a mean of sentence BLEUs.
"""

from __future__ import annotations

from collections import Counter

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


def bleu_from_stats(totals: np.ndarray) -> np.ndarray | float:
    """Corpus BLEU from summed statistics: (..., 10) -> (...), a float for one row.

    0 when an order has no match or either side has no tokens (as the local module)."""
    t = np.asarray(totals, dtype=np.float64)
    matches, possible = t[..., :MAX_ORDER], t[..., MAX_ORDER : 2 * MAX_ORDER]
    hyp_len, ref_len = t[..., -2], t[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        precisions = np.where(possible > 0, matches / possible, 0.0)
        ok = (precisions.min(axis=-1) > 0) & (hyp_len > 0) & (ref_len > 0)
        geo = np.exp(np.log(np.where(ok[..., None], precisions, 1.0)).sum(axis=-1) / MAX_ORDER)
        ratio = np.where(ok, hyp_len / np.where(ref_len > 0, ref_len, 1.0), 1.0)
        brevity = np.where(ratio > 1.0, 1.0, np.exp(1 - 1.0 / ratio))
    out = np.where(ok, geo * brevity, 0.0)
    return float(out) if out.ndim == 0 else out
