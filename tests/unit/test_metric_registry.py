"""The metric registry: every entry's bootstrap resample is its corpus score on the drawn
examples, and a sweep's reported metrics are the ones all its evaluated runs logged."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.metric_registry import METRICS, logged, mean_rows, metric, metric_keys, names

PREDS = ["the cat sat on the mat", "a dog ran far away", "", "hello there friend", "日本語です"]
REFS = ["the cat sat on a mat", "the dog ran away", "something", "hello friend", "日本語"]


def _stats(name: str) -> np.ndarray:
    m = metric(name)
    if m.per_example:  # no WordNet or rouge here: any per-example scores will do
        return mean_rows(np.linspace(0.1, 0.9, len(PREDS)))
    return m.statistics(PREDS, REFS)


@pytest.mark.parametrize("name", names())
def test_a_resample_is_the_corpus_score_of_the_examples_it_draws(name):
    m, stats = metric(name), _stats(name)
    idx = np.random.default_rng(3).integers(0, len(PREDS), size=(50, len(PREDS)))
    boot = m.resampled(stats, idx)
    assert boot.shape == (50,)
    assert boot == pytest.approx([m.corpus(stats[row]) for row in idx], abs=1e-12)
    assert 0.0 <= m.corpus(stats) <= 1.0 and m.higher_is_better


def test_names_labels_and_keys_come_from_one_table():
    assert names() == ("meteor", "bleu", "rougeL", "chrf")
    assert [m.label for m in METRICS] == ["METEOR", "BLEU", "ROUGE-L", "chrF"]
    assert metric_keys(["a"]) == ["a/meteor", "a/bleu", "a/rougeL", "a/chrf"]
    with pytest.raises(ValueError, match="unknown metric 'ter'"):
        metric("ter")


def test_reported_metrics_are_those_every_evaluated_run_logged():
    old = {f"{d}/{m}": 0.5 for d in ("x", "y") for m in ("meteor", "bleu", "rougeL")}
    new = {**old, "x/chrf": 0.4, "y/chrf": 0.4}
    unevaluated = {"train/loss": 1.0}  # a run that never reported a metric does not count
    assert names_of(logged([new, new, unevaluated], ("x", "y"))) == names()
    assert names_of(logged([old, new], ("x", "y"))) == ("meteor", "bleu", "rougeL")
    half = {k: v for k, v in new.items() if k != "y/chrf"}  # chrF on one set only
    assert names_of(logged([half], ("x", "y"))) == ("meteor", "bleu", "rougeL")
    assert names_of(logged([half], ("x",))) == names()


def names_of(metrics) -> tuple[str, ...]:
    return tuple(m.name for m in metrics)
