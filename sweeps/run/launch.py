"""`sweeplab sweep` / `resume`, top to bottom: check, record, prepare, run, summarize.

Nothing is created on bad input: the model path and the sweep's name are checked first;
the sweep's record is written before the slow steps (so a kill from then on resumes) and
undone when the data or a setting turns out to be unusable.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from common.errors import exhausted, first_line
from common.tags import POINT_TAG, ROLE_CONFIRM, ROLE_TAG, is_search
from common.uris import mask_credentials
from evaluation.metric_registry import HEADLINE
from mlflow_server.tracking import (
    Tracker,
    compare_url,
    resolve_tracking_uri,
    runs_table_url,
    ui_base,
    ui_command,
)
from sweeps.config import ConfigError, SweepConfig
from sweeps.cost import spend, summary, totals
from sweeps.report.leaderboard import render, rows_from_runs
from sweeps.report.plots import write_leaderboard
from sweeps.run.base_models import model_key, model_label, score_bases, searched_models
from sweeps.run.cluster import NodeError, base_on_cluster, check_nodes
from sweeps.run.eval_items import eval_items
from sweeps.run.front_tags import tag_confirmed_front, tag_search_front
from sweeps.run.lease import sweep_lock
from sweeps.run.plan import check_mixtures
from sweeps.run.state import (
    Place,
    SweepExists,
    check_continuation,
    record_sweep,
    recorded_tracking_uri,
    saved_config,
    state_dir,
    write_tracking_uri,
)
from sweeps.run.tuner import init_ray, run_sweep
from sweeps.run.ui_views import CURVES_VIEW, RUNS_VIEW, views
from sweeps.run.warm_start import WarmStart, describe, load_warm_start
from training.base_model import ModelError, check_model_path
from training.loading import DataError
from training.prepare import PreparedData, prepare_data


def recorded_config(name: str, place: Place) -> SweepConfig:
    """The config sweep `name` was started with there (what `sweeplab resume` runs)."""
    where = place.storage.path(name) if place.storage.is_local else place.storage.uri
    try:
        cfg = saved_config(place.storage, name)
    except ValueError as exc:
        raise ConfigError(f"{where}: unreadable sweep record ({exc})") from None
    if cfg is None:
        raise ConfigError(f"no sweep {name!r} was started here ({where})")
    return cfg


def launch(
    cfg: SweepConfig,
    place: Place,
    tracking_uri: str | None = None,
    ray_address: str | None = None,
    label: str | None = None,
    retry_failed: bool = False,
) -> None:
    """Start or continue `cfg`, holding the sweep's lock throughout (a second driver on
    the same name is refused). `label` names the config in error messages; `retry_failed`
    runs failed trials again from their last checkpoint. With `search.confirm` set, the
    confirmation follows the search."""
    with sweep_lock(place, cfg.name):
        _launch_locked(cfg, place, tracking_uri, ray_address, label, retry_failed)


def _launch_locked(
    cfg: SweepConfig,
    place: Place,
    tracking_uri: str | None,
    ray_address: str | None,
    label: str | None,
    retry_failed: bool,
) -> None:
    uri, continuing, undo = _record(cfg, place, tracking_uri)
    warm = _warm_start(cfg, uri, place, undo)
    verb = "continuing" if continuing else "starting"
    print(f"sweep {cfg.name!r}: {verb}; preparing data ...", flush=True)
    data, bases = _prepare(cfg, place, ray_address, undo, label or cfg.name)
    labels = _labels(cfg)
    for key, base in bases.items():
        head = [
            f"{k}={v:.3f}" for k, v in base["metrics"].items() if k.endswith(f"/{HEADLINE.name}")
        ]
        print(f"  base {labels[key] + ' ' if len(bases) > 1 else ''}" + "  ".join(head))
    tracker = Tracker(uri, place.project, patience=cfg.tracking_patience)
    reps = f" + {cfg.search.replicates} replicate(s) for training noise" * bool(
        cfg.search.replicates
    )
    print(
        f"sweep {cfg.name!r}: {cfg.search.num_samples} trials{reps}, {cfg.search.max_concurrent} "
        f"at a time; objective {cfg.search.goal().label()}",
        flush=True,
    )
    if warm is not None:
        print(describe(warm), flush=True)
    parent, _ = run_sweep(cfg, data, bases, tracker, place, ray_address, None, retry_failed, warm)
    if cfg.search.replicates:
        _replicate(cfg, data, bases, tracker, place, parent, ray_address)
    if not any(k.startswith("base/") for k in tracker.client.get_run(parent).data.metrics):
        for key, base in bases.items():  # one model: `base/<dataset>/<metric>` as always
            prefix = f"base/{labels[key]}/" if len(bases) > 1 else "base/"
            metrics = {f"{prefix}{k}": v for k, v in base["metrics"].items()}
            tracker.log_metrics(parent, metrics, 0)
    _summarize(cfg, tracker, parent, place)
    if cfg.search.confirm is not None:
        c = cfg.search.confirm
        _confirm(cfg, data, bases, tracker, place, c.top, c.seeds, ray_address)


def confirm(
    name: str,
    place: Place,
    top: int,
    seeds: int,
    tracking_uri: str | None = None,
    ray_address: str | None = None,
) -> None:
    """`sweeplab confirm`: re-run the `top` best configurations and the seed-like baseline
    with `seeds` training seeds each; the same command again continues it. Holds the
    sweep's lock: no `resume` or second `confirm` of the same sweep meanwhile."""
    with sweep_lock(place, name):
        _confirm_locked(name, place, top, seeds, tracking_uri, ray_address)


def _confirm_locked(name, place: Place, top, seeds, tracking_uri, ray_address) -> None:
    cfg = recorded_config(name, place)
    uri = _recorded_uri(cfg, place, tracking_uri or cfg.tracking_uri)
    tracker = Tracker(uri, place.project, patience=cfg.tracking_patience)
    from sweeps.run.confirm import finished_parent, plan

    plan(tracker, cfg, finished_parent(tracker, name), top, seeds, place.storage)  # refusals first
    print(f"sweep {name!r}: confirming; preparing data ...", flush=True)
    data, bases = _prepare(cfg, place, ray_address, lambda: None, name)
    _confirm(cfg, data, bases, tracker, place, top, seeds, ray_address)


def _confirm(cfg, data, bases, tracker: Tracker, place: Place, top, seeds, ray_address) -> None:
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
    run_confirm(cfg, data, bases, tracker, place, parent, reps, ray_address)
    tag_fronts(cfg, tracker, parent)
    cost = log_cost(tracker, parent, tracker.trial_runs(parent))
    if cfg.search.budget.limits():
        print(cfg.search.budget.line(spend(cost)))
    print(f"\nconfirmation of {cfg.name!r} done: `sweeplab report {cfg.name}` shows seed spread")


def _warm_start(cfg: SweepConfig, uri: str, place: Place, undo) -> WarmStart | None:
    """The earlier sweep `--from` names, read before anything slow; refused in one line (the
    record undone) when it cannot be used."""
    if cfg.search.warm_start_from is None:
        return None
    tracker = Tracker(uri, place.project, patience=cfg.tracking_patience)
    try:
        return load_warm_start(tracker, cfg, proposals=max(2, cfg.search.max_concurrent))
    except ConfigError:
        undo()
        raise


def _replicate(cfg, data, bases, tracker: Tracker, place: Place, parent: str, ray_address) -> None:
    """The sweep's own replicates (`search.replicates`), run or continued after its search:
    what the report measures training noise on."""
    from sweeps.run.confirm import NOISE, noise_plan, run_confirm

    reps = noise_plan(tracker, cfg, parent, place.storage)
    if not reps:
        print(f"sweep {cfg.name!r}: no finished trial to replicate; verdicts will ignore noise")
        return
    print(
        f"sweep {cfg.name!r}: {len(reps)} replicate(s) with another training seed, to measure "
        "training noise: " + "; ".join(f"trial {r['of']}" for r in reps),
        flush=True,
    )
    run_confirm(cfg, data, bases, tracker, place, parent, reps, ray_address, kind=NOISE)


def _record(
    cfg: SweepConfig, place: Place, explicit: str | None
) -> tuple[str, bool, Callable[[], None]]:
    """(tracking URI, continuing?, undo): the sweep recorded, or found recorded before."""
    try:
        for model in searched_models(cfg):  # each base model a trial can start from
            check_model_path(model)
        continuing = check_continuation(cfg, place.storage)
    except (SweepExists, ModelError) as exc:
        raise ConfigError(str(exc)) from None
    explicit = explicit or cfg.tracking_uri
    if continuing:
        return _recorded_uri(cfg, place, explicit), True, lambda: None
    uri = resolve_tracking_uri(explicit, place.project)
    return uri, False, record_sweep(cfg, place.storage, uri)


def _recorded_uri(cfg: SweepConfig, place: Place, explicit: str | None) -> str:
    """Where a sweep started before logs: its record's URI (an `explicit` other one is
    refused); a damaged record is never guessed at: `explicit` is then needed."""
    recorded = recorded_tracking_uri(place.storage, cfg.name)
    uri = resolve_tracking_uri(explicit, place.project) if explicit else None
    if not recorded:
        if uri is None:
            raise ConfigError(
                f"sweep {cfg.name!r}: its record names no tracking URI ("
                f"{state_dir(place.storage, cfg.name)}/tracking_uri is empty or missing); "
                "give the one it logs to with --tracking-uri"
            )
        write_tracking_uri(place.storage, cfg.name, uri)
        return uri
    if uri is not None and uri != recorded:
        raise ConfigError(
            f"sweep {cfg.name!r} logs to {mask_credentials(recorded)}, not "
            f"{mask_credentials(uri)}; continue it with that tracking URI (or none)"
        )
    return recorded  # a sweep continued keeps logging where it started


def _prepare(
    cfg: SweepConfig, place: Place, ray_address: str | None, undo: Callable[[], None], label: str
) -> tuple[PreparedData, dict[str, dict]]:
    """The prepared data, the cluster checked, and each searched base model's scores
    (`model_key` -> scores, scored where the trials run); bad input undoes the record."""
    with _undone_on_bad_input(undo, label):
        data = prepare_data(cfg.data, place.project / "runs" / "data_cache")
        print(f"  data {data.cache_key}: " + ("from the cache" if data.from_cache else "read"))
        for source, st in data.stats.items():
            print(
                f"  {source}: {st.rows} rows, {st.duplicates} duplicates, {st.skipped} skipped, "
                f"{st.train} train / {st.eval} eval"
            )
        check_mixtures(cfg, data)
        init_ray(ray_address)
        res = cfg.search.resources
        print(f"checked {check_nodes(res)} node(s) a trial may run on", flush=True)
        print("evaluating the base model (cached per model, eval split, settings) ...", flush=True)
        items = {name: eval_items(exs) for name, exs in data.eval_sets.items()}
        record = (
            None if place.storage.is_local else (place.storage, state_dir(place.storage, cfg.name))
        )
        bases = score_bases(
            cfg,
            items,
            place.base_cache,
            lambda model: base_on_cluster(
                model, items, cfg.generation, res, place.base_cache, cfg.train.threads, record
            ),
        )
    return data, bases


def _labels(cfg: SweepConfig) -> dict[str, str]:
    """`model_key` -> a short, unique name for each searched base model."""
    labels: dict[str, str] = {}
    for model in searched_models(cfg):
        name = model_label(model)
        labels[model_key(model)] = name if name not in labels.values() else model.path
    return labels


@contextmanager
def _undone_on_bad_input(undo: Callable[[], None], label: str):
    """Bad input (model, data, nodes, a setting that does not fit the data) undoes the
    sweep's record and becomes one line naming the config."""
    try:
        yield
    except ModelError as exc:
        undo()
        raise ConfigError(str(exc)) from None
    except (DataError, NodeError):
        undo()
        raise
    except ValueError as exc:  # a setting that does not fit the data: name the config
        undo()
        raise ConfigError(f"{label}: {exc}") from None
    except (OSError, RecursionError, MemoryError) as exc:  # unreadable input: one line
        undo()
        if exhausted(exc):  # a full disk (the data cache's), not bad input: the CLI's exit 4
            raise
        raise ConfigError(f"{label}: cannot prepare the sweep: {_why(exc)}") from None
    except Exception:  # a bug: its traceback is shown, but the record goes
        undo()
        raise


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "an input is nested too deeply to read"
    if isinstance(exc, MemoryError):
        return "an input does not fit in memory"
    return first_line(exc) or type(exc).__name__


def tag_fronts(cfg: SweepConfig, tracker: Tracker, parent: str) -> None:
    """Every trial run's place on the Pareto front re-derived from the record: the search
    trials', and the replicates' on their configurations' means."""
    runs = tracker.trial_runs(parent)
    search = [r for r in runs if is_search(r.data.tags)]
    tag_search_front(tracker, search, rows_from_runs(search, cfg), cfg.search.goal())
    reps = [r for r in runs if r.data.tags.get(ROLE_TAG) == ROLE_CONFIRM]
    groups: dict[int, list] = {}
    point = {r.info.run_id: int(r.data.tags.get(POINT_TAG, -1)) for r in reps}
    for row in rows_from_runs(reps, cfg):
        groups.setdefault(point[row.run_id], []).append(row)
    if groups:
        tag_confirmed_front(tracker, reps, groups, cfg.search.goal())


def log_cost(tracker: Tracker, parent: str, runs: list) -> dict[str, float]:
    """The sweep's cost so far (every trial run, search and confirmation) on its parent run."""
    cost = totals(r.data.metrics for r in runs)
    tracker.log_metrics(parent, cost, 0)
    return cost


def _summarize(cfg: SweepConfig, tracker: Tracker, parent: str, place: Place) -> None:
    """The search trials' leaderboard (replicates apart), logged on the parent run and printed,
    and where to look next."""
    runs = tracker.trial_runs(parent)
    cost = log_cost(tracker, parent, runs)
    search = [r for r in runs if is_search(r.data.tags)]
    rows = rows_from_runs(search, cfg)
    tag_search_front(tracker, search, rows, cfg.search.goal())
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_leaderboard(rows, cfg, Path(tmp)):
            tracker.log_artifact(parent, path, "leaderboard")
    print()
    print(render(rows, cfg))
    if reps := [r for r in runs if not is_search(r.data.tags)]:  # replicates: noise, confirm
        cost_of = summary(totals(r.data.metrics for r in reps), cfg.search.resources.gpu)
        print(f"replicates: {len(reps)} run(s) beside the search; {cost_of}")
    if cfg.search.budget.limits():  # search and confirmation trials together
        print(cfg.search.budget.line(spend(cost)))
    print(f"\nruns: {mask_credentials(tracker.uri)} (experiment {cfg.name!r}, parent run {parent})")
    print(f"open the MLflow UI: {mask_credentials(ui_command(tracker.uri, place.project))}")
    exp, base = tracker.experiment_id(cfg.name), ui_base(tracker.uri)
    for key, state in views(cfg, parent).items():
        tracker.share_view(exp, key, state)
    print(f"  the trials, best first: {runs_table_url(base, exp, RUNS_VIEW)}")
    print(f"  their training curves:  {runs_table_url(base, exp, CURVES_VIEW, charts=True)}")
    done = cfg.search.goal().ranked(rows)
    if len(done) > 1:
        top = [r.run_id for r in done[:5]]
        print(f"  compare the top {len(top)}:  {compare_url(base, exp, top)}")
    sys.stdout.flush()
