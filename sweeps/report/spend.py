"""What the sweep cost, in the report: its total and its budget, what each verdict rests on,
and what the seeds a still-inconclusive effect needs would cost."""

from __future__ import annotations

from sweeps.config import SweepConfig
from sweeps.cost import ACCELERATOR_S, TRIALS, accelerator_kind, hours, spend, summary, totals
from sweeps.report.runs import Trial


def cost_section(
    cfg: SweepConfig, parent_metrics: dict[str, float], trials: list[Trial]
) -> list[str]:
    """The parent run's sums (every trial run) and, when set, the budget beside them; a
    parent logged before costs were: the sums over `trials`."""
    gpu = cfg.search.resources.gpu
    if TRIALS not in parent_metrics:
        parent_metrics = totals(t.row.metrics for t in trials)
    md = ["", "## Cost", "", f"Spent: {summary(parent_metrics, gpu)}."]
    limits = cfg.search.budget.limits()
    if limits:
        spent = spend(parent_metrics)
        md += ["", "| budget | limit | spent | left |", "|---|---|---|---|"]
        for name, limit in limits.items():
            md.append(
                f"| {name} | {limit:g} | {spent[name]:.3g} | {max(0.0, limit - spent[name]):.3g} |"
            )
        md += ["", f"When spent, running trials {_on_spent(cfg)}."]
    return md


def _on_spent(cfg: SweepConfig) -> str:
    return "finish" if cfg.search.budget.on_spent == "finish" else "stop at their next report"


def rests_on(cfg: SweepConfig, trials: list[Trial]) -> str:
    """`rests on 4 trial(s), 0.12 h GPU`."""
    total = sum(t.row.metrics.get(ACCELERATOR_S, 0.0) for t in trials)
    kind = accelerator_kind(cfg.search.resources.gpu)
    return f"rests on {len(trials)} trial(s), {hours(total)} {kind}"


def seeds_cost(cfg: SweepConfig, n: int, runs: list[Trial]) -> str:
    """`n` seeds for each of two configurations, priced at the mean cost of `runs`."""
    costs = [t.row.metrics[ACCELERATOR_S] for t in runs if ACCELERATOR_S in t.row.metrics]
    if not costs:
        return str(n)
    each = sum(costs) / len(costs)
    return f"{n} (≈{hours(2 * n * each)} {accelerator_kind(cfg.search.resources.gpu)})"
