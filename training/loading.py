"""Read Alpaca, Dolly-15k and OpenOrca from the hub or from local files as published, and
any declared source through its column mapping (`data.sources.<name>.columns`).

Local layouts: the original Alpaca JSON array (`alpaca_data.json`), JSON lines (Dolly's
`databricks-dolly-15k.jsonl`), parquet (the hub exports, OpenOrca's `*.parquet`), or a
directory holding such files. Anything else is a hub id, loaded with `datasets`.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.errors import first_line
from training.config import Columns
from training.examples import Example
from training.json_array import JsonArrayError, stream_array


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
    available: int = 0
    """Rows the sample was drawn from (the file's or split's rows; `rows` when not sampled)."""


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


def local_files(path: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        if names:
            files = [p for p in files if p.name in names]
            if not files:
                raise DataError(f"{path}: no {', '.join(names)} in this directory")
        if not files:
            raise DataError(f"{path}: no .json, .jsonl or .parquet files in this directory")
        return files
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type (expected .json, .jsonl or .parquet)")
    return [path]


def sample_indices(total: int, k: int | None, seed: int) -> list[int] | None:
    """Sorted row numbers of a seeded uniform sample of `k` of `total` rows; None: all rows.

    The same (total, k, seed) picks the same rows whether they come from a local file or the
    hub, so a sweep on a downloaded copy of a dataset sees the rows the hub run saw."""
    if k is None or k >= total:
        return None
    return sorted(random.Random(f"sample:{seed}").sample(range(total), k))


Rows = Iterator[tuple[int, "dict | BadLine"]]
"""(row number within the file or split, record) pairs."""


class _LocalFile:
    """One published file, counted (when a sample needs the total) and read row by row;
    only the selected rows are parsed (JSON lines) or converted to Python (parquet)."""

    def __init__(self, path: Path):
        self.path = path

    def _is_array(self) -> bool:
        """A JSON array (Alpaca's layout), not JSON lines under a .json name."""
        if self.path.suffix != ".json":
            return False
        with self.path.open("rb") as fh:
            return fh.read(4096).lstrip().startswith(b"[")

    def _array(self) -> Iterator:
        """The array's records, streamed (never read whole)."""
        try:
            yield from stream_array(self.path)
        except JsonArrayError as exc:
            raise DataError(f"{self.path}: {exc}") from None

    def _parquet(self):
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(self.path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DataError(f"{self.path}: not a readable parquet file ({exc})") from None

    def count(self) -> int:
        if self.path.suffix == ".parquet":
            return self._parquet().metadata.num_rows
        if self._is_array():
            return sum(1 for _ in self._array())
        with self.path.open("rb") as fh:
            return sum(1 for line in fh if line.strip())

    def rows(self, wanted: list[int] | None) -> Rows:
        """Rows whose number is in `wanted` (sorted; None: every row)."""
        if self.path.suffix == ".parquet":
            yield from self._parquet_rows(wanted)
            return
        if self._is_array():
            keep = set(wanted) if wanted is not None else None
            for i, record in enumerate(self._array()):
                if keep is None or i in keep:
                    yield i, record
            return
        keep = set(wanted) if wanted is not None else None
        with self.path.open(encoding="utf-8") as fh:
            number = -1
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                number += 1
                if keep is not None and number not in keep:
                    continue
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, BadLine(lineno, exc.msg)
                except RecursionError:
                    yield number, BadLine(lineno, "nested too deeply")

    def _parquet_rows(self, wanted: list[int] | None) -> Rows:
        table = self._parquet()
        if wanted is None:
            number = 0
            for batch in table.iter_batches(batch_size=4096):
                for record in batch.to_pylist():
                    yield number, record
                    number += 1
            return
        offset, at = 0, 0
        for group in range(table.num_row_groups):
            size = table.metadata.row_group(group).num_rows
            end = at
            while end < len(wanted) and wanted[end] < offset + size:
                end += 1
            if end > at:
                local = [i - offset for i in wanted[at:end]]
                picked = table.read_row_group(group).take(local).to_pylist()
                yield from zip(wanted[at:end], picked, strict=True)
            offset, at = offset + size, end


def _counted(file: _LocalFile) -> int:
    try:
        return file.count()
    except PermissionError:
        raise DataError(f"{file.path}: permission denied") from None


def _read_local(path: Path, max_rows: int | None, seed: int, names) -> tuple[Rows, int | None]:
    files = [_LocalFile(f) for f in local_files(path, names)]
    counts = [_counted(f) for f in files] if max_rows is not None else None
    total = sum(counts) if counts is not None else None
    wanted = sample_indices(total, max_rows, seed) if total is not None else None

    def rows() -> Rows:
        offset = 0
        for i, file in enumerate(files):
            local = None
            if wanted is not None:
                local = [w - offset for w in wanted if offset <= w < offset + counts[i]]
            try:
                last = -1
                for number, record in file.rows(local):
                    last = number
                    yield offset + number, record
            except UnicodeDecodeError:
                raise DataError(f"{file.path}: not UTF-8 text") from None
            except PermissionError:
                raise DataError(f"{file.path}: permission denied") from None
            offset += counts[i] if counts is not None else last + 1

    return rows(), total


def _read_hub(
    hub_id: str, max_rows: int | None, seed: int, revision: str | None, names
) -> tuple[Rows, int]:
    """The split downloaded whole to the `datasets` cache (memory-mapped, not streamed), then
    the seeded sample selected from it: a uniform sample, and a second sweep downloads
    nothing."""
    import datasets

    try:
        extra = {"data_files": list(names)} if names else {}
        ds = datasets.load_dataset(hub_id, split="train", revision=revision, **extra)
    except Exception as exc:  # offline, unknown id, gated: one line, no traceback
        raise DataError(f"cannot load hub dataset {hub_id!r}: {first_line(exc)}") from None
    total = len(ds)
    wanted = sample_indices(total, max_rows, seed)
    if wanted is not None:
        ds = ds.select(wanted)

    def rows() -> Rows:
        numbers = iter(wanted) if wanted is not None else itertools.count()
        for batch in ds.with_format("arrow").iter(batch_size=4096):
            for record in batch.to_pylist():
                yield next(numbers), record

    return rows(), total


def read_records(
    location: str,
    max_rows: int | None = None,
    seed: int = 0,
    revision: str | None = None,
    files: tuple[str, ...] | None = None,
) -> tuple[Rows, int | None]:
    """(row number, raw record) of a local file/directory or a hub id, a seeded uniform sample
    of `max_rows` when set, and the rows there are to sample from (None when not counted).
    `files` picks files of a directory or hub repo; `revision` pins a hub dataset."""
    if is_local(location):
        path = Path(location).expanduser()
        if not path.exists():
            raise DataError(f"{location}: no such file or directory")
        return _read_local(path, max_rows, seed, files)
    return _read_hub(location, max_rows, seed, revision, files)


def load_source(
    source: str,
    location: str,
    max_rows: int | None = None,
    skip_malformed: bool = False,
    columns: Columns | None = None,
    *,
    seed: int = 0,
    revision: str | None = None,
    files: tuple[str, ...] | None = None,
) -> tuple[list[Example], LoadReport]:
    """All usable examples of one dataset (a seeded uniform sample of `max_rows` rows when
    set), with how many rows were read and skipped and how many there were to sample from.

    `columns` reads a declared source through its mapping instead of a known layout.
    """
    required = required_columns(source, columns)
    examples: list[Example] = []
    seen_columns: set[str] = set()
    rows = skipped = 0
    records, total = read_records(location, max_rows, seed, revision, files)
    for row, record in records:
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
    return examples, LoadReport(source, location, rows, skipped, total or rows)
