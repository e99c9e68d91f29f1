"""Every plot of a sweep (PNG, matplotlib's Agg backend), and the leaderboard CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from evaluation.metric_registry import logged
from sweeps.config import SweepConfig
from sweeps.objective import Objective
from sweeps.report.leaderboard import Row, best, logged_keys, marked, ordered
from training.examples import SOURCES


def write_csv(rows: list[Row], cfg: SweepConfig, path: Path) -> Path:
    goal = cfg.search.goal()
    top = best(rows, goal)
    front = marked(rows, goal) if goal.multi else None
    metrics = logged_keys(rows)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "trial_id",
                "run_id",
                "status",
                "stopped_early",
                "best",
                *cfg.search.space,
                *metrics,
                "objective",
                *(["pareto"] if front is not None else []),
            ]
        )
        for r in ordered(rows, goal):
            w.writerow(
                [
                    r.trial_id,
                    r.run_id,
                    r.status,
                    r.stopped_early,
                    top is not None and r.run_id == top.run_id,
                    *(r.params.get(k, "") for k in cfg.search.space),
                    *(r.metrics.get(m, "") for m in metrics),
                    r.metrics.get("objective", ""),
                    *([r.run_id in front] if front is not None else []),
                ]
            )
    return path


def _as_number(value: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def save_figure(fig, path: Path) -> None:
    """Laid out, written at the report's resolution, and closed (pyplot keeps every open
    figure)."""
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_objective_by_dimension(rows: list[Row], cfg: SweepConfig, path: Path) -> Path:
    plt = _pyplot()
    dims = list(cfg.search.space) or ["(none)"]
    fig, axes = plt.subplots(1, len(dims), figsize=(4 * len(dims), 3.4), squeeze=False)
    done = [r for r in rows if "objective" in r.metrics]
    for ax, dim in zip(axes[0], dims, strict=True):
        values = [r.params.get(dim, "") for r in done]
        nums = [_as_number(v) for v in values]
        if all(n is not None for n in nums) and nums:
            xs = nums
        else:
            cats = sorted(set(values))
            xs = [cats.index(v) for v in values]
            ax.set_xticks(range(len(cats)), cats)
        ax.scatter(xs, [r.metrics["objective"] for r in done], color="tab:blue")
        ax.set_xlabel(dim)
        ax.set_ylabel(cfg.search.goal().first.metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{cfg.name}: objective by search dimension")
    save_figure(fig, path)
    return path


def plot_metrics_by_trial(rows: list[Row], path: Path) -> Path:
    import numpy as np

    plt = _pyplot()
    metrics = logged_keys(rows)
    done = [r for r in rows if all(m in r.metrics for m in metrics)]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(done) + 3), 4))
    width = 0.8 / len(metrics)
    for i, m in enumerate(metrics):
        ax.bar(np.arange(len(done)) + i * width, [r.metrics[m] for r in done], width, label=m)
    ax.set_xticks(np.arange(len(done)) + 0.4 - width / 2, [r.trial_id for r in done], rotation=30)
    ax.set_ylabel("score")
    labels = [m.label for m in logged([r.metrics for r in done], SOURCES)]
    ax.set_title(" / ".join(labels) + " by trial")
    ax.legend(fontsize=7, ncol=3)
    save_figure(fig, path)
    return path


def plot_deltas(rows: list[Row], goal: Objective, path: Path, top: int = 4) -> Path:
    """Change vs the base model (%) per dataset and metric, for the `top` trials (best
    first, in the objective's own direction)."""
    import numpy as np

    plt = _pyplot()
    ranked = ordered(rows, goal)[:top]
    metrics = logged([r.metrics for r in rows], SOURCES)
    fig, axes = plt.subplots(
        1, max(1, len(metrics)), figsize=(4.3 * max(1, len(metrics)), 3.6), squeeze=False
    )
    for ax, m in zip(axes[0], metrics, strict=False):
        width = 0.8 / max(1, len(ranked))
        for i, r in enumerate(ranked):
            vals = [r.metrics.get(f"{ds}/{m.name}_delta_pct", 0.0) for ds in SOURCES]
            ax.bar(np.arange(len(SOURCES)) + i * width, vals, width, label=r.trial_id)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(np.arange(len(SOURCES)) + 0.4 - width / 2, SOURCES)
        ax.set_title(f"{m.label} change vs base (%)")
    axes[0][0].legend(fontsize=7)
    save_figure(fig, path)
    return path


def write_leaderboard(rows: list[Row], cfg: SweepConfig, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_csv(rows, cfg, out_dir / "leaderboard.csv"),
        plot_objective_by_dimension(rows, cfg, out_dir / "objective_by_dimension.png"),
        plot_metrics_by_trial(rows, out_dir / "metrics_by_trial.png"),
    ]
