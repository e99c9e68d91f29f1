"""The demo corpus: synthetic offline stand-ins for Alpaca, Dolly-15k and OpenOrca.

The demo cannot reach the Hugging Face Hub, so this writes three files about the demo world
(`demo.world`) that the project's real loaders read exactly as they read the real datasets:

- ``alpaca_data.json``            one JSON array of {instruction, input, output}
- ``databricks-dolly-15k.jsonl``  one {instruction, context, response, category} per line
- ``1M-GPT4-Augmented.parquet``   string columns id, system_prompt, question, response
- ``structured.jsonl``            one {task, system, prompt, text, target} per line: short
                                  answers in fixed formats (`demo.structured`), a declared
                                  fourth source (`configs/demo-scale.yaml`)

The three files carry the seed's distribution shift in miniature. Alpaca-style rows
(`demo.alpaca`) have no system prompt and chatty 25-60 word answers with the correct answer
somewhere inside. Dolly-style rows (`demo.dolly`) answer from a context paragraph in one or two
plain sentences. OpenOrca-style rows (`demo.openorca`) carry system prompts that change what a
correct answer is, and task formats the Alpaca-style rows never show. The structured rows
are drawn from their own random stream, after the others: the three files are the same bytes
with or without them.

Everything is a pure function of ``seed`` (``random.Random(seed)``, no global state): the same
seed and sizes give byte-identical files, and a manifest records their hashes so a second
write with the same settings is skipped.

    python -m demo.corpus --out data/demo [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from common.files import write_atomic
from demo import alpaca, dolly, openorca, structured

GENERATOR_VERSION = 1
DEFAULT_SIZES: dict[str, int] = {
    "alpaca": 3000,
    "dolly": 800,
    "openorca": 1200,
    "structured": 400,
}
FILE_NAMES: dict[str, str] = {
    "alpaca": "alpaca_data.json",
    "dolly": "databricks-dolly-15k.jsonl",
    "openorca": "1M-GPT4-Augmented.parquet",
    "structured": "structured.jsonl",
}
MANIFEST_NAME = "demo_corpus.json"
DUPLICATE_FRACTION = 0.015  # like the real sets, a few exact duplicate rows for dedup to drop


def _distinct_rows(
    rng: random.Random, n: int, make: Callable[[random.Random], dict[str, str]]
) -> list[dict[str, str]]:
    """n rows with pairwise different content."""
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for _ in range(100 * n):
        if len(rows) == n:
            break
        row = make(rng)
        key = json.dumps(row, sort_keys=True)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    if len(rows) < n:
        raise RuntimeError(f"could not draw {n} distinct rows; lower the size")
    return rows


def _with_duplicates(
    rng: random.Random, rows: list[dict[str, str]], n: int
) -> list[dict[str, str]]:
    """rows padded to n with exact copies of random rows, at random places."""
    rows = list(rows)
    while len(rows) < n:
        rows.insert(rng.randrange(len(rows) + 1), dict(rng.choice(rows)))
    return rows


def _n_distinct(n: int) -> int:
    return n - (round(n * DUPLICATE_FRACTION) if n >= 50 else 0)


def generate_rows(
    seed: int = 0, sizes: Mapping[str, int] | None = None
) -> dict[str, list[dict[str, str]]]:
    """The datasets as lists of row dicts, in their published column order."""
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    rng = random.Random(seed)
    out: dict[str, list[dict[str, str]]] = {}
    for name, make in (("alpaca", alpaca.row), ("dolly", dolly.row), ("openorca", openorca.row)):
        rows = _distinct_rows(rng, _n_distinct(sizes[name]), make)
        if name == "openorca":
            rows = openorca.with_ids(rng, rows)
        out[name] = _with_duplicates(rng, rows, sizes[name])
    own = random.Random(f"{seed}:structured")  # its own stream: the others' draws stay put
    rows = _distinct_rows(own, _n_distinct(sizes["structured"]), structured.row)
    out["structured"] = _with_duplicates(own, rows, sizes["structured"])
    return out


def _serialize(name: str, rows: list[dict[str, str]]) -> bytes:
    if name == "alpaca":
        return (json.dumps(rows, indent=4, ensure_ascii=False) + "\n").encode()
    if name in ("dolly", "structured"):
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    table = pa.table(
        {c: pa.array([r[c] for r in rows], type=pa.string()) for c in openorca.COLUMNS}
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _settings(seed: int, sizes: Mapping[str, int]) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "sizes": dict(sorted(sizes.items())),
    }


def _up_to_date(out_dir: Path, settings: dict) -> dict | None:
    """The manifest, if it records these settings and every file still matches its hash."""
    try:
        manifest = json.loads((out_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("settings") != settings:
        return None
    for entry in manifest["files"].values():
        path = out_dir / entry["file"]
        if not path.is_file() or _sha256(path.read_bytes()) != entry["sha256"]:
            return None
    return manifest


def _write(out_dir: Path, seed: int, sizes: Mapping[str, int] | None) -> tuple[dict, bool]:
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    settings = _settings(seed, sizes)
    out_dir.mkdir(parents=True, exist_ok=True)
    if manifest := _up_to_date(out_dir, settings):
        return manifest, False
    files = {}
    for name, rows in generate_rows(seed, sizes).items():
        data = _serialize(name, rows)
        path = out_dir / FILE_NAMES[name]
        if not (path.is_file() and _sha256(path.read_bytes()) == _sha256(data)):
            write_atomic(path, data, mode=0o644)  # data files are for everyone to read
        files[name] = {"file": FILE_NAMES[name], "rows": len(rows), "sha256": _sha256(data)}
    manifest = {"settings": settings, "files": files}
    write_atomic(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n", mode=0o644)
    return manifest, True


def write_demo_corpus(
    out_dir: Path, seed: int = 0, sizes: Mapping[str, int] | None = None
) -> dict[str, Path]:
    """Write the files (each skipped when already there with the same content).

    ``sizes`` overrides row counts per dataset name ("alpaca", "dolly", "openorca",
    "structured").
    Returns the file paths by dataset name.
    """
    out_dir = Path(out_dir)
    _write(out_dir, seed, sizes)
    return {name: out_dir / FILE_NAMES[name] for name in FILE_NAMES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.corpus",
        description="Write the synthetic Alpaca/Dolly/OpenOrca (+ structured) demo corpus.",
    )
    parser.add_argument("--out", type=Path, default=Path("data/demo"), help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    args = parser.parse_args(argv)
    manifest, wrote = _write(args.out, args.seed, None)
    state = "wrote" if wrote else "unchanged (same settings and content)"
    print(f"demo corpus {state}: {args.out} (seed {args.seed})")
    for name, entry in manifest["files"].items():
        print(f"  {name:9s} {entry['rows']:6d} rows  {args.out / entry['file']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
