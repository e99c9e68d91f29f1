"""Holding a sweep to `search.budget`, from its trials' own accounting.

`Spend` is the ledger: trials started and each trial's latest `cost/...` (the trial counts
its own time, so the time a sweep was down is never spent). Each driver session builds it
from the sweep's trial runs in MLflow (search and confirmation, every earlier session), then
keeps it as Ray reports. Three places consult it: `BudgetGate` (the search's searcher: no new
trial once spent), `BudgetedGrid` (the confirmation's grid: the same) and `BudgetStop`
(`on_spent: stop`: running trials stop at their next report). They reach the ledger through
the MLflow logger (`logger.spend`), which a restored Tuner's pickled copies share while
`attached` (`sweeps.run.mlflow_logger`): the budget holds across `resume` as well.
"""

from __future__ import annotations

import sys

from ray.tune.search import BasicVariantGenerator, Searcher
from ray.tune.stopper import Stopper

from common.tags import TRIAL_TAG
from mlflow_server.tracking import Tracker
from sweeps.budget import Budget
from sweeps.config import SweepConfig
from sweeps.cost import ACCELERATOR_S, WALL_S


class Spend:
    """Trials started and what each cost so far, against the budget's limits."""

    def __init__(self, budget: Budget, say=print):
        self.budget = budget
        self.say = say
        self.started: set[str] = set()
        self.cost: dict[str, tuple[float, float]] = {}
        """Trial id -> (wall seconds, accelerator-seconds), as of its latest report."""
        self._sums = [0.0, 0.0]  # of `cost`, kept as it changes: `spent` is asked per step
        self.told = False

    @classmethod
    def from_runs(cls, budget: Budget, runs: list, say=print) -> Spend:
        """The ledger of the trial runs already in MLflow (every earlier session)."""
        spend = cls(budget, say)
        for run in runs:
            trial_id = run.data.tags.get(TRIAL_TAG, run.info.run_id)
            spend.start(trial_id)
            spend.record(trial_id, run.data.metrics)
        return spend

    def start(self, trial_id: str) -> None:
        self.started.add(trial_id)

    def record(self, trial_id: str, metrics: dict | None) -> None:
        if metrics and WALL_S in metrics:
            new = (float(metrics[WALL_S]), float(metrics.get(ACCELERATOR_S, 0)))
            old = self.cost.get(trial_id, (0.0, 0.0))
            self.cost[trial_id] = new
            self._sums = [s + n - o for s, n, o in zip(self._sums, new, old, strict=True)]

    def spent(self) -> dict[str, float]:
        """In the units of the budget's limits (constant time: Tune asks on every step)."""
        wall, held = self._sums
        return {
            "gpu_hours": held / 3600,
            "wall_hours": wall / 3600,
            "trials": float(len(self.started)),
        }

    def exhausted(self) -> str | None:
        """`trials 2 of 2` for the first limit reached, else None."""
        spent = self.spent()
        for name, limit in self.budget.limits().items():
            if spent[name] >= limit:
                return f"{name} {spent[name]:.3g} of {limit:g}"
        return None

    def allows_new(self) -> bool:
        """Whether a new trial may start; says once, in one line, when it may not."""
        why = self.exhausted()
        if why is not None and not self.told:
            self.told = True
            then = "finish" if self.budget.on_spent == "finish" else "stop at their next report"
            self.say(f"budget spent ({why}): no new trial starts; running trials {then}")
        return why is None

    def left(self, trials: int) -> int:
        """How many of `trials` new ones the trial-count limit still allows."""
        if self.budget.trials is None:
            return trials
        return max(0, min(trials, self.budget.trials - len(self.started)))


def _spend(logger) -> Spend | None:
    return getattr(logger, "spend", None)


class BudgetGate(Searcher):
    """A searcher that proposes nothing once the budget is spent (the search then ends,
    running trials finishing); counts each trial it hands out as started."""

    def __init__(self, searcher: Searcher, logger):
        self.searcher, self.logger = searcher, logger
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        ok = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str):
        spend = _spend(self.logger)
        if spend is not None and not spend.allows_new():
            return Searcher.FINISHED
        config = self.searcher.suggest(trial_id)
        if spend is not None and config not in (None, Searcher.FINISHED):
            spend.start(trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if (spend := _spend(self.logger)) is not None:
            spend.record(trial_id, result)
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        if (spend := _spend(self.logger)) is not None:
            spend.record(trial_id, result)
        self.searcher.on_trial_complete(trial_id, result, error)

    def add_evaluated_point(self, *args, **kwargs):
        return self.searcher.add_evaluated_point(*args, **kwargs)

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(trial_id)

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(trial_id)

    def get_state(self) -> dict:
        return self.searcher.get_state()

    def set_state(self, state: dict) -> None:
        self.searcher.set_state(state)

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


class BudgetedGrid(BasicVariantGenerator):
    """Ray's grid (lazy: `max_concurrent` live trials at most) that creates no new trial
    once the budget is spent."""

    def __init__(self, logger, max_concurrent: int):
        super().__init__(max_concurrent=max_concurrent)
        self.logger = logger

    def next_trial(self):
        spend = _spend(self.logger)
        if spend is not None and not spend.allows_new():
            self.set_finished()
            return None
        trial = super().next_trial()
        if spend is not None and trial is not None:
            spend.start(trial.trial_id)
        return trial


class BudgetStop(Stopper):
    """With `on_spent: stop`: a running trial stops at its next report once spent."""

    def __init__(self, logger):
        self.logger = logger

    def __call__(self, trial_id: str, result: dict) -> bool:
        spend = _spend(self.logger)
        if spend is None:
            return False
        spend.record(trial_id, result)
        return spend.budget.on_spent == "stop" and spend.exhausted() is not None

    def stop_all(self) -> bool:
        return False


def ledger(cfg: SweepConfig, tracker: Tracker, parent: str, outbox, out=None) -> Spend | None:
    """The sweep's ledger for this session (None without a budget): the writes an earlier
    session left in the outbox sent first, then every trial run of `parent` read."""
    if not cfg.search.budget.limits():
        return None
    outbox.flush(min(cfg.tracking_patience, 60))

    def say(text: str) -> None:
        print(f"sweep {cfg.name!r}: {text}", file=out or sys.stdout, flush=True)

    return Spend.from_runs(cfg.search.budget, tracker.trial_runs(parent), say)
