"""A budget that holds: the ledger read back from the trial runs, the search's gate, the
stop rule, and reads that page past MLflow's 1,000 runs."""

from __future__ import annotations

from types import SimpleNamespace

from ray.tune.search import Searcher

from mlflow_server.paging import PAGE, all_pages
from sweeps.budget import Budget
from sweeps.cost import ACCELERATOR_S, WALL_S
from sweeps.run.budget import BudgetGate, BudgetStop, Spend


def _run(trial_id: str, wall: float | None) -> SimpleNamespace:
    metrics = {} if wall is None else {WALL_S: wall, ACCELERATOR_S: 2 * wall}
    data = SimpleNamespace(tags={"sweeplab.trial_id": trial_id}, metrics=metrics)
    return SimpleNamespace(data=data, info=SimpleNamespace(run_id=f"run-{trial_id}"))


def test_the_ledger_counts_earlier_sessions_and_says_once_when_spent():
    said: list[str] = []
    # Given two trials run before (one never reported), a budget of 3 trials and 1 GPU-hour
    runs = [_run("a", 900), _run("b", None)]
    spend = Spend.from_runs(Budget(trials=3, gpu_hours=1), runs, said.append)
    assert spend.spent() == {"gpu_hours": 0.5, "wall_hours": 0.25, "trials": 2}
    assert spend.allows_new() and spend.left(5) == 1
    # ... a trial's later report replaces its earlier one (latest, not summed).
    spend.record("a", {WALL_S: 1800, ACCELERATOR_S: 3600})
    assert spend.exhausted() == "gpu_hours 1 of 1"
    assert not spend.allows_new() and not spend.allows_new()
    assert said == ["budget spent (gpu_hours 1 of 1): no new trial starts; running trials finish"]


class Inner(Searcher):
    def __init__(self):
        super().__init__(metric="objective", mode="max")
        self.asked = 0

    def suggest(self, trial_id):
        self.asked += 1
        return {"x": self.asked}


def test_the_gate_hands_out_no_trial_past_the_budget():
    logger = SimpleNamespace(spend=Spend(Budget(trials=2), say=lambda text: None))
    gate = BudgetGate(Inner(), logger)
    assert gate.suggest("t1") == {"x": 1} and gate.suggest("t2") == {"x": 2}
    assert gate.suggest("t3") == Searcher.FINISHED
    assert gate.searcher.asked == 2 and logger.spend.started == {"t1", "t2"}
    # Without a budget (or on a restored copy not attached): the inner searcher, as is.
    assert BudgetGate(Inner(), SimpleNamespace()).suggest("t1") == {"x": 1}


def test_running_trials_stop_at_their_next_report_only_when_asked():
    for on_spent, stops in (("finish", False), ("stop", True)):
        logger = SimpleNamespace(spend=Spend(Budget(wall_hours=1, on_spent=on_spent)))
        stop = BudgetStop(logger)
        assert not stop("t1", {WALL_S: 1000})
        assert stop("t2", {WALL_S: 2600}) is stops
        assert not stop.stop_all()


class Page(list):
    def __init__(self, items, token):
        super().__init__(items)
        self.token = token


def test_every_page_is_read():
    pages = {None: Page(range(PAGE), "p2"), "p2": Page(range(PAGE), "p3"), "p3": Page([1], "")}
    asked = []

    def search(token):
        asked.append(token)
        return pages[token]

    assert len(all_pages(search)) == 2 * PAGE + 1 and asked == [None, "p2", "p3"]
