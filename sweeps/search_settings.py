"""The search's run settings: the trial scheduler, each trial's resources, and the
confirmation that may follow the search (`search.scheduler`, `.resources`, `.confirm`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from training.config import Strict


class Scheduler(Strict):
    kind: Literal["asha", "fifo"] = Field("asha", description="Early stopping, or none.")
    grace_period: int = Field(1, ge=1, description="Reports before a trial may be stopped.")
    reduction_factor: float = Field(2.0, gt=1, description="ASHA halving rate.")


class Resources(Strict):
    cpu: float = Field(1.0, gt=0, description="CPUs per trial.")
    gpu: float = Field(0.0, ge=0, description="GPUs per trial (fractions share one GPU).")
    custom: dict[str, float] = Field(
        default_factory=dict,
        description="Custom Ray resources per trial, e.g. {worker: 1}: trials go only to "
        "nodes started with `ray start --resources '{\"worker\": N}'`.",
    )

    @model_validator(mode="after")
    def _custom_valid(self) -> Resources:
        for key, value in self.custom.items():
            if key.upper() in ("CPU", "GPU", "MEMORY") or value <= 0:
                raise ValueError(f"custom.{key}: needs a name of its own and a value > 0")
        return self


class Confirm(Strict):
    top: int = Field(2, ge=1, description="Best distinct configurations to re-run.")
    seeds: int = Field(3, ge=2, description="Training seeds (`train.seed`) per configuration.")
