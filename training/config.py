"""Settings for what a trial trains on and how: strict, frozen, one line of doc per field."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from training.examples import SOURCES

SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


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


class Columns(Strict):
    """Which column of a declared source holds each field of an example."""

    instruction: str = Field(description="Column holding the instruction (the question).")
    response: str = Field(description="Column holding the reference answer.")
    input: str | None = Field(None, description="Column with extra input or a context, if any.")
    system: str | None = Field(None, description="Column with a system prompt, if any.")
    category: str | None = Field(None, description="Column with a task category, if any.")
    id: str | None = Field(None, description="Column with a row id (default `<source>-<row>`).")

    def required(self) -> tuple[str, str]:
        return (self.instruction, self.response)


class DeclaredSource(Strict):
    """A data source beyond the three datasets: a file (or hub id) and its column mapping."""

    path: str = Field(description="Local .json/.jsonl/.parquet file or directory, or a hub id.")
    columns: Columns = Field(description="Which column holds each field of an example.")
    eval_size: int = Field(40, ge=1, description="Held-out examples of this source.")


class Revisions(Strict):
    alpaca: str | None = Field(None, description="Hub revision (commit, tag, branch) of Alpaca.")
    dolly: str | None = Field(None, description="Hub revision of Dolly-15k.")
    openorca: str | None = Field(None, description="Hub revision of OpenOrca.")


# OpenOrca's published files: the GPT-4 completions (~1M rows) and the GPT-3.5 ones (~3.2M).
OPENORCA_FILES = {"gpt4": ("1M-GPT4-Augmented.parquet",), "all": None}


class DataConfig(Strict):
    alpaca: str = Field("tatsu-lab/alpaca", description="Alpaca: hub id or local file.")
    dolly: str = Field("databricks/databricks-dolly-15k", description="Dolly: hub id or file.")
    openorca: str = Field("Open-Orca/OpenOrca", description="OpenOrca: hub id or local file.")
    openorca_subset: Literal["gpt4", "all"] = Field(
        "all",
        description="OpenOrca hub id or directory: `gpt4` reads only 1M-GPT4-Augmented.parquet "
        "(the seed's GPT-4 prompts), `all` every file (4.2M rows); a single file is read as is.",
    )
    revisions: Revisions = Field(
        default_factory=Revisions, description="Pinned hub revisions per dataset (default: main)."
    )
    max_rows: int | None = Field(
        None,
        ge=1,
        description="Use a seeded uniform sample of this many rows per dataset (all if unset).",
    )
    sample_seed: int = Field(0, description="Seed of the max_rows sample; keep it fixed.")
    eval_size: EvalSizes = Field(default_factory=EvalSizes, description="Held-out sizes.")
    split_seed: int = Field(0, description="Seed of the held-out split; keep it fixed.")
    skip_malformed: bool = Field(
        False,
        description="Skip malformed rows (missing, empty or non-text required fields; "
        "unparseable JSON lines) and count them; off, the first one is an error.",
    )

    sources: dict[str, DeclaredSource] = Field(
        default_factory=dict,
        description="More data sources by name (mixed in as `mix.<name>`, scored as their own "
        "eval set).",
    )

    @field_validator("sources")
    @classmethod
    def _names_free(cls, sources: dict[str, DeclaredSource]) -> dict[str, DeclaredSource]:
        for name in sources:
            if name in SOURCES or not SOURCE_NAME.match(name):
                raise ValueError(
                    f"data.sources.{name}: a source name is lowercase letters, digits and _ "
                    f"(at most 32) and not one of {', '.join(SOURCES)}"
                )
        return sources

    @model_serializer(mode="wrap")
    def _no_empty_sources(self, handler) -> dict[str, Any]:
        # Without declared sources a config dumps as it did before they existed: same
        # params, same sweep records, same checkpoints.
        data = handler(self)
        if not self.sources:
            data.pop("sources", None)
        return data

    def names(self) -> tuple[str, ...]:
        """Every eval set and training pool: the three datasets, then the declared ones."""
        return SOURCES + tuple(self.sources)

    def source(self, name: str) -> str:
        """Where a source's rows are: a hub id or a local path."""
        return self.sources[name].path if name in self.sources else getattr(self, name)

    def columns(self, name: str) -> Columns | None:
        """A declared source's column mapping (None for the three datasets' own layouts)."""
        return self.sources[name].columns if name in self.sources else None

    def eval_count(self, name: str) -> int:
        """Held-out examples of a source."""
        return (
            self.sources[name].eval_size if name in self.sources else getattr(self.eval_size, name)
        )

    def data_files(self, name: str) -> tuple[str, ...] | None:
        """The files of a hub id or directory to read (None: all of them)."""
        return OPENORCA_FILES[self.openorca_subset] if name == "openorca" else None


class MixConfig(Strict):
    """Shares of training rows per source; Alpaca is the rest. A declared source `name`
    takes `mix.<name>` (extra keys; `TrialConfig` checks each names a declared source)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    openorca: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of training rows from OpenOrca."
    )
    dolly: float = Field(0.0, ge=0.0, le=1.0, description="Share of training rows from Dolly.")

    @model_validator(mode="after")
    def _leaves_alpaca(self) -> MixConfig:
        extra = self.__pydantic_extra__ or {}
        for name, value in extra.items():
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not 0.0 <= value <= 1.0:
                raise ValueError(f"mix.{name} must be a share between 0 and 1, got {value!r}")
            extra[name] = float(value)
        shares = self.shares()
        if sum(shares.values()) >= 1.0:
            raise ValueError(
                f"{' + '.join(f'mix.{k}' for k in shares)} must be < 1 (Alpaca is the rest), "
                f"got {' + '.join(str(v) for v in shares.values())}"
            )
        return self

    def shares(self) -> dict[str, float]:
        """Every source's share but Alpaca's: OpenOrca, Dolly, then the declared sources."""
        return {"openorca": self.openorca, "dolly": self.dolly, **(self.__pydantic_extra__ or {})}

    @property
    def alpaca(self) -> float:
        rest = 1.0 - self.openorca - self.dolly
        for share in (self.__pydantic_extra__ or {}).values():
            rest -= share
        return rest


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
    gradient_checkpointing: bool = Field(
        False,
        description="Recompute activations in the backward pass: less memory, ~1/3 more FLOPs.",
    )
    batching: Literal["auto", "padded", "grouped", "packed"] = Field(
        "auto",
        description="Batches: padded, length-grouped, or padding-free packed (batch_size bins "
        "of max_length tokens); auto: packed with flash attention, else grouped on a GPU, "
        "padded on the CPU.",
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
    "Columns",
    "DeclaredSource",
    "DataConfig",
    "EvalSizes",
    "LoraSettings",
    "MixConfig",
    "ModelConfig",
    "Revisions",
    "Strict",
    "TrainConfig",
]
