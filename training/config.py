"""Settings for what a trial trains on and how: strict, frozen, one line of doc per field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from training.examples import SOURCES


class Strict(BaseModel):
    """Base for every config: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(Strict):
    path: str = Field(description="Base model: a hub id (org/name) or a local directory.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    trust_remote_code: bool = Field(False, description="Run model code shipped with a checkpoint.")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights dtype while training and generating."
    )


class EvalSizes(Strict):
    alpaca: int = Field(198, ge=1, description="Held-out Alpaca examples.")
    dolly: int = Field(156, ge=1, description="Held-out Dolly-15k examples.")
    openorca: int = Field(111, ge=1, description="Held-out OpenOrca examples.")


class DataConfig(Strict):
    alpaca: str = Field("tatsu-lab/alpaca", description="Alpaca: hub id or local file.")
    dolly: str = Field("databricks/databricks-dolly-15k", description="Dolly: hub id or file.")
    openorca: str = Field("Open-Orca/OpenOrca", description="OpenOrca: hub id or local file.")
    max_rows: int | None = Field(
        None, ge=1, description="Read at most this many rows per dataset (OpenOrca has 4M)."
    )
    eval_size: EvalSizes = Field(default_factory=EvalSizes, description="Held-out sizes.")
    split_seed: int = Field(0, description="Seed of the held-out split; keep it fixed.")
    skip_malformed: bool = Field(
        False,
        description="Skip malformed rows (missing, empty or non-text required fields; "
        "unparseable JSON lines) and count them; off, the first one is an error.",
    )

    def source(self, name: str) -> str:
        return getattr(self, name)


class MixConfig(Strict):
    openorca: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of training rows from OpenOrca."
    )
    dolly: float = Field(0.0, ge=0.0, le=1.0, description="Share of training rows from Dolly.")

    @model_validator(mode="after")
    def _leaves_alpaca(self) -> MixConfig:
        if self.openorca + self.dolly >= 1.0:
            raise ValueError(
                f"mix.openorca + mix.dolly must be < 1 (Alpaca is the rest), got "
                f"{self.openorca} + {self.dolly}"
            )
        return self

    @property
    def alpaca(self) -> float:
        return 1.0 - self.openorca - self.dolly


class LoraSettings(Strict):
    r: int = Field(16, ge=1, le=1024, description="LoRA rank.")
    alpha: float = Field(32.0, gt=0, description="LoRA alpha (scale = alpha / r).")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA branch.")
    target_modules: tuple[str, ...] = Field(
        ("q_proj", "k_proj", "v_proj", "o_proj"), min_length=1, description="Modules to adapt."
    )


class TrainConfig(Strict):
    num_examples: int = Field(2000, ge=1, description="Rows in each phase's training mixture.")
    max_steps: int = Field(200, ge=1, description="Optimizer steps over all phases.")
    batch_size: int = Field(16, ge=1, description="Examples per device step.")
    grad_accum: int = Field(1, ge=1, description="Gradient accumulation steps.")
    learning_rate: float = Field(2e-3, gt=0, description="Peak learning rate.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps warming up.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    max_length: int = Field(256, ge=8, description="Tokens per training sequence (truncated).")
    report_every: int = Field(
        50, ge=1, description="Steps between evaluations (each is one ASHA rung)."
    )
    log_every: int = Field(
        10, ge=1, description="Steps between training-curve points (loss, LR, grad norm)."
    )
    phase1_fraction: float = Field(
        0.5, gt=0, lt=1, description="With two_phase, the share of steps spent on Alpaca only."
    )
    seed: int = Field(0, description="Seed for sampling the mixture and for training.")
    threads: int | None = Field(
        None, ge=1, description="torch threads (default: the trial's CPU share)."
    )

    @model_validator(mode="after")
    def _rungs_fit(self) -> TrainConfig:
        if self.report_every > self.max_steps:
            raise ValueError(
                f"train.report_every ({self.report_every}) must be <= train.max_steps "
                f"({self.max_steps})"
            )
        return self

    @property
    def num_reports(self) -> int:
        return self.max_steps // self.report_every


__all__ = [
    "SOURCES",
    "DataConfig",
    "EvalSizes",
    "LoraSettings",
    "MixConfig",
    "ModelConfig",
    "Strict",
    "TrainConfig",
]
