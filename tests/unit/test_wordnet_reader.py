"""METEOR's WordNet reader (`evaluation.wordnet.english_wordnet`, loaded without NLTK's
multilingual mapping and with a faster line reader) answers every English lookup as
`nltk.corpus.wordnet` does, from the folder and from a zip (what the GPU machine gets)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import nltk
import pytest

from evaluation.wordnet import english_reader, english_wordnet, ensure_wordnet

WORDS = [
    # nouns, verbs, adjectives (satellites too), adverbs, irregular forms (.exc files),
    # multi-word lemmas, and words WordNet lacks
    "dog", "bank", "set", "run", "went", "mice", "children", "better", "best", "quickly",
    "fairly", "happy", "light", "commands", "obeys", "heed", "forever", "military", "guide",
    "ensures", "New_York", "ice_cream", "give_up", "sweeplab", "qwerty", "the", "",
]  # fmt: skip


def _lookups(reader) -> list:
    return [
        [(s.name(), s.pos(), [lemma.name() for lemma in s.lemmas()]) for s in reader.synsets(w)]
        for w in WORDS
    ]


@pytest.fixture(scope="module")
def nltk_lookups():
    ensure_wordnet()
    from nltk.corpus import wordnet

    return _lookups(wordnet)


def test_same_lookups_as_nltks_reader(nltk_lookups):
    got = _lookups(english_wordnet())
    assert got == nltk_lookups
    assert sum(map(len, got)) > 100  # real answers, not two empty lists


def test_same_lookups_from_a_zip(tmp_path, monkeypatch, nltk_lookups):
    folder = Path(ensure_wordnet())
    corpora = tmp_path / "data" / "corpora"
    corpora.mkdir(parents=True)
    with zipfile.ZipFile(corpora / "wordnet.zip", "w") as z:  # stored: quick to write
        for f in folder.iterdir():
            if f.is_file():
                z.write(f, f"wordnet/{f.name}")
    for d in (tmp_path / "data", corpora):
        os.chmod(d, 0o755)  # NLTK reads data folders only their owner can write
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "data")])
    root = nltk.data.find("corpora/wordnet/")
    assert "wordnet.zip" in str(getattr(root, "path", root))
    assert _lookups(english_reader(root)) == nltk_lookups
