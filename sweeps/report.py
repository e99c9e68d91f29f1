"""`sweeplab report SWEEP`: a verdict on each mitigation the sweep searched, with intervals.

Everything comes from MLflow (the trial runs, their metrics and per-example tables), so the
numbers in the report are the numbers in the runs. Bootstrap seeds are fixed: the same sweep
gives the same report.
"""

from __future__ import annotations

import base64
import html
import json
import re
import tempfile
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from evaluation.analysis import FLAGS
from mlflow_server.registry import download_run_dir
from mlflow_server.tracking import Tracker
from sweeps.config import Choice, SweepConfig
from sweeps.effects import Effect, ExampleScores, paired_effect, regression_effect
from sweeps.leaderboard import Row, best, rows_from_runs
from sweeps.promote import load_sweep
from sweeps.trial import nine_metrics
from training.examples import SOURCES

METRIC_NAMES = {"meteor": "METEOR", "rougeL": "ROUGE-L", "bleu": "BLEU"}
# Where each dimension is expected to act first (the others are reported too).
HEADLINE = {"mix.openorca": "openorca", "mix.dolly": "dolly"}


@dataclass
class Trial:
    row: Row
    params: dict[str, str]
    steps: list[int]


def _control(cfg: SweepConfig, dim: str) -> str:
    spec = cfg.search.space[dim]
    if isinstance(spec, Choice):
        values = list(spec.choice)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        return json.dumps(min(values) if numeric else values[0]) if values else ""
    return json.dumps(spec.low)


def _is_control(value: str, control: str) -> bool:
    try:
        return float(value) == float(json.loads(control))
    except (TypeError, ValueError):
        return (
            value == json.loads(control)
            or value == control
            or (value in ("None", "null", "") and control == "null")
        )


Tables = dict[tuple[str, int], dict[str, ExampleScores]]


def _table(tracker: Tracker, run_id: str, step: int, tmp: Path, cache: Tables):
    """One trial's per-example scores at one step, downloaded once per report."""
    if (run_id, step) not in cache:
        cache[run_id, step] = _read_table(tracker, run_id, step, tmp)
    return cache[run_id, step]


def _read_table(tracker: Tracker, run_id: str, step: int, tmp: Path) -> dict[str, ExampleScores]:
    path = download_run_dir(
        tracker.client, run_id, f"eval/predictions_step{step}.json", tmp / run_id / str(step)
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    cols = data["columns"]
    rows = [dict(zip(cols, r, strict=True)) for r in data["data"]]
    out = {}
    for ds in SOURCES:
        rs = [r for r in rows if r["dataset"] == ds]
        out[ds] = ExampleScores(
            np.array([r["meteor"] for r in rs], float),
            np.array([r["rougeL"] for r in rs], float),
            [r["prediction"] for r in rs],
            [r["reference"] for r in rs],
        )
    return out


def _steps(tracker: Tracker, run_id: str) -> list[int]:
    arts = tracker.client.list_artifacts(run_id, "eval")
    steps = [int(m.group(1)) for a in arts if (m := re.search(r"predictions_step(\d+)", a.path))]
    return sorted(steps)


def dimension_effects(
    tracker: Tracker, cfg: SweepConfig, trials: list[Trial], dim: str, tmp: Path, cache: Tables
) -> list[Effect]:
    control = _control(cfg, dim)
    others = [d for d in cfg.search.space if d != dim]
    pairs = []
    for a, b in combinations(trials, 2):
        if all(a.params[o] == b.params[o] for o in others) and (
            _is_control(a.params[dim], control) != _is_control(b.params[dim], control)
        ):
            c, t = (a, b) if _is_control(a.params[dim], control) else (b, a)
            common = sorted(set(c.steps) & set(t.steps))
            if common:
                pairs.append((c, t, common[-1]))
    effects: list[Effect] = []
    if pairs:
        tables = [
            (
                _table(tracker, c.row.run_id, s, tmp, cache),
                _table(tracker, t.row.run_id, s, tmp, cache),
            )
            for c, t, s in pairs
        ]
        steps = ", ".join(str(s) for *_, s in pairs)
        method = f"paired: {len(pairs)} pair(s) differing only in {dim}, step {steps}"
        for ds in SOURCES:
            for m in METRIC_NAMES:
                pt, lo, hi = paired_effect([(c[ds], t[ds]) for c, t in tables], m)
                effects.append(
                    Effect(f"{ds}/{m}", pt, lo, hi, method, len(tables[0][0][ds].meteor))
                )
        return effects
    dims = list(cfg.search.space)
    ind = np.array(
        [[0.0 if _is_control(t.params[d], _control(cfg, d)) else 1.0 for d in dims] for t in trials]
    )
    method = f"regression over {len(trials)} trials (final metrics; one indicator per dimension)"
    for ds in SOURCES:
        for m in METRIC_NAMES:
            vals = np.array([t.row.metrics[f"{ds}/{m}"] for t in trials])
            pt, lo, hi = regression_effect(ind, vals, dims.index(dim))
            effects.append(Effect(f"{ds}/{m}", pt, lo, hi, method, len(trials)))
    return effects


def _pct(metrics: dict, key: str) -> str:
    if key not in metrics:
        return "n/a"
    lo, hi = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    ci = f" [{lo:+.1f}, {hi:+.1f}]" if lo is not None and hi is not None else ""
    return f"{metrics[key]:+.1f}%{ci}"


def seed_like(trials: list[Trial], cfg: SweepConfig) -> Trial | None:
    """The Alpaca-only trial closest to the seed's setup (r=16, no curriculum)."""
    alpaca_only = [
        t
        for t in trials
        if all(
            _is_control(t.params.get(d, "0.0"), "0.0")
            for d in ("mix.openorca", "mix.dolly")
            if d in t.params
        )
    ]

    def distance(t: Trial) -> tuple:
        return (
            t.params.get("lora_r") != "16",
            t.params.get("curriculum") != "none",
            -max(t.steps or [0]),
            t.row.trial_id,
        )

    return min(alpaca_only, key=distance) if alpaca_only else None


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{path.stem}" src="data:image/png;base64,{data}" style="max-width:100%">'


def plot_deltas(trials: list[Trial], path: Path, top: int = 4) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted(trials, key=lambda t: -t.row.metrics.get("objective", 0))[:top]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=False)
    for ax, m in zip(axes, METRIC_NAMES, strict=True):
        width = 0.8 / max(1, len(ranked))
        for i, t in enumerate(ranked):
            vals = [t.row.metrics.get(f"{ds}/{m}_delta_pct", 0.0) for ds in SOURCES]
            ax.bar(np.arange(3) + i * width, vals, width, label=t.row.trial_id)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(np.arange(3) + 0.4 - width / 2, SOURCES)
        ax.set_title(f"{METRIC_NAMES[m]} change vs base (%)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def build_report(tracker: Tracker, sweep: str, out_dir: Path) -> tuple[Path, Path]:
    from sweeps.plots import plot_objective_by_dimension

    parent, cfg = load_sweep(tracker, sweep)
    runs = tracker.trial_runs(parent.info.run_id)
    rows = [
        r
        for r in rows_from_runs(runs, cfg)
        if r.status == "FINISHED" and all(m in r.metrics for m in nine_metrics())
    ]
    if not rows:
        raise ValueError(f"sweep {sweep!r} has no finished trial to report on")
    by_id = {r.info.run_id: r for r in runs}
    trials = [Trial(r, dict(by_id[r.run_id].data.params), _steps(tracker, r.run_id)) for r in rows]
    top = best(rows, cfg.search.mode)
    best_t = next(t for t in trials if t.row.run_id == top.run_id)
    base_t = seed_like(trials, cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    md: list[str] = [f"# Sweep report: {sweep}", ""]
    md.append(
        f"{len(trials)} finished trials; objective `{cfg.search.objective}` "
        f"({cfg.search.mode}); parent run `{parent.info.run_id}`."
    )
    md += ["", "## Performance overview (change vs the base model, 95% paired-bootstrap CI)", ""]
    sizes = cfg.data.eval_size
    for label, t in (("Best trial", best_t), ("Alpaca-only trial closest to the seed", base_t)):
        if t is None:
            continue
        searched = ", ".join(f"{d}={t.params.get(d)}" for d in cfg.search.space)
        md += [
            f"**{label}** `{t.row.trial_id}` ({searched}; run `{t.row.run_id}`)",
            "",
            "| Dataset | Samples | METEOR Δ | ROUGE-L Δ | BLEU Δ |",
            "|---|---|---|---|---|",
        ]
        for ds in SOURCES:
            md.append(
                f"| {ds} | {getattr(sizes, ds)} | "
                + " | ".join(
                    _pct(t.row.metrics, f"{ds}/{m}_delta_pct") for m in ("meteor", "rougeL", "bleu")
                )
                + " |"
            )
        md.append("")
    md += ["## Verdicts, one per search dimension", ""]
    tables: Tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dim in cfg.search.space:
            effects = dimension_effects(tracker, cfg, trials, dim, Path(tmp), tables)
            control = json.loads(_control(cfg, dim))
            head_ds = HEADLINE.get(dim)
            heads = [
                e
                for e in effects
                if e.metric.endswith("/meteor")
                and (head_ds is None or e.metric.startswith(head_ds))
            ]
            md += [
                f"### {dim} (treatment: any value other than {control!r})",
                "",
                f"Method: {effects[0].method}.",
                "",
            ]
            for e in heads:
                md.append(f"- **{e.verdict}** for {e.metric.split('/')[0]}: `{e.text()}`")
            md += ["", "| metric | effect (pts) | 95% interval | verdict |", "|---|---|---|---|"]
            for e in effects:
                ci = "n/a" if e.low is None else f"[{e.low:+.1f}, {e.high:+.1f}]"
                pts = "n/a" if e.points is None else f"{e.points:+.1f}"
                md.append(f"| {e.metric} | {pts} | {ci} | {e.verdict} |")
            md.append("")
        compare = [t for t in (base_t, best_t) if t is not None]
        md += [
            "## Length analysis",
            "",
            "| Dataset | trial | ref words | pred words | overgeneration | truncated |",
            "|---|---|---|---|---|---|",
        ]
        for ds in SOURCES:
            for t in compare:
                m = t.row.metrics
                md.append(
                    f"| {ds} | {t.row.trial_id} | {m.get(f'{ds}/ref_words', 0):.1f} | "
                    f"{m.get(f'{ds}/pred_words', 0):.1f} | "
                    f"{m.get(f'{ds}/overgeneration_pct', 0):+.0f}% | "
                    f"{m.get(f'{ds}/truncated_pct', 0):.0f}% |"
                )
        md += [
            "",
            "## Error categories",
            "",
            "| Dataset | trial | " + " | ".join(FLAGS) + " | format compliance |",
            "|---|---|" + "---|" * (len(FLAGS) + 1),
        ]
        rate_key = {
            "overgeneration": "overgeneration_rate",
            "format_violation": "format_violation_rate",
            "system_ignored": "system_ignored_rate",
            "truncated": "truncation_rate",
            "wrong_answer": "wrong_answer_rate",
        }
        for ds in SOURCES:
            for t in compare:
                m = t.row.metrics
                md.append(
                    f"| {ds} | {t.row.trial_id} | "
                    + " | ".join(f"{100 * m.get(f'{ds}/{rate_key[f]}', 0):.0f}%" for f in FLAGS)
                    + f" | {100 * m.get(f'{ds}/format_compliance', 0):.0f}% |"
                )
        if base_t is not None and base_t.steps:
            md += ["", f"Example failures of `{base_t.row.trial_id}`:", ""]
            path = download_run_dir(
                tracker.client,
                base_t.row.run_id,
                f"eval/predictions_step{base_t.steps[-1]}.json",
                Path(tmp),
            )
            data = json.loads(path.read_text(encoding="utf-8"))
            table = [dict(zip(data["columns"], r, strict=True)) for r in data["data"]]
            for flag in FLAGS:
                hits = [r for r in table if r.get(flag)][:2]
                for r in hits:
                    md.append(
                        f"- *{flag}* ({r['dataset']} `{r['id']}`): reference "
                        f"`{_short(r['reference'])}` → prediction `{_short(r['prediction'])}`"
                    )
    md += [
        "",
        "## Deployment decision matrix (from the promotion gates)",
        "",
        "| Candidate | " + " | ".join(str(g) for g in cfg.promotion.gates) + " | decision |",
        "|---|" + "---|" * (len(cfg.promotion.gates) + 1),
    ]
    for t in compare:
        passes = [g.passes(t.row.metrics) for g in cfg.promotion.gates]
        md.append(
            f"| {t.row.trial_id} | "
            + " | ".join("pass" if p else "FAIL" for p in passes)
            + f" | {'promote' if all(passes) else 'block'} |"
        )
    md += ["", "| Dataset | best trial METEOR Δ vs base | status |", "|---|---|---|"]
    for ds in SOURCES:
        m = best_t.row.metrics
        lo = m.get(f"{ds}/meteor_delta_pct_ci_low")
        d = m.get(f"{ds}/meteor_delta_pct")
        status = (
            "ready"
            if lo is not None and lo > 0
            else "limited"
            if d is not None and d >= 0
            else "not ready"
        )
        md.append(f"| {ds} | {_pct(m, f'{ds}/meteor_delta_pct')} | {status} |")
    plots = [
        plot_objective_by_dimension(
            [t.row for t in trials], cfg, out_dir / "objective_by_dimension.png"
        ),
        plot_deltas(trials, out_dir / "deltas_top_trials.png"),
    ]
    md += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(_to_html(md, plots), encoding="utf-8")
    for p in (md_path, html_path, *plots):
        tracker.log_artifact(parent.info.run_id, p, "report")
    return md_path, html_path


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return text if len(text) <= n else text[: n - 1] + "…"


def _to_html(md: list[str], plots: list[Path]) -> str:
    """A small markdown subset (headings, tables, lists) as self-contained HTML."""
    images = {p.name: p for p in plots}
    out, in_table = [], False
    for line in md:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if m := re.match(r"!\[[^\]]*\]\(([^)]+)\)", line):
            out.append(_img(images[m.group(1)]))
        elif m := re.match(r"(#+) (.*)", line):
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
    if in_table:
        out.append("</table>")
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;font-size:13px}code{background:#f3f3f3}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sweeplab report</title>"
        f"<style>{style}</style></head><body>{''.join(out)}</body></html>\n"
    )


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
