"""What mattered: each searched dimension's importance for each objective, by Optuna's
PED-ANOVA over the sweep's finished search trials.

The trials are read back from MLflow (their searched values and final metrics) and added to
an in-memory Optuna study per objective (`add_trials`), so the numbers come from the record,
not from the searcher's memory. PED-ANOVA compares the distribution of each dimension's
values among the best trials (the top 10% by default, at least 2) with that among all of
them; importances are normalized to sum to 1. With few trials they are rough: a dimension
the sweep barely varied cannot show importance.
"""

from __future__ import annotations

import json

from sweeps.config import Choice, Range, SweepConfig
from sweeps.objective import Objective
from sweeps.report.leaderboard import Row

METRIC_PREFIX = "importance"
"""Parent-run metrics: `importance/<objective metric>/<dimension>`."""
MIN_TRIALS = 3


def _distribution(spec):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(spec, Range):
        if spec.integer:
            return IntDistribution(int(spec.low), int(spec.high), log=spec.log)
        return FloatDistribution(spec.low, spec.high, log=spec.log)
    return CategoricalDistribution(tuple(json.dumps(v) for v in spec.choice))


def _param(spec, text: str):
    """An MLflow param (a string) as the distribution's value; None when it is not one."""
    if isinstance(spec, Choice):
        for v in spec.choice:
            same = str(v) == text
            try:
                same = same or float(v) == float(text)
            except (TypeError, ValueError):
                pass
            if same:
                return json.dumps(v)
        return None
    try:
        x = float(text)
    except (TypeError, ValueError):
        return None
    x = int(round(x)) if spec.integer else x
    return x if spec.low <= x <= spec.high else None


def importances(cfg: SweepConfig, rows: list[Row]) -> dict[str, dict[str, float]]:
    """objective metric -> {dimension: importance}; empty when fewer than MIN_TRIALS
    finished trials have the objective, or nothing was varied."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    goal: Objective = cfg.search.goal()
    space = cfg.search.space
    dists = {d: _distribution(s) for d, s in space.items()}
    out: dict[str, dict[str, float]] = {}
    for i, target in enumerate(goal.targets):
        trials = []
        for r in rows:
            value = goal.value(r.metrics, i)
            params = {d: _param(space[d], r.params.get(d, "")) for d in space}
            if r.status != "FINISHED" or value is None or None in params.values():
                continue
            trials.append(
                optuna.trial.create_trial(params=params, distributions=dists, value=value)
            )
        varied = [d for d in space if len({t.params[d] for t in trials}) > 1]
        if len(trials) < MIN_TRIALS or not varied:
            continue
        direction = "maximize" if target.mode == "max" else "minimize"
        study = optuna.create_study(direction=direction)
        study.add_trials(trials)
        got = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator(), params=varied)
        out[target.metric] = {d: float(got.get(d, 0.0)) for d in space}
    return out


def as_metrics(found: dict[str, dict[str, float]]) -> dict[str, float]:
    return {
        f"{METRIC_PREFIX}/{metric}/{dim}": v
        for metric, dims in found.items()
        for dim, v in dims.items()
    }


def importance_section(cfg: SweepConfig, found: dict[str, dict[str, float]]) -> list[str]:
    md = ["", "## What mattered (parameter importance per objective, PED-ANOVA)", ""]
    if not found:
        return md + [
            f"Not computed: it needs at least {MIN_TRIALS} finished trials with the objective "
            "and a dimension that varied.",
        ]
    metrics = list(found)
    md += [
        "| dimension | " + " | ".join(metrics) + " |",
        "|---|" + "---|" * len(metrics),
    ]
    for dim in cfg.search.space:
        md.append(f"| {dim} | " + " | ".join(f"{found[m][dim]:.2f}" for m in metrics) + " |")
    md += [
        "",
        "Importances sum to 1 per objective; logged on the parent run as "
        f"`{METRIC_PREFIX}/<objective>/<dimension>`. Few trials make them rough.",
    ]
    return md
