"""Corpus BLEU, defined exactly as the Hugging Face Hub's `bleu` metric, loadable offline.

    evaluate.load("/abs/path/to/evaluation/metrics/bleu")

Same definition as the Hub script (huggingface/evaluate metrics/bleu, whose math is
tensorflow/nmt's `compute_bleu`): sacrebleu's 13a tokenizer, clipped n-gram counts summed over
the whole corpus (not averaged per sentence), max_order 4, no smoothing, and a brevity penalty
against the *shortest* reference of each example. Output keys are the Hub's.

One deliberate difference from older copies of that script: when the corpus has no
translation tokens (every prediction empty) or no reference tokens, tensorflow/nmt divides by
zero. Here, as in the current Hub script, ratio and brevity penalty are 0.0 and so is BLEU.
"""

import math
from collections import Counter
from collections.abc import Callable

import datasets
import evaluate
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

_CITATION = """\
@inproceedings{papineni2002bleu,
  title = {BLEU: a Method for Automatic Evaluation of Machine Translation},
  author = {Papineni, Kishore and Roukos, Salim and Ward, Todd and Zhu, Wei-Jing},
  booktitle = {Proceedings of ACL},
  year = {2002},
  pages = {311--318}
}
"""

_DESCRIPTION = """\
Corpus-level BLEU (Papineni et al., 2002) with sacrebleu's 13a tokenization: the geometric
mean of clipped 1..max_order-gram precisions, pooled over the corpus, times a brevity penalty.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of strings to score.
    references: one reference string per prediction, or a list of reference strings each.
    tokenizer: callable str -> list[str]; default is sacrebleu's 13a tokenizer.
    max_order: highest n-gram order (default 4).
    smooth: add-one smoothing of every order's precision (Lin & Och, 2004); default False.
Returns:
    bleu, precisions (one per order), brevity_penalty, length_ratio,
    translation_length, reference_length.
Example:
    >>> bleu = evaluate.load("evaluation/metrics/bleu")
    >>> bleu.compute(predictions=["hello there general kenobi"],
    ...              references=[["hello there general kenobi", "hello there!"]])["bleu"]
    1.0
"""

_TOKENIZER_13A = Tokenizer13a()


def tokenize_13a(text: str) -> list[str]:
    """sacrebleu's 13a tokenization as a token list (sacrebleu returns a joined string)."""
    return _TOKENIZER_13A(text).split()


def ngram_counts(tokens: list[str], max_order: int) -> Counter:
    """Counts of every n-gram of order 1..max_order, keyed by token tuples."""
    counts: Counter = Counter()
    for order in range(1, max_order + 1):
        counts.update(tuple(tokens[i : i + order]) for i in range(len(tokens) - order + 1))
    return counts


def corpus_bleu(
    references: list[list[list[str]]],
    translations: list[list[str]],
    max_order: int = 4,
    smooth: bool = False,
) -> dict:
    """BLEU over pre-tokenized text; references[i] holds every reference of example i."""
    matches = [0] * max_order
    possible = [0] * max_order
    reference_length = 0
    translation_length = 0
    for refs, hyp in zip(references, translations, strict=True):
        reference_length += min(len(ref) for ref in refs)
        translation_length += len(hyp)
        # Clip each n-gram's count at its highest count in any single reference.
        max_ref_counts: Counter = Counter()
        for ref in refs:
            max_ref_counts |= ngram_counts(ref, max_order)
        for ngram, count in (ngram_counts(hyp, max_order) & max_ref_counts).items():
            matches[len(ngram) - 1] += count
        for order in range(1, max_order + 1):
            possible[order - 1] += max(len(hyp) - order + 1, 0)

    if smooth:
        precisions = [(m + 1.0) / (p + 1.0) for m, p in zip(matches, possible, strict=True)]
    else:
        precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible, strict=True)]
    if min(precisions) > 0:
        geo_mean = math.exp(sum((1.0 / max_order) * math.log(p) for p in precisions))
    else:
        geo_mean = 0.0

    if reference_length == 0 or translation_length == 0:
        ratio = bp = 0.0  # tensorflow/nmt raises ZeroDivisionError here
    else:
        ratio = translation_length / reference_length
        bp = 1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio)
    return {
        "bleu": geo_mean * bp,
        "precisions": precisions,
        "brevity_penalty": bp,
        "length_ratio": ratio,
        "translation_length": translation_length,
        "reference_length": reference_length,
    }


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Bleu(evaluate.Metric):
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
            codebase_urls=["https://github.com/tensorflow/nmt/blob/master/nmt/scripts/bleu.py"],
            reference_urls=["https://en.wikipedia.org/wiki/BLEU"],
        )

    def _compute(
        self,
        predictions: list[str],
        references: list[str] | list[list[str]],
        tokenizer: Callable[[str], list[str]] = tokenize_13a,
        max_order: int = 4,
        smooth: bool = False,
    ) -> dict:
        ref_groups = [[ref] if isinstance(ref, str) else ref for ref in references]
        return corpus_bleu(
            references=[[tokenizer(ref) for ref in group] for group in ref_groups],
            translations=[tokenizer(pred) for pred in predictions],
            max_order=max_order,
            smooth=smooth,
        )
