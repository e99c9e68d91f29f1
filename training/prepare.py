"""Load every source once (the three datasets, then any declared ones): deduplicated training
pools and held-out eval sets."""

from __future__ import annotations

from dataclasses import dataclass

from training.config import DataConfig
from training.examples import Example
from training.loading import load_source
from training.splits import drop_duplicates, held_out_split


@dataclass(frozen=True)
class SourceStats:
    rows: int
    duplicates: int
    skipped: int
    train: int
    eval: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PreparedData:
    pools: dict[str, list[Example]]
    """Training candidates per source (never overlapping the eval sets)."""
    eval_sets: dict[str, list[Example]]
    stats: dict[str, SourceStats]


def prepare_data(cfg: DataConfig) -> PreparedData:
    pools, eval_sets, stats = {}, {}, {}
    for source in cfg.names():
        examples, report = load_source(
            source, cfg.source(source), cfg.max_rows, cfg.skip_malformed, cfg.columns(source)
        )
        unique, dups = drop_duplicates(examples)
        size = cfg.eval_count(source)
        train, held = held_out_split(unique, size, cfg.split_seed, source)
        pools[source], eval_sets[source] = train, held
        stats[source] = SourceStats(report.rows, dups, report.skipped, len(train), len(held))
    return PreparedData(pools, eval_sets, stats)
