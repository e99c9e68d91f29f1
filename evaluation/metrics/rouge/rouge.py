"""ROUGE, defined exactly as the Hugging Face Hub's `rouge` metric, loadable offline.

    evaluate.load("/abs/path/to/evaluation/metrics/rouge")

A thin wrapper over Google's `rouge_score.RougeScorer`, like the Hub script: default types
rouge1, rouge2, rougeL, rougeLsum; no stemmer unless `use_stemmer=True`; F-measure reported.
rouge_score's default tokenizer lowercases and keeps only [a-z0-9] runs, so text with no ASCII
letters or digits (e.g. Chinese) has no tokens and scores 0.

`use_aggregator=True` (the Hub default) reports the median of rouge_score's bootstrap
resampling of the mean, which is random. `use_aggregator=False` returns one F-measure per
example; sweeplab averages those plainly (evaluation/scoring.py), so its scores are
deterministic.
"""

from collections.abc import Callable

import datasets
import evaluate
from rouge_score import rouge_scorer, scoring

_CITATION = """\
@inproceedings{lin-2004-rouge,
  title = {{ROUGE}: A Package for Automatic Evaluation of Summaries},
  author = {Lin, Chin-Yew},
  booktitle = {Text Summarization Branches Out},
  year = {2004},
  pages = {74--81}
}
"""

_DESCRIPTION = """\
ROUGE (Lin, 2004) via Google Research's rouge_score: n-gram overlap (rouge1, rouge2) and
longest-common-subsequence F-measure (rougeL; rougeLsum splits summaries on newlines).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of strings to score.
    references: one reference string per prediction, or a list of reference strings each
        (then the best-scoring reference counts).
    rouge_types: subset of rouge1, rouge2, ..., rougeL, rougeLsum (default the four above).
    use_aggregator: True: bootstrap median of the mean F-measure (random);
        False: a list with one F-measure per example.
    use_stemmer: apply the Porter stemmer (default False).
    tokenizer: optional callable str -> list[str] replacing rouge_score's tokenizer.
Returns:
    one entry per rouge type: a float, or a list of floats when use_aggregator=False.
Example:
    >>> rouge = evaluate.load("evaluation/metrics/rouge")
    >>> rouge.compute(predictions=["hello there"], references=["hello there"])
    {'rouge1': 1.0, 'rouge2': 1.0, 'rougeL': 1.0, 'rougeLsum': 1.0}
"""

DEFAULT_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Allison-Dix / Hyyro).

    The same integer rouge_score's O(len(a) * len(b)) Python table ends in, computed with one
    big-integer update per token of `a`: a row of the table is the bit vector `v`.
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for j, token in enumerate(b):
        masks[token] = masks.get(token, 0) | (1 << j)
    full = (1 << len(b)) - 1
    v = full
    for token in a:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def _score_lcs(target_tokens: list[str], prediction_tokens: list[str]) -> scoring.Score:
    """rouge_score's `_score_lcs`, same arithmetic, on the bit-parallel LCS length."""
    if not target_tokens or not prediction_tokens:
        return scoring.Score(precision=0, recall=0, fmeasure=0)
    lcs = lcs_length(target_tokens, prediction_tokens)
    precision = lcs / len(prediction_tokens)
    recall = lcs / len(target_tokens)
    return scoring.Score(
        precision=precision, recall=recall, fmeasure=scoring.fmeasure(precision, recall)
    )


class _Scorer(rouge_scorer.RougeScorer):
    """RougeScorer whose rougeL-only scoring (sweeplab's) uses the bit-parallel LCS."""

    def score(self, target, prediction):
        if list(self.rouge_types) != ["rougeL"]:
            return super().score(target, prediction)
        target_tokens = self._tokenizer.tokenize(target)
        prediction_tokens = self._tokenizer.tokenize(prediction)
        return {"rougeL": _score_lcs(target_tokens, prediction_tokens)}


class _CallableTokenizer:
    """Adapts a plain function to the `.tokenize(text)` object rouge_score expects."""

    def __init__(self, func: Callable[[str], list[str]]):
        self.tokenize = func


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Sequence(datasets.Value("string", id="sequence")),
                    }
                ),
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Value("string", id="sequence"),
                    }
                ),
            ],
            codebase_urls=["https://github.com/google-research/google-research/tree/master/rouge"],
            reference_urls=["https://en.wikipedia.org/wiki/ROUGE_(metric)"],
        )

    def _compute(
        self,
        predictions: list[str],
        references: list[str] | list[list[str]],
        rouge_types: list[str] | None = None,
        use_aggregator: bool = True,
        use_stemmer: bool = False,
        tokenizer: Callable[[str], list[str]] | None = None,
    ) -> dict:
        types = list(rouge_types or DEFAULT_TYPES)
        scorer = _Scorer(
            rouge_types=types,
            use_stemmer=use_stemmer,
            tokenizer=_CallableTokenizer(tokenizer) if tokenizer else None,
        )
        per_example = [
            scorer.score(ref, pred) if isinstance(ref, str) else scorer.score_multi(ref, pred)
            for ref, pred in zip(references, predictions, strict=True)
        ]
        if not use_aggregator:
            return {t: [float(s[t].fmeasure) for s in per_example] for t in types}
        aggregator = scoring.BootstrapAggregator()
        for s in per_example:
            aggregator.add_scores(s)
        return {t: float(agg.mid.fmeasure) for t, agg in aggregator.aggregate().items()}
