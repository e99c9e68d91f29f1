"""The ROUGE module's bit-parallel LCS gives exactly rouge_score's table result."""

from __future__ import annotations

import importlib.util
import random

from rouge_score import rouge_scorer

from tests.helpers import ROOT

PATH = ROOT / "evaluation" / "metrics" / "rouge" / "rouge.py"
spec = importlib.util.spec_from_file_location("sweeplab_rouge_module", PATH)
rouge = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rouge)


def test_lcs_and_scores_equal_rouge_score_on_random_token_lists():
    rng = random.Random(0)
    words = "a b c d e f the cat dog sat on mat".split()
    for _ in range(3000):
        x = [rng.choice(words) for _ in range(rng.randint(0, 40))]
        y = [rng.choice(words) for _ in range(rng.randint(0, 40))]
        expected = rouge_scorer._lcs_table(x, y)[-1][-1] if x and y else 0
        assert rouge.lcs_length(x, y) == expected
        assert rouge._score_lcs(x, y) == rouge_scorer._score_lcs(x, y)


def test_other_rouge_types_take_rouge_scores_own_path():
    scorer = rouge._Scorer(["rouge1", "rougeL"])
    plain = rouge_scorer.RougeScorer(["rouge1", "rougeL"])
    assert scorer.score("the cat sat", "a cat sat down") == plain.score(
        "the cat sat", "a cat sat down"
    )
