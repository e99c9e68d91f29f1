"""The report's Pareto front (several objectives): which trials no other beats on every
objective at once, what each costs, and, where `sweeplab confirm` ran replicates, the front
of the confirmed configurations on their means, with the members seed noise cannot tell
apart.

Two front members are *separable* when each is better than the other on some objective
beyond seed noise (the 95% t-interval of the difference of their replicate means excludes
zero); otherwise one of them may be dominated by the other, or both be the same, within
the noise.
"""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np

from sweeps.config import SweepConfig
from sweeps.objective import Objective, metric_value
from sweeps.report.leaderboard import Row
from sweeps.report.runs import Trial

LEVEL = 0.95


def point_means(groups: dict[int, list[Row]]) -> list[Row]:
    """One row per confirmed configuration (`[i]`): each metric's mean over its finished
    replicates (the metrics all of them logged)."""
    out = []
    for p, rows in sorted(groups.items()):
        done = [r for r in rows if r.status == "FINISHED"]
        keys = set.intersection(*(set(r.metrics) for r in done)) if done else set()
        metrics = {k: float(np.mean([r.metrics[k] for r in done])) for k in sorted(keys)}
        status = "FINISHED" if done else "RUNNING"
        out.append(Row(f"[{p}]", f"point-{p}", status, dict(rows[0].params), metrics, False))
    return out


def _values(rows: list[Row], metric: str) -> list[float]:
    vals = [metric_value(r.metrics, metric) for r in rows if r.status == "FINISHED"]
    return [v for v in vals if v is not None]


def mean_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """(mean, low, high): the 95% t-interval of the mean over replicates."""
    from scipy import stats

    m = float(np.mean(values))
    if len(values) < 2:
        return m, None, None
    half = stats.t.ppf((1 + LEVEL) / 2, len(values) - 1) * np.std(values, ddof=1)
    half /= math.sqrt(len(values))
    return m, m - half, m + half


def _beyond_noise(a: list[float], b: list[float]) -> float:
    """> 0 when mean(a) - mean(b) is above zero beyond seed noise, < 0 below, 0 inside."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return 0.0
    diff = float(np.mean(a) - np.mean(b))
    se = math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    half = stats.t.ppf((1 + LEVEL) / 2, len(a) + len(b) - 2) * se
    return diff if abs(diff) > half else 0.0


def inseparable(groups: dict[int, list[Row]], goal: Objective) -> list[tuple[str, str]]:
    """Pairs of front members (of the confirmed configurations) that seed noise cannot
    tell apart: neither is better than the other on some objective beyond the noise."""
    means = point_means(groups)
    front = [r.trial_id for r in goal.front(means)]
    out = []
    for a, b in combinations(front, 2):
        ga, gb = groups[int(a.strip("[]"))], groups[int(b.strip("[]"))]
        signs = []
        for t in goal.targets:
            d = _beyond_noise(_values(ga, t.metric), _values(gb, t.metric))
            signs.append(d if t.mode == "max" else -d)
        if not (any(s > 0 for s in signs) and any(s < 0 for s in signs)):
            out.append((a, b))
    return out


def _cell(metrics: dict, metric: str) -> str:
    v = metric_value(metrics, metric)
    if v is None:
        return "n/a"
    key = f"{metric}_delta_pct"
    lo, hi = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if key in metrics and lo is not None and hi is not None:
        return f"{v:.4f} (Δ {metrics[key]:+.1f}% [{lo:+.1f}, {hi:+.1f}])"
    return f"{v:.4f}"


def _place(goal: Objective, rows: list[Row]) -> dict[str, str]:
    return {tid: "**front**" if s.pareto else s.why for tid, s in goal.statuses(rows).items()}


def front_section(
    cfg: SweepConfig, trials: list[Trial], groups: dict[int, list[Row]], plot: str | None
) -> list[str]:
    """The front of the search trials (value and change vs base with its 95% interval for
    each objective), then that of the confirmed configurations on their replicate means."""
    goal = cfg.search.goal()
    rows = [t.row for t in trials]
    place = _place(goal, rows)
    pick = cfg.promotion.pick or goal.default_pick()
    chosen = goal.choose(rows, pick)
    heads = [str(t) for t in goal.targets] + [str(c) for c in goal.constraints]
    md = [
        "",
        "## Pareto front",
        "",
        f"Objectives {goal.label()}. A trial is on the front when it respects every "
        "constraint and no other finished trial is at least as good on every objective and "
        "better on one. Each value: the trial's score (change vs the base model, 95% "
        "paired-bootstrap interval).",
        "",
        f"Promotion's rule `{pick}` chooses "
        + (f"`{chosen.trial_id}`." if chosen else "nothing (the front is empty)."),
        "",
        "| trial | " + " | ".join(cfg.search.space) + " | " + " | ".join(heads) + " | place |",
        "|---|" + "---|" * (len(cfg.search.space) + len(heads) + 1),
    ]
    for r in sorted(rows, key=lambda r: (place[r.trial_id] != "**front**", r.trial_id)):
        cells = [r.params.get(d, "") for d in cfg.search.space]
        cells += [_cell(r.metrics, t.metric) for t in goal.targets]
        cells += [_cell(r.metrics, c.metric) for c in goal.constraints]
        md.append(f"| {r.trial_id} | " + " | ".join(cells) + f" | {place[r.trial_id]} |")
    if plot:
        md += ["", f"![front]({plot})"]
    return md + (_confirmed(cfg, goal, groups) if groups else []) + [""]


def _confirmed(cfg: SweepConfig, goal: Objective, groups: dict[int, list[Row]]) -> list[str]:
    means = point_means(groups)
    place = _place(goal, means)
    md = [
        "",
        "### On the confirmed configurations (replicate means, 95% t-interval over seeds)",
        "",
        "| configuration | "
        + " | ".join(cfg.search.space)
        + " | seeds | "
        + " | ".join(str(t) for t in goal.targets)
        + " | place |",
        "|---|" + "---|" * (len(cfg.search.space) + len(goal.targets) + 2),
    ]
    for m in means:
        reps = groups[int(m.trial_id.strip("[]"))]
        cells = [m.params.get(d, "") for d in cfg.search.space]
        cells.append(str(len([r for r in reps if r.status == "FINISHED"])))
        for t in goal.targets:
            vals = _values(reps, t.metric)
            if not vals:
                cells.append("n/a")
                continue
            mean, lo, hi = mean_interval(vals)
            cells.append(f"{mean:.4f}" + ("" if lo is None else f" [{lo:.4f}, {hi:.4f}]"))
        md.append(f"| {m.trial_id} | " + " | ".join(cells) + f" | {place[m.trial_id]} |")
    pairs = inseparable(groups, goal)
    md.append("")
    if pairs:
        md.append(
            "Not separable given seed noise (neither is better on some objective beyond it): "
            + ", ".join(f"{a} and {b}" for a, b in pairs)
            + "."
        )
    else:
        md.append("Every two front members are separable given seed noise.")
    return md


def plot_front(
    cfg: SweepConfig, trials: list[Trial], seed: Trial | None, path: Path
) -> Path | None:
    """The first two objectives of every finished trial, the front drawn as a line,
    trials breaking a constraint as crosses, the seed-like baseline ringed."""
    from sweeps.report.plots import _pyplot, save_figure

    goal = cfg.search.goal()
    if len(goal.targets) < 2:
        return None
    plt = _pyplot()
    a, b = goal.targets[0], goal.targets[1]
    pts = [
        (t, metric_value(t.row.metrics, a.metric), metric_value(t.row.metrics, b.metric))
        for t in trials
    ]
    pts = [(t, x, y) for t, x, y in pts if x is not None and y is not None]
    front = {r.run_id for r in goal.front([t.row for t in trials])}
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ok = [p for p in pts if goal.feasible(p[0].row.metrics)]
    bad = [p for p in pts if not goal.feasible(p[0].row.metrics)]
    ax.scatter([x for _, x, _ in ok], [y for *_, y in ok], color="tab:blue", label="trial")
    if bad:
        ax.scatter(
            [x for _, x, _ in bad], [y for *_, y in bad], marker="x", color="tab:red",
            label="breaks a constraint",
        )  # fmt: skip
    on = sorted(
        ((x, y) for t, x, y in pts if t.row.run_id in front), key=lambda p: p[0],
        reverse=a.mode == "min",
    )  # fmt: skip
    if on:
        ax.plot(*zip(*on, strict=True), "-o", color="tab:orange", label="Pareto front")
    for t, x, y in pts:
        ax.annotate(t.row.trial_id, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if seed is not None and (s := next((p for p in pts if p[0] is seed), None)):
        ax.scatter([s[1]], [s[2]], s=220, facecolors="none", edgecolors="black",
                   label="seed-like baseline")  # fmt: skip
    ax.set_xlabel(str(a))
    ax.set_ylabel(str(b))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{cfg.name}: Pareto front")
    save_figure(fig, path)
    return path
