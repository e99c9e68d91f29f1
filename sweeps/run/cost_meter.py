"""A trial's own cost clock: wall and evaluation seconds, tokens trained and generated.

Counted by the trial itself, kept in each checkpoint (`cost.json`), so a trial restored after
a kill or a failure continues its count instead of restarting it, and the time the sweep was
down is never in it. Work done after the last report of a killed attempt is not counted (it
left no checkpoint). Ray-free: `run_trial` uses it under Ray or in a plain loop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sweeps.cost import EVAL_SHARE, TOKENS_GENERATED, TOKENS_TRAINED, WALL_S

COST_STATE = "cost.json"
"""In a checkpoint: the trial's cost so far (`CostMeter.state`)."""


class CostMeter:
    """Started when the trial starts; `evaluated` and `trained` at each report."""

    def __init__(self, restored: Path | None = None, clock=time.monotonic):
        path = restored / COST_STATE if restored is not None else None
        state = json.loads(path.read_text("utf-8")) if path is not None and path.is_file() else {}
        self.clock = clock
        self.started = clock()
        self.before_s = float(state.get("wall_s", 0.0))
        self.eval_s = float(state.get("eval_s", 0.0))
        self.generated = float(state.get("tokens_generated", 0.0))
        self.phase_tokens: dict[str, float] = dict(state.get("phase_tokens", {}))
        """Phase (trainer folder) -> non-padding tokens its trainer has seen."""

    def wall_s(self) -> float:
        return self.before_s + self.clock() - self.started

    def evaluated(self, seconds: float, results: dict) -> None:
        """One evaluation took `seconds` and generated `results` (`evaluate_all`'s)."""
        self.eval_s += seconds
        self.generated += sum(g.tokens for r in results.values() for g in r.generations)

    def timed(self, evaluate):
        """`evaluate()` -> (metrics, results), its time and generated tokens counted."""
        began = self.clock()
        metrics, results = evaluate()
        self.evaluated(self.clock() - began, results)
        return metrics, results

    def trained(self, phase: str, tokens_seen: float | None) -> None:
        """The trainer of `phase` has seen `tokens_seen` tokens (its state counts a resumed
        phase from its start)."""
        if tokens_seen is not None:
            self.phase_tokens[phase] = float(tokens_seen)

    def at_report(self, trainer_ckpt: Path, tokens_seen: float | None) -> dict[str, float]:
        """The cost metrics of a report whose trainer checkpoint is `trainer_ckpt` (in its
        phase's folder) after `tokens_seen` tokens of that phase."""
        self.trained(Path(trainer_ckpt).parent.name, tokens_seen)
        return self.metrics()

    def metrics(self) -> dict[str, float]:
        wall = self.wall_s()
        return {
            WALL_S: wall,
            TOKENS_TRAINED: sum(self.phase_tokens.values()),
            TOKENS_GENERATED: self.generated,
            EVAL_SHARE: self.eval_s / wall if wall > 0 else 0.0,
        }

    def state(self, metrics: dict[str, float]) -> dict:
        """What a checkpoint keeps: the count as of `metrics` (this report's)."""
        return {
            "wall_s": metrics[WALL_S],
            "eval_s": self.eval_s,
            "tokens_generated": self.generated,
            "phase_tokens": self.phase_tokens,
        }

    def save(self, ckpt: Path, metrics: dict[str, float]) -> None:
        (ckpt / COST_STATE).write_text(json.dumps(self.state(metrics)), encoding="utf-8")
