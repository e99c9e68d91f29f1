"""chrF, defined exactly as the Hugging Face Hub's `chrf` metric, loadable offline.

    evaluate.load("/abs/path/to/evaluation/metrics/chrf")

Like the Hub script, a thin wrapper over sacrebleu's `CHRF(...).corpus_score`: character
n-grams up to `char_order` (6), word n-grams up to `word_order` (0: chrF; 2: chrF++), recall
weighted by `beta` (2), sacrebleu's own defaults for case, whitespace and smoothing. The
score is sacrebleu's, on its 0..100 scale. References are one string per prediction or a
list each (the same number for every prediction; sacrebleu wants them transposed, which is
done here). This is the canonical chrF that sweeplab's per-example statistics
(evaluation/corpus_chrf.py) are tested against.
"""

import datasets
import evaluate
from sacrebleu import CHRF

_CITATION = """\
@inproceedings{popovic-2015-chrf,
  title = {chr{F}: character n-gram {F}-score for automatic {MT} evaluation},
  author = {Popovi{\\'c}, Maja},
  booktitle = {Proceedings of the Tenth Workshop on Statistical Machine Translation},
  year = {2015},
  pages = {392--395}
}
"""

_DESCRIPTION = """\
chrF (Popović, 2015): the F-beta score of character n-gram precision and recall, averaged
over n-gram orders, pooled over the whole corpus; chrF++ adds word n-grams.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of strings to score.
    references: one reference string per prediction, or a list of reference strings each
        (every prediction with the same number).
    char_order: highest character n-gram order (default 6).
    word_order: highest word n-gram order (default 0; 2 is chrF++).
    beta: weight of recall against precision (default 2).
    lowercase: compare case-insensitively (default False).
    whitespace: count whitespace in character n-grams (default False).
    eps_smoothing: chrF++.py-style epsilon smoothing instead of sacrebleu's effective
        order (default False).
Returns:
    score (0..100), char_order, word_order, beta.
Example:
    >>> chrf = evaluate.load("evaluation/metrics/chrf")
    >>> chrf.compute(predictions=["a cat sat"], references=["a cat sat"])["score"]
    100.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ChrF(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Sequence(
                            datasets.Value("string", id="sequence"), id="references"
                        ),
                    }
                ),
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Value("string", id="sequence"),
                    }
                ),
            ],
            codebase_urls=["https://github.com/mjpost/sacreBLEU#chrf--chrf"],
            reference_urls=["https://aclanthology.org/W15-3049"],
        )

    def _compute(
        self,
        predictions: list[str],
        references: list[str] | list[list[str]],
        char_order: int = CHRF.CHAR_ORDER,
        word_order: int = CHRF.WORD_ORDER,
        beta: int = CHRF.BETA,
        lowercase: bool = False,
        whitespace: bool = False,
        eps_smoothing: bool = False,
    ) -> dict:
        groups = [[ref] if isinstance(ref, str) else list(ref) for ref in references]
        per_prediction = len(groups[0]) if groups else 1
        if any(len(g) != per_prediction for g in groups):
            raise ValueError("chrF needs the same number of references for every prediction")
        # sacrebleu takes one list per reference position, each as long as predictions.
        streams = [[g[i] for g in groups] for i in range(per_prediction)]
        scorer = CHRF(char_order, word_order, beta, lowercase, whitespace, eps_smoothing)
        result = scorer.corpus_score(predictions, streams)
        return {
            "score": result.score,
            "char_order": result.char_order,
            "word_order": result.word_order,
            "beta": result.beta,
        }
