"""LoRA supervised fine-tuning with TRL's SFTTrainer, phase after phase.

Loss is on the response only (prompt-completion data). Every `report_every` optimizer steps
the trainer saves a checkpoint and the caller's `on_report(step, model, checkpoint_dir)`
runs (evaluation, reporting to a scheduler, keeping the checkpoint); the adapter is shared
by all phases, so a second phase continues from the first one's weights.

`train_lora(..., resume=Resume(step, dir))` continues from such a checkpoint: earlier phases
are skipped, the current one resumes with its optimizer, LR schedule, RNG and data order
(transformers' own resume; adapter weights are safetensors, the optimizer/scheduler/RNG
states load with `torch.load(weights_only=True)`).
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import TrainerCallback
from trl import SFTConfig, SFTTrainer

from training.config import LoraSettings, TrainConfig
from training.mixing import Phase
from training.template import completion_of, prompt_of

OnReport = Callable[[int, PeftModel, Path], None]
OnLog = Callable[[dict], None]
"""Receives each training-curve point: `{"step", "timestamp", "metrics"}` (see `curve_point`)."""
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class Resume:
    step: int
    """Optimizer steps done (over all phases) when the checkpoint was taken."""
    checkpoint: Path
    """A trainer checkpoint directory as handed to `on_report`."""


def to_dataset(phase: Phase) -> Dataset:
    return Dataset.from_dict(
        {
            "prompt": [prompt_of(ex) for ex in phase.examples],
            "completion": [completion_of(ex) for ex in phase.examples],
        }
    )


def attach_lora(model, lora: LoraSettings, seed: int) -> PeftModel:
    """A fresh adapter. On a GPU with a half-precision base the adapter takes the base's dtype
    (PEFT would keep it in fp32 and cast every adapted Linear's input and dropout to fp32);
    elsewhere PEFT's fp32 adapter, as always."""
    torch.manual_seed(seed)
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )
    half = model.dtype in (torch.bfloat16, torch.float16) and model.device.type == "cuda"
    return get_peft_model(model, config, autocast_adapter_dtype=not half)


CURVE = {"loss": "loss", "learning_rate": "learning_rate", "grad_norm": "grad_norm"}
"""Trainer log keys -> `train/<name>` training-curve metrics."""


def curve_point(step: int, logs: dict, tokens_per_s: float | None, epoch: float | None) -> dict:
    """One training-curve point at global `step`; NaN/inf values stay what they are."""
    metrics = {f"train/{name}": float(logs[key]) for key, name in CURVE.items() if key in logs}
    if tokens_per_s is not None:
        metrics["train/tokens_per_s"] = tokens_per_s
    if epoch is not None:
        metrics["train/epoch"] = float(epoch)
    return {"step": step, "timestamp": int(time.time() * 1000), "metrics": metrics}


class _Reporter(TrainerCallback):
    """Every `every` global steps: a checkpoint, then `on_report`; stops on a NaN loss.
    Each trainer log with a loss becomes a training-curve point for `on_log`."""

    def __init__(
        self,
        model: PeftModel,
        offset: int,
        every: int,
        on_report: OnReport | None,
        on_log: OnLog | None = None,
    ):
        self.model, self.offset, self.every, self.on_report = model, offset, every, on_report
        self.on_log_point = on_log
        self._since: tuple[float, float] | None = None  # (time, tokens) at the last log

    def _due(self, state) -> bool:
        return self.on_report is not None and (self.offset + state.global_step) % self.every == 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._since = (time.perf_counter(), 0.0)  # TRL counts `num_tokens` per trainer

    def _tokens_per_s(self, logs: dict) -> float | None:
        """Tokens trained per second since the previous log (TRL logs `num_tokens`)."""
        tokens = logs.get("num_tokens")
        now = time.perf_counter()
        if tokens is None or self._since is None:
            return None
        (then, before), self._since = self._since, (now, float(tokens))
        return (float(tokens) - before) / max(now - then, 1e-9)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.on_log_point is not None and "loss" in (logs or {}):
            step = self.offset + state.global_step
            self.on_log_point(curve_point(step, logs, self._tokens_per_s(logs), state.epoch))
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise TrainingDiverged(
                f"training loss became {loss} at step {self.offset + state.global_step}"
            )

    def on_step_end(self, args, state, control, **kwargs):
        if self._due(state):
            control.should_save = True  # the trainer saves, then calls on_save

    def on_save(self, args, state, control, **kwargs):
        if not self._due(state):
            return
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        (ckpt / "training_args.bin").unlink(missing_ok=True)  # a pickle; never needed
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            self.on_report(self.offset + state.global_step, self.model, ckpt)
        self.model.train(was_training)
        if self._since is not None:  # evaluation time is not training time
            self._since = (time.perf_counter(), self._since[1])
        shutil.rmtree(ckpt, ignore_errors=True)


def load_adapter_weights(model: PeftModel, checkpoint: Path) -> None:
    """The adapter weights of a trainer checkpoint, into `model` (safetensors only)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = Path(checkpoint) / ADAPTER_WEIGHTS
    if not weights.is_file():
        raise FileNotFoundError(f"{checkpoint}: no {ADAPTER_WEIGHTS}")
    set_peft_model_state_dict(model, load_file(str(weights)))


def batching_of(train: TrainConfig, attn_implementation: str | None, cuda: bool) -> str:
    """`train.batching`, with `auto` resolved: padding-free packing where attention runs
    varlen kernels (flash attention: TRL supports padding-free only there), length-grouped
    batches on other GPUs, and on the CPU padded batches in random order, as always."""
    if train.batching != "auto":
        return train.batching
    if not cuda:
        return "padded"
    return "packed" if "flash" in (attn_implementation or "") else "grouped"


def hardware_settings(
    train: TrainConfig, attn_implementation: str | None, cuda: bool, bf16_ok: bool = True
) -> dict:
    """Trainer settings that follow the hardware: on a GPU bf16 mixed precision and TF32
    matmuls; on the CPU fp32 (TRL would turn bf16 autocast on, which most CPUs run several
    times slower). Gradient checkpointing only when the config asks for it (TRL's default is
    on: every step would recompute its forward pass)."""
    batching = batching_of(train, attn_implementation, cuda)
    return dict(
        bf16=cuda and bf16_ok,
        fp16=cuda and not bf16_ok,
        tf32=True if cuda and bf16_ok else None,  # bf16-capable GPUs (Ampere on) have TF32
        activation_checkpointing=train.gradient_checkpointing,  # TRL defaults it on
        packing=batching == "packed",
        train_sampling_strategy="group_by_length" if batching == "grouped" else "random",
    )


def sft_config(
    output_dir: Path,
    steps: int,
    train: TrainConfig,
    seed: int,
    attn_implementation: str | None = None,
    **extra,
) -> SFTConfig:
    """The trainer settings every LoRA run uses (`extra` overrides, e.g. for benchmarks)."""
    cuda = torch.cuda.is_available()
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    settings = dict(
        output_dir=str(output_dir),
        max_steps=steps,
        per_device_train_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        learning_rate=train.learning_rate,
        max_length=train.max_length,
        logging_steps=max(1, min(train.log_every, steps)),
        # Log NaN/inf losses as they are (the default hides them) so divergence is seen.
        logging_nan_inf_filter=False,
        save_strategy="no",
        report_to="none",
        use_cpu=not cuda,
        seed=seed,
        data_seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",  # tokens/s for trials and gpu-check
        **hardware_settings(train, attn_implementation, cuda, bf16_ok),
    )
    return SFTConfig(**checkpointing_named(SFTConfig, {**settings, **extra}))


def checkpointing_named(config_cls, settings: dict) -> dict:
    """`settings` with `activation_checkpointing` under the name `config_cls` takes: it
    is TrainingArguments' name from transformers 5.23 on (5.17 to 5.22 have only
    `gradient_checkpointing`, later ones keep it as a deprecated alias); TRL's SFTConfig
    overrides the old name's default to on, so whichever name is used is always given."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    if "activation_checkpointing" in names or "activation_checkpointing" not in settings:
        return settings
    out = dict(settings)
    out["gradient_checkpointing"] = out.pop("activation_checkpointing")
    return out


def train_lora(
    model,
    tokenizer,
    phases: list[Phase],
    lora: LoraSettings,
    train: TrainConfig,
    work_dir: Path,
    on_report: OnReport | None = None,
    resume: Resume | None = None,
    on_log: OnLog | None = None,
) -> PeftModel:
    """Fine-tune a LoRA adapter through the phases; returns the adapted model.

    `model` may already be a PeftModel: then no new adapter is attached. `on_log` gets the
    training curve, one point per `train.log_every` steps, at global steps (all phases).
    """
    peft_model = model if isinstance(model, PeftModel) else attach_lora(model, lora, train.seed)
    done = resume.step if resume else 0
    offset = 0
    for i, phase in enumerate(phases):
        end = offset + phase.steps
        if done >= end:  # finished before the checkpoint
            offset = end
            continue
        resume_from = None
        if done > offset:  # the checkpoint is inside this phase: the trainer resumes it
            resume_from = str(resume.checkpoint)
        elif done == offset > 0:  # taken at the end of the previous phase: its weights
            load_adapter_weights(peft_model, resume.checkpoint)
        args = sft_config(
            work_dir / f"phase{i}-{phase.name}",
            phase.steps,
            train,
            seed=train.seed + i,
            lr_scheduler_type="cosine",
            warmup_steps=math.ceil(train.warmup_ratio * phase.steps),
            weight_decay=train.weight_decay,
            attn_implementation=getattr(peft_model.config, "_attn_implementation", None),
        )
        trainer = SFTTrainer(
            model=peft_model,
            args=args,
            train_dataset=to_dataset(phase),
            processing_class=tokenizer,
            callbacks=[_Reporter(peft_model, offset, train.report_every, on_report, on_log)],
        )
        trainer.train(resume_from_checkpoint=resume_from)
        del trainer  # its optimizer and gradients go with it (see training.memory)
        offset = end
    return peft_model


def merged_copy(model: PeftModel):
    """A copy of the base with the adapter folded into its weights: generation then runs
    plain Linears (no adapter branch per layer). Costs a second copy of the base's weights."""
    import copy

    return copy.deepcopy(model).merge_and_unload()


def save_adapter(model: PeftModel, out_dir: Path) -> Path:
    """Adapter weights as safetensors plus its config."""
    model.save_pretrained(str(out_dir), safe_serialization=True)
    return out_dir


def load_adapter(model, adapter_dir: Path) -> PeftModel:
    """A saved adapter on top of its base model (safetensors weights only)."""
    if not any(Path(adapter_dir).glob("*.safetensors")):
        raise FileNotFoundError(f"{adapter_dir}: no adapter .safetensors weights")
    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
