"""`sweeplab`: launch sweeps, validate configs, dry-run the data, score predictions."""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from sweeps.config import NAME_PATTERN, ConfigError, SweepConfig, load_config
from training.loading import DataError

PROJECT_DIR = Path.cwd


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sweeplab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("config", help="sweep config (YAML)")
        p.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a setting, e.g. --set mix.openorca=0.1 (repeatable)",
        )

    p = sub.add_parser("sweep", help="run a sweep of LoRA SFT trials")
    with_config(p)
    p.add_argument("--name", help="sweep name (default: the config's name)")
    p.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or runs/mlflow.db)",
    )
    p.add_argument("--ray-address", help="run on an existing Ray cluster")

    p = sub.add_parser("resume", help="continue a sweep that was interrupted or killed")
    p.add_argument("sweep", help="sweep name (as given to `sweeplab sweep --name`)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: as for `sweep`)")
    p.add_argument("--ray-address", help="run on an existing Ray cluster")

    p = sub.add_parser("validate", help="check a config without running anything")
    with_config(p)

    p = sub.add_parser("data", help="dry run of the data: rows, duplicates, splits, mixture")
    with_config(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("promote", help="register a sweep's best trial in the model registry")
    p.add_argument("sweep", help="sweep name (its MLflow experiment)")
    p.add_argument("--objective", help="metric to rank by (default: the sweep's objective)")
    p.add_argument("--alias", help="alias to set (default: the config's, `champion`)")
    p.add_argument("--force", action="store_true", help="promote even if gates fail")
    p.add_argument("--tracking-uri", help="MLflow tracking URI")

    p = sub.add_parser("report", help="write report.md/report.html: a verdict per dimension")
    p.add_argument("sweep", help="sweep name (its MLflow experiment)")
    p.add_argument("--out", type=Path, help="output directory (default: runs/reports/SWEEP)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI")

    sub.add_parser("server", help="start an MLflow tracking server", add_help=False)

    p = sub.add_parser("score", help="score predictions against references")
    p.add_argument("file", help="JSONL with prediction and reference per line")
    p.add_argument("--per-example", action="store_true", help="also list per-example scores")
    return parser


def _abs_if_local(location: str) -> str:
    path = Path(location).expanduser()
    return str(path.resolve()) if path.exists() else location


def localize(cfg: SweepConfig) -> SweepConfig:
    """Local paths made absolute: trials run in other working directories."""
    data = cfg.data.model_copy(
        update={s: _abs_if_local(cfg.data.source(s)) for s in ("alpaca", "dolly", "openorca")}
    )
    model = cfg.model.model_copy(update={"path": _abs_if_local(cfg.model.path)})
    return cfg.model_copy(update={"data": data, "model": model})


def _load(args) -> SweepConfig:
    return localize(load_config(args.config, args.overrides))


def cmd_validate(args) -> int:
    cfg = _load(args)
    space = ", ".join(cfg.search.space) or "nothing"
    print(
        f"{args.config}: ok — sweep {cfg.name!r}, {cfg.search.num_samples} trials "
        f"searching {space}; objective {cfg.search.objective} ({cfg.search.mode})"
    )
    return 0


def cmd_data(args) -> int:
    from sweeps.trial import trial_phases
    from training.mixing import manifest
    from training.prepare import prepare_data

    cfg = _load(args)
    data = prepare_data(cfg.data)
    mix = manifest(trial_phases(cfg, data))
    if args.json:
        print(json.dumps({s: st.as_dict() for s, st in data.stats.items()}))
        return 0
    print(f"{'dataset':<10}{'rows':>8}{'dups':>8}{'skipped':>9}{'train':>8}{'eval':>7}  source")
    for source, st in data.stats.items():
        print(
            f"{source:<10}{st.rows:>8}{st.duplicates:>8}{st.skipped:>9}{st.train:>8}"
            f"{st.eval:>7}  {cfg.data.source(source)}"
        )
    print(f"\ntraining mixture ({cfg.curriculum}, content hash {mix['content_hash'][:12]}):")
    for phase in mix["phases"]:
        shares = ", ".join(f"{k} {v}" for k, v in sorted(phase["rows_per_source"].items()))
        print(f"  {phase['name']:<8} {phase['steps']:>5} steps on {phase['rows']} rows: {shares}")
    return 0


def cmd_sweep(args) -> int:
    cfg = _load(args)
    if args.name:
        cfg = SweepConfig.model_validate({**cfg.model_dump(mode="json"), "name": args.name})
    return _launch(cfg, args)


def cmd_resume(args) -> int:
    from sweeps.runner import saved_config

    storage = PROJECT_DIR() / "runs" / "ray"
    if not re.fullmatch(NAME_PATTERN, args.sweep):
        raise ConfigError(f"{args.sweep!r} is not a sweep name")
    try:
        cfg = saved_config(storage, args.sweep)
    except ValueError as exc:
        raise ConfigError(f"{storage / args.sweep}: unreadable sweep record ({exc})") from None
    if cfg is None:
        raise ConfigError(f"no sweep {args.sweep!r} was started here ({storage / args.sweep})")
    return _launch(cfg, args)


def _launch(cfg: SweepConfig, args) -> int:
    """Start or continue `cfg`: checks first (nothing is created on bad input), then run."""
    from mlflow_server.tracking import Tracker, resolve_tracking_uri, ui_command
    from sweeps.baseline import base_scores
    from sweeps.leaderboard import render, rows_from_runs
    from sweeps.plots import write_leaderboard
    from sweeps.runner import (
        SweepExists,
        SweepInterrupted,
        TrackingBacklog,
        check_continuation,
        record_sweep,
        recorded_tracking_uri,
        run_sweep,
    )
    from sweeps.trial import check_mixtures, eval_items
    from training.base_model import ModelError, check_model_path
    from training.prepare import prepare_data

    project = PROJECT_DIR()
    storage = project / "runs" / "ray"
    try:
        check_model_path(cfg.model)
        continuing = check_continuation(cfg, storage)
    except (SweepExists, ModelError) as exc:
        raise ConfigError(str(exc)) from None
    explicit = getattr(args, "tracking_uri", None) or cfg.tracking_uri
    uri = resolve_tracking_uri(explicit, project)
    recorded = recorded_tracking_uri(storage, cfg.name) if continuing else None
    if recorded and recorded != uri:
        if explicit:
            raise ConfigError(
                f"sweep {cfg.name!r} logs to {recorded}, not {uri}; resume it with that "
                "tracking URI (or none)"
            )
        uri = recorded  # a resumed sweep keeps logging where it started
    # Recorded now, so a sweep killed from here on resumes; undone if the input is bad.
    undo = (lambda: None) if continuing else record_sweep(cfg, storage, uri)
    verb = "continuing" if continuing else "starting"
    print(f"sweep {cfg.name!r}: {verb}; preparing data ...", flush=True)
    base_cache = project / "runs" / "base_eval"
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
        base = base_scores(cfg.model, items, cfg.generation, base_cache)
    except ModelError as exc:
        undo()
        raise ConfigError(str(exc)) from None
    except DataError:
        undo()
        raise
    except ValueError as exc:  # a setting that does not fit the data: name the config
        undo()
        raise ConfigError(f"{getattr(args, 'config', None) or cfg.name}: {exc}") from None
    print(
        "  base "
        + "  ".join(f"{k}={v:.3f}" for k, v in base["metrics"].items() if k.endswith("/meteor"))
    )
    tracker = Tracker(uri, project, patience=cfg.tracking_patience)
    print(
        f"sweep {cfg.name!r}: {cfg.search.num_samples} trials, {cfg.search.max_concurrent} at "
        f"a time; objective {cfg.search.objective}",
        flush=True,
    )
    try:
        parent, _ = run_sweep(cfg, data, tracker, storage, base_cache, args.ray_address)
    except SweepExists as exc:
        raise ConfigError(str(exc)) from None
    except (SweepInterrupted, KeyboardInterrupt):
        print(
            f"sweeplab: sweep {cfg.name!r} interrupted; `sweeplab resume {cfg.name}` continues it",
            file=sys.stderr,
        )
        return 130
    except TrackingBacklog as exc:
        print(f"sweeplab: {exc}", file=sys.stderr)
        return 3
    tracker.log_metrics(parent, {f"base/{k}": v for k, v in base["metrics"].items()}, 0)
    rows = rows_from_runs(tracker.trial_runs(parent), cfg)
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_leaderboard(rows, cfg, Path(tmp)):
            tracker.log_artifact(parent, path, "leaderboard")
    print()
    print(render(rows, cfg))
    print(f"\nruns: {uri} (experiment {cfg.name!r}, parent run {parent})")
    print(f"open the MLflow UI: {ui_command(uri, project)}")
    return 0


def cmd_promote(args) -> int:
    from mlflow_server.tracking import Tracker, resolve_tracking_uri
    from sweeps.promote import PromotionRefused, promote

    project = PROJECT_DIR()
    tracker = Tracker(resolve_tracking_uri(args.tracking_uri, project), project)
    try:
        p = promote(tracker, args.sweep, args.objective, args.alias, args.force)
    except PromotionRefused as exc:
        raise ConfigError(str(exc)) from None
    what = "registered" if p.created else "already registered"
    forced = f" (FORCED past: {'; '.join(p.failed_gates)})" if p.failed_gates else ""
    print(
        f"{what}: models:/{p.name}/{p.version} <- trial {p.row.trial_id} "
        f"(run {p.row.run_id}){forced}"
    )
    print(f"alias: models:/{p.name}@{p.alias}")
    print(
        f'load: mlflow.pyfunc.load_model("models:/{p.name}@{p.alias}").predict(["<instruction>"])'
    )
    return 0


def cmd_report(args) -> int:
    from mlflow_server.tracking import Tracker, resolve_tracking_uri
    from sweeps.promote import PromotionRefused
    from sweeps.report import build_report

    project = PROJECT_DIR()
    tracker = Tracker(resolve_tracking_uri(args.tracking_uri, project), project)
    out = args.out or project / "runs" / "reports" / args.sweep
    try:
        md, page = build_report(tracker, args.sweep, out)
    except PromotionRefused as exc:  # no such sweep
        raise ConfigError(str(exc)) from None
    print(f"report: {md}\n        {page}\n(also logged to the sweep's parent run under report/)")
    return 0


def cmd_score(args) -> int:
    from evaluation.score_cli import main as score_main

    return score_main([args.file] + (["--per-example"] if args.per_example else []))


COMMANDS = {
    "sweep": cmd_sweep,
    "resume": cmd_resume,
    "validate": cmd_validate,
    "data": cmd_data,
    "promote": cmd_promote,
    "report": cmd_report,
    "score": cmd_score,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["server"]:  # its own parser: flags pass straight through
        from mlflow_server.server import main as server_main

        return server_main(argv[1:])
    args = make_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, DataError, ValueError) as exc:
        print(f"sweeplab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sweeplab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
