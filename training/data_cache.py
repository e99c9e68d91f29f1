"""The prepared data on disk under a content key, so a resume or a second sweep reads nothing.

The key covers everything the prepared rows depend on: each source's identity (a hub id with
its pinned revision and files; a local file's resolved path, size and modification time), the
sample (`max_rows`, `sample_seed`), malformed-row handling and the held-out split. One entry is
one parquet file (`runs/data_cache/<key>.parquet`: the rows with their split, the stats in
the schema's metadata), written atomically; an entry that cannot be read is a miss.

A hub dataset left unpinned (revision `main`) keeps its cached rows even if the hub moves on:
what a resumed sweep needs. Delete the entry (or pin a revision) to read it again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

from common.files import atomic_path
from training.config import DataConfig
from training.examples import SOURCES, Example
from training.loading import is_local, local_files

CACHE_VERSION = 1
FIELDS = ("id", "source", "instruction", "response", "system", "input", "category")


def source_identity(location: str, revision: str | None, files: tuple[str, ...] | None) -> dict:
    """What one source's rows are, as far as the cache can tell without reading them."""
    if not is_local(location):
        return {"hub": location, "revision": revision or "main", "files": files}
    path = Path(location).expanduser()
    if not path.exists():
        return {"missing": location}
    stats = [(f.resolve(), f.stat()) for f in local_files(path, files)]
    return {"files": [[str(f), st.st_size, st.st_mtime_ns] for f, st in stats]}


def cache_key(cfg: DataConfig) -> str:
    """The content key of the data `cfg` prepares (hex, 24 characters)."""
    doc = {
        "version": CACHE_VERSION,
        "sources": {
            s: source_identity(cfg.source(s), getattr(cfg.revisions, s), cfg.data_files(s))
            for s in SOURCES
        },
        "max_rows": cfg.max_rows,
        "sample_seed": cfg.sample_seed,
        "skip_malformed": cfg.skip_malformed,
        "eval_size": cfg.eval_size.model_dump(),
        "split_seed": cfg.split_seed,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


def entry_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / f"{key}.parquet"


def store(
    cache_dir: Path,
    key: str,
    pools: dict[str, list[Example]],
    eval_sets: dict[str, list[Example]],
    stats: dict[str, dict],
) -> Path:
    """Write one entry, all or nothing, in chunks (never a second copy of all the text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = json.dumps({"key": key, "stats": stats})
    schema = pa.schema([(f, pa.string()) for f in (*FIELDS, "split")], metadata={"sweeplab": meta})
    rows = ((ex, split) for split, groups in (("train", pools), ("eval", eval_sets))
            for examples in groups.values() for ex in examples)  # fmt: skip
    path = entry_path(cache_dir, key)
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        while chunk := list(itertools.islice(rows, 50_000)):
            columns = [pa.array([getattr(ex, f) for ex, _ in chunk], pa.string()) for f in FIELDS]
            columns.append(pa.array([split for _, split in chunk], pa.string()))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path


def load(
    cache_dir: Path, key: str
) -> tuple[dict[str, list[Example]], dict[str, list[Example]], dict[str, dict]] | None:
    """(pools, eval sets, stats) of the entry `key`; None when absent or unreadable."""
    path = entry_path(cache_dir, key)
    if not path.is_file():
        return None
    try:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(path)
        meta = json.loads(table.schema_arrow.metadata[b"sweeplab"])
        if meta["key"] != key or set(meta["stats"]) != set(SOURCES):
            return None
        pools: dict[str, list[Example]] = {s: [] for s in SOURCES}
        eval_sets: dict[str, list[Example]] = {s: [] for s in SOURCES}
        for batch in table.iter_batches(batch_size=16384):  # column-wise: no dict per row
            columns = [batch.column(f).to_pylist() for f in FIELDS]
            for split, *values in zip(batch.column("split").to_pylist(), *columns, strict=True):
                (pools if split == "train" else eval_sets)[values[1]].append(Example(*values))
        return pools, eval_sets, meta["stats"]
    except Exception:  # a torn, foreign or older entry: read the sources again
        return None
