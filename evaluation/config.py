"""Settings for generating answers on the eval sets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GenerationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(64, ge=1, description="Token budget per answer.")
    batch_size: int = Field(32, ge=1, description="Prompts generated together (left-padded).")
    length_multiple: float | None = Field(
        None,
        gt=0,
        description="Cap each answer at this multiple of its reference's token length "
        "(the seed's length limit; None = only max_new_tokens).",
    )
    stop_at_sentence: bool = Field(
        False, description="Cut a capped answer back to its last full sentence."
    )
    memory_fraction: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="On a GPU, batches grow to fill this share of free memory (all prompts at "
        "once when they fit); 0 keeps batch_size. The CPU always uses batch_size.",
    )
    merge_adapter: bool = Field(
        False,
        description="Evaluate a copy of the model with the adapter merged into its weights "
        "(faster generation, a second copy of the weights in memory).",
    )
