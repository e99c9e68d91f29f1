"""`sweeplab sweep CONFIG --from SWEEP`: a new sweep that starts from what a finished one
learned, instead of from nothing.

- **History**: the earlier sweep's finished search trials, with their objective values (and
  constraint violations), are given to Optuna as completed trials (`study.add_trial`, what
  Ray's `evaluated_rewards` does for one objective, here for several too) and to the
  never-propose-twice check as already run, so no configuration of the earlier sweep is run
  again. That holds when the earlier sweep trained as this one does (every setting outside
  the searched keys alike); when it trained otherwise (more steps, another model, another
  eval split), its trials are not this sweep's configurations: nothing is given as history
  and its front is run again at the new settings.
- **First proposals**: the earlier sweep's Pareto front (one objective: its best) in this
  sweep's space, unless already run; then the response model's most promising untried points
  (`sweeps.report.proposals`, fitted on the earlier trials), then the config's own
  `points_to_evaluate`.
- The parent run records where it started from (`sweeplab.warm_start_from`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from common.dicts import flatten
from common.tags import is_search
from mlflow_server.tracking import RUN_FINISHED, Tracker
from sweeps.config import Choice, ConfigError, SweepConfig
from sweeps.report.leaderboard import Row, rows_from_runs
from sweeps.report.proposals import propose
from sweeps.report.runs import SweepNotFound, load_sweep
from sweeps.run.confirm_plan import _same, _typed
from sweeps.run.unique_search import config_key


@dataclass(frozen=True)
class WarmStart:
    earlier: str
    same_settings: bool
    differs: str
    """The first setting outside the searched keys that differs ('' when none)."""
    history: tuple[tuple[dict[str, Any], tuple[float, ...], tuple[float, ...]], ...] = ()
    """(point, objective values, constraint violations) of each earlier finished trial."""
    first: tuple[dict[str, Any], ...] = ()
    """Proposals to run first: the earlier front, then the model's, none already run."""
    tried: frozenset[str] = field(default_factory=frozenset)
    """`config_key`s of the earlier configurations (when they count as run here)."""

    def points(self, own: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The sweep's first points: these, then its own `points_to_evaluate` not yet run."""
        seen, out = set(self.tried), []
        for p in [*self.first, *own]:
            if (key := config_key(p)) not in seen:
                seen.add(key)
                out.append(p)
        return out


def _in_space(cfg: SweepConfig, row: Row) -> dict[str, Any] | None:
    """The row's values as a point of this sweep's space, or None if one lies outside it."""
    point = {}
    for key, dim in cfg.search.space.items():
        value = _typed(cfg, key, row.params.get(key, ""))
        if isinstance(dim, Choice):
            if not any(_same(value, c) for c in dim.choice):
                return None
        else:
            try:
                value = float(value)
            except (TypeError, ValueError):
                return None
            if not (dim.low <= value <= dim.high and math.isfinite(value)):
                return None
            value = int(value) if dim.integer else value
        point[key] = value
    return point


def _first_difference(old: SweepConfig, new: SweepConfig) -> str:
    searched = set(old.search.space) | set(new.search.space)
    a, b = flatten(old.trial_dict()), flatten(new.trial_dict())
    for key in sorted(set(a) | set(b)):
        if key not in searched and a.get(key) != b.get(key):
            return f"{key} was {a.get(key)!r}, now {b.get(key)!r}"
    return ""


def load_warm_start(tracker: Tracker, cfg: SweepConfig, proposals: int = 0) -> WarmStart:
    """What sweep `cfg.search.warm_start_from` gives this one; refuses (one line) an earlier
    sweep that is missing, unfinished, this one, or has no finished trial in this space."""
    earlier = cfg.search.warm_start_from or ""
    if earlier == cfg.name:
        raise ConfigError(f"--from {earlier}: a sweep cannot start from itself")
    try:
        parent, old = load_sweep(tracker, earlier)
    except SweepNotFound as exc:
        raise ConfigError(f"--from: {exc}") from None
    if parent.info.status != RUN_FINISHED:
        raise ConfigError(f"--from {earlier}: that sweep has not finished ({parent.info.status})")
    runs = [r for r in tracker.trial_runs(parent.info.run_id) if is_search(r.data.tags)]
    rows = [r for r in rows_from_runs(runs, cfg) if r.status == "FINISHED"]
    placed = [(r, p) for r in rows if (p := _in_space(cfg, r)) is not None]
    if not placed:
        raise ConfigError(f"--from {earlier}: no finished trial of it lies in this search space")
    goal = cfg.search.goal()
    differs = _first_difference(old, cfg)
    same = not differs
    history = []
    if same:
        for row, point in placed:
            values = goal.values(row.metrics)
            if all(v is not None and math.isfinite(v) for v in values):
                history.append((point, tuple(values), tuple(goal.violations(row.metrics))))
    tried = frozenset(config_key(p) for _, p in placed) if same else frozenset()
    front_rows = goal.front([r for r, _ in placed])
    by_id = {r.run_id: p for r, p in placed}
    first = [by_id[r.run_id] for r in front_rows]
    first += promising(cfg, [r for r, _ in placed], proposals)
    return WarmStart(earlier, same, differs, tuple(history), tuple(first), tried)


def promising(cfg: SweepConfig, rows: list[Row], n: int) -> list[dict[str, Any]]:
    """The response model's `n` most promising untried points (none when it cannot fit)."""
    return propose(cfg, rows, n) if n > 0 else []


def describe(w: WarmStart) -> str:
    """One line on what the earlier sweep gave this one."""
    if w.same_settings:
        given = f"{len(w.history)} finished trial(s) as history (not run again)"
    else:
        given = f"no history (it trained otherwise: {w.differs})"
    return f"warm start from {w.earlier!r}: {given}; {len(w.first)} first proposal(s)"
