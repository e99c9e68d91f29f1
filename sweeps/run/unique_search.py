"""A searcher that never proposes a configuration the sweep has already run or started.

Optuna's seeded TPE samples a small discrete space with replacement, so it proposes the same
configuration again (a wasted trial each time). `UniqueSearch` wraps it: a suggestion whose
searched values match one already handed out is told back to the inner searcher as failed
(TPE ignores failed trials when it models the space) and the inner searcher is asked again,
at most `retries` times; past that the space is taken as exhausted and the search ends
(`Searcher.FINISHED`), the trials already running still finishing. What was handed out is
saved and restored with the inner searcher, so a resumed sweep remembers it.
"""

from __future__ import annotations

import json
import pickle
import sys
import tempfile
from pathlib import Path

from ray.tune.search import Searcher
from ray.tune.utils import flatten_dict


def config_key(config: dict) -> str:
    """The searched values of a suggestion, as one comparable string (numbers as floats)."""
    flat = flatten_dict(config, delimiter=".")
    norm = {
        k: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for k, v in flat.items()
    }
    return json.dumps(norm, sort_keys=True, default=str)


class UniqueSearch(Searcher):
    def __init__(self, searcher: Searcher, retries: int = 50):
        self.searcher = searcher
        self.retries = retries
        self.seen: set[str] = set()
        self.alias: dict[str, str] = {}
        """Tune's trial id -> the id the inner searcher knows the trial by (a retry's)."""
        self.skipped = 0
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        # The inner searcher's own metrics (several objectives) win over Tune's one, which
        # is the scheduler's.
        metric, mode = self.searcher.metric or metric, self.searcher.mode or mode
        ok = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.searcher.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str):
        for attempt in range(self.retries + 1):
            ask_id = trial_id if attempt == 0 else f"{trial_id}-retry{attempt}"
            config = self.searcher.suggest(ask_id)
            if config is None or config == Searcher.FINISHED:
                return config
            key = config_key(config)
            if key not in self.seen:
                self.seen.add(key)
                if ask_id != trial_id:
                    self.alias[trial_id] = ask_id
                return config
            self.skipped += 1
            self.searcher.on_trial_complete(ask_id, result=None, error=True)
        print(
            f"sweeplab: every proposal in {self.retries + 1} was a configuration already run; "
            "the search ends",
            file=sys.stderr,
            flush=True,
        )
        return Searcher.FINISHED

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(self.alias.get(trial_id, trial_id), result)

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.searcher.on_trial_complete(self.alias.get(trial_id, trial_id), result, error)

    def add_evaluated_point(
        self, parameters, value, error=False, pruned=False, intermediate_values=None
    ):
        self.seen.add(config_key(parameters))
        return self.searcher.add_evaluated_point(
            parameters, value, error, pruned, intermediate_values
        )

    def on_pause(self, trial_id: str) -> None:
        self.searcher.on_pause(self.alias.get(trial_id, trial_id))

    def on_unpause(self, trial_id: str) -> None:
        self.searcher.on_unpause(self.alias.get(trial_id, trial_id))

    # Ray's SearchGenerator saves a wrapper's own state (`get_state`) beside its innermost
    # searcher's checkpoint; `save`/`restore` keep both in one file for direct use.
    def get_state(self) -> dict:
        return {"seen": sorted(self.seen), "alias": dict(self.alias), "skipped": self.skipped}

    def set_state(self, state: dict) -> None:
        self.seen, self.alias = set(state["seen"]), dict(state["alias"])
        self.skipped = int(state["skipped"])

    def save(self, checkpoint_path: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            inner = Path(tmp) / "inner.pkl"
            self.searcher.save(str(inner))
            state = {"inner": inner.read_bytes(), **self.get_state()}
        with open(checkpoint_path, "wb") as fh:
            pickle.dump(state, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            state = pickle.load(fh)
        with tempfile.TemporaryDirectory() as tmp:
            inner = Path(tmp) / "inner.pkl"
            inner.write_bytes(state["inner"])
            self.searcher.restore(str(inner))
        self.set_state(state)
