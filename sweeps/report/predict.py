"""`sweeplab predict SWEEP --set mix.openorca=0.07`: what the sweep's response model
(`sweeps.report.response`) predicts for a configuration that was not run: each set's metrics
and the objectives, each with its 90% interval for one new run, and how far the
configuration lies from the trials the model saw (extrapolation is said, not hidden).

Searched keys not given take the best trial's values (printed as assumed). A key the sweep
did not search, a value of the wrong type or outside what a trial accepts, a category the
sweep never tried: one line, exit 2.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from statistics import NormalDist
from typing import Any

import yaml
from pydantic import ValidationError

from mlflow_server.tracking import Tracker
from sweeps.config import ConfigError, SweepConfig, error_line, parse_overrides
from sweeps.objective import Objective
from sweeps.report.encoding import Encoder
from sweeps.report.noise import measure
from sweeps.report.response import LEVEL, all_metrics, fit_responses, searched, set_metrics
from sweeps.report.response import seed_sd as noise_sd
from sweeps.report.runs import TableCache, Trial, load_sweep
from sweeps.report.seeds import is_replicate

FAR = 0.5
"""A nearest trial farther than this (each searched span = 1) is called far."""


def _typed(text: str) -> Any:
    """An MLflow param string as the value a config takes (`16` -> 16, `none` stays)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def configuration(
    cfg: SweepConfig, given: list[tuple[str, Any]], best: Trial
) -> tuple[dict[str, Any], list[str]]:
    """(every searched key -> value, the keys given); ConfigError when a key is not searched
    or a value is not one a trial of the sweep could take."""
    space = cfg.search.space
    point = {k: _typed(str(v)) for k, v in searched(cfg, best).items()}
    encoder = Encoder.of(cfg)
    for key, value in given:
        if key not in space:
            raise ConfigError(
                f"--set {key}: not a searched key of sweep {cfg.name!r} (it searched "
                f"{', '.join(space) or 'nothing'}); the model knows nothing of other settings"
            )
        d = encoder.dim(key)
        if d is not None and not d.numeric and d.index(value) is None:
            # A local path as typed (`models/demo-llama`) is searched as an absolute one.
            where = str(Path(str(value)).expanduser().resolve())
            value = where if d.index(where) is not None else value
        if d is not None and not d.numeric and d.index(value) is None:
            raise ConfigError(
                f"--set {key}={value!r}: the sweep searched only "
                f"{', '.join(str(c) for c in d.choices)}; the model knows nothing of others"
            )
        point[key] = value
    try:
        cfg.trial(point)
    except (ConfigError, ValidationError) as exc:
        raise ConfigError(f"--set: {error_line(exc)}") from None
    if encoder.encode(point) is None:
        raise ConfigError(f"--set: {point} cannot be placed on the searched scales")
    return point, [k for k, _ in given]


def _holds(cfg: SweepConfig, pred: Mapping) -> list[dict]:
    """Each constraint: the probability that one new run meets it (normal predictive)."""
    out = []
    for c in cfg.search.goal().constraints:
        p = pred.get(c.metric)
        if p is None:
            continue
        below = NormalDist(p.mean, max(p.sd_run, 1e-12)).cdf(c.value)
        prob = below if c.op in ("<=", "<") else 1.0 - below
        out.append({"constraint": str(c), "p_holds": prob})
    return out


def search_trials(found: list[Trial]) -> list[Trial]:
    return [t for t in found if not is_replicate(t)]


def predict(
    tracker: Tracker,
    sweep: str,
    given: list[tuple[str, Any]],
    seed_sd: Mapping[str, float] | None = None,
) -> dict:
    """The prediction for one configuration, as a JSON-ready dict. `seed_sd`: the seed noise
    per metric (default: what the sweep's replicates measured, if any)."""
    from sweeps.report.build import finished_trials

    parent, cfg = load_sweep(tracker, sweep)
    found = finished_trials(tracker, parent, cfg)
    goal = cfg.search.goal()
    search = [t.row for t in search_trials(found)]
    # The best trial; none meets the constraints: the best on the first objective.
    top = goal.best(search) or Objective((goal.first,)).best(search)
    if top is None:
        raise ValueError(f"sweep {sweep!r} has no finished trial to predict from")
    best = next(t for t in found if t.row.run_id == top.run_id)
    point, keys = configuration(cfg, given, best)
    if seed_sd is None:  # the noise the sweep's replicates measured, as the report does
        reps = [t for t in found if is_replicate(t)]
        with tempfile.TemporaryDirectory() as tmp:
            tables = TableCache(tracker, Path(tmp))
            noise = measure(search_trials(found), reps, set_metrics(cfg, found), tables)
        seed_sd = noise_sd(noise)
    model = fit_responses(cfg, found, all_metrics(cfg, found), seed_sd)
    pred = model.predict(point)
    near, distance = model.nearest(point)
    outside = model.outside(point)
    return {
        "sweep": sweep,
        "configuration": point,
        "given": keys,
        "assumed_from": best.row.trial_id,
        "level": LEVEL,
        "runs": len(model.runs),
        "configurations": model.configurations,
        "stopped_early": model.stopped,
        "left_out": len(model.left_out),
        "nearest": {"trial_id": near.row.trial_id, "run_id": near.row.run_id}
        | {"distance": distance},
        "extrapolating": bool(outside),
        "outside": outside,
        "predictions": {k: p.as_dict() for k, p in pred.items()},
        "objectives": [{"metric": t.metric, "mode": t.mode} for t in goal.targets],
        "constraints": _holds(cfg, pred),
        "noise": model.noise_from,
    }


def render(result: dict) -> str:
    """The prediction as text: the configuration (given and assumed), where it lies, a table
    of metrics, the objectives and constraints."""
    point, given = result["configuration"], result["given"]
    shown = [f"{k}={point[k]}" for k in given]
    assumed = [f"{k}={v}" for k, v in point.items() if k not in given]
    near = result["nearest"]
    lines = [
        f"sweep {result['sweep']}: response model (a Gaussian process per metric) fitted on "
        f"{result['runs']} runs, {result['configurations']} configurations"
        + (f", {result['stopped_early']} of them stopped early" if result["stopped_early"] else "")
        + (f" ({result['left_out']} left out)" if result["left_out"] else ""),
        "configuration: "
        + "; ".join(
            [", ".join(shown) + " (given)"] * bool(shown)
            + [", ".join(assumed) + f" (assumed: the best trial {result['assumed_from']}'s)"]
            * bool(assumed)
        ),
        f"nearest trial: {near['trial_id']} at distance {near['distance']:.3f} (each searched "
        "span = 1)" + (" — far from every trial" if near["distance"] > FAR else ""),
    ]
    if result["outside"]:
        lines.append("EXTRAPOLATING: " + "; ".join(result["outside"]))
    else:
        lines.append("interpolating: within the trials' values on every searched dimension")
    preds = result["predictions"]
    width = max(len(k) for k in preds) if preds else 6
    level = f"{result['level']:.0%}"
    lines += ["", f"{'metric':<{width}}  predicted  {level} interval (one new run)"]
    for key, p in preds.items():
        lines.append(f"{key:<{width}}  {p['mean']:9.4f}  [{p['low']:.4f}, {p['high']:.4f}]")
    lines.append("")
    for t in result["objectives"]:
        p = preds.get(t["metric"])
        if p is not None:
            lines.append(
                f"objective {t['metric']} ({t['mode']}): {p['mean']:.4f} "
                f"[{p['low']:.4f}, {p['high']:.4f}]"
            )
    for c in result["constraints"]:
        lines.append(f"constraint {c['constraint']}: one run meets it with p = {c['p_holds']:.2f}")
    noise = sorted(set(result["noise"].values()))
    lines.append(f"seed noise: {', '.join(noise)}")
    return "\n".join(lines)


def predict_command(tracker: Tracker, sweep: str, items: list[str], as_json: bool) -> str:
    """What `sweeplab predict` prints."""
    result = predict(tracker, sweep, parse_overrides(items))
    return json.dumps(result, indent=1) if as_json else render(result)
