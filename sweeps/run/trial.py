"""One trial, top to bottom: data mixture -> LoRA SFT -> generation -> metrics -> report.

`run_trial` knows nothing of Ray: it calls `report(metrics, checkpoint_dir)` at every
evaluation, so the same function runs under Ray Tune (`sweeps.run.trainable`) or in a plain
loop (the bench's baseline).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from common.errors import first_line
from common.tags import ADAPTER, DATA_MANIFEST, TRIAL_RECORD
from evaluation.eval_sets import EvalItem, evaluate_all
from evaluation.scoring import scoring_params
from sweeps.config import TrialConfig
from sweeps.objective import metric_value
from sweeps.run.baseline import base_scores, deltas
from sweeps.run.cost_meter import CostMeter
from sweeps.run.eval_items import eval_items
from sweeps.run.plan import trial_phases
from training.base_model import load_base_model
from training.memory import release_memory
from training.mixing import assert_disjoint, manifest
from training.prepare import PreparedData
from training.sft import Resume, merged_copy, save_adapter, train_lora
from training.template import TEMPLATE_NAME, TURN_MARKERS

Report = Callable[[dict, Path], None]
TRAIN_HISTORY = "train_history"
"""In a report: the training-curve points logged since the previous report (`training.sft`),
as a JSON string (Ray's result loggers skip strings; a list would be a TensorBoard warning)."""
RESUME_DIR = "resume"
"""In a checkpoint: the trainer state a trial continues from (optimizer, schedule, RNG)."""


class TrialOutOfMemory(RuntimeError):
    """The trial ran out of (GPU) memory; the message says which settings to lower."""


def resume_point(checkpoint: Path | None, cfg: TrialConfig) -> tuple[Resume | None, dict]:
    """Where a trial restored from `checkpoint` continues (None: afresh), and the metrics
    it last reported."""
    if checkpoint is None:
        return None, {}
    meta = json.loads((checkpoint / TRIAL_RECORD).read_text(encoding="utf-8"))
    if meta["config"] != cfg.model_dump(mode="json"):
        raise ValueError(f"{checkpoint}: checkpoint of a different trial configuration")
    return Resume(int(meta["step"]), checkpoint / RESUME_DIR), meta["metrics"]


def objective_metrics(metrics: dict[str, float], objective: str | Sequence[str]) -> dict:
    """What a report adds for the searcher and the scheduler: `objective` (the first
    objective's value: what ASHA's rungs compare) and, with several objectives, each
    `mean_<metric>` one under its own name (the searcher reads every objective by name)."""
    names = [objective] if isinstance(objective, str) else list(objective)
    first = metric_value(metrics, names[0])
    out = {"objective": float("nan") if first is None else first}
    if len(names) > 1:
        for name in names:
            if name.startswith("mean_") and (v := metric_value(metrics, name)) is not None:
                out[name] = v
    return out


def prediction_rows(items: dict[str, list[EvalItem]], results, base: dict | None) -> list[dict]:
    """The per-example table: prompt, reference, prediction, scores and flags."""
    rows = []
    for name, its in items.items():
        res = results[name]
        base_preds = base["sets"][name]["predictions"] if base else [None] * len(its)
        for it, gen, ex, base_pred in zip(
            its, res.generations, res.per_example, base_preds, strict=True
        ):
            rows.append(
                {
                    "dataset": name,
                    "id": it.id,
                    "system": it.system,
                    "prompt": it.prompt,
                    "reference": it.reference,
                    "prediction": gen.text,
                    "base_prediction": base_pred,
                    "pred_tokens": gen.tokens,
                    **ex,
                }
            )
    return rows


def trial_record(cfg: TrialConfig, step: int, metrics: dict) -> str:
    """`trial.json`: the config, step, template, scorers and metrics of one evaluation."""
    record = {
        "config": cfg.model_dump(mode="json"),
        "step": step,
        "template": TEMPLATE_NAME,
        "scoring": scoring_params(),
        "metrics": metrics,
    }
    return json.dumps(record)


def set_threads(n: int | None) -> None:
    import torch

    if n:
        torch.set_num_threads(max(1, int(n)))


def run_trial(
    cfg: TrialConfig,
    data: PreparedData,
    work_dir: Path,
    report: Report,
    objective: str | Sequence[str] = "mean_meteor",
    threads: int | None = None,
    base_cache: Path | None = None,
    resume_from: Path | None = None,
    base: dict | None = None,
) -> dict[str, float]:
    """Train and evaluate one configuration; returns the last reported metrics.

    With `base` (the base model's scores) or `base_cache` (scored and cached there),
    metrics include deltas against the base model.
    With `resume_from` (a checkpoint this function reported), training continues from it:
    steps already done are not repeated and not reported again.
    """
    meter = CostMeter(resume_from)  # the trial's cost clock starts here
    set_threads(cfg.train.threads or threads)
    work_dir.mkdir(parents=True, exist_ok=True)
    phases = trial_phases(cfg, data)
    assert_disjoint(phases, data.eval_sets)
    mix_manifest = manifest(phases, data.eval_sets)
    items = {name: eval_items(exs) for name, exs in data.eval_sets.items()}
    if base is None and base_cache is not None:
        base = base_scores(cfg.model, items, cfg.generation, base_cache)
    model, tokenizer = load_base_model(cfg.model)
    resume, last = resume_point(resume_from, cfg)  # `last`: the metrics reported last
    curve: list[dict] = []  # training-curve points not reported yet

    def on_report(step: int, peft_model, trainer_ckpt: Path) -> None:
        metrics, results = meter.timed(lambda: evaluate(peft_model, tokenizer, items, cfg))
        metrics.update(tokens_seen(trainer_ckpt))
        if base is not None:
            metrics.update(deltas(results, base, seed=cfg.train.seed))
        metrics.update(objective_metrics(metrics, objective))
        metrics["train/step"] = step
        metrics.update(meter.at_report(trainer_ckpt, metrics.get("train/phase_tokens_seen")))
        ckpt = Path(tempfile.mkdtemp(prefix=f"ckpt-{step}-", dir=work_dir))
        meter.save(ckpt, metrics)
        save_adapter(peft_model, ckpt / ADAPTER)
        tokenizer.save_pretrained(str(ckpt / ADAPTER))
        shutil.move(trainer_ckpt, ckpt / RESUME_DIR)  # the trainer deletes it afterwards
        rows = prediction_rows(items, results, base)
        write_records(ckpt, cfg, step, metrics, mix_manifest, rows)
        last.clear()
        last.update(metrics)
        reported = {**metrics, TRAIN_HISTORY: json.dumps(curve)}
        if resume is not None and step == _first_report_after(resume.step, cfg):
            reported["resumed_from_step"] = resume.step
        report(reported, ckpt)
        curve.clear()
        shutil.rmtree(ckpt, ignore_errors=True)

    try:
        train_lora(
            model,
            tokenizer,
            phases,
            cfg.lora,
            cfg.train,
            work_dir / "trainer",
            on_report,
            resume,
            on_log=curve.append,
        )
    except torch_oom() as exc:
        t = cfg.train
        raise TrialOutOfMemory(
            f"out of memory with train.batch_size={t.batch_size}, train.max_length="
            f"{t.max_length}, generation.batch_size={cfg.generation.batch_size}: lower them "
            f"or give each trial more memory ({first_line(exc)})"
        ) from exc
    finally:
        # A reused worker's next trial starts from this one's baseline: the model, adapter,
        # optimizer and trainer (only `model` still names them) and the allocator's cache go.
        del model
        release_memory()
    return last


def write_records(
    ckpt: Path, cfg: TrialConfig, step: int, metrics: dict, mix_manifest: dict, rows: list
) -> None:
    """A checkpoint's records: the data manifest, `trial.json` and the per-example table."""
    (ckpt / DATA_MANIFEST).write_text(json.dumps(mix_manifest), encoding="utf-8")
    (ckpt / TRIAL_RECORD).write_text(trial_record(cfg, step, metrics), encoding="utf-8")
    (ckpt / "predictions.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")


def evaluate(peft_model, tokenizer, items: dict[str, list[EvalItem]], cfg: TrialConfig):
    """`evaluate_all` with the template's turn markers as stop strings, on the adapted model
    or (generation.merge_adapter) on a merged copy of it."""
    if not cfg.generation.merge_adapter:
        return evaluate_all(peft_model, tokenizer, items, cfg.generation, TURN_MARKERS)
    merged = merged_copy(peft_model)
    try:
        return evaluate_all(merged, tokenizer, items, cfg.generation, TURN_MARKERS)
    finally:
        del merged
        release_memory()


def tokens_seen(trainer_ckpt: Path) -> dict[str, float]:
    """Non-padding tokens the current phase's trainer has trained on (from its state)."""
    path = Path(trainer_ckpt) / "trainer_state.json"
    if not path.is_file():
        return {}
    seen = json.loads(path.read_text(encoding="utf-8")).get("num_input_tokens_seen")
    return {"train/phase_tokens_seen": float(seen)} if seen else {}


def _first_report_after(step: int, cfg: TrialConfig) -> int:
    every = cfg.train.report_every
    return (step // every + 1) * every


def torch_oom() -> tuple[type[BaseException], ...]:
    import torch

    return (torch.OutOfMemoryError, MemoryError)
