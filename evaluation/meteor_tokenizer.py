"""Which tokenizer METEOR uses here: the one home of that choice, read by the local `meteor`
evaluate module (which scores) and by `evaluation.scoring.scoring_params` (which records it
on every run). Light: NLTK only, so a process that records without scoring, such as a
sweep's driver, never loads `evaluate` (transformers' pipelines, torch) for it."""

from __future__ import annotations

import nltk

WORD_TOKENIZE = "nltk.word_tokenize"
TREEBANK_PRESERVE_LINE = "treebank(preserve_line)"


def meteor_tokenizer_name() -> str:
    """Real `word_tokenize` needs NLTK's punkt_tab data (not to be had here); without it,
    text is tokenized with the Treebank tokenizer on the whole line (`preserve_line`)."""
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
    except LookupError:
        return TREEBANK_PRESERVE_LINE
    return WORD_TOKENIZE
