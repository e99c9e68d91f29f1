"""What "best" means for a sweep, in one place: the objectives, the constraints, the order.

A sweep has one or more objectives (`{metric, mode}`; one = the single-objective sweep it
always was) and optional constraints (`"alpaca/meteor_delta_pct >= -5"`). `Objective`
parses them, evaluates a trial's metrics (`value`), checks the constraints, compares two
trials, picks the best (one objective) and computes the Pareto front (several): the
finished trials that respect every constraint and that no other such trial dominates (at
least as good on every objective and better on one). Every "best" in sweeplab asks it.

A metric is `dataset/metric` as logged, or `mean_<metric>`: the mean over the three sets.
A trial with a metric missing or not a number is never best and never on the front.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import Field, model_validator

from training.config import Strict
from training.examples import SOURCES

COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
"""A threshold's comparisons, for constraints and promotion gates alike."""

Mode = Literal["max", "min"]
OPS = (">=", "<=", ">", "<")
_CONSTRAINT = re.compile(r"^\s*(\S+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


class Target(Strict):
    """One objective."""

    metric: str = Field(description="`dataset/metric` as logged, or `mean_<metric>`.")
    mode: Mode = Field("max", description="Maximize or minimize.")

    def __str__(self) -> str:
        return f"{self.metric} ({self.mode})"


class Pick(Strict):
    """How promotion chooses one member of the Pareto front (exactly one rule)."""

    first: str | None = Field(None, description="The front member best on this objective.")
    weights: dict[str, float] | None = Field(
        None,
        description="The front member with the largest weighted sum of objective values "
        "(each signed so that higher is better: a `min` objective counts negatively).",
    )

    @model_validator(mode="after")
    def _one_rule(self) -> Pick:
        if (self.first is None) == (self.weights is None):
            raise ValueError("promotion.pick: give exactly one of `first` or `weights`")
        if self.weights is not None and not self.weights:
            raise ValueError("promotion.pick.weights: name at least one objective")
        return self

    def metrics(self) -> tuple[str, ...]:
        return (self.first,) if self.first is not None else tuple(self.weights or {})

    def __str__(self) -> str:
        if self.first is not None:
            return f"first: {self.first}"
        return "weights: " + ", ".join(f"{k}={v:g}" for k, v in (self.weights or {}).items())


@dataclass(frozen=True)
class Constraint:
    """`metric op value`, e.g. `alpaca/meteor_delta_pct >= -5`."""

    metric: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        m = _CONSTRAINT.match(str(text))
        if m is None:
            raise ValueError(
                f"constraint {text!r}: expected `<metric> <op> <number>` with op one of "
                f"{', '.join(OPS)}"
            )
        try:
            value = float(m.group(3))
        except ValueError:
            raise ValueError(f"constraint {text!r}: {m.group(3)!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"constraint {text!r}: the threshold must be finite")
        return cls(m.group(1), m.group(2), value)

    def holds(self, metrics: dict[str, float]) -> bool:
        """False when the metric is missing or not a number."""
        x = metric_value(metrics, self.metric)
        if x is None:
            return False
        return COMPARE[self.op](x, self.value)

    def violation(self, metrics: dict[str, float]) -> float:
        """Optuna's convention: <= 0 when the constraint holds, > 0 by how much it does not
        (1e9 when the metric is missing)."""
        x = metric_value(metrics, self.metric)
        if x is None:
            return 1e9
        gap = self.value - x if self.op in (">=", ">") else x - self.value
        if gap == 0 and self.op in (">", "<"):
            return 1e-12  # strictly: equal is not enough
        return float(gap)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def metric_value(metrics: dict[str, float], metric: str) -> float | None:
    """`dataset/metric` as logged, or `mean_<metric>` over the three sets; None when a
    value is missing or not a (finite) number."""
    if metric.startswith("mean_"):
        name = metric.removeprefix("mean_")
        parts = [metric_value(metrics, f"{s}/{name}") for s in SOURCES]
        if any(p is None for p in parts):
            return None
        return sum(parts) / len(parts)  # type: ignore[arg-type]
    x = metrics.get(metric)
    if x is None or isinstance(x, bool):
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def metric_parts(metric: str) -> tuple[tuple[str, ...], str]:
    """(datasets, metric): `mean_meteor` averages the three sets; `dolly/bleu` is one."""
    if metric.startswith("mean_"):
        return SOURCES, metric.removeprefix("mean_")
    dataset, _, name = metric.partition("/")
    return (dataset,), name


class HasMetrics(Protocol):
    trial_id: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class FrontStatus:
    """One trial's place with respect to the Pareto front."""

    pareto: bool
    dominated_by: str | None = None
    """A front member that dominates it (when it is feasible and dominated)."""
    why: str = ""
    """Why it is not on the front, in words."""


@dataclass(frozen=True)
class Objective:
    """The sweep's objectives (in order: the first is what ASHA's rungs compare) and
    constraints."""

    targets: tuple[Target, ...]
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("an objective needs at least one metric")
        names = [t.metric for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"objectives name a metric twice: {names}")

    @classmethod
    def single(cls, metric: str, mode: str = "max") -> Objective:
        return cls((Target(metric=metric, mode=mode),))

    @classmethod
    def parse(cls, targets: Sequence[Target | dict], constraints: Sequence[str] = ()) -> Objective:
        ts = tuple(t if isinstance(t, Target) else Target.model_validate(t) for t in targets)
        return cls(ts, tuple(Constraint.parse(c) for c in constraints))

    # -- reading ---------------------------------------------------------------------------
    @property
    def multi(self) -> bool:
        return len(self.targets) > 1

    @property
    def first(self) -> Target:
        """The objective ASHA's rungs compare, and the `objective` metric a trial logs."""
        return self.targets[0]

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(t.metric for t in self.targets)

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(t.mode for t in self.targets)

    def label(self) -> str:
        """`openorca/meteor (max)`, or `openorca/meteor (max), alpaca/meteor (max)`."""
        text = ", ".join(str(t) for t in self.targets)
        if self.constraints:
            text += "; subject to " + ", ".join(str(c) for c in self.constraints)
        return text

    def name(self) -> str:
        """The one metric's name for a plain single objective (as a sweep was always
        tagged), else `label()`."""
        return self.first.metric if not self.multi and not self.constraints else self.label()

    def target(self, metric: str) -> Target:
        for t in self.targets:
            if t.metric == metric:
                return t
        raise ValueError(f"{metric!r} is not one of the objectives ({', '.join(self.metrics)})")

    def value(self, metrics: dict[str, float], index: int = 0) -> float | None:
        """Objective `index` (the first by default) on a trial's metrics; None if missing."""
        return metric_value(metrics, self.targets[index].metric)

    def values(self, metrics: dict[str, float]) -> tuple[float | None, ...]:
        return tuple(metric_value(metrics, t.metric) for t in self.targets)

    def oriented(self, metrics: dict[str, float]) -> tuple[float, ...] | None:
        """The objective values signed so that higher is better; None if one is missing."""
        vals = self.values(metrics)
        if any(v is None for v in vals):
            return None
        return tuple(v if t.mode == "max" else -v for v, t in zip(vals, self.targets, strict=True))

    def broken(self, metrics: dict[str, float]) -> list[str]:
        """The constraints the metrics break (missing values break them)."""
        return [str(c) for c in self.constraints if not c.holds(metrics)]

    def feasible(self, metrics: dict[str, float]) -> bool:
        return not self.broken(metrics)

    def violations(self, metrics: dict[str, float]) -> list[float]:
        """One number per constraint in Optuna's convention (<= 0 holds)."""
        return [c.violation(metrics) for c in self.constraints]

    # -- comparing -------------------------------------------------------------------------
    def dominates(self, a: dict[str, float], b: dict[str, float]) -> bool:
        """`a` at least as good as `b` on every objective and better on one (both complete)."""
        oa, ob = self.oriented(a), self.oriented(b)
        if oa is None or ob is None:
            return False
        return all(x >= y for x, y in zip(oa, ob, strict=True)) and oa != ob

    def better(self, a: dict[str, float], b: dict[str, float], index: int = 0) -> bool:
        """`a` strictly better than `b` on objective `index`."""
        oa, ob = self.oriented(a), self.oriented(b)
        return oa is not None and (ob is None or oa[index] > ob[index])

    def candidates(self, rows: Iterable[HasMetrics]) -> list[HasMetrics]:
        """Finished rows (no `status`: taken as finished) with every objective a number and
        every constraint respected."""
        return [
            r
            for r in rows
            if getattr(r, "status", "FINISHED") == "FINISHED"
            and self.oriented(r.metrics) is not None
            and self.feasible(r.metrics)
        ]

    def ranked(self, rows: Iterable[HasMetrics]) -> list[HasMetrics]:
        """The candidates best first: the front first (one objective: the best), then by
        the first objective; ties by trial id."""
        cands = self.candidates(rows)
        on_front = {id(r) for r in self._front(cands)}
        return sorted(
            cands,
            key=lambda r: (id(r) not in on_front, -self.oriented(r.metrics)[0], r.trial_id),
        )

    def best(self, rows: Iterable[HasMetrics]) -> HasMetrics | None:
        """One objective: the best candidate (first in order on ties). Several: the front
        member best on the first objective (promotion picks with `choose`)."""
        ranked = self.ranked(rows)
        return ranked[0] if ranked else None

    def _front(self, cands: list[HasMetrics]) -> list[HasMetrics]:
        return [r for r in cands if not any(self.dominates(o.metrics, r.metrics) for o in cands)]

    def front(self, rows: Iterable[HasMetrics]) -> list[HasMetrics]:
        """The Pareto front: candidates no other candidate dominates (ties are all on it),
        in the order given."""
        return self._front(self.candidates(rows))

    def statuses(self, rows: Iterable[HasMetrics]) -> dict[str, FrontStatus]:
        """Every row's place: on the front, or why not (dominated by which front member,
        a constraint broken, a metric missing, not finished)."""
        rows = list(rows)
        front = self.front(rows)
        ids = {id(r) for r in front}
        out = {}
        for r in rows:
            if id(r) in ids:
                out[r.trial_id] = FrontStatus(True)
                continue
            status = getattr(r, "status", "FINISHED")
            if status != "FINISHED":
                out[r.trial_id] = FrontStatus(False, None, f"not finished ({status.lower()})")
            elif self.oriented(r.metrics) is None:
                missing = [m for m in self.metrics if metric_value(r.metrics, m) is None]
                out[r.trial_id] = FrontStatus(False, None, f"no value for {', '.join(missing)}")
            elif broken := self.broken(r.metrics):
                out[r.trial_id] = FrontStatus(False, None, f"breaks {'; '.join(broken)}")
            else:
                by = sorted(
                    (f for f in front if self.dominates(f.metrics, r.metrics)),
                    key=lambda f: f.trial_id,
                )
                out[r.trial_id] = FrontStatus(
                    False, by[0].trial_id, f"dominated by {by[0].trial_id}"
                )
        return out

    # -- choosing one ------------------------------------------------------------------------
    def default_pick(self) -> Pick:
        return Pick(first=self.first.metric)

    def score(self, metrics: dict[str, float], pick: Pick) -> float:
        """What `pick` maximizes over the front (higher is better)."""
        oriented = self.oriented(metrics)
        if oriented is None:
            return -math.inf
        by_metric = dict(zip(self.metrics, oriented, strict=True))
        if pick.first is not None:
            return by_metric[pick.first]
        return sum(w * by_metric[m] for m, w in (pick.weights or {}).items())

    def choose(self, rows: Iterable[HasMetrics], pick: Pick | None = None) -> HasMetrics | None:
        """The front member `pick` chooses (default: best on the first objective); ties by
        trial id. With one objective, the best candidate."""
        pick = pick or self.default_pick()
        for m in pick.metrics():
            self.target(m)  # a rule on a metric that is not an objective is an error
        front = self.front(rows)
        if not front:
            return None
        return min(front, key=lambda r: (-self.score(r.metrics, pick), r.trial_id))
