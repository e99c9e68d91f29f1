"""One search dimension's effect on every metric: which trials are compared, and how.

Treatment is any value other than the dimension's control (its smallest numeric choice,
else its first). Trials that differ only in the dimension are compared pairwise at their
largest common step; without such pairs, a regression over all finished trials stands in.
"""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np

from common.tags import SEED_LIKE
from evaluation.metric_registry import metric_keys
from sweeps.config import Choice, Range, SweepConfig
from sweeps.report.compliance import compliance, compliance_boot
from sweeps.report.effects import Effect, estimate, paired_boot, regressed
from sweeps.report.noise import Noise, net_weight_sq, with_noise
from sweeps.report.runs import TableCache, Trial, reported

COMPLIANCE = "format_compliance"
"""Also reported for data-source dimensions (`mix.*`), on sets with short-form examples."""


def control(cfg: SweepConfig, dim: str) -> str:
    """The dimension's control value, as JSON."""
    spec = cfg.search.space[dim]
    if isinstance(spec, Choice):
        values = list(spec.choice)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        return json.dumps(min(values) if numeric else values[0]) if values else ""
    return json.dumps(spec.low)


def is_control(value: str, control: str) -> bool:
    try:
        return float(value) == float(json.loads(control))
    except (TypeError, ValueError):
        return (
            value == json.loads(control)
            or value == control
            or (value in ("None", "null", "") and control == "null")
        )


def _pairs(cfg: SweepConfig, trials: list[Trial], dim: str) -> list[tuple[Trial, Trial, int]]:
    """(control, treated, common step) for trials that differ only in `dim`, in the order
    of `trials`' pairs. Only trials alike in every other dimension are compared: grouped by
    those values first, so a sweep of thousands of distinct trials is not n² comparisons."""
    ctrl = control(cfg, dim)
    others = [d for d in cfg.search.space if d != dim]
    alike: dict[tuple, list[int]] = {}
    for i, t in enumerate(trials):
        alike.setdefault(tuple(t.params[o] for o in others), []).append(i)
    pairs = []
    for i, j in sorted(p for group in alike.values() for p in combinations(group, 2)):
        a, b = trials[i], trials[j]
        if is_control(a.params[dim], ctrl) != is_control(b.params[dim], ctrl):
            c, t = (a, b) if is_control(a.params[dim], ctrl) else (b, a)
            common = sorted(set(c.steps) & set(t.steps))
            if common:
                pairs.append((c, t, common[-1]))
    return pairs


def verdict_trials(cfg: SweepConfig, trials: list[Trial], dim: str) -> list[Trial]:
    """The trials the dimension's verdict rests on: those paired, else all (regressed)."""
    pairs = _pairs(cfg, trials, dim)
    if not pairs:
        return list(trials)
    return list({t.row.run_id: t for c, tr, _ in pairs for t in (c, tr)}.values())


def dimension_effects(
    cfg: SweepConfig, trials: list[Trial], dim: str, tables: TableCache, noise: Noise | None = None
) -> list[Effect]:
    """The dimension's effect on each `dataset/metric`: paired if possible (with the
    measured training `noise` added to its interval), else regressed; a range's as a slope
    (`sweeps.report.slopes`)."""
    if isinstance(cfg.search.space[dim], Range):
        from sweeps.report.slopes import slope_effects

        return slope_effects(cfg, trials, dim)
    pairs = _pairs(cfg, trials, dim)
    if pairs:
        scores = [
            (tables.scores(c.row.run_id, s), tables.scores(t.row.run_id, s)) for c, t, s in pairs
        ]
        steps = ", ".join(str(s) for *_, s in pairs)
        method = f"paired: {len(pairs)} pair(s) differing only in {dim}, step {steps}"
        w2 = net_weight_sq([(c.row.run_id, t.row.run_id) for c, t, _ in pairs])
        effects = []
        for ds in cfg.data.names():
            for m in reported(trials, cfg.data.names()):
                point, boot = paired_boot([(c[ds], t[ds]) for c, t in scores], m.name)
                e = estimate(f"{ds}/{m.name}", point, boot, method, scores[0][0][ds].n)
                effects.append(with_noise(e, noise, w2))
        compliant = _paired_compliance(cfg, pairs, dim, method, tables)
        return effects + [with_noise(e, noise, w2) for e in compliant]
    return _regressed(cfg, trials, dim, tables)


def _compliance_sets(cfg: SweepConfig, trial: Trial, dim: str, tables: TableCache) -> list[str]:
    """The eval sets a data-source dimension's compliance effect is reported on: those
    with short-form examples (compliance is 1 by definition elsewhere)."""
    if not dim.startswith("mix.") or not trial.steps:
        return []
    rows = tables.rows(trial.row.run_id, trial.steps[-1])
    return [ds for ds in cfg.data.names() if len(compliance(rows, ds))]


def _paired_compliance(cfg, pairs, dim: str, method: str, tables: TableCache) -> list[Effect]:
    effects = []
    for ds in _compliance_sets(cfg, pairs[0][0], dim, tables):
        arrays = [
            (
                compliance(tables.rows(c.row.run_id, s), ds),
                compliance(tables.rows(t.row.run_id, s), ds),
            )
            for c, t, s in pairs
        ]
        found = compliance_boot(arrays)
        key = f"{ds}/{COMPLIANCE}"
        if found is None:
            effects.append(Effect(key, None, None, None, method, 0))
        else:
            effects.append(estimate(key, *found, method, len(arrays[0][0])))
    return effects


def _regressed(cfg: SweepConfig, trials: list[Trial], dim: str, tables: TableCache) -> list[Effect]:
    dims = list(cfg.search.space)
    ind = np.array(
        [[0.0 if is_control(t.params[d], control(cfg, d)) else 1.0 for d in dims] for t in trials]
    )
    method = f"regression over {len(trials)} trials (final metrics; one indicator per dimension)"
    keys = metric_keys(cfg.data.names(), reported(trials, cfg.data.names()))
    keys += [f"{ds}/{COMPLIANCE}" for ds in _compliance_sets(cfg, trials[0], dim, tables)]
    effects = []
    for key in keys:
        vals = np.array([t.row.metrics[key] for t in trials])
        effects.append(regressed(key, ind, vals, dims.index(dim), method))
    return effects


def seed_like(trials: list[Trial]) -> Trial | None:
    """The Alpaca-only trial closest to the seed's setup (`SEED_LIKE`: r=16, no curriculum),
    the configuration `sweeplab confirm` re-runs as the baseline."""
    alpaca_only = [
        t
        for t in trials
        if all(is_control(v, "0.0") for d, v in t.params.items() if d.startswith("mix."))
    ]

    def distance(t: Trial) -> tuple:
        unlike = tuple(
            not is_control(t.params.get(k, ""), json.dumps(v))
            for k, v in SEED_LIKE.items()
            if not k.startswith("mix.")
        )
        return (*unlike, -max(t.steps or [0]), t.row.trial_id)

    return min(alpaca_only, key=distance) if alpaca_only else None
