"""Finding the WordNet corpus METEOR needs, and fingerprinting it for run records.

`scripts/setup_wordnet.py` (`make setup`) builds it at `<sys.prefix>/nltk_data/corpora/wordnet`.
"""

from __future__ import annotations

import hashlib
import sys
from functools import lru_cache
from pathlib import Path

import nltk

MISSING_MESSAGE = "WordNet data not found: run `make setup`"
# The trailing slash finds the corpus as a folder and as corpora/wordnet.zip (what
# `make gpu-wheelhouse` carries); without it NLTK looks for the folder only.
WORDNET_RESOURCE = "corpora/wordnet/"
# Files whose content decides METEOR's synonym matches (plus sense keys and lexnames).
FINGERPRINT_FILES = (
    "lexnames",
    "index.sense",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.verb",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
)


class WordNetMissingError(LookupError):
    """WordNet is not on nltk.data.path."""


def ensure_wordnet() -> str:
    """Make sure NLTK can find WordNet and return where it is; raise a one-line error if not."""
    # NLTK searches <sys.prefix>/nltk_data by default; add it in case nltk.data.path was reset.
    venv_data = str(Path(sys.prefix) / "nltk_data")
    if venv_data not in nltk.data.path:
        nltk.data.path.append(venv_data)
    try:
        pointer = nltk.data.find(WORDNET_RESOURCE)
    except LookupError:
        raise WordNetMissingError(MISSING_MESSAGE) from None
    return str(getattr(pointer, "path", pointer))


@lru_cache(maxsize=1)
def wordnet_fingerprint() -> dict[str, str]:
    """{"path": where WordNet is, "sha256": first 12 hex digits over its data files}.

    Hashing reads about 35 MB once per process (~0.1 s); the result is cached.
    """
    path = ensure_wordnet()
    pointer = nltk.data.find(WORDNET_RESOURCE)
    digest = hashlib.sha256()
    for name in FINGERPRINT_FILES:
        digest.update(name.encode() + b"\0")
        with pointer.join(name).open() as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return {"path": path, "sha256": digest.hexdigest()[:12]}


SEQUENTIAL = ("lexnames", "index.adj", "index.adv", "index.noun", "index.verb")
"""Files NLTK's reader reads through once, line by line, as it loads (the `.exc` files too)."""


@lru_cache(maxsize=1)
def english_wordnet():
    """NLTK's WordNet reader, loaded in a third of the time `nltk.corpus.wordnet` takes (0.9 s
    instead of 2.8 s here, paid by every trial worker at its first METEOR), with the same
    English lookups:
    - without the mapping to WordNet 3.0 it builds for the Open Multilingual Wordnet
      (`map30`: both copies of `index.sense`, 400k lines, read and joined), which English
      lookups never use;
    - the files it reads through once as it loads read with Python's own buffered text
      reader instead of NLTK's seekable one (pure Python, a call per character run); the
      data files, which lookups seek in by byte offset, keep NLTK's reader.
    A unit test holds its synsets to `nltk.corpus.wordnet`'s."""
    ensure_wordnet()
    return english_reader(nltk.data.find(WORDNET_RESOURCE))


def english_reader(root):
    """`english_wordnet`'s reader on the corpus at `root` (an NLTK path pointer: a folder,
    or a folder inside a zip)."""
    import io
    import warnings

    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None  # only the multilingual lookups use it

        def open(self, file):
            if file in SEQUENTIAL or file.endswith(".exc"):
                raw = self._root.join(file).open()  # bytes, from a folder or a zip
                return io.TextIOWrapper(raw, encoding=self._encoding)
            return super().open(file)

    with warnings.catch_warnings():  # "multilingual functions are not available": not used
        warnings.simplefilter("ignore", UserWarning)
        return EnglishWordNet(root, None)
