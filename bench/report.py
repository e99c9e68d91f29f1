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
}
CONTEXT = (
    "read_back_runs",
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


def render_markdown(results: dict, why: dict[str, str]) -> str:
    """A table of figure, value, target and verdict, then one paragraph per missed target."""
    lines = [
        "# sweeplab benchmark",
        "",
        f"Measured by `make bench` ({'quick' if results.get('quick') else 'full'} settings) on "
        f"{results.get('machine', {}).get('cpu_count', '?')} CPU cores, "
        f"{results.get('finished_at', '')}, in {_fmt(results.get('total_s'))} s. Every figure "
        "is a ratio of two runs made in this same run on this machine; absolute times are "
        "context only.",
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
