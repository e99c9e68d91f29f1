"""Score predictions against references: corpus BLEU, mean ROUGE-L F, mean METEOR.

All three come from the local `evaluate` modules in evaluation/metrics, which reproduce the
Hugging Face Hub's `bleu`, `rouge` and `meteor` without network access. Each module is loaded
once per process. BLEU is corpus-level (not a mean of sentence BLEUs); ROUGE-L and METEOR are
plain means of per-example scores, which `per_example_scores` returns for paired bootstraps.
"""

from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path

import evaluate
import numpy as np

from evaluation.wordnet import ensure_wordnet, wordnet_fingerprint

METRICS_DIR = Path(__file__).resolve().parent / "metrics"
MODULES = ("bleu", "rouge", "meteor")
"""The local evaluate modules (directory names under metrics/)."""


@cache
def load_metric(name: str) -> evaluate.EvaluationModule:
    """The local evaluate module `name` (bleu, rouge or meteor), loaded once per process."""
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


def per_example_scores(predictions: list[str], references: list[str]) -> dict[str, np.ndarray]:
    """{"rougeL": F-measures, "meteor": scores}, float arrays in input order."""
    _check_inputs(predictions, references)
    rouge = load_metric("rouge").compute(
        predictions=predictions,
        references=references,
        rouge_types=["rougeL"],
        use_aggregator=False,
    )
    meteor = load_metric("meteor").compute(
        predictions=predictions, references=references, use_aggregator=False
    )
    return {
        "rougeL": np.asarray(rouge["rougeL"], dtype=float),
        "meteor": np.asarray(meteor["meteor"], dtype=float),
    }


def score(predictions: list[str], references: list[str], per_example: bool = False) -> dict:
    """{"n", "bleu", "rougeL", "meteor"}, all in [0, 1]; "per_example" rows on request."""
    examples = per_example_scores(predictions, references)
    bleu = load_metric("bleu").compute(predictions=predictions, references=references)
    result: dict = {
        "n": len(predictions),
        "bleu": float(bleu["bleu"]),
        "rougeL": float(np.mean(examples["rougeL"])),
        "meteor": float(np.mean(examples["meteor"])),
    }
    if per_example:
        result["per_example"] = [
            {"rougeL": float(r), "meteor": float(m)}
            for r, m in zip(examples["rougeL"], examples["meteor"], strict=True)
        ]
    return result


def meteor_tokenizer_name() -> str:
    """METEOR's tokenizer: "nltk.word_tokenize", or "treebank(preserve_line)" without punkt_tab."""
    module = sys.modules[type(load_metric("meteor")).__module__]
    return module.meteor_tokenizer_name()


def scoring_params() -> dict[str, str]:
    """What decides the scores beyond the code, for recording as run params."""
    wordnet = wordnet_fingerprint()
    return {
        "bleu_tokenizer": "13a",
        "meteor_tokenizer": meteor_tokenizer_name(),
        "wordnet_path": wordnet["path"],
        "wordnet_sha256": wordnet["sha256"],
        "nltk_version": version("nltk"),
        "sacrebleu_version": version("sacrebleu"),
        "rouge_score_version": version("rouge_score"),
    }
