"""ASHA that says why: every rung decision (rung, value, cut-off, continue or stop).

`AuditedASHA` decides exactly as Ray's `ASHAScheduler` (it calls it); around each call it
reads the trial's bracket before and after to see which rung the result was recorded at and
the cut-off it was compared with (the bracket's quantile of the values recorded there
before), and hands that to `on_decision(trial, decision)`: the MLflow logger, which tags
the trial's run `sweeplab.rung.<t>`.

ASHA compares one number, `objective`: with several objectives that is the first one's
value, and each decision says so (`compares`).
"""

from __future__ import annotations

from collections.abc import Callable

from ray.tune.schedulers import ASHAScheduler, TrialScheduler


def rung_decision(bracket, trial_id: str, run: Callable[[], str]) -> tuple[str, dict | None]:
    """Run `run()` (which calls the bracket's `on_result`) and describe the rung decision
    it made: (action, {rung, cutoff}), or (action, None) when no new rung was reached."""
    before = {m: (trial_id in rec, bracket.cutoff(rec)) for m, rec in bracket._rungs}
    action = run()
    for milestone, recorded in bracket._rungs:
        seen, cutoff = before[milestone]
        if not seen and trial_id in recorded:
            rung = int(milestone) if float(milestone).is_integer() else float(milestone)
            return action, {"rung": rung, "cutoff": None if cutoff is None else float(cutoff)}
    return action, None


class AuditedASHA(ASHAScheduler):
    def __init__(
        self,
        *args,
        on_decision: Callable[[object, dict], None] | None = None,
        compares: str | None = None,
        **kw,
    ):
        super().__init__(*args, **kw)
        self.on_decision = on_decision
        self.compares = compares
        """What `objective` is, when it is not the sweep's only objective."""

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if self._time_attr not in result or self._metric not in result:
            return super().on_trial_result(tune_controller, trial, result)
        if result[self._time_attr] >= self._max_t and self._stop_last_trials:
            return super().on_trial_result(tune_controller, trial, result)  # the full budget
        action, where = rung_decision(
            self._trial_info[trial.trial_id],
            trial.trial_id,
            lambda: super(AuditedASHA, self).on_trial_result(tune_controller, trial, result),
        )
        if where is None:
            return action
        cutoff = where["cutoff"]
        decision = {
            "rung": where["rung"],
            "time_attr": self._time_attr,
            "metric": self._metric,
            "value": float(result[self._metric]),
            # the bracket compares metric_op * value: back in the metric's own sign
            "cutoff": None if cutoff is None else self._metric_op * cutoff,
            "mode": self._mode,
            "decision": "stop" if action == TrialScheduler.STOP else "continue",
        }
        if self.compares:
            decision["compares"] = self.compares
        if self.on_decision is not None:
            self.on_decision(trial, decision)
        return action
