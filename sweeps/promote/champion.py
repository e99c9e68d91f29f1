"""Does a challenger beat the champion? A paired bootstrap over the eval examples both runs
were scored on (matched by dataset and example id in their final per-example tables), on the
objective's metric, in the objective's direction. Inside the noise, the champion stays.

With several objectives the comparison follows the promotion's pick rule
(`sweeps.objective.Pick`): `first: <metric>` compares on that objective; `weights`
compares the weighted sum of the objectives' differences (each signed so that higher is
better), its interval the weighted sum of the per-objective interval ends: wider than the
joint one, so a challenger that beats the champion under it beats it under the joint one.

Training noise counts as in the report's verdicts (`sweeps.report.noise`): the two runs are
two training seeds' draws, so where the sweep measured its seed-to-seed spread (its
replicates, or `sweeplab confirm`'s), the interval holds that spread as well as the examples'
(weight 2: one run on each side); without a measure it says it is examples only."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.tags import FINAL_TABLE
from mlflow_server.registry import download_run_dir
from mlflow_server.tracking import Tracker
from sweeps.objective import Objective, Pick, metric_parts
from sweeps.report.effects import ExampleScores, estimate, paired_boot
from sweeps.report.noise import Noise, with_noise
from sweeps.report.runs import _scores


@dataclass(frozen=True)
class Comparison:
    objective: str
    points: float | None
    """Challenger minus champion, in points (x100), over the shared examples."""
    low: float | None
    high: float | None
    n: int
    """Shared eval examples."""
    mode: str
    evidence: str = ""
    """What the interval counts: examples only, or examples + training noise."""

    @property
    def beats(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return self.low > 0 if self.mode == "max" else self.high < 0

    def text(self) -> str:
        if self.points is None:
            return f"{self.objective}: no eval examples shared with the champion"
        return (
            f"{self.objective} {self.points:+.2f} pts [{self.low:+.2f}, {self.high:+.2f}] "
            f"over {self.n} shared examples ({self.mode}; {self.evidence or 'examples'})"
        )


def final_rows(tracker: Tracker, run_id: str, tmp: Path) -> dict[tuple[str, str], dict]:
    """A run's final per-example table, by (dataset, example id)."""
    path = download_run_dir(tracker.client, run_id, FINAL_TABLE, tmp / run_id)
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = [dict(zip(data["columns"], r, strict=True)) for r in data["data"]]
    return {(r["dataset"], str(r["id"])): r for r in rows}


def compare(
    champion: dict[tuple[str, str], dict],
    challenger: dict[tuple[str, str], dict],
    objective: str,
    mode: str,
    noise: Noise | None = None,
) -> Comparison:
    """The paired bootstrap of challenger minus champion on their shared examples, with
    the measured training noise of the objective's metric (a mean over sets: the mean of
    their pooled SDs, an upper bound on the mean's SD) where there is one."""
    datasets, metric = metric_parts(objective)
    pairs: list[tuple[ExampleScores, ExampleScores]] = []
    for ds in datasets:
        keys = sorted(k for k in champion.keys() & challenger.keys() if k[0] == ds)
        if keys:
            pairs.append(
                (_scores([champion[k] for k in keys]), _scores([challenger[k] for k in keys]))
            )
    n = sum(c.n for c, _ in pairs)
    if not pairs:
        return Comparison(objective, None, None, None, 0, mode)
    point, boot = paired_boot(pairs, metric)
    e = estimate(objective, point, boot, "paired", n)
    sds = [noise.of(f"{ds}/{metric}") for ds in datasets] if noise is not None else [None]
    if all(sd is not None for sd in sds):
        sd, dof = sum(s[0] for s in sds) / len(sds), min(s[1] for s in sds)
        single = Noise({objective: sd}, {objective: dof}, noise.groups, noise.runs, noise.sources)
        e = with_noise(e, single, 2.0)
    else:
        e = with_noise(e, None, 2.0)
    return Comparison(objective, e.points, e.low, e.high, n, mode, e.evidence)


def compare_by_rule(
    champion: dict[tuple[str, str], dict],
    challenger: dict[tuple[str, str], dict],
    goal: Objective,
    pick: Pick,
    noise: Noise | None = None,
) -> Comparison:
    """`compare` on the rule's objective (`first`), or on the weighted sum (`weights`)."""
    if pick.first is not None:
        return compare(champion, challenger, pick.first, goal.target(pick.first).mode, noise)
    parts = []
    for metric, weight in (pick.weights or {}).items():
        c = compare(champion, challenger, metric, goal.target(metric).mode, noise)
        if c.points is None:
            return Comparison(str(pick), None, None, None, 0, "max")
        w = weight if c.mode == "max" else -weight  # higher is better, weighted
        ends = (w * c.low, w * c.high)
        parts.append((w * c.points, min(ends), max(ends), c.n))
    points, low, high = (sum(p[i] for p in parts) for i in range(3))
    return Comparison(str(pick), points, low, high, min(p[3] for p in parts), "max", c.evidence)


def compare_runs(
    tracker: Tracker,
    champion_run: str,
    challenger_run: str,
    goal: Objective,
    pick: Pick | None = None,
    noise: Noise | None = None,
) -> Comparison:
    """Challenger against champion under `pick` (default: the first objective), with the
    challenger's sweep's measured training `noise`."""
    with tempfile.TemporaryDirectory() as tmp:
        a = final_rows(tracker, champion_run, Path(tmp))
        b = final_rows(tracker, challenger_run, Path(tmp))
    return compare_by_rule(a, b, goal, pick or goal.default_pick(), noise)
