"""A config's objectives, constraints and pick rule checked against what its trials log;
each problem one line naming the key (`sweeps.config` calls these at load)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sweeps.objective import Constraint, Mode, Objective, Pick, Target


def known_metric(metric: str, datasets: Iterable[str], metrics: Iterable[str]) -> bool:
    """Whether `metric` names something a sweep's trials log: `mean_<metric>` or
    `<dataset>/<metric>` for one of the three scored metrics."""
    datasets, metrics = tuple(datasets), tuple(metrics)
    if metric.startswith("mean_"):
        return metric.removeprefix("mean_") in metrics
    return metric in {f"{d}/{m}" for d in datasets for m in metrics}


def known_dataset(metric: str, datasets: Iterable[str], metrics: Iterable[str]) -> bool:
    """Looser, for constraints and gates: any `<dataset>/...` of the sweep's eval sets
    (`alpaca/meteor_delta_pct`), or `mean_<metric>`."""
    if metric.startswith("mean_"):
        return metric.removeprefix("mean_") in tuple(metrics)
    dataset, sep, rest = metric.partition("/")
    return bool(sep and rest) and dataset in tuple(datasets)


def declared(
    objective: str, mode: Mode, objectives: Sequence[Target], constraints: Sequence[str]
) -> Objective:
    """A config's `Objective`: `objectives` when given, else the single `objective`."""
    targets = tuple(objectives) or (Target(metric=objective, mode=mode),)
    return Objective(targets, tuple(Constraint.parse(c) for c in constraints))


def check_declared(
    objective: str,
    objectives: Sequence[Target],
    constraints: Sequence[str],
    datasets: tuple[str, ...],
    metrics: tuple[str, ...],
) -> None:
    """A config's objectives name metrics the trials log, its constraints metrics of its
    eval sets; `objective` and `objectives` not both (the default `objective` aside)."""
    if objectives and objective not in ("mean_meteor", objectives[0].metric):
        raise ValueError(
            "search: give `objectives` or `objective`, not both "
            f"({objective!r} vs {objectives[0].metric!r})"
        )
    valid = {f"mean_{m}" for m in metrics} | {f"{s}/{m}" for s in datasets for m in metrics}
    for i, t in enumerate(objectives or (Target(metric=objective),)):
        if not known_metric(t.metric, datasets, metrics):
            where = f"objectives[{i}].metric" if objectives else "objective"
            raise ValueError(f"search: unknown {where} {t.metric!r} (one of {sorted(valid)})")
    for i, text in enumerate(constraints):
        c = Constraint.parse(text)
        if not known_dataset(c.metric, datasets, metrics):
            raise ValueError(
                f"search.constraints[{i}]: {c.metric!r} is not a metric of the eval sets "
                f"({', '.join(datasets)})"
            )
    declared(objective, "max", objectives, constraints)  # two objectives on one metric


def check_pick(pick: Pick | None, goal: Objective) -> None:
    """`promotion.pick` names objectives only."""
    for metric in pick.metrics() if pick is not None else ():
        if metric not in goal.metrics:
            raise ValueError(
                f"promotion.pick: {metric!r} is not one of search.objectives "
                f"({', '.join(goal.metrics)})"
            )
