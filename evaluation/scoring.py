"""Score predictions against references with every metric of the registry.

METEOR and ROUGE-L come from the local `evaluate` modules in evaluation/metrics, which
reproduce the Hugging Face Hub's `meteor` and `rouge` without network access (each loaded once
per process); corpus BLEU and chrF come from per-example n-gram statistics that reproduce the
local `bleu` and `chrf` modules (tests hold them to it). Every metric is a corpus score from
summed per-example statistics (evaluation/metric_registry.py), which `statistics` returns for
paired bootstraps: BLEU and chrF are corpus-level, not means of sentence scores.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from evaluation.corpus_chrf import BETA, CHAR_ORDER, WORD_ORDER
from evaluation.meteor_tokenizer import meteor_tokenizer_name
from evaluation.metric_registry import METRICS
from evaluation.wordnet import ensure_wordnet, wordnet_fingerprint

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
MODULES = ("bleu", "rouge", "meteor", "chrf")
"""The local evaluate modules (directory names under metrics/)."""


@cache
def load_metric(name: str):
    """The local evaluate module `name` (one of MODULES), loaded once per process. (`evaluate`
    is imported here, not at the top: it imports transformers' pipelines, 2 s that a process
    which never scores, such as a sweep's driver with its base scores cached, need not pay.)"""
    import evaluate

    if name not in MODULES:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(MODULES)}")
    if name == "meteor":
        ensure_wordnet()
    # keep_in_memory: no Arrow cache files, so concurrent trials never share a lock file.
    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True)


def _check_inputs(predictions: list[str], references: list[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references differ in length: {len(predictions)} != {len(references)}"
        )
    if not predictions:
        raise ValueError("nothing to score: predictions and references are empty")
    for label, texts in (("prediction", predictions), ("reference", references)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ValueError(f"{label} {i} is {type(text).__name__}, not str")


def meteor_scores(predictions: list[str], references: list[str]) -> np.ndarray:
    """METEOR per example, in input order."""
    meteor = load_metric("meteor").compute(
        predictions=predictions, references=references, use_aggregator=False
    )
    return np.asarray(meteor["meteor"], dtype=float)


def rouge_l_scores(predictions: list[str], references: list[str]) -> np.ndarray:
    """ROUGE-L F-measure per example, in input order."""
    rouge = load_metric("rouge").compute(
        predictions=predictions,
        references=references,
        rouge_types=["rougeL"],
        use_aggregator=False,
    )
    return np.asarray(rouge["rougeL"], dtype=float)


def statistics(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """Every metric's per-example statistics, by metric name (rows in input order)."""
    _check_inputs(predictions, references)
    return {m.name: m.statistics(predictions, references) for m in METRICS}


def per_example_scores(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """The per-example metrics' scores ({"meteor": ..., "rougeL": ...}), in input order."""
    _check_inputs(predictions, references)
    return {m.name: m.statistics(predictions, references)[:, 0] for m in METRICS if m.per_example}


def scores_of(stats: dict[str, np.ndarray], per_example: bool = False) -> dict:
    """{"n", one corpus score per metric}; "per_example" rows of the per-example metrics."""
    n = len(next(iter(stats.values())))
    result: dict = {"n": n} | {m.name: m.corpus(stats[m.name]) for m in METRICS}
    if per_example:
        columns = [m.name for m in METRICS if m.per_example]
        result["per_example"] = [
            {name: float(stats[name][i, 0]) for name in columns} for i in range(n)
        ]
    return result


def score(predictions: list[str], references: list[str], per_example: bool = False) -> dict:
    """{"n", and every metric by name}, all in [0, 1]; "per_example" rows on request."""
    return scores_of(statistics(predictions, references), per_example)


def scoring_params() -> dict[str, str]:
    """What decides the scores beyond the code, for recording as run params."""
    wordnet = wordnet_fingerprint()
    return {
        "bleu_tokenizer": "13a",
        "chrf_orders": f"char={CHAR_ORDER},word={WORD_ORDER},beta={BETA}",
        "meteor_tokenizer": meteor_tokenizer_name(),
        "wordnet_path": wordnet["path"],
        "wordnet_sha256": wordnet["sha256"],
        "nltk_version": version("nltk"),
        "sacrebleu_version": version("sacrebleu"),
        "rouge_score_version": version("rouge_score"),
    }
