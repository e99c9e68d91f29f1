"""Scores of saved predictions (`sweeplab score FILE.jsonl [--per-example]`).

Each non-blank line of FILE is `{"prediction": "...", "reference": "..."}`. The result is
`{"n": ..., "meteor": ..., "bleu": ..., "rougeL": ..., "chrf": ...}` (every registry metric)
plus, with `per_example`, `"per_example": [{"meteor": ..., "rougeL": ...}, ...]` in file
order. Bad input raises InputError, one line naming the file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

KEYS = ("prediction", "reference")


class InputError(ValueError):
    """Unusable input; the message names the file (and line)."""


def read_pairs(path: Path) -> tuple[list[str], list[str]]:
    """Predictions and references from a JSONL file, in file order."""
    predictions: list[str] = []
    references: list[str] = []
    try:
        with path.open("rb") as f:
            for lineno, raw in enumerate(f, start=1):
                where = f"{path}:{lineno}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError(f"{where}: not valid UTF-8") from None
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{where}: bad JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise InputError(f"{where}: expected a JSON object")
                for key in KEYS:
                    if key not in record:
                        raise InputError(f"{where}: missing key {key!r}")
                    if not isinstance(record[key], str):
                        raise InputError(f"{where}: {key!r} must be a string")
                predictions.append(record["prediction"])
                references.append(record["reference"])
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not predictions:
        raise InputError(f"{path}: no examples")
    return predictions, references


def score_file(path: Path, per_example: bool = False) -> dict:
    """The file's scores; InputError before `evaluate` is even imported on bad input."""
    predictions, references = read_pairs(path)
    from evaluation.scoring import score

    return score(predictions, references, per_example=per_example)
