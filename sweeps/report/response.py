"""The response model of a sweep: each logged `set/metric` (and each objective and constraint
metric) predicted as a function of the searched values, with a 90% interval for one new run.

One Gaussian process per metric (`sweeps.report.gp`) on the searched values as encoded by
`sweeps.report.encoding`, fitted on the sweep's finished trials and on the replicates of
`sweeplab confirm`, if any. A trial ASHA stopped was scored at a smaller budget: when there
are such trials, the share of its budget each run reached is one more input (1 for a whole
run), and predictions are at the whole budget. Why a
GP: a few trials, a few dimensions, a smooth response with interactions (the best OpenOrca
share may depend on the rank); a GP fits that without choosing terms, its interval widens
away from the trials and shrinks near them, and its noise term is where the measured seed
noise goes. RegMix and the data mixing laws fit similar smooth regressions on small runs.

The interval is for a new single-seed run: the uncertainty of the mean response plus the
run-to-run noise, whose variance is at least the seed-to-seed variance: given (`seed_sd`,
per metric, in the metric's own units), else pooled over configurations that were run more
than once (replicates), else the GP's own fitted noise.

Validation: each configuration left out in turn (with its replicates), the model refitted on
the others, the held-out runs predicted: the Spearman rank correlation of the predictions
with what the runs scored, and how many fell inside their 90% interval (should be about 90%).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from common.tags import REPORTS_TAG, SEARCH_TAG_PREFIX
from evaluation.metric_registry import metric_keys, names
from sweeps.config import SweepConfig
from sweeps.objective import metric_value
from sweeps.report import gp
from sweeps.report.effects import pooled_sd
from sweeps.report.encoding import Encoder, number
from sweeps.report.noise import Noise
from sweeps.report.runs import Trial, reported

LEVEL = 0.90
Z = NormalDist().inv_cdf((1 + LEVEL) / 2)
MAX_RUNS = 150
"""Runs a model is fitted on at most (a deterministic sample beyond): a GP costs n³."""
REFIT_MAX = 30
"""Runs up to which validation refits the model for each configuration left out (beyond:
the closed form with the full fit's hyperparameters)."""
MIN_TRUSTED = (5, 0.5, 0.75)
"""Configurations, rank correlation and coverage below which a curve is not to be trusted."""


@dataclass(frozen=True)
class Prediction:
    metric: str
    mean: float
    sd_mean: float
    """SD of the mean response (what more runs there would average to)."""
    sd_run: float
    """SD of one new run: the mean's uncertainty and the run-to-run noise."""
    bounds: tuple[float, float] | None = None
    """The values the metric can take (a registry metric: 0..1); the interval stays inside."""

    @property
    def low(self) -> float:
        low = self.mean - Z * self.sd_run
        return low if self.bounds is None else max(self.bounds[0], low)

    @property
    def high(self) -> float:
        high = self.mean + Z * self.sd_run
        return high if self.bounds is None else min(self.bounds[1], high)

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high} | {
            "sd_mean": self.sd_mean,
            "sd_run": self.sd_run,
        }


@dataclass(frozen=True)
class Validation:
    metric: str
    runs: int
    configurations: int
    rho: float | None
    """Spearman rank correlation of held-out predictions with the runs' values."""
    inside: int
    """Held-out runs inside their 90% interval."""
    method: str
    checked: bool = True
    """False when there were too few configurations to leave one out."""

    @property
    def coverage(self) -> float | None:
        return self.inside / self.runs if self.runs and self.checked else None

    def doubts(self) -> list[str]:
        """Why the model's curve for this metric is not to be trusted (empty: no reason)."""
        n, rho, cov = MIN_TRUSTED
        out = []
        if self.configurations < n:
            out.append(f"{self.configurations} configurations (< {n})")
        if not self.checked:
            return out
        if self.rho is None or self.rho < rho:
            out.append("rank correlation " + ("n/a" if self.rho is None else f"{self.rho:.2f}"))
        if self.coverage is None or self.coverage < cov:
            out.append(f"coverage {_pct(self.coverage)}")
        return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def seed_sd(noise: Noise | None) -> dict[str, float]:
    """The seed-to-seed SD the sweep measured (`sweeps.report.noise`, in points) per metric,
    in the metric's own units: the floor of each model's noise."""
    if noise is None:
        return {}
    return {k: found[0] / 100 for k in noise.sd if (found := noise.of(k)) is not None}


def searched(cfg: SweepConfig, t: Trial) -> dict[str, Any]:
    """A run's searched values as the search gave them: its `sweeplab.search.<key>` tags
    (a local model path is a param only as name + hash), else its params."""
    return {k: t.tags.get(f"{SEARCH_TAG_PREFIX}{k}", t.params.get(k)) for k in cfg.search.space}


def metric_range(key: str) -> tuple[float, float] | None:
    """A registry metric's range (`set/meteor`, `mean_bleu`: 0..1); None for others."""
    name = key.removeprefix("mean_") if key.startswith("mean_") else key.rpartition("/")[2]
    return (0.0, 1.0) if name in names() else None


def budget(cfg: SweepConfig, t: Trial) -> float | None:
    """The share of its budget a run reached: 1 unless the scheduler stopped it, else its
    reports over those its budget holds; None when that was not recorded."""
    if not t.row.stopped_early:
        return 1.0
    steps = number(t.params.get("train.max_steps", cfg.train.max_steps))
    every = number(t.params.get("train.report_every", cfg.train.report_every))
    reports = number(t.tags.get(REPORTS_TAG))
    if reports is not None and steps and every and steps >= every:
        return min(1.0, reports / (steps // every))
    return min(1.0, max(t.steps) / steps) if t.steps and steps else None


def goal_metrics(cfg: SweepConfig) -> list[str]:
    """The objectives' metrics, then the constraints'."""
    goal = cfg.search.goal()
    return list(dict.fromkeys([*goal.metrics, *(c.metric for c in goal.constraints)]))


def section_metrics(cfg: SweepConfig) -> list[str]:
    """Each set's objective metric(s) (`<set>/meteor` for an objective on METEOR), then the
    objectives and the constraints' metrics not among them."""
    from sweeps.objective import metric_parts

    names = dict.fromkeys(metric_parts(m)[1] for m in cfg.search.goal().metrics)
    keys = [f"{ds}/{n}" for n in names for ds in cfg.data.names()]
    return list(dict.fromkeys(keys + goal_metrics(cfg)))


def set_metrics(cfg: SweepConfig, trials: Sequence[Trial]) -> list[str]:
    """`set/metric` of every registry metric the trials logged on every set."""
    return metric_keys(cfg.data.names(), reported(list(trials), cfg.data.names()))


def all_metrics(cfg: SweepConfig, trials: Sequence[Trial]) -> list[str]:
    """`set_metrics`, then the objectives and the constraints' metrics not among them."""
    return list(dict.fromkeys(set_metrics(cfg, trials) + goal_metrics(cfg)))


@dataclass
class ResponseModel:
    encoder: Encoder
    runs: list[Trial]
    """The runs the models were fitted on, in order (trials and replicates)."""
    values: list[dict[str, Any]]
    """Each run's searched values (`searched`)."""
    x: np.ndarray
    groups: np.ndarray
    """Each run's configuration (runs with the same searched values share one)."""
    models: dict[str, gp.GP]
    rows: dict[str, np.ndarray]
    """Per metric, the runs (indices into `runs`) that have it."""
    noise_from: dict[str, str]
    budgeted: bool = False
    """The last input is the share of the budget a run reached (some were stopped early)."""
    left_out: list[Trial] = field(default_factory=list)
    """Finished runs not fitted on: values that cannot be encoded, a stopped trial whose
    budget was not recorded."""
    sampled_from: int = 0
    """Runs the fit was sampled from, when there were more than MAX_RUNS (else 0)."""
    floors: dict[str, float] = field(default_factory=dict)

    @property
    def configurations(self) -> int:
        return len(set(self.groups.tolist()))

    @property
    def stopped(self) -> int:
        """Fitted runs the scheduler stopped before their whole budget."""
        return int(np.sum(self.x[:, -1] < 1.0)) if self.budgeted else 0

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """A configuration's inputs, at the whole budget."""
        row = self.encoder.encode(values)
        if row is None:
            raise ValueError(f"cannot encode {dict(values)!r} for the response model")
        return np.append(row, 1.0) if self.budgeted else row

    def predict(self, values: Mapping[str, Any]) -> dict[str, Prediction]:
        """Each metric's prediction at one configuration (searched key -> value)."""
        return {k: p[0] for k, p in self.curve([values]).items()}

    def curve(self, points: Sequence[Mapping[str, Any]]) -> dict[str, list[Prediction]]:
        """Each metric's predictions at several configurations."""
        xs = np.vstack([self.encode(p) for p in points])
        out = {}
        for key, model in self.models.items():
            mean, var = model.predict(xs)
            _, run = model.predict(xs, run=True)
            out[key] = [
                Prediction(key, float(m), math.sqrt(v), math.sqrt(r), metric_range(key))
                for m, v, r in zip(mean, var, run, strict=True)
            ]
        return out

    def nearest(self, values: Mapping[str, Any]) -> tuple[Trial, float]:
        """The fitted run closest to a configuration, and the distance (Euclidean, each
        dimension's searched span 1, a category change 1)."""
        dist = np.sqrt(((self.x - self.encode(values)) ** 2).sum(axis=1))
        i = int(np.argmin(dist))
        return self.runs[i], float(dist[i])

    def outside(self, values: Mapping[str, Any]) -> list[str]:
        return self.encoder.outside(values, self.values)

    def validate(self, key: str) -> Validation:
        """Leave-one-configuration-out validation of one metric's model."""
        from scipy.stats import spearmanr

        idx = self.rows[key]
        y = _values(self.runs, key)[idx]
        groups = self.groups[idx]
        n_groups = len(set(groups.tolist()))
        if n_groups < 3:
            return Validation(
                key, len(y), n_groups, None, 0, "needs at least 3 configurations", False
            )
        held = gp.held_out(
            self.x[idx], y, groups, self.floors.get(key, 0.0), self.models[key], REFIT_MAX
        )
        inside = int(np.sum(np.abs(y - held.mean) <= Z * np.sqrt(held.var)))
        rho = spearmanr(held.mean, y).statistic if np.ptp(y) > 0 and np.ptp(held.mean) > 0 else None
        rho = None if rho is None or not math.isfinite(rho) else float(rho)
        return Validation(key, len(y), n_groups, rho, inside, held.method)


def _values(runs: Sequence[Trial], key: str) -> np.ndarray:
    vals = [metric_value(r.row.metrics, key) for r in runs]
    return np.array([np.nan if v is None else v for v in vals], float)


def _groups(x: np.ndarray) -> np.ndarray:
    """Runs with identical inputs share a configuration number (first seen first)."""
    seen: dict[tuple, int] = {}
    return np.array([seen.setdefault(tuple(np.round(r, 9)), len(seen)) for r in x], int)


def _sample(runs: list[Trial]) -> tuple[list[Trial], int]:
    if len(runs) <= MAX_RUNS:
        return runs, 0
    ordered = sorted(runs, key=lambda t: (t.row.trial_id, t.row.run_id))
    keep = np.sort(np.random.default_rng(0).choice(len(ordered), MAX_RUNS, replace=False))
    return [ordered[i] for i in keep], len(runs)


def replicate_sd(y: np.ndarray, groups: np.ndarray) -> tuple[float | None, int]:
    """The seed-to-seed SD pooled over configurations run more than once, and how many."""
    by: dict[int, list[float]] = {}
    for g, v in zip(groups.tolist(), y.tolist(), strict=True):
        by.setdefault(g, []).append(v)
    repeated = [v for v in by.values() if len(v) > 1]
    return pooled_sd(repeated) if repeated else None, len(repeated)


def fit_responses(
    cfg: SweepConfig,
    trials: Sequence[Trial],
    metrics: Sequence[str],
    seed_sd: Mapping[str, float] | None = None,
) -> ResponseModel:
    """One model per metric on the finished `trials` (search trials and replicates).
    `seed_sd`: the seed-to-seed SD per metric where it is known (the noise floor); where it
    is not, replicates give it, else the fit. ValueError with fewer than 2 usable runs."""
    encoder = Encoder.of(cfg)
    placed = {t.row.run_id: budget(cfg, t) for t in trials}
    fits = {t.row.run_id: encoder.encode(searched(cfg, t)) is not None and placed[t.row.run_id]
            for t in trials}  # fmt: skip
    ok = [t for t in trials if fits[t.row.run_id]]
    left = [t for t in trials if not fits[t.row.run_id]]
    runs, sampled = _sample(ok)
    if len(runs) < 2:
        raise ValueError(
            f"the response model needs at least 2 finished trials; found {len(runs)}"
            + (f" ({len(left)} more it cannot place)" if left else "")
        )
    budgets = np.array([placed[t.row.run_id] for t in runs])
    budgeted = bool(np.any(budgets < 1.0))
    values = [searched(cfg, t) for t in runs]
    x = np.vstack([encoder.encode(v) for v in values])
    x = np.column_stack([x, budgets]) if budgeted else x
    groups = _groups(x)
    models, rows, noise_from, floors = {}, {}, {}, {}
    for key in metrics:
        y = _values(runs, key)
        idx = np.flatnonzero(~np.isnan(y))
        if len(idx) < 2:
            continue
        given = (seed_sd or {}).get(key)
        sd, repeated = replicate_sd(y[idx], groups[idx])
        if given is not None:
            floor, noise_from[key] = given**2, "the sweep's measured seed-to-seed SD"
        elif sd is not None:
            floor = sd**2
            noise_from[key] = f"pooled over {repeated} replicated configuration(s)"
        else:
            floor, noise_from[key] = 0.0, "fitted (no replicates)"
        models[key] = gp.fit(x[idx], y[idx], floor)
        rows[key], floors[key] = idx, floor
    return ResponseModel(
        encoder, runs, values, x, groups, models, rows, noise_from, budgeted, left, sampled, floors
    )
