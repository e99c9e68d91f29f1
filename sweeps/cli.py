"""`sweeplab`: one parser, one function per command; exceptions become exit codes.

Each command imports what it needs when it runs, so `sweeplab --help`, `validate`, `data`,
`report`, `predict`, `promote` (without `--merge`) never load torch, transformers, TRL, PEFT, Ray.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

from common.proctitle import mask_own_command_line

# First thing, before the slower imports: a password typed into the command line (a
# backend or tracking URI) is masked where `ps` shows it to every local user.
mask_own_command_line()

from pydantic import ValidationError  # noqa: E402

from common.errors import exhausted, first_line  # noqa: E402
from sweeps.cli_server import cmd_server, server_parser  # noqa: E402
from sweeps.config import SweepConfig, error_line, load_config, localize  # noqa: E402
from sweeps.names import check_name  # noqa: E402

EXHAUSTED = 4
"""Exit status when a disk, a quota or memory ran out, or a folder is read-only."""


class ExitCode(Exception):
    """A command's outcome that is not success: a message (one line) and an exit status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _load(args) -> SweepConfig:
    return localize(load_config(args.config, args.overrides))


def _tracker(args):
    from mlflow_server.tracking import Tracker, resolve_tracking_uri

    project = Path.cwd()
    return Tracker(resolve_tracking_uri(args.tracking_uri, project), project)


def cmd_validate(args) -> int:
    cfg = _load(args)
    space = ", ".join(cfg.search.space) or "nothing"
    print(
        f"{args.config}: ok — sweep {cfg.name!r}, {cfg.search.num_samples} trials "
        f"searching {space}; objective {cfg.search.goal().label()}"
    )
    return 0


def cmd_data(args) -> int:
    from sweeps.run.plan import data_summary

    print(data_summary(_load(args), args.json, Path.cwd() / "runs" / "data_cache"))
    return 0


def cmd_sweep(args) -> int:
    cfg = _load(args)
    if args.name is not None:
        cfg = cfg.model_copy(update={"name": check_name(args.name, "--name")})
    if args.warm_from is not None:
        earlier = check_name(args.warm_from, "--from")
        cfg = cfg.model_copy(
            update={"search": cfg.search.model_copy(update={"warm_start_from": earlier})}
        )
    return _launch(cfg, args, label=args.config)


def cmd_resume(args) -> int:
    from sweeps.run.launch import Place, recorded_config

    check_name(args.sweep, "SWEEP")
    cfg = recorded_config(args.sweep, Place(Path.cwd(), args.storage))
    return _launch(cfg, args, label=None, retry_failed=args.retry_failed)


def cmd_confirm(args) -> int:
    from sweeps.run.launch import Place, confirm

    check_name(args.sweep, "SWEEP")
    again = f"`sweeplab confirm {args.sweep}` continues it"
    with _running(
        f"confirmation of {args.sweep!r} interrupted; the same command continues it", again
    ):
        place = Place(Path.cwd(), args.storage)
        confirm(args.sweep, place, args.top, args.seeds, args.tracking_uri, args.ray_address)
    return 0


def _launch(cfg: SweepConfig, args, label: str | None, retry_failed: bool = False) -> int:
    from sweeps.run.launch import Place, launch

    again = f"`sweeplab resume {cfg.name} --retry-failed` continues it"
    with _running(
        f"sweep {cfg.name!r} interrupted; `sweeplab resume {cfg.name}` continues it", again
    ):
        place = Place(Path.cwd(), args.storage or cfg.storage)
        launch(cfg, place, args.tracking_uri, args.ray_address, label, retry_failed)
    return 0


@contextmanager
def _running(interrupted: str, resume: str):
    """A sweep or confirmation running: Ctrl-C is exit 130 saying `interrupted`, writes the
    store did not take are exit 3, a full disk (or quota, a read-only folder, the driver's
    memory) is exit 4 naming it and the command that continues (`resume`)."""
    from sweeps.run.tuner import SweepInterrupted, TrackingBacklog

    try:
        yield
    except (SweepInterrupted, KeyboardInterrupt):
        raise ExitCode(130, interrupted) from None
    except TrackingBacklog as exc:
        raise ExitCode(3, str(exc)) from None
    except Exception as exc:
        if (line := exhausted(exc)) is None:
            raise
        raise ExitCode(EXHAUSTED, f"{line}; once there is room, {resume}") from None


def cmd_promote(args) -> int:
    from sweeps.promote.promotion import CHALLENGER, promote

    check_name(args.sweep, "SWEEP")
    if args.alias is not None:
        check_name(args.alias, "--alias")
    p = promote(
        _tracker(args), args.sweep, args.objective, args.alias, args.force, args.mode, args.merge
    )
    what = "registered" if p.created else "already registered"
    forced = f" (FORCED past: {'; '.join(p.failed_gates)})" if p.failed_gates else ""
    print(
        f"{what}: models:/{p.name}/{p.version} <- trial {p.row.trial_id} "
        f"(run {p.row.run_id}), best of {p.candidates} finished trial(s){forced}"
    )
    print(f"chosen by: {p.rule}")
    if p.comparison is not None:
        print(f"vs champion: {p.comparison.text()}")
    if p.champion == p.version:
        print(f"alias: models:/{p.name}@{p.alias}")
    else:
        print(
            f"alias: models:/{p.name}@{CHALLENGER} (models:/{p.name}@{p.alias} stays at "
            f"version {p.champion}: not better beyond the noise; --force moves it)"
        )
    if p.merged:
        print(f"merged model (safetensors + tokenizer): {p.merged}")
    print(
        f'load: mlflow.pyfunc.load_model("models:/{p.name}@{p.alias}").predict(["<instruction>"])'
    )
    return 0


def cmd_serve(args) -> int:
    from sweeps.promote.serving import serve, split_target

    split_target(args.target)  # the names checked before the store is opened
    return serve(
        _tracker(args), args.target, args.port, "127.0.0.1", args.max_batch, args.max_bytes
    )


def cmd_report(args) -> int:
    from sweeps.report.build import build_report

    check_name(args.sweep, "SWEEP")
    out = args.out or Path.cwd() / "runs" / "reports" / args.sweep
    md, page = build_report(_tracker(args), args.sweep, out)
    print(f"report: {md}\n        {page}\n(also logged to the sweep's parent run under report/)")
    return 0


def cmd_predict(args) -> int:
    from sweeps.report.predict import predict_command

    check_name(args.sweep, "SWEEP")
    print(predict_command(_tracker(args), args.sweep, args.values, args.json))
    return 0


def cmd_score(args) -> int:
    from evaluation.score_file import score_file
    from evaluation.wordnet import WordNetMissingError

    try:
        result = score_file(args.file, per_example=args.per_example)
    except WordNetMissingError as exc:
        raise ExitCode(1, str(exc)) from None
    print(json.dumps(result))
    return 0


def _with_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="sweep config (YAML)")
    _with_set(p, "overrides", "override a setting, e.g. --set mix.openorca=0.1 (repeatable)")


def _with_set(p: argparse.ArgumentParser, dest: str, text: str) -> None:
    p.add_argument("--set", dest=dest, action="append", default=[], metavar="KEY=VALUE", help=text)


def _with_run(p: argparse.ArgumentParser, uri_help: str) -> None:
    p.add_argument("--tracking-uri", help=uri_help)
    p.add_argument("--ray-address", help="run on an existing Ray cluster")
    p.add_argument(
        "--storage",
        metavar="URI",
        help="Ray checkpoints and the sweep record: a path every node shares or an object "
        "store URI, e.g. s3://bucket/prefix?endpoint_override=host:9000 (default: the "
        "config's `storage`, else runs/ray)",
    )


def _with_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", metavar="SWEEP", help="sweep name (its MLflow experiment)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2 (a spread needs two seeds), got {value}")
    return value


def _sweep_parsers(sub) -> None:
    p = sub.add_parser("sweep", help="run a sweep of LoRA SFT trials")
    _with_config(p)
    p.add_argument("--name", help="sweep name (default: the config's name)")
    p.add_argument(
        "--from",
        dest="warm_from",
        metavar="SWEEP",
        help="start from a finished sweep: its trials as history, its front and the response "
        "model's proposals first",
    )
    _with_run(p, "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or runs/mlflow.db)")
    p = sub.add_parser("resume", help="continue a sweep that was interrupted or killed")
    p.add_argument(
        "sweep", metavar="SWEEP", help="sweep name (as given to `sweeplab sweep --name`)"
    )
    _with_run(p, "MLflow tracking URI (default: as for `sweep`)")
    p.add_argument(
        "--retry-failed", action="store_true", help="run failed trials again from their checkpoint"
    )
    p = sub.add_parser(
        "confirm", help="re-run the best configurations and the seed-like baseline with N seeds"
    )
    p.add_argument("sweep", metavar="SWEEP", help="sweep name")
    p.add_argument("--top", type=_positive, default=2, help="best configurations (default 2)")
    p.add_argument("--seeds", type=_at_least_two, default=3, help="seeds each (default 3)")
    _with_run(p, "MLflow tracking URI (default: the sweep's)")
    _with_config(sub.add_parser("validate", help="check a config without running anything"))
    p = sub.add_parser("data", help="dry run of the data: rows, duplicates, splits, mixture")
    _with_config(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _read_back_parsers(sub) -> None:
    p = sub.add_parser("promote", help="register a sweep's best trial in the model registry")
    _with_store(p)
    p.add_argument("--objective", help="metric to rank by (default: the sweep's objective)")
    p.add_argument("--alias", help="alias to set (default: the config's, `champion`)")
    p.add_argument(
        "--force", action="store_true", help="promote even if gates fail or within the noise"
    )
    p.add_argument(
        "--mode", choices=("max", "min"), help="best is the max or min (default: the sweep's)"
    )
    p.add_argument(
        "--merge", action="store_true", help="also log base + adapter merged (safetensors)"
    )
    p = sub.add_parser("serve", help="serve a promoted model over HTTP on 127.0.0.1")
    p.add_argument(
        "target", metavar="SWEEP[@ALIAS]", help="the sweep's model at an alias (default: champion)"
    )
    p.add_argument("--port", type=int, default=5001)
    p.add_argument(
        "--max-batch",
        type=_positive,
        help="inputs per request; more is 413 (default: the model's generation batch_size)",
    )
    p.add_argument(
        "--max-bytes",
        type=_positive,
        default=1 << 20,
        help="request body size; larger is 413 (default 1 MiB)",
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI")
    p = sub.add_parser("report", help="write report.md/report.html: a verdict per dimension")
    _with_store(p)
    p.add_argument("--out", type=Path, help="output directory (default: runs/reports/SWEEP)")
    p = sub.add_parser("predict", help="predicted metrics of a configuration (others: best's)")
    _with_store(p)
    _with_set(p, "values", "a searched value, e.g. --set mix.openorca=0.07 (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = sub.add_parser("score", help="score predictions against references")
    p.add_argument("file", type=Path, help="JSONL with prediction and reference per line")
    p.add_argument("--per-example", action="store_true", help="also list per-example scores")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweeplab", description=__doc__.splitlines()[0].strip("`")
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _sweep_parsers(sub)
    _read_back_parsers(sub)
    server_parser(sub)
    return parser


COMMANDS = {
    "sweep": cmd_sweep,
    "resume": cmd_resume,
    "confirm": cmd_confirm,
    "validate": cmd_validate,
    "data": cmd_data,
    "promote": cmd_promote,
    "serve": cmd_serve,
    "report": cmd_report,
    "predict": cmd_predict,
    "score": cmd_score,
    "server": cmd_server,
}


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.command](args)
    except ExitCode as exc:
        print(f"sweeplab {args.command}: {first_line(exc, 2000)}", file=sys.stderr)
        return exc.status
    except ValidationError as exc:  # a model validated outside `load_config`: name the key
        print(f"sweeplab {args.command}: error: {error_line(exc)[:2000]}", file=sys.stderr)
        return 2
    except ValueError as exc:  # ConfigError, DataError, InputError, refusals: bad input
        print(f"sweeplab {args.command}: error: {first_line(exc, 2000)}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:  # a full disk, a read-only folder: one line
        if (line := exhausted(exc)) is None:
            raise
        print(f"sweeplab {args.command}: {line}", file=sys.stderr)
        return EXHAUSTED
    except RecursionError:  # hostile JSON or YAML read back from a store or a file
        print(
            f"sweeplab {args.command}: error: an input is nested too deeply to read",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"sweeplab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
