"""The report's verdicts, rendered: what the verdicts count (training noise or not), the
error control over all of them, then one block per searched dimension, its noise checks
(A/A tests) said as such, and what would settle an inconclusive effect.
"""

from __future__ import annotations

import json
import math

from evaluation.metric_registry import HEADLINE
from sweeps.config import Range, SweepConfig
from sweeps.report.effects import POWER, Effect
from sweeps.report.judgement import Judgement, noise_checks
from sweeps.report.runs import Trial
from sweeps.report.slopes import unit
from sweeps.report.spend import rests_on, seeds_cost
from sweeps.report.verdicts import COMPLIANCE, control, verdict_trials

# Where each dimension is expected to act first (the others are reported too); a declared
# source `mix.<name>` acts first on its own set, on the headline metric (METEOR) and format
# compliance.
HEADLINE_SET = {"mix.openorca": "openorca", "mix.dolly": "dolly"}
Z_POWER = 1.959964 + 0.841621  # z_0.975 + z_0.8: a two-sided 5% test with 80% power


def noise_lines(cfg: SweepConfig, j: Judgement) -> list[str]:
    """The report's first words on its evidence: the noise its verdicts count, or not."""
    if j.noise is None:
        why = (
            "this sweep ran no replicates (`search.replicates: 0`)"
            if cfg.search.replicates == 0
            else "no replicate of a trial finished at that trial's step"
        )
        return [
            "",
            f"**These verdicts ignore training noise**: {why}, so no interval below holds "
            "seed-to-seed variation; a difference between two single-seed trials may be "
            "noise. Re-run with `search.replicates` > 0, or `sweeplab confirm`.",
        ]
    n = j.noise
    head = [k for k in n.sd if k.endswith(f"/{HEADLINE.name}")]
    shown = ", ".join(f"{k} {n.sd[k]:.2f}" for k in head)
    return [
        "",
        f"Training noise, measured: seed-to-seed SD (points) {shown}; from {n.groups} "
        f"replicate group(s) of {n.runs} runs ({', '.join(n.sources)}), {min(n.dof.values())} "
        "degree(s) of freedom. Paired verdicts count it in their intervals.",
    ]


def _fmt(lo_hi: tuple[float, float] | None) -> str:
    return "n/a" if lo_hi is None else f"[{lo_hi[0]:+.1f}, {lo_hi[1]:+.1f}]"


def to_settle(cfg: SweepConfig, e: Effect, runs: list[Trial]) -> str:
    """For an inconclusive effect: the seeds per configuration (or trials) that would
    settle an effect of this size, from the measured spread; '' otherwise."""
    if e.verdict != "inconclusive" or e.points is None or not e.se or not e.points:
        return ""
    if e.noise_sd is not None and e.raw is not None:  # paired, noise measured: more seeds
        # n seeds per configuration: z^2 (se_examples^2 + 2 sd^2 / n) <= effect^2, where the
        # examples' part (from the examples-only interval) does not shrink with seeds.
        floor = ((e.raw[1] - e.raw[0]) / (2 * 1.959964)) ** 2
        room = (e.points / Z_POWER) ** 2 - floor
        if room <= 0:
            return "more eval examples (seeds alone cannot)"
        n = max(2, math.ceil(2 * e.noise_sd**2 / room))
        return f"{seeds_cost(cfg, n, runs)} seeds"
    if e.evidence.startswith("trials"):  # regressed: the error shrinks as 1/sqrt(trials)
        more = math.ceil(len(runs) * (Z_POWER * e.se / e.points) ** 2)
        return f"≈{more} trials"
    return "unknown (no training noise measured)"


def verdicts(cfg: SweepConfig, trials: list[Trial], j: Judgement) -> list[str]:
    md = [
        "## Verdicts, one per search dimension",
        "",
        f"{j.m} verdicts judged together, false discovery rate held at {j.q:.0%} "
        f"(Benjamini–Hochberg): {j.r} called *helps* or *hurts*. A verdict is *helps*/*hurts* "
        "only when it is among those; its adjusted interval (level "
        f"{j.level:.2%}, false coverage-statement rate) then excludes zero. The 95% "
        "interval counts example sampling and, where measured, training noise; the "
        "examples-only interval is beside it.",
        f"*To settle*: seeds per configuration (two-sided 5% test, {POWER:.0%} power) or "
        "trials that would decide an effect of the size seen, priced at these trials' cost.",
        "",
    ]
    checks = noise_checks(cfg)
    for dim in cfg.search.space:
        md += _dimension(cfg, trials, dim, j.effects[dim], dim in checks)
    return md


def _heads(cfg: SweepConfig, dim: str, effects: list[Effect]) -> list[Effect]:
    declared = dim.removeprefix("mix.") if dim.removeprefix("mix.") in cfg.data.sources else None
    head_ds = HEADLINE_SET.get(dim, declared)
    head = f"/{HEADLINE.name}"
    head_metrics = (head, f"/{COMPLIANCE}") if declared else (head,)
    return [
        e
        for e in effects
        if e.metric.endswith(head_metrics)
        and (head_ds is None or e.metric.startswith(f"{head_ds}/"))
    ]


def _dimension(
    cfg: SweepConfig, trials: list[Trial], dim: str, effects: list[Effect], check: bool
) -> list[str]:
    what = (
        f"continuous: each effect is a slope {unit(cfg, dim)}, in points"
        if isinstance(cfg.search.space[dim], Range)
        else f"treatment: any value other than {json.loads(control(cfg, dim))!r}"
    )
    used = verdict_trials(cfg, trials, dim)
    md = [f"### {dim} ({what})", ""]
    if check:
        called = [e for e in effects if e.verdict != "inconclusive"]
        result = (
            "**passed**: no set or metric is called helps or hurts"
            if not called
            else f"**FAILED**: {len(called)} verdict(s) call a no-op change an effect "
            f"({', '.join(e.metric for e in called)}): the noise model underestimates the "
            "noise; count more replicates (`search.replicates`, `sweeplab confirm`)"
        )
        md += [
            f"Noise check (A/A test): {dim} changes only the training seed or a setting "
            f"declared not to matter, so every verdict should be inconclusive. {result}.",
            "",
        ]
    evidence = sorted({e.evidence for e in effects if e.evidence})
    md += [
        f"Method: {effects[0].method}.",
        "",
        f"Evidence: {'; '.join(evidence)}.",
        "",
        f"Cost: this verdict {rests_on(cfg, used)}.",
        "",
    ]
    md += [
        f"- **{e.verdict}** for {e.metric.split('/')[0]}: `{e.text()}` (adjusted "
        f"{_fmt(e.adjusted)})"
        for e in _heads(cfg, dim, effects)
    ]
    md += [
        "",
        "| metric | effect (pts) | examples-only | 95% interval | p | adjusted | verdict | "
        "to settle |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in effects:
        ci = "n/a" if e.low is None else f"[{e.low:+.1f}, {e.high:+.1f}]"
        pts = "n/a" if e.points is None else f"{e.points:+.1f}"
        p = "n/a" if e.p is None else f"{e.p:.3f}"
        md.append(
            f"| {e.metric} | {pts} | {_fmt(e.raw)} | {ci} | {p} | {_fmt(e.adjusted)} | "
            f"{e.verdict} | {to_settle(cfg, e, used)} |"
        )
    md.append("")
    return md
