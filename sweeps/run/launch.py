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

from mlflow_server.tracking import (
    Tracker,
    compare_url,
    resolve_tracking_uri,
    runs_table_url,
    ui_base,
    ui_command,
)
from sweeps.config import ConfigError, SweepConfig
from sweeps.report.leaderboard import render, rows_from_runs
from sweeps.report.plots import write_leaderboard
from sweeps.run.baseline import base_scores
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
from sweeps.run.ui_views import CURVES_VIEW, RUNS_VIEW, views
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
) -> None:
    """Start or continue `cfg`. `label` names the config in error messages."""
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
    parent, _ = run_sweep(cfg, data, tracker, place.storage, place.base_cache, ray_address)
    tracker.log_metrics(parent, {f"base/{k}": v for k, v in base["metrics"].items()}, 0)
    _summarize(cfg, tracker, parent, place)


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
    """The leaderboard, logged on the parent run and printed, and where to look next."""
    rows = rows_from_runs(tracker.trial_runs(parent), cfg)
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_leaderboard(rows, cfg, Path(tmp)):
            tracker.log_artifact(parent, path, "leaderboard")
    print()
    print(render(rows, cfg))
    print(f"\nruns: {tracker.uri} (experiment {cfg.name!r}, parent run {parent})")
    print(f"open the MLflow UI: {ui_command(tracker.uri, place.project)}")
    exp, base = tracker.experiment_id(cfg.name), ui_base(tracker.uri)
    for key, state in views(cfg, parent).items():
        tracker.share_view(exp, key, state)
    print(f"  the trials, best first: {runs_table_url(base, exp, RUNS_VIEW)}")
    print(f"  their training curves:  {runs_table_url(base, exp, CURVES_VIEW, charts=True)}")
    done = [r for r in rows if r.status == "FINISHED" and "objective" in r.metrics]
    done.sort(key=lambda r: r.metrics["objective"], reverse=cfg.search.mode == "max")
    if len(done) > 1:
        top = [r.run_id for r in done[:5]]
        print(f"  compare the top {len(top)}:  {compare_url(base, exp, top)}")
    sys.stdout.flush()
