"""`sweeplab score FILE.jsonl [--per-example]`: score saved predictions, print one JSON object.

Each non-blank line of FILE is `{"prediction": "...", "reference": "..."}`. Output:
`{"n": ..., "bleu": ..., "rougeL": ..., "meteor": ...}` plus, with --per-example,
`"per_example": [{"rougeL": ..., "meteor": ...}, ...]` in file order. Bad input is reported
as one line on stderr naming the file and line, with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KEYS = ("prediction", "reference")


class InputError(Exception):
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


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweeplab score", description="Score predictions with BLEU, ROUGE-L and METEOR."
    )
    parser.add_argument("file", type=Path, help="JSONL with prediction and reference per line")
    parser.add_argument(
        "--per-example", action="store_true", help="add per-example rougeL and meteor"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        predictions, references = read_pairs(args.file)
    except InputError as exc:
        print(f"sweeplab score: {exc}", file=sys.stderr)
        return 2
    # Imported here so that bad input is reported without paying for loading `evaluate`.
    from evaluation.scoring import score
    from evaluation.wordnet import WordNetMissingError

    try:
        result = score(predictions, references, per_example=args.per_example)
    except WordNetMissingError as exc:
        print(f"sweeplab score: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
