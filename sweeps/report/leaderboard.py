"""The trials of a sweep as a table, read back from MLflow (the record, not Ray's memory)."""

from __future__ import annotations

from dataclasses import dataclass

from sweeps.config import SweepConfig, nine_metrics
from sweeps.cost import ACCELERATOR_S, WALL_S, accelerator_kind, summary, totals


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
                tags.get("sweeplab.trial_id", run.info.run_id[:8]),
                run.info.run_id,
                run.info.status,
                searched,
                dict(run.data.metrics),
                tags.get("sweeplab.stopped_early") == "true",
            )
        )
    return sorted(rows, key=lambda r: r.trial_id)


def best(rows: list[Row], mode: str = "max") -> Row | None:
    done = [r for r in rows if r.status == "FINISHED" and "objective" in r.metrics]
    if not done:
        return None
    pick = max if mode == "max" else min
    return pick(done, key=lambda r: r.metrics["objective"])


def render(rows: list[Row], cfg: SweepConfig) -> str:
    """A fixed-width table: searched values, the nine metrics, the objective, what each
    trial cost (wall seconds, accelerator-hours); best marked; the total cost below."""
    top = best(rows, cfg.search.mode)
    metric_cols = nine_metrics()
    kind = accelerator_kind(cfg.search.resources.gpu)
    heads = ["", "trial"] + list(cfg.search.space) + metric_cols + ["objective", "status"]
    heads += ["wall_s", f"{kind}_h"]
    body = []
    for r in rows:
        mark = "*" if top is not None and r.run_id == top.run_id else ""
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
    if top is not None:
        out.append(
            f"* best trial {top.trial_id} ({cfg.search.objective} = "
            f"{top.metrics['objective']:.4f}), run {top.run_id}"
        )
    out.append(f"cost: {summary(totals(r.metrics for r in rows), cfg.search.resources.gpu)}")
    return "\n".join(out)


def _cost(metrics: dict[str, float], key: str, per: float, fmt: str) -> str:
    return format(metrics[key] / per, fmt) if key in metrics else "-"
