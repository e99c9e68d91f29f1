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
