"""The MLflow UI views a sweep's links open: saved on the experiment as the UI's own shared
views (`Tracker.share_view`), so a link shows what a reader came for without clicking.

- `sweeplab-runs`: the runs table, best objective first, with the objective, the three sets'
  headline metric (METEOR) and the searched values as columns;
- `sweeplab-curves`: (opened in chart mode) the charts filtered to the training loss, every
  trial in one chart;
- `sweeplab-grouped`: the runs table in start order, the trials listed under their sweep.
"""

from __future__ import annotations

from evaluation.metric_registry import HEADLINE
from sweeps.config import SweepConfig
from training.examples import SOURCES

RUNS_VIEW = "sweeplab-runs"
CURVES_VIEW = "sweeplab-curves"
GROUPED_VIEW = "sweeplab-grouped"


def _metric(name: str) -> str:
    return f"metrics.`{name}`"


def runs_view(cfg: SweepConfig) -> dict:
    columns = [_metric("objective"), *(_metric(f"{s}/{HEADLINE.name}") for s in SOURCES)]
    columns += [f"params.`{key}`" for key in cfg.search.space]
    return {
        "orderByKey": _metric("objective"),
        "orderByAsc": cfg.search.goal().first.mode == "min",
        "selectedColumns": columns,
    }


def curves_view(cfg: SweepConfig) -> dict:
    return {**runs_view(cfg), "chartsSearchFilter": "train/loss"}


def grouped_view(cfg: SweepConfig, parent_run_id: str) -> dict:
    view = {k: v for k, v in runs_view(cfg).items() if not k.startswith("orderBy")}
    return {**view, "runsExpanded": {parent_run_id: True}}


def views(cfg: SweepConfig, parent_run_id: str) -> dict[str, dict]:
    return {
        RUNS_VIEW: runs_view(cfg),
        CURVES_VIEW: curves_view(cfg),
        GROUPED_VIEW: grouped_view(cfg, parent_run_id),
    }
