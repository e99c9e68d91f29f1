"""The response model's most promising untried configurations of a search space: the first
trials of a sweep that starts from an earlier one (`sweeplab sweep --from`,
`sweeps.run.warm_start`), after the earlier sweep's front.

Candidates are every combination of the searched choices (a range at RANGE_POINTS points:
its ends and between, on a log scale for a log range, whole numbers for an integer one), at
most POOL of them (a fixed-seed sample beyond); those already run are skipped, and so are
those a trial would refuse (shares that leave Alpaca nothing). Each is scored by the upper
end of the 90% interval of promotion's pick (the first objective unless `promotion.pick`
says otherwise; a `min` objective negated) on the mean response: optimism where the model
is unsure, so that the first trials also teach it something. With constraints, only
candidates whose predicted means meet them are proposed (every candidate, if none does).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import ValidationError

from sweeps.config import Choice, ConfigError, SweepConfig
from sweeps.objective import COMPARE
from sweeps.report.leaderboard import Row
from sweeps.report.response import Z, fit_responses, goal_metrics
from sweeps.report.runs import Trial

POOL = 2000
RANGE_POINTS = 5


def candidates(cfg: SweepConfig) -> list[dict[str, Any]]:
    """Points of the search space to score (every combination, or a sample of POOL)."""
    axes = []
    for spec in cfg.search.space.values():
        if isinstance(spec, Choice):
            axes.append(list(dict.fromkeys(spec.choice)))
            continue
        grid = (
            np.geomspace(spec.low, spec.high, RANGE_POINTS)
            if spec.log
            else np.linspace(spec.low, spec.high, RANGE_POINTS)
        )
        axes.append(
            sorted({int(round(x)) for x in grid}) if spec.integer else list(map(float, grid))
        )
    total = math.prod(len(a) for a in axes)
    if total <= POOL:
        combos = list(itertools.product(*axes))
    else:  # a fixed-seed sample, each dimension's value drawn by index
        rng = np.random.default_rng(0)
        combos = list(
            dict.fromkeys(
                tuple(a[int(i)] for a, i in zip(axes, row, strict=True))
                for row in rng.integers(0, [len(a) for a in axes], size=(POOL, len(axes)))
            )
        )
    return [dict(zip(cfg.search.space, c, strict=True)) for c in combos]


def propose(cfg: SweepConfig, rows: Sequence[Row], n: int) -> list[dict[str, Any]]:
    """The `n` most promising untried points of `cfg`'s space by the response model fitted
    on `rows` (an earlier sweep's finished trials, read in this space); none without one."""
    goal = cfg.search.goal()
    try:
        model = fit_responses(cfg, [Trial(r, dict(r.params), []) for r in rows], goal_metrics(cfg))
    except ValueError:
        return []
    if any(t.metric not in model.models for t in goal.targets):
        return []
    tried = {tuple(np.round(x, 9)) for x in model.x}
    points = [p for p in candidates(cfg) if tuple(np.round(model.encode(p), 9)) not in tried]
    if not points:
        return []
    pred = model.curve(points)
    pick = cfg.promotion.pick or goal.default_pick()
    weights = {pick.first: 1.0} if pick.first is not None else dict(pick.weights or {})
    score, var = np.zeros(len(points)), np.zeros(len(points))
    for metric, w in weights.items():
        sign = w if goal.target(metric).mode == "max" else -w
        score += sign * np.array([p.mean for p in pred[metric]])
        var += (w * np.array([p.sd_mean for p in pred[metric]])) ** 2
    ok = np.ones(len(points), bool)
    for c in goal.constraints:
        if c.metric in pred:
            ok &= COMPARE[c.op](np.array([p.mean for p in pred[c.metric]]), c.value)
    upper = score + Z * np.sqrt(var)
    order = np.lexsort((-upper, ~ok)) if ok.any() else np.argsort(-upper, kind="stable")
    out = []
    for i in order:
        try:
            cfg.trial(points[i])
        except (ConfigError, ValidationError):
            continue
        out.append(points[i])
        if len(out) == n:
            break
    return out
