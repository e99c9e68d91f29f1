"""The seed-aware part of a report, from the replicates `sweeplab confirm` ran: seed-to-seed
spread per metric and dataset, each dimension's effect with a hierarchical (seeds, then
examples) interval beside the example-only one, the example-only *helps* it does not
confirm, and the seeds a still-inconclusive effect would need.

A comparison is between two confirmed configurations, one with the dimension at its control
value and one without; when no two confirmed configurations differ in that dimension alone,
the comparison says what else differs (the effect is then that of the whole change).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from common.tags import POINT_TAG, ROLE_CONFIRM, ROLE_TAG, is_search
from evaluation.metric_registry import metric_keys
from sweeps.config import SweepConfig
from sweeps.report.effects import (
    POWER,
    Effect,
    hierarchical_effect,
    pooled_sd,
    seeds_needed,
)
from sweeps.report.runs import TableCache, Trial, reported
from sweeps.report.spend import seeds_cost
from sweeps.report.verdicts import control, is_control
from training.examples import SOURCES

SEEDS = "seeds then examples (hierarchical bootstrap over `sweeplab confirm`'s replicates)"


def is_replicate(t: Trial) -> bool:
    """A replicate of the sweep's own (noise) or of `sweeplab confirm`: not a search trial."""
    return not is_search(t.tags)


def is_confirmed(t: Trial) -> bool:
    """A replicate of `sweeplab confirm` (the seed-aware sections' runs)."""
    return t.tags.get(ROLE_TAG) == ROLE_CONFIRM


def by_point(reps: list[Trial]) -> dict[int, list[Trial]]:
    """Replicates grouped by confirmed configuration (finished runs only)."""
    groups: dict[int, list[Trial]] = {}
    for t in reps:
        groups.setdefault(int(t.tags.get(POINT_TAG, -1)), []).append(t)
    return dict(sorted(groups.items()))


def label(cfg: SweepConfig, t: Trial) -> str:
    return ", ".join(f"{d}={t.params.get(d)}" for d in cfg.search.space)


def spread(groups: dict[int, list[Trial]], metric: str) -> tuple[dict[int, float], float | None]:
    """Per configuration, the SD over its replicates of the final `metric` (points), and
    the SD pooled over configurations."""
    values = {p: [100 * t.row.metrics[metric] for t in ts] for p, ts in groups.items()}
    per = {p: float(np.std(v, ddof=1)) for p, v in values.items() if len(v) > 1}
    return per, pooled_sd(list(values.values()))


@dataclass(frozen=True)
class Comparison:
    control: int
    treated: int
    also: tuple[str, ...]
    """Other searched dimensions the two configurations differ in."""


def comparisons(cfg: SweepConfig, groups: dict[int, list[Trial]], dim: str) -> list[Comparison]:
    """(control, treated) pairs of confirmed configurations for `dim`; those differing in
    `dim` alone if any, else every pair across the control/treatment line."""
    ctrl = control(cfg, dim)
    first = {p: ts[0].params for p, ts in groups.items()}
    pairs = []
    for c, cp in first.items():
        for t, tp in first.items():
            if is_control(cp[dim], ctrl) and not is_control(tp[dim], ctrl):
                also = tuple(d for d in cfg.search.space if d != dim and cp[d] != tp[d])
                pairs.append(Comparison(c, t, also))
    clean = [p for p in pairs if not p.also]
    return clean or pairs


def seed_aware_effects(
    cfg: SweepConfig, groups: dict[int, list[Trial]], dim: str, tables: TableCache
) -> tuple[list[Comparison], list[Effect]]:
    """The dimension's hierarchical-bootstrap effect on each `dataset/metric` (points)."""
    comps = comparisons(cfg, groups, dim)
    if not comps:
        return [], []

    def runs(point: int, ds: str):
        return [tables.scores(t.row.run_id, max(t.steps))[ds] for t in groups[point]]

    method = "hierarchical bootstrap over seeds then examples: " + "; ".join(
        f"[{c.treated}] vs [{c.control}]"
        + (f" (also differ in {', '.join(c.also)})" * bool(c.also))
        for c in comps
    )
    effects = []
    metrics = reported([t for ts in groups.values() for t in ts], SOURCES)
    for ds in SOURCES:
        for m in metrics:
            groups_ = [(runs(c.control, ds), runs(c.treated, ds)) for c in comps]
            pt, lo, hi, se = hierarchical_effect(groups_, m.name, with_se=True)
            n = min(len(groups[p]) for c in comps for p in (c.control, c.treated))
            effects.append(
                Effect(f"{ds}/{m.name}", pt, lo, hi, method, n, se, raw=(lo, hi), evidence=SEEDS)
            )
    return comps, effects


def spread_section(cfg: SweepConfig, groups: dict[int, list[Trial]]) -> list[str]:
    heads = [f"[{p}] SD" for p in groups]
    md = [
        "",
        "## Seed-to-seed spread (replicates of `sweeplab confirm`)",
        "",
        "Each configuration below was re-run at full budget with other training seeds "
        "(`train.seed`); the spread is the standard deviation of its final metric over "
        "those runs, in points; *pooled* averages the variances over configurations.",
        "",
    ]
    for p, ts in groups.items():
        md.append(f"- [{p}] {label(cfg, ts[0])}: {len(ts)} seeds")
    md += [
        "",
        "| metric | " + " | ".join(heads) + " | pooled SD |",
        "|---|" + "---|" * (len(heads) + 1),
    ]
    metrics = reported([t for ts in groups.values() for t in ts], SOURCES)
    for metric in metric_keys(SOURCES, metrics):
        per, pooled = spread(groups, metric)
        cells = [f"{per[p]:.2f}" if p in per else "n/a" for p in groups]
        md.append(f"| {metric} | " + " | ".join(cells) + f" | {_num(pooled)} |")
    return md


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _ci(e: Effect) -> str:
    return "n/a" if e.low is None else f"{e.points:+.1f} [{e.low:+.1f}, {e.high:+.1f}]"


def verdicts_section(
    cfg: SweepConfig,
    groups: dict[int, list[Trial]],
    search_fx: dict[str, list[Effect]],
    seed_fx: dict[str, tuple[list[Comparison], list[Effect]]],
) -> list[str]:
    """Each dimension: the search's verdicts and the seed-aware ones side by side (both
    already judged together, `sweeps.report.judgement`), flags, seeds needed."""
    md = [
        "",
        "## Seed-aware verdicts",
        "",
        "*search*: the search's single-seed trials (the verdicts above). "
        "*seed-aware*: the confirmed replicates, hierarchical bootstrap (seeds, then examples); "
        "both decided with the report's false discovery rate control. "
        "Seeds needed for a still-inconclusive effect δ with pooled seed SD σ (two-sided "
        f"5% test, {POWER:.0%} power): n = ⌈2·((z₀.₉₇₅ + z₀.₈)·σ/δ)²⌉ per configuration; "
        "≈ what 2n such runs cost, at the mean cost of the replicates compared.",
    ]
    flags = []
    for dim in cfg.search.space:
        comps, fx = seed_fx.get(dim, ([], []))
        md += ["", f"### {dim} (control {json.loads(control(cfg, dim))!r})", ""]
        if not comps:
            md.append("No two confirmed configurations differ in it: the search's verdicts stand.")
            continue
        md += [f"Seed-aware method: {fx[0].method}.", ""]
        example = {e.metric: e for e in search_fx[dim]}
        md += [
            "| metric | search | verdict | seed-aware | verdict | seeds needed |",
            "|---|---|---|---|---|---|",
        ]
        for e in fx:
            ex = example[e.metric]
            need = ""
            if e.verdict == "inconclusive":
                n = seeds_needed(e.points, spread(groups, e.metric)[1])
                reps = [t for c in comps for p in (c.control, c.treated) for t in groups[p]]
                need = "n/a" if n is None else seeds_cost(cfg, n, reps)
            md.append(
                f"| {e.metric} | {_ci(ex)} | {ex.verdict} | {_ci(e)} | {e.verdict} | {need} |"
            )
            if ex.verdict == "helps" and e.verdict != "helps":
                flags.append(
                    f"- **{dim}** on {e.metric}: search *helps* {_ci(ex)}, "
                    f"seed-aware *{e.verdict}* {_ci(e)}"
                )
    md += ["", "### Search *helps* the seed-aware interval does not confirm", ""]
    md += flags or ["None."]
    return md + [""]


def seed_sections(
    cfg: SweepConfig,
    reps: list[Trial],
    search_fx: dict[str, list[Effect]],
    seed_fx: dict[str, tuple[list[Comparison], list[Effect]]],
) -> list[str]:
    """Spread and seed-aware verdicts; nothing when the sweep has no confirmed replicates."""
    groups = by_point([t for t in reps if is_confirmed(t)])
    if not groups:
        return []
    return spread_section(cfg, groups) + verdicts_section(cfg, groups, search_fx, seed_fx)
