"""Promote a sweep's best finished trial, picked from MLflow, to the model registry.

With several objectives the trial is the member of the Pareto front (`sweeps.objective`)
that the config's rule chooses (`promotion.pick`: `{first: <metric>}` or weights; default:
the best on the first objective); a trial that breaks a search constraint is never
promoted, forced or not. The rule is printed and recorded on the version.

The best trial becomes a model version with the alias `challenger`; the champion alias
moves to it only when the promotion gates pass and, if there is a champion, the challenger
beats it on the objective beyond the noise (`champion.py`); `--force` overrides both and the
version records it. The base model and its settings come from the sweep's recorded config,
never from the trial's own `trial.json` (which must agree with it): a promoted model never
runs remote code.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.tags import (
    ADAPTER,
    BASE_MODEL_HASH_TAG,
    BASE_MODEL_REVISION_TAG,
    BASE_MODEL_TAG,
    CHAMPION_OVERRIDE_TAG,
    DATA_HASH_TAG,
    DATA_MANIFEST,
    FAILED_GATES_TAG,
    FORCED_TAG,
    MERGED_MODEL,
    MERGED_MODEL_TAG,
    OBJECTIVE_TAG,
    PICK_RULE_TAG,
    REPORT_HTML,
    REPORT_TAG,
    RUN_ID_TAG,
    SWEEP_TAG,
    TEMPLATE_TAG,
    TRIAL_RECORD,
    TRIAL_TAG,
    VS_CHAMPION_TAG,
)
from mlflow_server.registry import (
    ModelFiles,
    alias_version,
    download_run_dir,
    has_artifact,
    log_dir,
    register_run_model,
    set_alias,
    tag_version,
)
from mlflow_server.tracking import Tracker
from sweeps.config import SweepConfig
from sweeps.objective import Objective, Pick, Target, metric_value
from sweeps.promote.champion import Comparison, compare_runs
from sweeps.promote.shipping import build_code_dir, requirements
from sweeps.report.leaderboard import Row, rows_from_runs
from sweeps.report.noise import Noise, measure_runs
from sweeps.report.runs import load_sweep
from training.config import ModelConfig
from training.loading import is_local
from training.verified_load import content_sha256

CHALLENGER = "challenger"
MERGED_DIR = MERGED_MODEL


class PromotionRefused(ValueError):
    """No trial can be promoted; the message says why, in one line."""


@dataclass(frozen=True)
class Promotion:
    name: str
    version: str
    alias: str
    created: bool
    row: Row
    failed_gates: tuple[str, ...]
    champion: str | None
    """The version the champion alias points at afterwards."""
    comparison: Comparison | None
    """Against the previous champion, when there was one."""
    merged: str | None = None
    """`runs:/` URI of the merged model, with `--merge`."""
    rule: str = ""
    """Which rule chose the trial, in words."""
    candidates: int = 0
    """Finished trials with the metric, the best picked among them."""


def pick_best(rows: list[Row], metric: str, mode: str) -> Row:
    """The best of `rows` on one metric (any logged key, `objective` included)."""
    best = Objective.single(metric, mode).best(rows)
    if best is None:
        raise PromotionRefused(f"no finished trial with metric {metric!r}")
    return best


def choose(rows: list[Row], goal: Objective, pick: Pick | None) -> tuple[Row, str]:
    """(the trial to promote, the rule that chose it, in words); refused in one line when
    no finished trial has the objectives or every one breaks a constraint."""
    done = [r for r in rows if goal.oriented(r.metrics) is not None]
    if not done:
        lacking = [m for m in goal.metrics if all(metric_value(r.metrics, m) is None for r in rows)]
        raise PromotionRefused(f"no finished trial with metric {(lacking or goal.metrics)[0]!r}")
    if not goal.candidates(done):
        why = "; ".join(f"{r.trial_id} breaks {', '.join(goal.broken(r.metrics))}" for r in done)
        raise PromotionRefused(f"no finished trial respects the search constraints ({why})")
    if not goal.multi:
        best = goal.best(done)
        return best, f"best on {goal.first.metric} ({goal.first.mode})"
    pick = pick or goal.default_pick()
    best = goal.choose(done, pick)
    return best, f"Pareto front member chosen by promotion.pick {{{pick}}}"


def check_trial_model(trial: dict, cfg: SweepConfig, trial_id: str) -> None:
    """The trial's recorded model settings must be the sweep's; remote code is refused."""
    searched = {k.removeprefix("model.") for k in cfg.search.space if k.startswith("model.")}
    recorded = cfg.model.model_dump(mode="json")
    claimed = trial.get("config", {}).get("model", {})
    for key in sorted(set(recorded) | set(claimed)):
        if key not in searched and claimed.get(key) != recorded.get(key):
            raise PromotionRefused(
                f"trial {trial_id}: trial.json says model.{key}={claimed.get(key)!r} but the "
                f"sweep was recorded with {recorded.get(key)!r}; refusing to promote"
            )
    if cfg.model.trust_remote_code:
        raise PromotionRefused(
            f"sweep {cfg.name!r} ran with model.trust_remote_code; a promoted model never runs "
            "remote code"
        )


SAFE_SUFFIXES = (".safetensors", ".json", ".txt", ".md", ".model", ".jinja")
"""What a promoted adapter folder may hold: weights as safetensors, configs, tokenizer
files (a sentencepiece `.model` is protobuf). A `.bin`, `.pt` or `.pkl` could be a pickle,
which runs code when loaded."""


def check_adapter_files(adapter: Path, trial_id: str) -> None:
    """The trial's adapter holds its safetensors weights and config, and nothing a loader
    could unpickle; refused in one line otherwise."""
    names = {p.relative_to(adapter).as_posix() for p in adapter.rglob("*") if p.is_file()}
    for need in ("adapter_model.safetensors", "adapter_config.json"):
        if need not in names:
            raise PromotionRefused(f"trial {trial_id}: its adapter has no {need}; refusing")
    odd = sorted(n for n in names if not n.lower().endswith(SAFE_SUFFIXES))
    if odd:
        raise PromotionRefused(
            f"trial {trial_id}: its adapter holds {odd[0]!r}, not safetensors or a config; "
            "refusing to promote (a pickle would run code where the model loads)"
        )


def hub_commit(hub_id: str, revision: str | None) -> str:
    """The commit a hub revision names, from the local hub cache (no network)."""
    if revision and re.fullmatch(r"[0-9a-f]{40}", revision):
        return revision
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(hub_id, revision=revision, local_files_only=True)
    except Exception as exc:  # not cached, unknown revision: one line
        raise PromotionRefused(
            f"cannot pin base model {hub_id!r} to a commit ({type(exc).__name__}); "
            "set model.revision to a commit hash"
        ) from None
    return Path(path).name


def base_reference(model: ModelConfig) -> dict:
    """How the promoted model finds its base: hub id + commit, or local path + sha256."""
    if is_local(model.path):
        path = str(Path(model.path).expanduser().absolute())
        return {"kind": "local", "path": path, "sha256": content_sha256(path), "dtype": model.dtype}
    commit = hub_commit(model.path, model.revision)
    return {"kind": "hub", "hub_id": model.path, "commit": commit, "dtype": model.dtype}


def _tags(sweep: str, parent_id: str, best: Row, metrics: tuple, base: dict, extra: dict) -> dict:
    return {
        SWEEP_TAG: sweep,
        RUN_ID_TAG: best.run_id,
        TRIAL_TAG: best.trial_id,
        OBJECTIVE_TAG: ", ".join(f"{m}={best.metrics[m]:.6f}" for m in metrics),
        BASE_MODEL_TAG: base.get("path") or base["hub_id"],
        BASE_MODEL_REVISION_TAG: str(base.get("commit")),
        BASE_MODEL_HASH_TAG: base.get("sha256", ""),
        REPORT_TAG: f"runs:/{parent_id}/{REPORT_HTML}",
        **extra,
        **{
            f"metric.{k}": f"{v:.6f}"
            for k, v in sorted(best.metrics.items())
            if "/" in k and k.count("_") <= 2
        },
    }


def _register(tracker: Tracker, parent, cfg: SweepConfig, best: Row, metrics, failed, name, rule):
    """Download what the trial left, check it, save the model as code, register it once."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        get = lambda p: download_run_dir(tracker.client, best.run_id, p, tmp_path)  # noqa: E731
        adapter, manifest = get(ADAPTER), get(DATA_MANIFEST)
        trial = json.loads(get(TRIAL_RECORD).read_text())
        check_trial_model(trial, cfg, best.trial_id)
        check_adapter_files(adapter, best.trial_id)
        base = base_reference(cfg.model)
        extra = {
            TEMPLATE_TAG: trial.get("template", ""),
            DATA_HASH_TAG: json.loads(manifest.read_text())["content_hash"],
            FORCED_TAG: str(bool(failed)).lower(),
            FAILED_GATES_TAG: "; ".join(failed),
            PICK_RULE_TAG: rule,
        }
        files = ModelFiles(
            artifacts={"adapter": adapter, "data_manifest": manifest},
            code_paths=[build_code_dir(tmp_path / "code")],
            config={
                "base_model": base,
                "max_new_tokens": cfg.generation.max_new_tokens,
                "batch_size": cfg.generation.batch_size,
            },
            requirements=requirements(tmp_path),
        )
        tags = _tags(
            parent.data.tags.get(SWEEP_TAG, cfg.name),
            parent.info.run_id,
            best,
            metrics,
            base,
            extra,
        )
        return register_run_model(tracker.client, best.run_id, name, files, tags)


def _crown(
    tracker: Tracker,
    name: str,
    alias: str,
    version: str,
    best: Row,
    goal: Objective,
    pick: Pick | None,
    force: bool,
    noise: Noise | None = None,
) -> tuple[str | None, Comparison | None]:
    """Point `challenger` at the version; move the champion alias if it has earned it."""
    client = tracker.client
    current = alias_version(client, name, alias)
    if current is not None and current.version == version:
        return version, None  # already the champion
    set_alias(client, name, CHALLENGER, version)
    comparison = None
    if current is not None:
        comparison = compare_runs(tracker, current.run_id, best.run_id, goal, pick, noise)
        tag_version(client, name, version, {VS_CHAMPION_TAG: comparison.text()})
        if not comparison.beats and not force:
            return current.version, comparison
        if not comparison.beats:
            tag_version(client, name, version, {CHAMPION_OVERRIDE_TAG: "true"})
    set_alias(client, name, alias, version)
    return version, comparison


def _merge(tracker: Tracker, cfg: SweepConfig, best: Row, name: str, version: str) -> str:
    """Base + adapter merged (safetensors, with tokenizer) beside the adapter; its URI."""
    from training.verified_load import load_with_adapter, save_merged

    client = tracker.client
    if not has_artifact(client, best.run_id, MERGED_DIR):
        with tempfile.TemporaryDirectory() as tmp:
            adapter = download_run_dir(client, best.run_id, ADAPTER, Path(tmp))
            model, tokenizer = load_with_adapter(base_reference(cfg.model), adapter)
            save_merged(model, tokenizer, Path(tmp) / MERGED_DIR)
            log_dir(client, best.run_id, Path(tmp) / MERGED_DIR, MERGED_DIR)
    uri = f"runs:/{best.run_id}/{MERGED_DIR}"
    tag_version(client, name, version, {MERGED_MODEL_TAG: uri})
    return uri


def promote(
    tracker: Tracker,
    sweep: str,
    objective: str | None = None,
    alias: str | None = None,
    force: bool = False,
    mode: str | None = None,
    merge: bool = False,
) -> Promotion:
    parent, cfg = load_sweep(tracker, sweep)
    goal, pick = cfg.search.goal(), cfg.promotion.pick
    if objective or mode:  # `--objective` / `--mode`: one metric ranks, constraints still hold
        target = Target(metric=objective or goal.first.metric, mode=mode or goal.first.mode)
        goal, pick = Objective((target,), goal.constraints), None
    runs = tracker.trial_runs(parent.info.run_id)
    rows = [r for r in rows_from_runs(runs, cfg) if r.status == "FINISHED"]
    try:
        best, rule = choose(rows, goal, pick)
    except PromotionRefused as exc:
        raise PromotionRefused(f"sweep {sweep!r}: {exc}") from None
    failed = tuple(str(g) for g in cfg.promotion.gates if not g.passes(best.metrics))
    if failed and not force:
        raise PromotionRefused(
            f"best trial {best.trial_id} fails promotion gate(s): {'; '.join(failed)} "
            "(--force overrides, and is recorded on the version)"
        )
    name = cfg.promotion.model_name or sweep
    alias = alias or cfg.promotion.alias
    shown = ("objective",) if not goal.multi and not objective else goal.metrics
    version, created = _register(tracker, parent, cfg, best, shown, failed, name, rule)
    noise = measure_runs(runs, cfg)  # the challenger's sweep's training noise, if measured
    champion, comparison = _crown(tracker, name, alias, version, best, goal, pick, force, noise)
    merged = _merge(tracker, cfg, best, name, version) if merge else None
    return Promotion(
        name,
        version,
        alias,
        created,
        best,
        failed,
        champion,
        comparison,
        merged,
        rule,
        len(goal.candidates(rows)),
    )
