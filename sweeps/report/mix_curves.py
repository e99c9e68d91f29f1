"""How much to mix: each mixture share's predicted curves (the response model along one
`mix.<name>` dimension, the other searched values held), the share that maximizes each
objective, the best compromise under the sweep's constraints, and what a share costs on the
other sets, each with an interval.

A curve is the model's prediction on a grid over the share's searched span (shares that
would leave Alpaca nothing are skipped). The intervals of a share come from joint draws of
the mean response along the grid (`GP.draws`): the share where each draw peaks, its 5th and
95th percentiles; a difference between two shares, the same draws at both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sweeps.config import SweepConfig
from sweeps.objective import COMPARE, Objective, Pick
from sweeps.report.response import LEVEL, Prediction, ResponseModel

GRID = 41
DRAWS = 400
_TAILS = (100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2)


def mixture_dims(model: ResponseModel) -> list[str]:
    """The searched mixture shares the model has an input for."""
    return [d.key for d in model.encoder.dims if d.kind == "share"]


@dataclass(frozen=True)
class Curve:
    dim: str
    shares: np.ndarray
    held: dict[str, Any]
    """Every searched value the curve holds (its own is the grid)."""
    predictions: dict[str, list[Prediction]]
    draws: dict[str, np.ndarray]
    """Per metric, (DRAWS, len(shares)) joint draws of the mean response."""

    def at(self, share: float) -> int:
        return int(np.argmin(np.abs(self.shares - share)))


@dataclass(frozen=True)
class Peak:
    """A share chosen on a curve, with the 90% interval of where the draws choose it."""

    share: float
    low: float
    high: float
    feasible: float | None = None
    """The probability that the constraints hold there (None without constraints)."""


def curve(model: ResponseModel, dim: str, held: Mapping[str, Any]) -> Curve:
    """The model along `dim`, the other searched values at `held`."""
    d = model.encoder.dim(dim)
    grid = np.linspace(d.low, d.high, GRID)
    others = sum(float(v) for k, v in held.items() if k.startswith("mix.") and k != dim)
    grid = grid[grid + others < 1.0 - 1e-9]
    points = [{**held, dim: float(s)} for s in grid]
    xs = np.vstack([model.encode(p) for p in points])
    draws = {k: m.draws(xs, DRAWS) for k, m in model.models.items()}
    return Curve(dim, grid, dict(held), model.curve(points), draws)


def _oriented(goal: Objective, c: Curve, metric: str) -> np.ndarray:
    sign = 1.0 if goal.target(metric).mode == "max" else -1.0
    return sign * c.draws[metric]


def _mean_oriented(goal: Objective, c: Curve, metric: str) -> np.ndarray:
    sign = 1.0 if goal.target(metric).mode == "max" else -1.0
    return sign * np.array([p.mean for p in c.predictions[metric]])


def _peak(c: Curve, score: np.ndarray, draws: np.ndarray, ok=None, ok_draws=None) -> Peak | None:
    """The grid point with the best `score` (where `ok`), and the draws' best points."""
    if ok is not None and not ok.any():
        return None
    best = int(np.argmax(np.where(ok, score, -np.inf) if ok is not None else score))
    masked = draws if ok_draws is None else np.where(ok_draws, draws, -np.inf)
    some = np.isfinite(masked).any(axis=1)
    shares = c.shares[np.argmax(masked[some], axis=1)] if some.any() else c.shares[[best]]
    lo, hi = np.percentile(shares, _TAILS)
    feasible = None if ok_draws is None else float(ok_draws[:, best].mean())
    return Peak(float(c.shares[best]), float(lo), float(hi), feasible)


def best_share(goal: Objective, c: Curve, metric: str) -> Peak | None:
    """Where objective `metric` peaks (in its mode) on the curve."""
    if metric not in c.draws:
        return None
    return _peak(c, _mean_oriented(goal, c, metric), _oriented(goal, c, metric))


def _pick_score(goal: Objective, c: Curve, pick: Pick, means: bool) -> np.ndarray | None:
    if any(m not in c.draws for m in pick.metrics()):
        return None
    part = _mean_oriented if means else _oriented
    if pick.first is not None:
        return part(goal, c, pick.first)
    return sum(w * part(goal, c, m) for m, w in (pick.weights or {}).items())


def compromise(goal: Objective, c: Curve, pick: Pick) -> Peak | None:
    """The share that promotion's rule (`pick`) would choose on the curve among those where
    the constraints are predicted to hold (on the mean response); None when none does or a
    metric has no model."""
    score, draws = _pick_score(goal, c, pick, True), _pick_score(goal, c, pick, False)
    if score is None or any(k.metric not in c.draws for k in goal.constraints):
        return None
    ok = np.ones(len(c.shares), bool)
    ok_draws = np.ones(draws.shape, bool)
    for k in goal.constraints:
        op = COMPARE[k.op]
        ok &= op(np.array([p.mean for p in c.predictions[k.metric]]), k.value)
        ok_draws &= op(c.draws[k.metric], k.value)
    if not goal.constraints:
        return _peak(c, score, draws)
    return _peak(c, score, draws, ok, ok_draws)


def change(c: Curve, metric: str, share: float, base: float) -> tuple[float, float, float]:
    """(mean, low, high): how much the mean response of `metric` moves from share `base` to
    `share` on the curve, with its 90% interval from the joint draws."""
    diff = c.draws[metric][:, c.at(share)] - c.draws[metric][:, c.at(base)]
    mean = c.predictions[metric][c.at(share)].mean - c.predictions[metric][c.at(base)].mean
    lo, hi = np.percentile(diff, _TAILS)
    return float(mean), float(lo), float(hi)


def curves(cfg: SweepConfig, model: ResponseModel, held: Mapping[str, Any]) -> list[Curve]:
    """One curve per searched mixture share, in the search space's order."""
    return [curve(model, dim, held) for dim in mixture_dims(model) if dim in cfg.search.space]
