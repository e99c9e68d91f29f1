"""bench/results.json and bench/RESULTS.md from the measured figures (pure functions)."""

from __future__ import annotations

import json
from pathlib import Path

# figure key -> (target, "<=" or ">=" or "==", what it is)
TARGETS: dict[str, tuple[object, str, str]] = {
    "overhead_ratio": (1.05, "<=", "sweeplab sweep / bare loop, same trials and concurrency"),
    "eval_batch_speedup": (8.0, ">=", "one-by-one / batched greedy generation seconds"),
    "eval_outputs_identical": (True, "==", "batched and one-by-one texts identical"),
    "parallel_speedup": (1.7, ">=", "serial / concurrent seconds, 2 trials on 2 cores"),
    "asha_step_fraction": (0.5, "<=", "ASHA training steps / full-budget steps"),
    "asha_same_best": (True, "==", "ASHA and full budget pick the same best config"),
    "train_flops_fraction_of_peak": (0.5, ">=", "training FLOP/s / matmul peak, same shapes"),
    "metric_time_fraction": (0.05, "<=", "scoring share of evaluation time"),
    "metric_values_unchanged": (True, "==", "scores identical on repeat"),
    "report_s_at_runs": (120, "<=", "`sweeplab report` seconds on read_back_runs trial runs"),
    "promote_s_at_runs": (120, "<=", "`sweeplab promote` seconds on read_back_runs trial runs"),
    "confirm_plan_s_at_runs": (
        120,
        "<=",
        "`sweeplab confirm`'s plan (every run read, configurations chosen) seconds, same runs",
    ),
    "confirm_read_every_run": (True, "==", "confirm's plan read all read_back_runs runs"),
    "driver_added_cost_growth": (
        1.5,
        "<=",
        "sweeplab's added driver seconds per result (vs Ray Tune alone keeping every "
        "checkpoint), largest / smallest scale",
    ),
    "proposal_s_max_last_100": (
        1.0,
        "<=",
        "Optuna proposal + never-twice check, slowest of the last 100 of proposal_trials (s)",
    ),
    "proposal_s_max_last_100_two_objectives": (
        1.0,
        "<=",
        "the same with two objectives (Optuna's multi-objective TPE)",
    ),
}
CONTEXT = (
    "read_back_runs",
    "proposal_trials",
    "proposal_check_s_max_last_100",
    "driver_added_cost_growth_from_second",
    "train_tokens_per_s",
    "metric_pairs_per_s",
    "settings_grouped_vs_padded",
    "settings_packed_vs_padded",
    "settings_gen_stop_time_ratio",
    "settings_gen_stop_tokens_ratio",
    "settings_gen_stop_changed_answers",
)


def meets(value: object, target: object, op: str) -> bool | None:
    if value is None:
        return None
    if op == "<=":
        return float(value) <= float(target)
    if op == ">=":
        return float(value) >= float(target)
    return value == target


def with_verdicts(results: dict) -> dict:
    """`results` plus `<key>_target` and `<key>_meets_target` for every figure present."""
    out = dict(results)
    for key, (target, op, _) in TARGETS.items():
        if key in results:
            out[f"{key}_target"] = f"{op} {target}"
            out[f"{key}_meets_target"] = meets(results[key], target, op)
    return out


def _fmt(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def driver_table(results: dict) -> list[str]:
    """The driver's seconds per trial result at each scale, Ray Tune alone beside sweeplab
    (`bench.driver_scale`), as markdown lines; none when it was not measured."""
    scales = results.get("driver_scales") or []
    if not scales:
        return []
    lines = [
        "",
        "## The driver's cost per trial result",
        "",
        f"The same short trainable ({results['driver_reports_per_trial']} results a trial, "
        f"{results['driver_concurrency']} trials at a time): Ray Tune alone keeping one "
        "checkpoint a trial as Ray does it (`num_to_keep=1`: a snapshot of the whole "
        "experiment at every checkpoint), Ray Tune alone keeping every checkpoint (snapshots "
        "on Ray's own period), and sweeplab's driver (Optuna, ASHA, the MLflow logger and "
        "its outbox, a SQLite store; one checkpoint a trial, older ones deleted by "
        "sweeplab). Seconds per result: each side's wall time over the results Ray counted; "
        "added: sweeplab's minus Ray's keeping every checkpoint.",
        "",
        "| trials | sweeps | Ray, keep 1: s (results) | Ray, keep all: s (results) "
        "| sweeplab: s (results) | s/result: Ray, keep 1 | Ray, keep all | sweeplab | added |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in scales:
        r = {k[: -len(f"_at_{n}")]: v for k, v in results.items() if k.endswith(f"_at_{n}")}
        lean = (
            f"{_fmt(r['driver_ray_keep_all_s'])} ({r['driver_ray_keep_all_results']})"
            if "driver_ray_keep_all_s" in r
            else "-"
        )
        lines.append(
            f"| {n:,} | {r['driver_repeats']} | {_fmt(r['driver_ray_s'])} "
            f"({r['driver_ray_results']}) | {lean} | {_fmt(r['driver_sweeplab_s'])} "
            f"({r['driver_sweeplab_results']}) | {_fmt(r['driver_ray_s_per_result'])} "
            f"| {_fmt(r.get('driver_ray_keep_all_s_per_result', '-'))} "
            f"| {_fmt(r['driver_sweeplab_s_per_result'])} "
            f"| {_fmt(r['driver_added_s_per_result'])} |"
        )
    if "overhead_ratio" in results:
        lines += ["", f"The demo sweep's overhead ratio: {_fmt(results['overhead_ratio'])}."]
    return lines


def _measured_when(results: dict) -> str:
    """One sentence when the figures come from runs at different times (`--only`)."""
    at: dict[str, list[str]] = {}
    for name, when in (results.get("figures_at") or {}).items():
        at.setdefault(when, []).append(f"`{name}`")
    if len(at) < 2:
        return ""
    parts = "; ".join(f"{', '.join(names)} at {when}" for when, names in sorted(at.items()))
    return f" Measured in parts ({parts}), each ratio within one run."


def render_markdown(results: dict, why: dict[str, str]) -> str:
    """A table of figure, value, target and verdict, the driver's cost at each scale, then
    one paragraph per missed target."""
    lines = [
        "# sweeplab benchmark",
        "",
        f"Measured by `make bench` ({'quick' if results.get('quick') else 'full'} settings) on "
        f"{results.get('machine', {}).get('cpu_count', '?')} CPU cores, "
        f"{results.get('finished_at', '')}, in {_fmt(results.get('total_s'))} s. Every figure "
        "is a ratio of two runs made in this same run on this machine; absolute times are "
        f"context only.{_measured_when(results)}",
        "",
        "| figure | value | target | met? | what |",
        "|---|---|---|---|---|",
    ]
    for key, (target, op, what) in TARGETS.items():
        if key not in results:
            continue
        ok = meets(results[key], target, op)
        mark = "yes" if ok else ("n/a" if ok is None else "**no**")
        lines.append(f"| `{key}` | {_fmt(results[key])} | {op} {_fmt(target)} | {mark} | {what} |")
    for key in CONTEXT:
        if key in results:
            lines.append(f"| `{key}` | {_fmt(results[key])} | | | context |")
    lines += driver_table(results)
    missed = [
        k for k, (t, op, _) in TARGETS.items() if k in results and not meets(results[k], t, op)
    ]
    notes = [k for k in why if k not in missed]
    if missed:
        lines += ["", "## Targets missed, and why", ""]
        for key in missed:
            lines += [f"**`{key}`** — {why.get(key, 'no explanation recorded.')}", ""]
    if notes:
        lines += ["", "## Notes", ""]
        for key in notes:
            lines += [f"**`{key}`** — {why[key]}", ""]
    lines += ["", "All figures and their context: `bench/results.json`.", ""]
    return "\n".join(lines)


def write(results: dict, why: dict[str, str], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = with_verdicts(results)
    js = out_dir / "results.json"
    js.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    md = out_dir / "RESULTS.md"
    md.write_text(render_markdown(results, why), encoding="utf-8")
    return js, md
