"""What a trial costs, by name: the `cost/...` metrics each trial run logs (cumulative over
its attempts, as of its latest report) and their sums on the sweep's parent run.

One home for the names: the trial that writes them, the budget that counts them, the
leaderboard and the report that show them all import them from here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

WALL_S = "cost/wall_s"
"""Seconds the trial ran (model load, training, evaluation), summed over its attempts up to
its latest report; time the sweep was down, or a worker waited for a slot, is not in it."""
ACCELERATOR_S = "cost/accelerator_s"
"""Accelerator-seconds held: GPUs per trial x `cost/wall_s`; on a CPU-only trial (no GPU in
`search.resources`), CPU-seconds held: CPUs per trial x `cost/wall_s`."""
TOKENS_TRAINED = "cost/tokens_trained"
"""Non-padding tokens the trial trained on, over all its phases (the trainers' own count)."""
TOKENS_GENERATED = "cost/tokens_generated"
"""Tokens the trial generated in its evaluations (end-of-sequence excluded)."""
EVAL_SHARE = "cost/eval_share"
"""The share of `cost/wall_s` spent evaluating (generation and scoring), 0..1."""
TRIALS = "cost/trials"
"""On the parent run only: the trial runs its sums cover."""

SUMMED = (WALL_S, ACCELERATOR_S, TOKENS_TRAINED, TOKENS_GENERATED)
"""Costs whose sweep total is the sum over trials (`EVAL_SHARE` is weighted by wall time)."""
PER_TRIAL = (*SUMMED, EVAL_SHARE)


def accelerator_kind(gpu: float) -> str:
    """What `cost/accelerator_s` counts for trials holding `gpu` GPUs each."""
    return "GPU" if gpu > 0 else "CPU"


def accelerator_seconds(wall_s: float, gpu: float, cpu: float) -> float:
    """GPUs held x wall seconds, or CPUs held x wall seconds on a CPU-only trial."""
    return (gpu if gpu > 0 else cpu) * wall_s


def totals(trials: Iterable[dict[str, float]]) -> dict[str, float]:
    """The parent run's sums over trial runs' metrics: each summed cost, the wall-weighted
    evaluation share and the number of trials counted (those that logged a cost)."""
    costed = [m for m in trials if WALL_S in m]
    out = {k: float(sum(m.get(k, 0.0) for m in costed)) for k in SUMMED}
    wall = out[WALL_S]
    evals = sum(m.get(EVAL_SHARE, 0.0) * m[WALL_S] for m in costed)
    out[EVAL_SHARE] = evals / wall if wall > 0 else 0.0
    out[TRIALS] = float(len(costed))
    return out


def hours(seconds: float | None) -> str:
    """`1.23 h`, `0.004 h`: hours with three significant digits."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    h = seconds / 3600
    return f"{h:.3g} h"


def summary(cost: dict[str, float], gpu: float) -> str:
    """One line: trials, accelerator-hours, trial wall-hours, tokens, evaluation share."""
    kind = accelerator_kind(gpu)
    return (
        f"{int(cost.get(TRIALS, 0))} trial(s), {hours(cost.get(ACCELERATOR_S))} {kind} "
        f"(accelerator-hours), {hours(cost.get(WALL_S))} trial wall-clock, "
        f"{cost.get(TOKENS_TRAINED, 0):,.0f} tokens trained, "
        f"{cost.get(TOKENS_GENERATED, 0):,.0f} generated, "
        f"{100 * cost.get(EVAL_SHARE, 0):.0f}% of the time evaluating"
    )


def spend(cost: dict[str, float]) -> dict[str, float]:
    """`totals` in the units of `search.budget`'s limits (same names)."""
    return {
        "gpu_hours": cost.get(ACCELERATOR_S, 0.0) / 3600,
        "wall_hours": cost.get(WALL_S, 0.0) / 3600,
        "trials": cost.get(TRIALS, 0.0),
    }
