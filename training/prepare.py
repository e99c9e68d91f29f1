"""Load every source once (the three datasets, then any declared ones): deduplicated training
pools and held-out eval sets.

With a cache folder (`runs/data_cache/`), the prepared data is kept there under a content key
(`training.data_cache`) and a second sweep, or a resume, reads it back instead of the sources.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from training import data_cache
from training.config import DataConfig
from training.examples import Example
from training.loading import load_source
from training.splits import drop_duplicates, held_out_split


@dataclass(frozen=True)
class SourceStats:
    rows: int
    """Rows read (the sample when data.max_rows is set)."""
    duplicates: int
    skipped: int
    train: int
    eval: int
    available: int = 0
    """Rows the sample was drawn from (the whole file or split)."""
    collections: dict[str, int] = field(default_factory=dict)
    """OpenOrca: rows read per sub-collection (id prefix: `niv`, `flan`, `t0`, `cot`)."""

    def as_dict(self) -> dict[str, object]:
        """The counts; `available` only for a sample, `collections` only for OpenOrca."""
        out = dict(self.__dict__)
        if self.available <= self.rows:
            out.pop("available")
        if not self.collections:
            out.pop("collections")
        return out


@dataclass(frozen=True)
class PreparedData:
    pools: dict[str, list[Example]]
    """Training candidates per source (never overlapping the eval sets)."""
    eval_sets: dict[str, list[Example]]
    stats: dict[str, SourceStats]
    cache_key: str = ""
    """The content key of this data (`training.data_cache`); empty when not cached."""
    from_cache: bool = False
    """Read back from the cache rather than from the sources."""


def _read_sources(cfg: DataConfig) -> PreparedData:
    pools, eval_sets, stats = {}, {}, {}
    for source in cfg.names():
        examples, report = load_source(
            source,
            cfg.source(source),
            cfg.max_rows,
            cfg.skip_malformed,
            cfg.columns(source),
            seed=cfg.sample_seed,
            revision=getattr(cfg.revisions, source, None),
            files=cfg.data_files(source),
        )
        collections = (
            dict(sorted(Counter(ex.category or "?" for ex in examples).items()))
            if source == "openorca"
            else {}
        )
        unique, dups = drop_duplicates(examples)
        size = cfg.eval_count(source)
        train, held = held_out_split(unique, size, cfg.split_seed, source)
        pools[source], eval_sets[source] = train, held
        stats[source] = SourceStats(
            report.rows, dups, report.skipped, len(train), len(held), report.available, collections
        )
    return PreparedData(pools, eval_sets, stats)


def prepare_data(cfg: DataConfig, cache_dir: Path | None = None) -> PreparedData:
    """The prepared data of `cfg`: from `cache_dir` when it holds it, else read and stored
    there (a cache that cannot be written is reported and skipped, never fatal)."""
    if cache_dir is None:
        return _read_sources(cfg)
    key = data_cache.cache_key(cfg)
    cached = data_cache.load(cache_dir, key)
    if cached is not None:
        pools, eval_sets, stats = cached
        return PreparedData(pools, eval_sets, {s: _stats(st) for s, st in stats.items()}, key, True)
    data = replace(_read_sources(cfg), cache_key=key)
    try:
        stats = {s: st.as_dict() for s, st in data.stats.items()}
        data_cache.store(cache_dir, key, data.pools, data.eval_sets, stats)
    except OSError as exc:
        print(f"warning: prepared data not cached in {cache_dir}: {exc}", file=sys.stderr)
    return data


def _stats(saved: dict) -> SourceStats:
    return SourceStats(**{"available": saved["rows"], **saved})
