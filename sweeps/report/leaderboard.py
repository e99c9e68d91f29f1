"""The trials of a sweep as a table, read back from MLflow (the record, not Ray's memory)."""

from __future__ import annotations

from dataclasses import dataclass

from common.tags import STOPPED_EARLY_TAG, TRIAL_TAG
from evaluation.metric_registry import logged
from sweeps.config import SweepConfig, eval_metric_keys
from sweeps.cost import ACCELERATOR_S, WALL_S, accelerator_kind, summary, totals
from sweeps.objective import Objective
from training.examples import SOURCES


@dataclass(frozen=True)
class Row:
    trial_id: str
    run_id: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    stopped_early: bool


def rows_from_runs(runs: list, cfg: SweepConfig) -> list[Row]:
    rows = []
    for run in runs:
        tags = run.data.tags
        searched = {k: run.data.params.get(k, "") for k in cfg.search.space}
        rows.append(
            Row(
                tags.get(TRIAL_TAG, run.info.run_id[:8]),
                run.info.run_id,
                run.info.status,
                searched,
                dict(run.data.metrics),
                tags.get(STOPPED_EARLY_TAG) == "true",
            )
        )
    return sorted(rows, key=lambda r: r.trial_id)


def best(rows: list[Row], goal: Objective) -> Row | None:
    """The best finished trial (several objectives: the front member best on the first)."""
    return goal.best(rows)


def ordered(rows: list[Row], goal: Objective) -> list[Row]:
    """Best first (`Objective.ranked`), then the others by the first objective, then
    those without one."""
    ranked = goal.ranked(rows)
    chosen = {r.run_id for r in ranked}

    def key(r: Row) -> tuple:
        first = goal.value(r.metrics)
        if first is None:
            return (True, 0.0, r.trial_id)
        return (False, -first if goal.first.mode == "max" else first, r.trial_id)

    return ranked + sorted((r for r in rows if r.run_id not in chosen), key=key)


def marked(rows: list[Row], goal: Objective) -> set[str]:
    """The run ids a table marks: the best trial (one objective), the front (several)."""
    if goal.multi:
        return {r.run_id for r in goal.front(rows)}
    top = goal.best(rows)
    return set() if top is None else {top.run_id}


def logged_keys(rows: list[Row]) -> list[str]:
    """`dataset/metric` of the registry metrics the evaluated rows all logged (a sweep
    logged before a metric existed has no column for it)."""
    return eval_metric_keys(logged([r.metrics for r in rows], SOURCES))


def render(rows: list[Row], cfg: SweepConfig) -> str:
    """A fixed-width table: searched values, each set's metrics, the objective, what each
    trial cost (wall seconds, accelerator-hours); the best trial marked (several objectives:
    every member of the Pareto front); the total cost below."""
    goal = cfg.search.goal()
    top = best(rows, goal)
    stars = marked(rows, goal)
    metric_cols = logged_keys(rows)
    kind = accelerator_kind(cfg.search.resources.gpu)
    heads = ["", "trial"] + list(cfg.search.space) + metric_cols + ["objective", "status"]
    heads += ["wall_s", f"{kind}_h"]
    body = []
    for r in rows:
        mark = "*" if r.run_id in stars else ""
        status = r.status.lower() + (" (early)" if r.stopped_early else "")
        body.append(
            [mark, r.trial_id]
            + [r.params.get(k, "") for k in cfg.search.space]
            + [f"{r.metrics[m]:.3f}" if m in r.metrics else "-" for m in metric_cols]
            + [f"{r.metrics['objective']:.4f}" if "objective" in r.metrics else "-", status]
            + [_cost(r.metrics, WALL_S, 1, ".0f"), _cost(r.metrics, ACCELERATOR_S, 3600, ".3f")]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(heads, *body, strict=True)]

    def line(cells: list) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(heads), line(["-" * w for w in widths])] + [line(b) for b in body]
    if goal.multi:
        front = [r.trial_id for r in rows if r.run_id in stars]
        out.append(
            f"* Pareto front of {goal.label()}: "
            + (f"trial(s) {', '.join(front)}" if front else "empty (no finished trial qualifies)")
        )
    elif top is not None:
        out.append(
            f"* best trial {top.trial_id} ({goal.first.metric} = "
            f"{top.metrics['objective']:.4f}), run {top.run_id}"
        )
    out.append(f"cost: {summary(totals(r.metrics for r in rows), cfg.search.resources.gpu)}")
    return "\n".join(out)


def _cost(metrics: dict[str, float], key: str, per: float, fmt: str) -> str:
    return format(metrics[key] / per, fmt) if key in metrics else "-"
