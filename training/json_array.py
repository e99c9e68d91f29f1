"""A JSON array read one record at a time, a chunk of the file at a time: a multi-GB
array (Alpaca's published layout, at any size) is never held whole in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


class JsonArrayError(ValueError):
    """The file is not a valid JSON array; the message says where it breaks."""


CHUNK = 1 << 20
MAX_RECORD = 64 << 20
"""A JSON array is read a chunk at a time; one record larger than this is an error."""


def stream_array(path: Path) -> Iterator:
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
                    raise JsonArrayError("not valid JSON (the array is not closed)")
                continue
            if not started:
                if buf[pos] != "[":
                    raise JsonArrayError("not valid JSON (expected an array)")
                started, pos = True, pos + 1
                continue
            if buf[pos] == "]":
                if trailing_comma:
                    raise JsonArrayError("not valid JSON (a ',' before ']')")
                if buf[pos + 1 :].strip() or fh.read(CHUNK).strip():
                    raise JsonArrayError("not valid JSON (extra data after the array)")
                return
            if (buf[pos] == ",") != after_value:
                what = "a value" if buf[pos] == "," else "',' or ']'"
                raise JsonArrayError(f"not valid JSON (expected {what})")
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
        raise JsonArrayError("not valid JSON (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        if eof:
            raise JsonArrayError(f"not valid JSON ({exc})") from None
        if len(buf) - pos > MAX_RECORD:
            raise JsonArrayError(f"not valid JSON ({exc}; or a record over 64 MB)") from None
        return None, pos, True
    if end >= len(buf) and not eof:  # a number may continue in the next chunk
        return None, pos, True
    return record, end, False
