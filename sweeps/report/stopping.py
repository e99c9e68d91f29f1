"""Early stopping, audited: the trials ASHA stopped, and the rung decision that stopped each
(the rung, the trial's value, the cut-off it was compared with), from the tags the sweep's
logger put on their runs (`sweeplab.rung.<t>`, `sweeplab.stop_reason`)."""

from __future__ import annotations

import json

from common.tags import REPORTS_TAG, RUNG_TAG_PREFIX, STOP_REASON_TAG
from sweeps.report.runs import Trial


def rung_decisions(tags: dict[str, str]) -> list[dict]:
    """A run's rung decisions, in rung order."""
    out = [json.loads(v) for k, v in tags.items() if k.startswith(RUNG_TAG_PREFIX)]
    return sorted(out, key=lambda d: float(d["rung"]))


def stopped_section(trials: list[Trial]) -> list[str]:
    """The stopped trials with their reason; nothing when ASHA stopped none."""
    stopped = [t for t in trials if t.row.stopped_early]
    if not stopped:
        return []
    md = [
        "",
        "## Trials stopped early",
        "",
        "| trial | reports | reason | rung decisions (rung: value vs cut-off) |",
        "|---|---|---|---|",
    ]
    for t in stopped:
        decisions = "; ".join(
            f"{d['rung']}: {d['value']:.4f} vs "
            + ("none" if d["cutoff"] is None else f"{d['cutoff']:.4f}")
            + f" → {d['decision']}"
            for d in rung_decisions(t.tags)
        )
        reason = t.tags.get(STOP_REASON_TAG, "not recorded (a sweep from before audits)")
        md.append(
            f"| {t.row.trial_id} | {t.tags.get(REPORTS_TAG, '?')} | {reason} | "
            f"{decisions or 'none recorded'} |"
        )
    return md + [""]
