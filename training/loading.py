"""Read Alpaca, Dolly-15k and OpenOrca from the hub or from local files as published, and
any declared source through its column mapping (`data.sources.<name>.columns`).

Local layouts: the original Alpaca JSON array (`alpaca_data.json`), JSON lines (Dolly's
`databricks-dolly-15k.jsonl`), parquet (the hub exports, OpenOrca's `*.parquet`), or a
directory holding such files. Anything else is a hub id, loaded with `datasets`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.errors import first_line
from training.config import Columns
from training.examples import Example


class DataError(ValueError):
    """A dataset that cannot be used; the message is one line naming file, row or column."""


# Per source: columns that must be present, and how a record becomes an Example.
REQUIRED = {
    "alpaca": ("instruction", "output"),
    "dolly": ("instruction", "response"),
    "openorca": ("question", "response"),
}
SUFFIXES = (".json", ".jsonl", ".parquet")


@dataclass(frozen=True)
class LoadReport:
    source: str
    location: str
    rows: int
    """Records read."""
    skipped: int
    """Malformed records skipped (missing or empty required fields)."""


@dataclass(frozen=True)
class BadLine:
    """A JSON-lines line that does not parse: a malformed record."""

    lineno: int
    why: str


def _text(record: dict, key: str) -> str | None:
    value = record.get(key, "")
    if value is None:
        return ""
    return value if isinstance(value, str) else None


def mapped_example(source: str, columns: Columns, record: dict, row: int) -> Example | None:
    """One record of a declared source, read through its column mapping; None if malformed."""
    if not isinstance(record, dict):
        return None
    names = (columns.instruction, columns.response, columns.system, columns.input)
    values = [_text(record, c) if c else "" for c in (*names, columns.category)]
    if any(v is None for v in values) or not values[0].strip() or not values[1].strip():
        return None
    instruction, response, system, inp, category = values
    rid = record.get(columns.id) if columns.id else None
    rid = str(rid) if rid not in (None, "") else f"{source}-{row}"
    return Example(rid, source, instruction, response, system, inp, category)


def required_columns(source: str, columns: Columns | None = None) -> tuple[str, ...]:
    return columns.required() if columns is not None else REQUIRED[source]


def to_example(
    source: str, record: dict, row: int, columns: Columns | None = None
) -> Example | None:
    """Normalize one record; None when it is malformed."""
    if columns is not None:
        return mapped_example(source, columns, record, row)
    if not isinstance(record, dict):
        return None
    fields = {k: _text(record, k) for k in REQUIRED[source]}
    if any(v is None or not v.strip() for v in fields.values()):
        return None
    if source == "alpaca":
        inp = _text(record, "input")
        if inp is None:
            return None
        return Example(f"alpaca-{row}", "alpaca", fields["instruction"], fields["output"], "", inp)
    if source == "dolly":
        ctx, cat = _text(record, "context"), _text(record, "category")
        if ctx is None or cat is None:
            return None
        return Example(
            f"dolly-{row}", "dolly", fields["instruction"], fields["response"], "", ctx, cat
        )
    system, rid = _text(record, "system_prompt"), record.get("id")
    if system is None:
        return None
    rid = str(rid) if rid not in (None, "") else f"openorca-{row}"
    category = rid.split(".", 1)[0] if "." in rid else ""
    return Example(rid, "openorca", fields["question"], fields["response"], system, "", category)


def is_local(location: str) -> bool:
    """A local file or directory rather than a hub id (`org/name`).

    `models/my-run` is local when a `models` directory exists here, even if `my-run` is
    missing: that is a typo to report, not a hub id to look up.
    """
    return (
        location.startswith(("/", ".", "~"))
        or location.endswith(SUFFIXES)
        or Path(location).exists()
        or location.count("/") != 1
        or Path(location).parent.is_dir()
    )


def _local_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise DataError(f"{path}: no .json, .jsonl or .parquet files in this directory")
        return files
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type (expected .json, .jsonl or .parquet)")
    return [path]


CHUNK = 1 << 20
MAX_RECORD = 64 << 20
"""A JSON array is read a chunk at a time; one record larger than this is an error."""


def _read_json(path: Path) -> Iterator[dict]:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"["):
        yield from _stream_json_array(path)
        return
    yield from _read_jsonl(path)


def _stream_json_array(path: Path) -> Iterator:
    """The records of a JSON array, decoded one at a time from chunks of the file (a
    multi-GB array is never held whole in memory)."""
    decoder = json.JSONDecoder()
    with path.open(encoding="utf-8") as fh:
        buf, pos, eof, started, after_value, trailing_comma = "", 0, False, False, False, False
        while True:
            if not eof and len(buf) - pos < CHUNK:
                more = fh.read(CHUNK)
                eof = not more
                buf, pos = buf[pos:] + more, 0
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos >= len(buf):
                if eof:
                    raise DataError(f"{path}: not valid JSON (the array is not closed)")
                continue
            if not started:
                if buf[pos] != "[":
                    raise DataError(f"{path}: not valid JSON (expected an array)")
                started, pos = True, pos + 1
                continue
            if buf[pos] == "]":
                if trailing_comma:
                    raise DataError(f"{path}: not valid JSON (a ',' before ']')")
                if buf[pos + 1 :].strip() or fh.read(CHUNK).strip():
                    raise DataError(f"{path}: not valid JSON (extra data after the array)")
                return
            if (buf[pos] == ",") != after_value:
                what = "a value" if buf[pos] == "," else "',' or ']'"
                raise DataError(f"{path}: not valid JSON (expected {what})")
            if buf[pos] == ",":
                pos, after_value, trailing_comma = pos + 1, False, True
                continue
            record, pos, grow = _decode_one(decoder, buf, pos, eof, path)
            if grow:
                more = fh.read(max(CHUNK, len(buf)))
                eof = not more
                buf, pos = buf[pos:] + more, 0
                continue
            after_value, trailing_comma = True, False
            yield record


def _decode_one(decoder: json.JSONDecoder, buf: str, pos: int, eof: bool, path: Path):
    """(record, next position, False), or (None, pos, True) when the record runs past the
    buffer and more of the file is needed."""
    try:
        record, end = decoder.raw_decode(buf, pos)
    except RecursionError:
        raise DataError(f"{path}: not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        if eof:
            raise DataError(f"{path}: not valid JSON ({exc})") from None
        if len(buf) - pos > MAX_RECORD:
            raise DataError(f"{path}: not valid JSON ({exc}; or a record over 64 MB)") from None
        return None, pos, True
    if end >= len(buf) and not eof:  # a number may continue in the next chunk
        return None, pos, True
    return record, end, False


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadLine(lineno, exc.msg)
            except RecursionError:
                yield BadLine(lineno, "nested too deeply")


def _read_parquet(path: Path) -> Iterator[dict]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    for batch in table.iter_batches(batch_size=4096):
        yield from batch.to_pylist()


def _read_local(path: Path) -> Iterator[dict]:
    for file in _local_files(path):
        try:
            if file.suffix == ".parquet":
                yield from _read_parquet(file)
            elif file.suffix == ".jsonl":
                yield from _read_jsonl(file)
            else:
                yield from _read_json(file)
        except UnicodeDecodeError:
            raise DataError(f"{file}: not UTF-8 text") from None
        except PermissionError:
            raise DataError(f"{file}: permission denied") from None


def _read_hub(hub_id: str, max_rows: int | None) -> Iterator[dict]:
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, split="train", streaming=max_rows is not None)
        yield from ds
    except Exception as exc:  # offline, unknown id, gated: one line, no traceback
        raise DataError(f"cannot load hub dataset {hub_id!r}: {first_line(exc)}") from None


def read_records(location: str, max_rows: int | None = None) -> Iterator[dict]:
    """Raw records from a local file/directory or a hub id, at most `max_rows`."""
    if is_local(location):
        path = Path(location).expanduser()
        if not path.exists():
            raise DataError(f"{location}: no such file or directory")
        records = _read_local(path)
    else:
        records = _read_hub(location, max_rows)
    for i, record in enumerate(records):
        if max_rows is not None and i >= max_rows:
            return
        yield record


def load_source(
    source: str,
    location: str,
    max_rows: int | None = None,
    skip_malformed: bool = False,
    columns: Columns | None = None,
) -> tuple[list[Example], LoadReport]:
    """All usable examples of one dataset, with how many rows were read and skipped.

    `columns` reads a declared source through its mapping instead of a known layout.
    """
    required = required_columns(source, columns)
    examples: list[Example] = []
    seen_columns: set[str] = set()
    rows = skipped = 0
    for row, record in enumerate(read_records(location, max_rows)):
        rows += 1
        ex = None if isinstance(record, BadLine) else to_example(source, record, row, columns)
        if ex is None and not skip_malformed and isinstance(record, dict):
            absent = [c for c in required if c not in record and c not in seen_columns]
            if absent:  # not a bad row: the file lacks the column
                raise DataError(
                    f"{location}: missing required column(s) {', '.join(absent)} for {source} "
                    f"(expected {', '.join(required)})"
                )
        if isinstance(record, dict):
            seen_columns.update(record)
        if ex is None:
            if not skip_malformed:
                what = (
                    f"line {record.lineno} is not valid JSON ({record.why})"
                    if isinstance(record, BadLine)
                    else f"row {row} is malformed for {source} (needs non-empty text "
                    f"{', '.join(required)})"
                )
                raise DataError(
                    f"{location}: {what}; set data.skip_malformed=true to skip such rows"
                )
            skipped += 1
            continue
        examples.append(ex)
    missing = [c for c in required if c not in seen_columns]
    if rows and missing:
        raise DataError(
            f"{location}: missing required column(s) {', '.join(missing)} for {source} "
            f"(expected {', '.join(required)})"
        )
    if not examples:
        raise DataError(f"{location}: no usable {source} rows ({rows} read, {skipped} malformed)")
    return examples, LoadReport(source, location, rows, skipped)
