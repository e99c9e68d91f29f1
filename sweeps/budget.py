"""`search.budget`: what a sweep may spend (`sweeps.run.budget` holds the sweep to it)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from training.config import Strict


class Budget(Strict):
    """What a sweep may spend, counted from its trials' own `cost/...` accounting (time the
    sweep was down is not spent), search and confirmation together, across `resume`."""

    gpu_hours: float | None = Field(
        None,
        gt=0,
        description="Accelerator-hours (`cost/accelerator_s` summed over trials; CPU-hours "
        "held when trials hold no GPU).",
    )
    wall_hours: float | None = Field(
        None, gt=0, description="Trial wall-clock hours (`cost/wall_s`) summed over trials."
    )
    trials: int | None = Field(None, ge=1, description="Trials started, at most.")
    on_spent: Literal["finish", "stop"] = Field(
        "finish", description="When spent: running trials finish, or stop at their next report."
    )

    def limits(self) -> dict[str, float]:
        """The limits set, by name."""
        named = {"gpu_hours": self.gpu_hours, "wall_hours": self.wall_hours, "trials": self.trials}
        return {k: float(v) for k, v in named.items() if v is not None}

    def line(self, spent: dict[str, float]) -> str:
        """`budget: trials 2 of 2, gpu_hours 0.31 of 1` (`spent`: `sweeps.cost.spend`)."""
        return "budget: " + ", ".join(
            f"{k} {spent[k]:.3g} of {v:g}" for k, v in self.limits().items()
        )
