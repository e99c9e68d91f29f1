"""The searcher a sweep's objective asks for: Optuna through Ray Tune.

One objective without constraints: Ray's `OptunaSearch` on the reported `objective`, as it
always was. Several objectives: `OptunaSearch` with the objectives' metric and mode lists
(Optuna's TPE sampler is multi-objective: it models the non-dominated trials as the good
ones). Constraints: TPE's `constraints_func`, which reads the violations this searcher
stores on each Optuna trial when Ray hands it the trial's last result (<= 0: respected), so
the sampler prefers configurations that respect them. Ray's schedulers compare one number:
ASHA's rungs compare `objective`, the first objective's value (see README).
"""

from __future__ import annotations

from functools import partial

from ray.tune.search.optuna import OptunaSearch

from sweeps.objective import Objective

CONSTRAINTS_ATTR = "sweeplab_constraints"
"""The Optuna trial user attribute holding the constraint violations of its last result."""


def constraint_values(trial, n: int) -> list[float]:
    """Optuna's `constraints_func`: the stored violations, or all broken (a trial that
    reported nothing)."""
    return list(trial.user_attrs.get(CONSTRAINTS_ATTR, [1e9] * n))


class ConstrainedOptunaSearch(OptunaSearch):
    """`OptunaSearch` that tells Optuna how far each finished trial is from its constraints,
    and that starts from `history`: (point, objective values, violations) of trials run
    before (`sweeplab sweep --from`), added to its study as completed trials."""

    def __init__(self, *args, goal: Objective, history=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.goal = goal
        self.history = list(history)

    def _setup_study(self, mode):
        super()._setup_study(mode)
        import optuna

        for point, values, violations in self.history:
            attrs = {CONSTRAINTS_ATTR: list(violations)} if self.goal.constraints else {}
            self._ot_study.add_trial(
                optuna.trial.create_trial(
                    state=optuna.trial.TrialState.COMPLETE,
                    params=dict(point),
                    distributions=self._space,
                    values=list(values),
                    user_attrs=attrs,
                )
            )
        self.history = []  # given once: a restored searcher has them in its study

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None and self.goal.constraints:
            ot_trial.set_user_attr(CONSTRAINTS_ATTR, self.goal.violations(result or {}))
        super().on_trial_complete(trial_id, result, error)


def make_searcher(
    goal: Objective, seed: int, points: list[dict] | None, history=()
) -> OptunaSearch:
    """Ray's `OptunaSearch` for `goal`: as always for one plain objective; with several
    objectives or constraints, a seeded TPE sampler that knows them; with `history`, one
    that starts from those trials."""
    if not goal.multi and not goal.constraints:
        if history:
            return ConstrainedOptunaSearch(
                seed=seed, points_to_evaluate=points, goal=goal, history=history
            )
        return OptunaSearch(seed=seed, points_to_evaluate=points)
    import optuna

    sampler = optuna.samplers.TPESampler(
        seed=seed,
        constraints_func=partial(constraint_values, n=len(goal.constraints))
        if goal.constraints
        else None,
    )
    lists = {"metric": list(goal.metrics), "mode": list(goal.modes)} if goal.multi else {}
    return ConstrainedOptunaSearch(
        sampler=sampler, points_to_evaluate=points, goal=goal, history=history, **lists
    )
