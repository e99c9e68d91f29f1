"""Structured-output rows: the seed analysis' recommendation 5 as a fourth data source.

Short answers in a fixed form, each family one small function in a table: a one-word
sentiment label, a label in an `Answer: <label>` line, a date or a name extracted into a
one-line JSON object, a date rewritten as YYYY-MM-DD. Every reference is at most four words,
so the error analysis scores each answer's format (`evaluation.analysis`: a short-form task
answered with an explanation is a format violation).

The columns are not any published dataset's, on purpose: the source is read through a
declared column mapping (`data.sources.structured.columns` in `configs/demo-scale.yaml`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime

from demo.tasks import comment, dated_sentence, review

COLUMNS = ("task", "system", "prompt", "text", "target")

Parts = tuple[str, str, str, str, str]  # (task, system, prompt, text, target)


def _sentiment(rng: random.Random) -> Parts:
    text, label, _ = review(rng)
    system = "Reply with one word: positive or negative."
    return "classify", system, "Classify the sentiment of this review.", text, label


def _hope(rng: random.Random) -> Parts:
    text, label = comment(rng)
    system = "Reply with exactly one line of the form `Answer: <label>`."
    prompt = "Is this comment Hope Speech or Not Hope Speech?"
    return "classify", system, prompt, text, f"Answer: {label}"


def _date_json(rng: random.Random) -> Parts:
    text, date, _ = dated_sentence(rng)
    system = 'Output only JSON of the form {"date": "..."}.'
    target = json.dumps({"date": date})
    return "extract", system, "Extract the date from the sentence.", text, target


def _name_json(rng: random.Random) -> Parts:
    text, _, name = dated_sentence(rng)
    system = 'Output only JSON of the form {"name": "..."}.'
    target = json.dumps({"name": name})
    return "extract", system, "Extract the person's name from the sentence.", text, target


def _iso_date(rng: random.Random) -> Parts:
    text, date, _ = dated_sentence(rng)
    iso = datetime.strptime(date, "%B %d, %Y").strftime("%Y-%m-%d")
    system = "Output only the date, as YYYY-MM-DD."
    return "format", system, "When did it happen? Give the date.", text, iso


FAMILIES: tuple[tuple[Callable[[random.Random], Parts], float], ...] = (
    (_sentiment, 0.25),
    (_hope, 0.2),
    (_date_json, 0.2),
    (_name_json, 0.2),
    (_iso_date, 0.15),
)


def row(rng: random.Random) -> dict[str, str]:
    """One structured-output row, in `COLUMNS` order."""
    make = rng.choices([f for f, _ in FAMILIES], weights=[w for _, w in FAMILIES])[0]
    return dict(zip(COLUMNS, make(rng), strict=True))
