"""METEOR, defined exactly as the Hugging Face Hub's `meteor` metric, loadable offline.

    evaluate.load("/abs/path/to/evaluation/metrics/meteor")

Like the Hub script: each pair is tokenized like `nltk.word_tokenize`, scored with NLTK's
`single_meteor_score` (exact, Porter-stem and WordNet-synonym matching; alpha 0.9, beta 3,
gamma 0.5; `meteor_score`, the best reference, when there are several) and the scores are
averaged over examples.

Differences from the Hub script:
- The Hub script downloads wordnet, punkt and omw-1.4 when loaded. This one downloads
  nothing; it fails at load time if WordNet is missing (`make setup` builds it). omw-1.4 is
  only for non-English lookups.
- `word_tokenize` needs the `punkt_tab` sentence model. Without it, text is tokenized with
  `word_tokenize(text, preserve_line=True)`: the same Treebank word tokenizer minus sentence
  splitting, which gives identical tokens for single-sentence text (multi-sentence text can
  differ at sentence-final periods). `meteor_tokenizer_name()` says which one is in use.
- `use_aggregator=False` (an addition; default True as on the Hub) returns the per-example
  scores instead of their mean.
- Tokens, Porter stems and WordNet synset lookups are memoized across calls (same values,
  less time), and WordNet is loaded without NLTK's multilingual mapping
  (`evaluation.wordnet.english_wordnet`: same English lookups, a third of the load time).
"""

from functools import lru_cache

import datasets
import evaluate
import nltk
import numpy as np
from nltk.stem import PorterStemmer
from nltk.translate import meteor_score

from evaluation.meteor_tokenizer import TREEBANK_PRESERVE_LINE, meteor_tokenizer_name

_CITATION = """\
@inproceedings{banarjee2005,
  title = {{METEOR}: An Automatic Metric for {MT} Evaluation with Improved Correlation with
           Human Judgments},
  author = {Banerjee, Satanjeev and Lavie, Alon},
  booktitle = {Proceedings of the ACL Workshop on Intrinsic and Extrinsic Evaluation
               Measures for Machine Translation and/or Summarization},
  year = {2005},
  pages = {65--72}
}
"""

_DESCRIPTION = """\
METEOR (Banerjee & Lavie, 2005) as implemented by NLTK: a recall-weighted harmonic mean of
unigram precision and recall over exact, stemmed and WordNet-synonym matches, discounted by
a fragmentation penalty.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of strings to score.
    references: one reference string per prediction, or a list of reference strings each.
    alpha: relative weight of precision and recall (default 0.9).
    beta: shape of the fragmentation penalty (default 3).
    gamma: weight of the fragmentation penalty (default 0.5).
    use_aggregator: True: the mean over examples; False: a list of per-example scores.
Returns:
    meteor: a float, or a list of floats when use_aggregator=False.
Example:
    >>> meteor = evaluate.load("evaluation/metrics/meteor")
    >>> round(meteor.compute(
    ...     predictions=["It is a guide to action which ensures that the military always "
    ...                  "obeys the commands of the party"],
    ...     references=["It is a guide to action that ensures that the military will "
    ...                 "forever heed Party commands"])["meteor"], 4)
    0.6944
"""

_MISSING_WORDNET = "WordNet data not found: run `make setup`"


@lru_cache(maxsize=1 << 14)
def _tokenize(text: str, preserve_line: bool) -> tuple[str, ...]:
    # Remembered because the same references come back at every evaluation of a run.
    return tuple(nltk.word_tokenize(text, preserve_line=preserve_line))


def _tokenizer():
    preserve_line = meteor_tokenizer_name() == TREEBANK_PRESERVE_LINE
    return lambda text: _tokenize(text, preserve_line)


class _MemoStemmer:
    """NLTK's default PorterStemmer for METEOR, with each word's stem remembered."""

    def __init__(self):
        self.stem = lru_cache(maxsize=1 << 17)(PorterStemmer().stem)


class _Name:
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def name(self) -> str:
        return self._name


class _LemmaNames:
    """Stands in for a word's synsets: their lemmas' distinct names, in one "synset"."""

    __slots__ = ("_lemmas",)

    def __init__(self, names: list[str]):
        self._lemmas = [_Name(n) for n in names]

    def lemmas(self) -> list[_Name]:
        return self._lemmas


class _MemoWordNet:
    """The one thing METEOR asks of WordNet, `synsets(word)`, remembered per word.

    NLTK's matcher only collects `lemma.name()` over `synsets(word)` into a set, so each
    word's distinct lemma names are computed once and handed back as a single stand-in
    synset: the same set every time, without walking every synset's lemmas on every call.
    """

    def __init__(self):
        from evaluation.wordnet import english_wordnet  # NLTK's reader, loaded faster

        self._wordnet = english_wordnet()

    @lru_cache(maxsize=1 << 17)  # noqa: B019  (one instance per process, see _matchers)
    def synsets(self, word: str) -> list[_LemmaNames]:
        names = dict.fromkeys(
            lemma.name() for synset in self._wordnet.synsets(word) for lemma in synset.lemmas()
        )
        return [_LemmaNames(list(names))] if names else []


@lru_cache(maxsize=1)
def _matchers() -> dict:
    return {"stemmer": _MemoStemmer(), "wordnet": _MemoWordNet()}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Meteor(evaluate.Metric):
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
            codebase_urls=[
                "https://github.com/nltk/nltk/blob/develop/nltk/translate/meteor_score.py"
            ],
            reference_urls=["https://en.wikipedia.org/wiki/METEOR"],
        )

    def _download_and_prepare(self, dl_manager):
        # Nothing is downloaded: the corpus must already be on nltk.data.path.
        try:
            nltk.data.find("corpora/wordnet/")  # a folder or a .zip
        except LookupError:
            raise LookupError(_MISSING_WORDNET) from None

    def _compute(
        self,
        predictions: list[str],
        references: list[str] | list[list[str]],
        alpha: float = 0.9,
        beta: float = 3,
        gamma: float = 0.5,
        use_aggregator: bool = True,
    ) -> dict:
        tokenize = _tokenizer()
        params = {"alpha": alpha, "beta": beta, "gamma": gamma, **_matchers()}
        scores = []
        for ref, pred in zip(references, predictions, strict=True):
            hyp = tokenize(pred)
            if isinstance(ref, str):
                score = meteor_score.single_meteor_score(tokenize(ref), hyp, **params)
            else:
                score = meteor_score.meteor_score([tokenize(r) for r in ref], hyp, **params)
            scores.append(float(score))
        if not use_aggregator:
            return {"meteor": scores}
        return {"meteor": float(np.mean(scores))}
