"""`sweeplab sweep` / `resume`, top to bottom: check, record, prepare, run, summarize.

Nothing is created on bad input: the model path and the sweep's name are checked first;
the sweep's record is written before the slow steps (so a kill from then on resumes) and
undone when the data or a setting turns out to be unusable.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlflow_server.tracking import Tracker, resolve_tracking_uri, ui_command
from sweeps.config import ConfigError, SweepConfig
from sweeps.report.leaderboard import render, rows_from_runs
from sweeps.report.plots import write_leaderboard
from sweeps.run.baseline import base_scores
from sweeps.run.confirm_plan import CONFIRM, ROLE_TAG
from sweeps.run.plan import check_mixtures
from sweeps.run.state import (
    SweepExists,
    check_continuation,
    record_sweep,
    recorded_tracking_uri,
    saved_config,
)
from sweeps.run.trial import eval_items
from sweeps.run.tuner import run_sweep
from training.base_model import ModelError, check_model_path
from training.loading import DataError
from training.prepare import PreparedData, prepare_data


@dataclass(frozen=True)
class Place:
    """Where a sweep keeps its files: Ray's experiments, the base-model cache."""

    project: Path

    @property
    def storage(self) -> Path:
        return self.project / "runs" / "ray"

    @property
    def base_cache(self) -> Path:
        return self.project / "runs" / "base_eval"


def recorded_config(name: str, place: Place) -> SweepConfig:
    """The config sweep `name` was started with here (what `sweeplab resume` runs)."""
    try:
        cfg = saved_config(place.storage, name)
    except ValueError as exc:
        raise ConfigError(f"{place.storage / name}: unreadable sweep record ({exc})") from None
    if cfg is None:
        raise ConfigError(f"no sweep {name!r} was started here ({place.storage / name})")
    return cfg


def launch(
    cfg: SweepConfig,
    place: Place,
    tracking_uri: str | None = None,
    ray_address: str | None = None,
    label: str | None = None,
    retry_failed: bool = False,
) -> None:
    """Start or continue `cfg`. `label` names the config in error messages; `retry_failed`
    runs failed trials again from their last checkpoint. With `search.confirm` set, the
    confirmation follows the search."""
    uri, continuing, undo = _record(cfg, place, tracking_uri)
    verb = "continuing" if continuing else "starting"
    print(f"sweep {cfg.name!r}: {verb}; preparing data ...", flush=True)
    data, base = _prepare(cfg, place, undo, label or cfg.name)
    print(
        "  base "
        + "  ".join(f"{k}={v:.3f}" for k, v in base["metrics"].items() if k.endswith("/meteor"))
    )
    tracker = Tracker(uri, place.project, patience=cfg.tracking_patience)
    print(
        f"sweep {cfg.name!r}: {cfg.search.num_samples} trials, {cfg.search.max_concurrent} at "
        f"a time; objective {cfg.search.objective}",
        flush=True,
    )
    parent, _ = run_sweep(
        cfg, data, tracker, place.storage, place.base_cache, ray_address, None, retry_failed
    )
    tracker.log_metrics(parent, {f"base/{k}": v for k, v in base["metrics"].items()}, 0)
    _summarize(cfg, tracker, parent, place)
    if cfg.search.confirm is not None:
        c = cfg.search.confirm
        _confirm(cfg, data, tracker, place, c.top, c.seeds, ray_address)


def confirm(
    name: str,
    place: Place,
    top: int,
    seeds: int,
    tracking_uri: str | None = None,
    ray_address: str | None = None,
) -> None:
    """`sweeplab confirm`: re-run the `top` best configurations and the seed-like baseline
    with `seeds` training seeds each; the same command again continues it."""
    cfg = recorded_config(name, place)
    recorded = recorded_tracking_uri(place.storage, name)
    uri = resolve_tracking_uri(tracking_uri or recorded or cfg.tracking_uri, place.project)
    if recorded and uri != recorded:
        raise ConfigError(f"sweep {name!r} logs to {recorded}, not {uri}")
    tracker = Tracker(uri, place.project, patience=cfg.tracking_patience)
    from sweeps.run.confirm import finished_parent, plan

    plan(tracker, cfg, finished_parent(tracker, name), top, seeds, place.storage)  # refusals first
    print(f"sweep {name!r}: confirming; preparing data ...", flush=True)
    data, _ = _prepare(cfg, place, lambda: None, name)
    _confirm(cfg, data, tracker, place, top, seeds, ray_address)


def _confirm(cfg, data, tracker: Tracker, place: Place, top, seeds, ray_address) -> None:
    from sweeps.run.confirm import finished_parent, plan, record_plan, run_confirm

    parent = finished_parent(tracker, cfg.name)
    reps, continuing = plan(tracker, cfg, parent, top, seeds, place.storage)
    points = {r["point"]: r["overrides"] for r in reps}
    print(
        f"sweep {cfg.name!r}: {'continuing' if continuing else 'starting'} the confirmation: "
        f"{len(points)} configurations x {seeds} seeds = {len(reps)} full-budget runs",
        flush=True,
    )
    for i, p in points.items():
        print(f"  [{i}] " + " ".join(f"{k}={v}" for k, v in p.items() if k != "train.seed"))
    record_plan(place.storage, cfg, top, seeds, reps)
    run_confirm(cfg, data, tracker, place.storage, place.base_cache, parent, reps, ray_address)
    print(f"\nconfirmation of {cfg.name!r} done: `sweeplab report {cfg.name}` shows seed spread")


def _record(
    cfg: SweepConfig, place: Place, explicit: str | None
) -> tuple[str, bool, Callable[[], None]]:
    """(tracking URI, continuing?, undo): the sweep recorded, or found recorded before."""
    try:
        check_model_path(cfg.model)
        continuing = check_continuation(cfg, place.storage)
    except (SweepExists, ModelError) as exc:
        raise ConfigError(str(exc)) from None
    explicit = explicit or cfg.tracking_uri
    uri = resolve_tracking_uri(explicit, place.project)
    recorded = recorded_tracking_uri(place.storage, cfg.name) if continuing else None
    if recorded and recorded != uri:
        if explicit:
            raise ConfigError(
                f"sweep {cfg.name!r} logs to {recorded}, not {uri}; resume it with that "
                "tracking URI (or none)"
            )
        uri = recorded  # a resumed sweep keeps logging where it started
    if continuing:
        return uri, True, lambda: None
    return uri, False, record_sweep(cfg, place.storage, uri)


def _prepare(
    cfg: SweepConfig, place: Place, undo: Callable[[], None], label: str
) -> tuple[PreparedData, dict]:
    """The prepared data and the base model's scores; bad input undoes the record."""
    try:
        data = prepare_data(cfg.data)
        for source, st in data.stats.items():
            print(
                f"  {source}: {st.rows} rows, {st.duplicates} duplicates, {st.skipped} skipped, "
                f"{st.train} train / {st.eval} eval"
            )
        check_mixtures(cfg, data)
        print("evaluating the base model (cached per model, eval split, settings) ...", flush=True)
        items = {name: eval_items(exs) for name, exs in data.eval_sets.items()}
        base = base_scores(cfg.model, items, cfg.generation, place.base_cache)
    except ModelError as exc:
        undo()
        raise ConfigError(str(exc)) from None
    except DataError:
        undo()
        raise
    except ValueError as exc:  # a setting that does not fit the data: name the config
        undo()
        raise ConfigError(f"{label}: {exc}") from None
    return data, base


def _summarize(cfg: SweepConfig, tracker: Tracker, parent: str, place: Place) -> None:
    """The search trials' leaderboard (replicates apart), logged on the parent run and printed,
    and where to look next."""
    runs = tracker.trial_runs(parent)
    rows = rows_from_runs([r for r in runs if r.data.tags.get(ROLE_TAG) != CONFIRM], cfg)
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_leaderboard(rows, cfg, Path(tmp)):
            tracker.log_artifact(parent, path, "leaderboard")
    print()
    print(render(rows, cfg))
    print(f"\nruns: {tracker.uri} (experiment {cfg.name!r}, parent run {parent})")
    print(f"open the MLflow UI: {ui_command(tracker.uri, place.project)}")
    sys.stdout.flush()
