"""A continuous dimension (a `Range`: `train.learning_rate` on a log range, say) reported
as a slope: how much each metric moves per decade of the dimension (log ranges) or per unit
(linear ones), with a 95% interval.

Comparing trials with the range's low end against the others (what a choice dimension
gets) finds no trial at the low end and says nothing. Instead: ordinary least squares over
all finished trials of the metric (points) on the dimension (log10 of it for a log range)
plus the other searched dimensions (their value for a range, a treatment indicator for a
choice), with a t interval from the residuals. *helps* means the metric rises with the
dimension; it is confounded by anything the regressors miss, as any regression here is.
"""

from __future__ import annotations

import math

import numpy as np

from evaluation.metric_registry import logged, metric_keys
from sweeps.config import Range, SweepConfig
from sweeps.report.effects import Effect, regressed
from sweeps.report.runs import Trial
from training.examples import SOURCES


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def regressor(cfg: SweepConfig, dim: str, value: str) -> float:
    """One trial's value of `dim` as a regressor: log10 for a log range, the value for a
    linear one, a treatment indicator (0 at the control) for a choice."""
    from sweeps.report.verdicts import control, is_control

    spec = cfg.search.space[dim]
    if isinstance(spec, Range):
        x = _number(value)
        if x is None:
            return float("nan")
        return math.log10(x) if spec.log and x > 0 else x
    return 0.0 if is_control(value, control(cfg, dim)) else 1.0


def unit(cfg: SweepConfig, dim: str) -> str:
    spec = cfg.search.space[dim]
    return "per decade" if isinstance(spec, Range) and spec.log else "per unit"


def slope_effects(
    cfg: SweepConfig, trials: list[Trial], dim: str, keys: list[str] | None = None
) -> list[Effect]:
    """The slope of each `dataset/metric` (or `keys`) on `dim`, in points per decade (log
    range) or per unit."""
    dims = list(cfg.search.space)
    x = np.array([[regressor(cfg, d, t.params.get(d, "")) for d in dims] for t in trials])
    usable = ~np.isnan(x).any(axis=1)
    x, kept = x[usable], [t for t, ok in zip(trials, usable, strict=True) if ok]
    method = (
        f"slope {unit(cfg, dim)} of {dim}: regression over {len(kept)} trials (final "
        "metrics; the other dimensions as regressors)"
    )
    # The registry's metrics these trials logged (a sweep from before chrF has none of it).
    keys = keys or metric_keys(cfg.data.names(), logged([t.row.metrics for t in kept], SOURCES))
    effects = []
    for key in keys:
        vals = np.array([t.row.metrics.get(key, np.nan) for t in kept], float)
        ok = ~np.isnan(vals)
        if ok.sum() < 2:
            effects.append(Effect(key, None, None, None, method, int(ok.sum())))
            continue
        effects.append(regressed(key, x[ok], vals[ok], dims.index(dim), method))
    return effects
