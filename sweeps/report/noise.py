"""Training noise, measured inside the sweep: how far one configuration's metrics move when
only the training seed changes, from runs of the same configuration with different seeds.

Those runs are the sweep's own replicates (`search.replicates`: a search trial and its re-run
with another seed, `sweeplab.replicate_of`) and the replicates of `sweeplab confirm` (several
seeds per confirmed configuration). For every `dataset/metric` the spread is the SD of the
final metric within each such group, pooled over groups with their degrees of freedom as
weights (`effects.pooled_sd`). Runs of a group are compared at their largest common step: a
trial the scheduler stopped early against its full-length replicate is read at the trial's
last step, from the replicate's per-example table at that step (the metric recomputed as
the registry computes it when it is logged). A paired verdict adds this noise
to its example-bootstrap error (`with_noise`): each run's value carries an independent seed
draw, so the mean over pairs of (treated - control) has the variance
sigma^2 * sum_r w_r^2, where w_r is run r's net weight in that mean (+1/k as a treated trial,
-1/k as a control, summed over the pairs it is in), and the interval's t quantile takes the
Welch-Satterthwaite degrees of freedom of the two parts (the bootstrap's taken as infinite).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy import stats

from common.tags import POINT_TAG, REPLICATE_OF_TAG, ROLE_CONFIRM, ROLE_TAG, is_search
from evaluation.metric_registry import METRICS, metric, metric_keys
from sweeps.report.compliance import compliance
from sweeps.report.effects import LEVEL, Effect, pooled_sd
from sweeps.report.leaderboard import rows_from_runs
from sweeps.report.runs import TableCache, Trial

EXAMPLES_ONLY = "examples only (training noise not counted)"
COMPLIANCE_KEY = "format_compliance"


@dataclass(frozen=True)
class Noise:
    """Seed-to-seed SD per `dataset/metric` (points), with its degrees of freedom."""

    sd: dict[str, float]
    dof: dict[str, int]
    groups: int
    """Configurations run with two or more seeds that the spread rests on."""
    runs: int
    sources: tuple[str, ...]

    def of(self, key: str) -> tuple[float, int] | None:
        if key not in self.sd or self.dof.get(key, 0) < 1:
            return None
        return self.sd[key], self.dof[key]

    def evidence(self) -> str:
        return (
            f"examples + training noise ({self.groups} replicate group(s), {self.runs} runs: "
            f"{', '.join(self.sources)})"
        )


def replicate_groups(search: list[Trial], reps: list[Trial]) -> list[list[Trial]]:
    """Runs of one configuration with different seeds: each in-sweep replicate with the
    search trial it re-ran, each confirmed configuration's replicates together."""
    by_trial = {t.row.trial_id: t for t in search}
    groups: dict[tuple[str, str], list[Trial]] = {}
    for t in reps:
        of = t.tags.get(REPLICATE_OF_TAG)
        if of is not None:
            if of in by_trial:
                groups.setdefault(("of", of), [by_trial[of]]).append(t)
        elif t.tags.get(ROLE_TAG) == ROLE_CONFIRM:
            groups.setdefault(("point", t.tags.get(POINT_TAG, "")), []).append(t)
    return [g for g in groups.values() if len(g) > 1]


def _last_step(t: Trial) -> int | None:
    return max(t.steps) if t.steps else None


def _common_step(group: list[Trial]) -> int | None:
    common = set.intersection(*(set(t.steps) for t in group))
    return max(common) if common else None


def value_at(t: Trial, step: int, key: str, tables: TableCache | None) -> float | None:
    """A run's `dataset/metric` (0..1) at `step`: as logged at its last step, else
    recomputed from its per-example table at that step."""
    if step == _last_step(t):
        return t.row.metrics.get(key)
    if tables is None:
        return None
    ds, name = key.split("/", 1)
    if name == COMPLIANCE_KEY:
        found = compliance(tables.rows(t.row.run_id, step), ds)
        return float(found.mean()) if len(found) else None
    scores = tables.scores(t.row.run_id, step).get(ds)
    if scores is None or name not in {m.name for m in METRICS}:
        return None
    m = metric(name)
    return float(m.corpus(scores.stats(m)))


def measure(
    search: list[Trial], reps: list[Trial], keys: list[str], tables: TableCache | None = None
) -> Noise | None:
    """The pooled seed-to-seed SD of each key over the replicate groups, each compared at
    its largest common step; None without any."""
    groups = [
        g
        for g in replicate_groups(search, reps)
        if (s := _common_step(g)) is not None
        and (tables is not None or all(_last_step(t) == s for t in g))
    ]
    if not groups:
        return None
    sd, dof = {}, {}
    for key in keys:
        values = []
        for g in groups:
            step = _common_step(g)
            found = [value_at(t, step, key, tables) for t in g]
            values.append([100 * v for v in found if v is not None])
        s = pooled_sd(values)
        if s is not None:
            sd[key], dof[key] = s, sum(len(v) - 1 for v in values if len(v) > 1)
    sources = sorted(
        {
            "confirm" if t.tags.get(ROLE_TAG) == ROLE_CONFIRM else "in-sweep"
            for g in groups
            for t in g[1:]
        }
    )
    return Noise(sd, dof, len(groups), sum(len(g) for g in groups), tuple(sources))


def measure_runs(runs: list, cfg) -> Noise | None:
    """`measure` from MLflow runs' final metrics alone (no per-example tables: promotion):
    a group counts only when every run in it ran its full budget."""
    tags = {r.info.run_id: dict(r.data.tags) for r in runs}
    rows = [r for r in rows_from_runs(runs, cfg) if r.status == "FINISHED"]
    trials = [
        Trial(r, dict(r.params), [] if r.stopped_early else [1], tags[r.run_id]) for r in rows
    ]
    search = [t for t in trials if is_search(t.tags)]
    keys = metric_keys(cfg.data.names(), METRICS)
    return measure(search, [t for t in trials if not is_search(t.tags)], keys)


def net_weight_sq(pairs: list[tuple[str, str]]) -> float:
    """sum_r w_r^2 for the mean over pairs of (treated - control), by run id."""
    k, w = len(pairs), {}
    for control, treated in pairs:
        w[control] = w.get(control, 0.0) - 1 / k
        w[treated] = w.get(treated, 0.0) + 1 / k
    return sum(v * v for v in w.values())


def with_noise(e: Effect, noise: Noise | None, weight_sq: float) -> Effect:
    """`e` (a paired, examples-only effect with its bootstrap SE) with training noise added
    to its error and its 95% interval; unchanged but for its evidence without a measure."""
    measured = noise.of(e.metric) if noise is not None else None
    if e.points is None or e.se is None or measured is None:
        return replace(e, evidence=EXAMPLES_ONLY)
    sd, dof = measured
    var_noise = sd * sd * weight_sq
    se = math.sqrt(e.se**2 + var_noise)
    df = se**4 / (var_noise**2 / dof) if var_noise > 0 else math.inf
    half = float(stats.t.ppf((1 + LEVEL) / 2, df)) * se
    return replace(
        e,
        low=e.points - half,
        high=e.points + half,
        se=se,
        df=df,
        noise_sd=sd,
        evidence=noise.evidence(),
    )
