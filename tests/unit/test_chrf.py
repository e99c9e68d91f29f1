"""chrF from per-example statistics against the canonical chrF: the Hub's `chrf` module as
shipped (sacrebleu's `CHRF().corpus_score`), to 1e-6 on sacrebleu's 0..100 scale.

The pairs are hostile (unicode, empty and whitespace-only predictions, punctuation, long
texts) and random: one batch from a fixed seed, one from a seed drawn at each run (named
in the failure message, `SWEEPLAB_PARITY_SEED` replays it), so the check is on pairs nobody
tuned against.
"""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from sacrebleu.metrics.chrf import CHRF

from evaluation import scoring
from evaluation.corpus_chrf import chrf_from_stats, chrf_stats
from evaluation.metric_registry import metric

TOL = 1e-6
ALPHABETS = [
    "abcdefghij klmnop",
    "the cat sat on a mat . , ! ?",
    "éèêëàâäôöûüçñ ÉÀ",
    "日本語の文章です 中文句子",
    "😀🙈🚀👍🏽 ✓ ★",
    "\u0301\u0308e\u0301a\u200b\u00a0",  # combining marks, zero-width and no-break spaces
    "مرحبا بالعالم שלום",
    " \t\n\r",
]


def _text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return ""
    if kind < 0.18:
        return rng.choice([" ", "\t", "\n", "   \n\t "])
    alphabet = "".join(rng.sample(ALPHABETS, rng.randint(1, 3)))
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, rng.choice([8, 40, 300]))))


def _pair(rng: random.Random) -> tuple[str, str]:
    ref = _text(rng)
    roll = rng.random()
    if roll < 0.25 and ref:  # a near copy: shared n-grams at every order
        cut = rng.randint(0, len(ref))
        return ref[:cut] + _text(rng)[:5] + ref[cut:], ref
    if roll < 0.3:
        return ref, ref
    return _text(rng), ref


def _corpora(seed: int, count: int = 60) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        pairs = [_pair(rng) for _ in range(rng.choice([1, 2, 5, 17, 64]))]
        out.append(([p for p, _ in pairs], [r for _, r in pairs]))
    return out


def _worst(corpora) -> float:
    module = scoring.load_metric("chrf")
    chrf = metric("chrf")
    worst = 0.0
    for preds, refs in corpora:
        canonical = module.compute(predictions=preds, references=refs)["score"]
        ours = 100 * chrf.corpus(chrf.statistics(preds, refs))
        worst = max(worst, abs(ours - canonical))
    return worst


def test_fixed_hostile_corpora_match_the_canonical_chrf():
    assert _worst(_corpora(20261204)) < TOL


def test_unseen_random_corpora_match_the_canonical_chrf():
    seed = int(os.environ.get("SWEEPLAB_PARITY_SEED", random.SystemRandom().randrange(2**32)))
    worst = _worst(_corpora(seed))
    assert worst < TOL, f"chrF differs by {worst} points (SWEEPLAB_PARITY_SEED={seed})"


@pytest.mark.parametrize(
    ("preds", "refs"),
    [
        ([""], ["a reference"]),  # an empty prediction
        (["a prediction"], [""]),  # an empty reference
        ([""], [""]),
        ([" \t\n"], ["   "]),  # whitespace only: no character n-grams at all
        (["ab"], ["ab"]),  # shorter than most orders
        (["日本語"], ["日本"]),
        (["x" * 2000], ["x" * 1999 + "y"]),
    ],
)
def test_edge_cases_match_the_canonical_chrf(preds, refs):
    canonical = scoring.load_metric("chrf").compute(predictions=preds, references=refs)["score"]
    ours = 100 * metric("chrf").corpus(chrf_stats(preds, refs))
    assert ours == pytest.approx(canonical, abs=TOL)


def test_the_shipped_module_is_sacrebleus_chrf_with_its_defaults():
    preds, refs = _corpora(7, count=1)[0]
    out = scoring.load_metric("chrf").compute(predictions=preds, references=refs)
    assert (out["char_order"], out["word_order"], out["beta"]) == (6, 0, 2)
    assert out["score"] == CHRF().corpus_score(preds, [refs]).score


def test_a_resample_is_the_canonical_chrf_of_the_examples_it_draws():
    # Given per-example statistics, when examples are drawn with replacement,
    # then the resampled score is sacrebleu's corpus chrF of exactly those examples.
    preds, refs = _corpora(11, count=1)[0]
    preds, refs = (preds * 8)[:40], (refs * 8)[:40]
    stats = chrf_stats(preds, refs)
    idx = np.random.default_rng(0).integers(0, len(preds), size=(25, len(preds)))
    boot = metric("chrf").resampled(stats, idx)
    for row, value in zip(idx, boot, strict=True):
        drawn = CHRF().corpus_score([preds[i] for i in row], [[refs[i] for i in row]]).score
        assert 100 * value == pytest.approx(drawn, abs=TOL)


def test_scores_are_zero_to_one_and_vectorized():
    stats = chrf_stats(["the cat", "a dog", ""], ["the cat", "the dog", "x"])
    assert 0 < chrf_from_stats(stats.sum(0)) <= 1
    many = chrf_from_stats(np.stack([stats.sum(0), stats[0], np.zeros(18)]))
    assert many.shape == (3,) and many[1] == pytest.approx(1.0) and many[2] == 0.0
