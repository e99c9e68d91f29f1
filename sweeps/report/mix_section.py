"""The report's "How much to mix": for each searched mixture share, each set's objective
metric along the share with its 90% band (the response model, `sweeps.report.response`), the
trials on that curve, the share that maximizes each objective and the best compromise under
the constraints, what it costs on each set; beside it, the model's own leave-one-out
validation, so that a curve not to be trusted says so."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sweeps.config import SweepConfig
from sweeps.objective import metric_value
from sweeps.report.encoding import number
from sweeps.report.mix_curves import Curve, Peak, best_share, change, compromise
from sweeps.report.response import (
    LEVEL,
    ResponseModel,
    Validation,
    fit_responses,
    metric_range,
    searched,
    section_metrics,
)
from sweeps.report.runs import Trial
from sweeps.report.seeds import is_replicate

PLOT = "how_much_to_mix.png"


def _held_text(cfg: SweepConfig, c: Curve, best: Trial) -> str:
    others = [f"{k}={c.held[k]}" for k in cfg.search.space if k != c.dim and k in c.held]
    return f"other searched values held at the best trial `{best.row.trial_id}`'s: " + (
        ", ".join(others) or "none"
    )


def _on_curve(model: ResponseModel, c: Curve) -> list[tuple[Trial, dict]]:
    """The fitted runs whose other searched values are the curve's, with their values."""
    dims = [d for d in model.encoder.dims if d.key != c.dim]
    return [
        (r, v)
        for r, v in zip(model.runs, model.values, strict=True)
        if all(
            (number(v.get(d.key)) == number(c.held.get(d.key)))
            if d.numeric
            else d.index(v.get(d.key)) == d.index(c.held.get(d.key))
            for d in dims
        )
    ]


def _cell(c: Curve, metric: str, share: float) -> str:
    p = c.predictions[metric][c.at(share)]
    f = ".4f" if metric_range(metric) else ".2f"  # a 0..1 metric, or a delta in %
    return f"{p.mean:{f}} [{p.low:{f}}, {p.high:{f}}]"


def _peak_text(p: Peak | None) -> str:
    if p is None:
        return "no share predicted to meet the constraints"
    return f"{p.share:.3g} (90% interval {p.low:.3g}–{p.high:.3g})"


def validation_lines(checks: list[Validation]) -> list[str]:
    md = [
        "| metric | runs | configurations | LOO rank correlation | LOO 90% coverage | trust |",
        "|---|---|---|---|---|---|",
    ]
    for v in checks:
        rho = "n/a" if v.rho is None else f"{v.rho:.2f}"
        cov = "n/a" if v.coverage is None else f"{100 * v.coverage:.0f}% ({v.inside}/{v.runs})"
        doubts = v.doubts()
        trust = "ok" if not doubts else "**not to be trusted**: " + "; ".join(doubts)
        md.append(f"| {v.metric} | {v.runs} | {v.configurations} | {rho} | {cov} | {trust} |")
    return md


def _curve_lines(cfg: SweepConfig, model: ResponseModel, c: Curve, best: Trial) -> list[str]:
    goal = cfg.search.goal()
    shown = [m for m in section_metrics(cfg) if m in c.predictions]
    pick = cfg.promotion.pick or goal.default_pick()
    peaks = {t.metric: best_share(goal, c, t.metric) for t in goal.targets}
    chosen = compromise(goal, c, pick)
    spec = model.encoder.dim(c.dim)
    searched = [float(v) for v in getattr(cfg.search.space[c.dim], "choice", ())] or list(
        np.linspace(spec.low, spec.high, 5)
    )
    rows = sorted({round(float(c.shares[c.at(s)]), 6) for s in searched} | {
        round(p.share, 6) for p in [*peaks.values(), chosen] if p is not None
    })  # fmt: skip
    here = _on_curve(model, c)
    md = [
        f"### {c.dim}",
        "",
        f"Curves along {c.dim}, {_held_text(cfg, c, best)}.",
        "",
        f"| {c.dim} | " + " | ".join(shown) + " | trials here |",
        "|---|" + "---|" * (len(shown) + 1),
    ]
    for s in rows:
        at = [r.row.trial_id for r, v in here if number(v.get(c.dim)) == s]
        md.append(
            f"| {s:g} | "
            + " | ".join(_cell(c, m, s) for m in shown)
            + f" | {', '.join(at) or '-'} |"
        )
    md.append("")
    for t in goal.targets:
        p = peaks[t.metric]
        if p is not None:
            md.append(
                f"- **{t}** is best at {c.dim} = {_peak_text(p)}: {_cell(c, t.metric, p.share)}"
            )
    if goal.multi or goal.constraints:
        rule = f"promotion's rule `{pick}`" + (
            f", subject to {', '.join(f'`{k}`' for k in goal.constraints)}"
            if goal.constraints
            else ""
        )
        unmodelled = [k.metric for k in goal.constraints if k.metric not in c.draws]
        where = f"not computed (no model of {', '.join(unmodelled)})" if unmodelled else None
        line = f"- **Best compromise** ({rule}): {where or f'{c.dim} = {_peak_text(chosen)}'}"
        if chosen is not None and chosen.feasible is not None:
            line += f"; the constraints hold there with probability {chosen.feasible:.2f}"
        md.append(line)
    if chosen is not None:
        base = float(c.shares[0])
        if abs(chosen.share - base) < 1e-9:  # the best is where the curve starts: no move
            md.append(f"- Nothing to weigh: the best share is {base:g} itself, no mixing.")
            return md + [""]
        moves = []
        for m in shown:  # a 0..1 metric in points, another (a delta in %) in its own units
            k, unit = (100, " pts") if metric_range(m) else (1, "")
            mean, lo, hi = (k * x for x in change(c, m, chosen.share, base))
            moves.append(f"{m} {mean:+.1f}{unit} [{lo:+.1f}, {hi:+.1f}]")
        md.append(f"- What {chosen.share:.3g} costs against {base:g}: " + "; ".join(moves) + ".")
    return md + [""]


def mix_section(
    cfg: SweepConfig,
    model: ResponseModel | None,
    curves: list[Curve],
    checks: list[Validation],
    best: Trial,
    plot: str | None,
    why_not: str = "",
) -> list[str]:
    md = ["", "## How much to mix (response model)", ""]
    if model is None:
        return md + [f"Not computed: {why_not}.", ""]
    runs = len(model.runs)
    reps = sum(1 for r in model.runs if is_replicate(r))
    reps_text = f" ({reps} of them replicates)" if reps else ""
    left = f"; {len(model.left_out)} left out (not placeable)" if model.left_out else ""
    if model.stopped:
        left += (
            f"; {model.stopped} stopped early by the scheduler, placed at the share of their "
            "budget they reached (an input; the curves are at the whole budget)"
        )
    sampled = f" (a sample of {model.sampled_from})" if model.sampled_from else ""
    noise = sorted(set(model.noise_from.values()))
    md += [
        f"A Gaussian process per metric predicts it from the searched values; fitted on "
        f"{runs} finished runs{sampled}{reps_text}{left}. "
        f"Bands and intervals of a value: {LEVEL:.0%} for one new run (one training seed); "
        f"of a share: where {LEVEL:.0%} of the curves the model finds plausible peak. Seed "
        f"noise: {', '.join(noise)}. `sweeplab predict {cfg.name} --set KEY=VALUE` predicts "
        "any configuration.",
        "",
        "**Can these curves be trusted?** Leave-one-out over the finished trials ("
        + (
            checks[0].method
            if checks and checks[0].checked
            else "not computed: it needs at least 3 configurations"
        )
        + "): the held-out runs' rank correlation (Spearman) with their predictions, and how "
        f"many fell inside their {LEVEL:.0%} interval (about {LEVEL:.0%} if the intervals "
        "are honest).",
        "",
        *validation_lines(checks),
        "",
    ]
    if not curves:
        return md + ["The sweep searched no mixture share (`mix.<name>`).", ""]
    for c in curves:
        md += _curve_lines(cfg, model, c, best)
    if plot:
        md += [f"![how much to mix]({plot})", ""]
    return md


def plot_mix(cfg: SweepConfig, model: ResponseModel, curves: list[Curve], path: Path) -> Path:
    """One row per mixture share, one panel per metric: the predicted mean, its 90% band for
    one new run, the trials on the curve (black) and the others (grey, at other settings;
    hollow: stopped early), the best compromise (dashed)."""
    from sweeps.report.plots import _pyplot, save_figure

    plt = _pyplot()
    goal = cfg.search.goal()
    pick = cfg.promotion.pick or goal.default_pick()
    shown = [m for m in section_metrics(cfg) if m in model.models]
    fig, axes = plt.subplots(
        len(curves), len(shown), figsize=(3.6 * len(shown), 3.0 * len(curves)), squeeze=False
    )
    for row, c in zip(axes, curves, strict=True):
        here = {r.row.run_id for r, _ in _on_curve(model, c)}
        chosen = compromise(goal, c, pick)
        for ax, m in zip(row, shown, strict=True):
            p = c.predictions[m]
            ax.fill_between(
                c.shares, [x.low for x in p], [x.high for x in p], alpha=0.25, color="tab:blue",
                label="90% for one run",
            )  # fmt: skip
            ax.plot(c.shares, [x.mean for x in p], color="tab:blue", label="predicted")
            for r, v in zip(model.runs, model.values, strict=True):
                y = metric_value(r.row.metrics, m)
                on = r.row.run_id in here
                if y is not None:  # a trial stopped early: hollow (a smaller budget)
                    color = "black" if on else "0.7"
                    ax.scatter(
                        [number(v.get(c.dim))], [y], s=18 if on else 10, zorder=3,
                        facecolors="none" if r.row.stopped_early else color, edgecolors=color,
                    )  # fmt: skip
            if chosen is not None:
                ax.axvline(chosen.share, ls="--", color="tab:orange", lw=1, label="chosen share")
            ax.set_xlabel(c.dim)
            ax.set_title(m, fontsize=9)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{cfg.name}: how much to mix (black: trials on the curve; grey: elsewhere)")
    save_figure(fig, path)
    return path


def how_much_to_mix(
    cfg: SweepConfig,
    found: list[Trial],
    best: Trial,
    out_dir: Path,
    seed_sd: Mapping[str, float] | None = None,
) -> list[str]:
    """The section, from the response model on the finished runs (trials and replicates;
    `seed_sd`: the measured seed noise per metric), with its plot in `out_dir`."""
    from sweeps.report.mix_curves import curves

    (out_dir / PLOT).unlink(missing_ok=True)
    try:
        model = fit_responses(cfg, found, section_metrics(cfg), seed_sd)
    except ValueError as exc:
        return mix_section(cfg, None, [], [], best, None, str(exc))
    checks = [model.validate(k) for k in section_metrics(cfg) if k in model.models]
    lines = curves(cfg, model, searched(cfg, best))
    plot = plot_mix(cfg, model, lines, out_dir / PLOT).name if lines else None
    return mix_section(cfg, model, lines, checks, best, plot)
