"""The report's sections, each a list of markdown lines from the trials and the config."""

from __future__ import annotations

from evaluation.analysis import FLAGS
from evaluation.metric_registry import HEADLINE
from sweeps.config import SweepConfig
from sweeps.report.runs import TableCache, Trial, reported
from training.examples import SOURCES

RATE_KEY = {
    "overgeneration": "overgeneration_rate",
    "format_violation": "format_violation_rate",
    "system_ignored": "system_ignored_rate",
    "truncated": "truncation_rate",
    "wrong_answer": "wrong_answer_rate",
}


def pct(metrics: dict, key: str) -> str:
    if key not in metrics:
        return "n/a"
    lo, hi = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    ci = f" [{lo:+.1f}, {hi:+.1f}]" if lo is not None and hi is not None else ""
    return f"{metrics[key]:+.1f}%{ci}"


def short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    return text if len(text) <= n else text[: n - 1] + "…"


def _objective_text(cfg: SweepConfig) -> str:
    goal = cfg.search.goal()
    if not goal.multi and not goal.constraints:
        return f"objective `{goal.first.metric}` ({goal.first.mode})"
    return f"objectives {goal.label()}"


def header(sweep: str, cfg: SweepConfig, trials: list[Trial], parent_id: str) -> list[str]:
    return [
        f"# Sweep report: {sweep}",
        "",
        f"{len(trials)} finished trials; {_objective_text(cfg)}; parent run `{parent_id}`.",
    ]


def overview(cfg: SweepConfig, best: Trial, seed: Trial | None) -> list[str]:
    md = ["", "## Performance overview (change vs the base model, 95% paired-bootstrap CI)", ""]
    goal = cfg.search.goal()
    top = f"Front member best on {goal.first.metric}" if goal.multi else "Best trial"
    for label, t in ((top, best), ("Alpaca-only trial closest to the seed", seed)):
        if t is None:
            continue
        searched = ", ".join(f"{d}={t.params.get(d)}" for d in cfg.search.space)
        metrics = reported([t], cfg.data.names())
        md += [
            f"**{label}** `{t.row.trial_id}` ({searched}; run `{t.row.run_id}`)",
            "",
            "| Dataset | Samples | " + " | ".join(f"{m.label} Δ" for m in metrics) + " |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for ds in cfg.data.names():
            cells = [pct(t.row.metrics, f"{ds}/{m.name}_delta_pct") for m in metrics]
            md.append(f"| {ds} | {cfg.data.eval_count(ds)} | " + " | ".join(cells) + " |")
        md.append("")
    return md


def lengths(compare: list[Trial], datasets: tuple[str, ...] = SOURCES) -> list[str]:
    md = [
        "## Length analysis",
        "",
        "| Dataset | trial | ref words | pred words | overgeneration | truncated |",
        "|---|---|---|---|---|---|",
    ]
    for ds in datasets:
        for t in compare:
            m = t.row.metrics
            md.append(
                f"| {ds} | {t.row.trial_id} | {m.get(f'{ds}/ref_words', 0):.1f} | "
                f"{m.get(f'{ds}/pred_words', 0):.1f} | "
                f"{m.get(f'{ds}/overgeneration_pct', 0):+.0f}% | "
                f"{m.get(f'{ds}/truncated_pct', 0):.0f}% |"
            )
    return md


def errors(
    compare: list[Trial],
    seed: Trial | None,
    tables: TableCache,
    datasets: tuple[str, ...] = SOURCES,
) -> list[str]:
    md = [
        "",
        "## Error categories",
        "",
        "| Dataset | trial | " + " | ".join(FLAGS) + " | format compliance |",
        "|---|---|" + "---|" * (len(FLAGS) + 1),
    ]
    for ds in datasets:
        for t in compare:
            m = t.row.metrics
            md.append(
                f"| {ds} | {t.row.trial_id} | "
                + " | ".join(f"{100 * m.get(f'{ds}/{RATE_KEY[f]}', 0):.0f}%" for f in FLAGS)
                + f" | {100 * m.get(f'{ds}/format_compliance', 0):.0f}% |"
            )
    if seed is not None and seed.steps:
        md += ["", f"Example failures of `{seed.row.trial_id}`:", ""]
        table = tables.rows(seed.row.run_id, seed.steps[-1])
        for flag in FLAGS:
            for r in [r for r in table if r.get(flag)][:2]:
                md.append(
                    f"- *{flag}* ({r['dataset']} `{r['id']}`): reference "
                    f"`{short(r['reference'])}` → prediction `{short(r['prediction'])}`"
                )
    return md


def decisions(cfg: SweepConfig, compare: list[Trial], best: Trial) -> list[str]:
    gates = cfg.promotion.gates
    md = [
        "",
        "## Deployment decision matrix (from the promotion gates)",
        "",
        "| Candidate | " + " | ".join(str(g) for g in gates) + " | decision |",
        "|---|" + "---|" * (len(gates) + 1),
    ]
    for t in compare:
        passes = [g.passes(t.row.metrics) for g in gates]
        md.append(
            f"| {t.row.trial_id} | "
            + " | ".join("pass" if p else "FAIL" for p in passes)
            + f" | {'promote' if all(passes) else 'block'} |"
        )
    md += ["", f"| Dataset | best trial {HEADLINE.label} Δ vs base | status |", "|---|---|---|"]
    m = best.row.metrics
    for ds in cfg.data.names():
        key = f"{ds}/{HEADLINE.name}_delta_pct"
        lo, d = m.get(f"{key}_ci_low"), m.get(key)
        if lo is not None and lo > 0:
            status = "ready"
        elif d is not None and d >= 0:
            status = "limited"
        else:
            status = "not ready"
        md.append(f"| {ds} | {pct(m, key)} | {status} |")
    return md
