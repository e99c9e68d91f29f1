"""`sweeplab report SWEEP`: a verdict on each mitigation the sweep searched, with intervals.

Everything comes from MLflow (the trial runs, their metrics and per-example tables), so the
numbers in the report are the numbers in the runs. Bootstrap seeds are fixed: the same sweep
gives the same report.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common.tags import REPORT_DIR
from evaluation.metric_registry import logged
from mlflow_server.tracking import Tracker
from sweeps.config import eval_metric_keys
from sweeps.report import sections
from sweeps.report.front import front_section, plot_front
from sweeps.report.html import to_html
from sweeps.report.importance import as_metrics, importance_section, importances
from sweeps.report.judgement import judge_report
from sweeps.report.leaderboard import best, rows_from_runs
from sweeps.report.mix_section import PLOT as MIX_PLOT
from sweeps.report.mix_section import how_much_to_mix
from sweeps.report.plots import plot_deltas, plot_objective_by_dimension
from sweeps.report.response import seed_sd
from sweeps.report.runs import TableCache, Trial, evaluated_steps, load_sweep
from sweeps.report.seeds import by_point, is_confirmed, is_replicate, seed_sections
from sweeps.report.spend import cost_section
from sweeps.report.stopping import stopped_section
from sweeps.report.verdict_section import noise_lines, verdicts
from sweeps.report.verdicts import seed_like
from training.examples import SOURCES


def finished_trials(tracker: Tracker, parent, cfg) -> list[Trial]:
    """The sweep's finished trials that logged every metric on the three sets (every
    metric the sweep's trials logged: one logged before chrF existed reports without it)."""
    runs = tracker.trial_runs(parent.info.run_id)
    finished = [r for r in rows_from_runs(runs, cfg) if r.status == "FINISHED"]
    keys = eval_metric_keys(logged([r.metrics for r in finished], SOURCES))
    rows = [r for r in finished if all(k in r.metrics for k in keys)]
    by_id = {r.info.run_id: r for r in runs}
    return [
        Trial(
            r,
            dict(by_id[r.run_id].data.params),
            evaluated_steps(tracker, by_id[r.run_id]),
            dict(by_id[r.run_id].data.tags),
        )
        for r in rows
    ]


def build_report(tracker: Tracker, sweep: str, out_dir: Path) -> tuple[Path, Path]:
    """Write `report.md` and `report.html` (+ plots) to `out_dir`, log them to the sweep's
    parent run under `report/`; returns the two paths."""
    parent, cfg = load_sweep(tracker, sweep)
    found = finished_trials(tracker, parent, cfg)
    # The search's trials carry the sweep's verdicts; replicates (the sweep's own and
    # `sweeplab confirm`'s) measure training noise, and confirm's add the seed-aware sections.
    trials = [t for t in found if not is_replicate(t)]
    reps = [t for t in found if is_replicate(t)]
    if not trials:
        raise ValueError(f"sweep {sweep!r} has no finished trial to report on")
    goal = cfg.search.goal()
    top = best([t.row for t in trials], goal)
    if top is None:
        raise ValueError(f"sweep {sweep!r} has no finished trial that meets {goal.label()}")
    best_t = next(t for t in trials if t.row.run_id == top.run_id)
    seed_t = seed_like(trials)
    compare = [t for t in (seed_t, best_t) if t is not None]
    out_dir.mkdir(parents=True, exist_ok=True)
    front_png = plot_front(cfg, trials, seed_t, out_dir / "pareto_front.png")
    groups = {
        p: [t.row for t in ts] for p, ts in by_point([t for t in reps if is_confirmed(t)]).items()
    }
    front_md = (
        front_section(cfg, trials, groups, front_png and front_png.name) if goal.multi else []
    )
    importance = importances(cfg, [t.row for t in trials])
    if importance:
        tracker.log_metrics(parent.info.run_id, as_metrics(importance), 0)
    with tempfile.TemporaryDirectory() as tmp:
        tables = TableCache(tracker, Path(tmp))
        judged = judge_report(cfg, trials, reps, tables)
        md = (
            sections.header(sweep, cfg, trials, parent.info.run_id)
            + noise_lines(cfg, judged)
            + cost_section(cfg, dict(parent.data.metrics), found)
            + sections.overview(cfg, best_t, seed_t)
            + front_md
            + verdicts(cfg, trials, judged)
            + importance_section(cfg, importance)
            + how_much_to_mix(cfg, found, best_t, out_dir, seed_sd(judged.noise))
            + seed_sections(cfg, reps, judged.effects, judged.seed_aware)
            + stopped_section(trials)
            + sections.lengths(compare, cfg.data.names())
            + sections.errors(compare, seed_t, tables, cfg.data.names())
            + sections.decisions(cfg, compare, best_t)
        )
    mix_png = out_dir / MIX_PLOT
    plots = [p for p in (front_png,) if p is not None and goal.multi] + [mix_png] * mix_png.exists()
    plots += [
        plot_objective_by_dimension(
            [t.row for t in trials], cfg, out_dir / "objective_by_dimension.png"
        ),
        plot_deltas([t.row for t in trials], goal, out_dir / "deltas_top_trials.png"),
    ]
    listed = [p for p in plots if p != mix_png]  # shown in its section already
    md += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in listed]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(to_html(md, plots), encoding="utf-8")
    for p in (md_path, html_path, *plots):
        tracker.log_artifact(parent.info.run_id, p, REPORT_DIR)
    return md_path, html_path
