"""A report's verdicts, judged together: the training noise measured from the sweep's
replicates (`noise`), each dimension's effects on every set and metric with it
(`verdicts`, `slopes`), the seed-aware ones of `sweeplab confirm` (`seeds`), then one
false-discovery-rate decision over all of them (`fdr`). The sections only render this.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.metric_registry import metric_keys
from sweeps.config import SweepConfig
from sweeps.report.effects import Effect
from sweeps.report.fdr import Q, adjusted_level, judge
from sweeps.report.noise import Noise, measure
from sweeps.report.runs import TableCache, Trial, reported
from sweeps.report.seeds import Comparison, by_point, is_confirmed, seed_aware_effects
from sweeps.report.verdicts import COMPLIANCE, dimension_effects

NO_OP = ("train.seed",)
"""Settings that never change what a configuration is: searching only one of them (or a
setting the config declares in `search.no_op`) is a noise check, an A/A test."""


@dataclass(frozen=True)
class Judgement:
    effects: dict[str, list[Effect]]
    """Each dimension's verdicts from the search's trials."""
    seed_aware: dict[str, tuple[list[Comparison], list[Effect]]]
    """Each dimension's verdicts from `sweeplab confirm`'s replicates, where there are any."""
    noise: Noise | None
    m: int
    """Verdicts judged (with an interval)."""
    r: int
    """Of those, called *helps* or *hurts*."""
    q: float = Q

    @property
    def level(self) -> float:
        return adjusted_level(self.m, self.r, self.q)


def noise_checks(cfg: SweepConfig) -> list[str]:
    """The searched dimensions that change nothing but noise (A/A tests)."""
    return [d for d in cfg.search.space if d in NO_OP or d in cfg.search.no_op]


def noise_keys(cfg: SweepConfig, trials: list[Trial]) -> list[str]:
    keys = metric_keys(cfg.data.names(), reported(trials, cfg.data.names()))
    return keys + [f"{ds}/{COMPLIANCE}" for ds in cfg.data.names()]


def judge_report(
    cfg: SweepConfig, search: list[Trial], reps: list[Trial], tables: TableCache
) -> Judgement:
    noise = measure(search, reps, noise_keys(cfg, search), tables)
    effects = {d: dimension_effects(cfg, search, d, tables, noise) for d in cfg.search.space}
    groups = by_point([t for t in reps if is_confirmed(t)])
    seed = (
        {d: seed_aware_effects(cfg, groups, d, tables) for d in cfg.search.space} if groups else {}
    )
    flat = [e for fx in effects.values() for e in fx] + [e for _, fx in seed.values() for e in fx]
    judged, m, r = judge(flat)
    it = iter(judged)
    effects = {d: [next(it) for _ in fx] for d, fx in effects.items()}
    seed = {d: (comps, [next(it) for _ in fx]) for d, (comps, fx) in seed.items()}
    return Judgement(effects, seed, noise, m, r)
