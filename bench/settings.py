"""What the bench runs: trial budgets and sizes, full (about 12-15 min on 2 idle cores, and
the scale figures' thousand trials and ten thousand runs on top) or
quick (a smoke run of a few minutes: `BENCH_QUICK=1 make bench` or `python -m bench --quick`).

Every figure compares two ways of doing the same work in one run, so budgets are small: what
matters is the ratio, not how good the trained adapters are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "configs" / "demo.yaml"

# Trial configs every multi-trial figure runs, by the demo's searched keys: the demo's five
# seeded points, then three more, so ASHA has a field to prune.
POINTS = (
    {"lora.r": 16, "mix.openorca": 0.0, "mix.dolly": 0.0, "curriculum": "none"},
    {"lora.r": 32, "mix.openorca": 0.0, "mix.dolly": 0.0, "curriculum": "none"},
    {"lora.r": 16, "mix.openorca": 0.1, "mix.dolly": 0.0, "curriculum": "none"},
    {"lora.r": 16, "mix.openorca": 0.3, "mix.dolly": 0.0, "curriculum": "none"},
    {"lora.r": 32, "mix.openorca": 0.2, "mix.dolly": 0.2, "curriculum": "two_phase"},
    {"lora.r": 32, "mix.openorca": 0.4, "mix.dolly": 0.0, "curriculum": "none"},
    {"lora.r": 16, "mix.openorca": 0.2, "mix.dolly": 0.2, "curriculum": "none"},
    {"lora.r": 32, "mix.openorca": 0.1, "mix.dolly": 0.2, "curriculum": "two_phase"},
)


@dataclass(frozen=True)
class Budget:
    """One trial's size: `--set` overrides on configs/demo.yaml."""

    max_steps: int
    report_every: int
    num_examples: int
    eval_size: int
    """Held-out examples per dataset."""
    max_new_tokens: int = 48
    batch_size: int = 16
    max_length: int = 192

    def overrides(self) -> list[str]:
        return [
            f"train.max_steps={self.max_steps}",
            f"train.report_every={self.report_every}",
            f"train.num_examples={self.num_examples}",
            f"train.batch_size={self.batch_size}",
            f"train.max_length={self.max_length}",
            f"generation.max_new_tokens={self.max_new_tokens}",
            *(f"data.eval_size.{s}={self.eval_size}" for s in ("alpaca", "dolly", "openorca")),
        ]


@dataclass(frozen=True)
class Settings:
    quick: bool
    sweep_trials: int
    """Trials in the overhead and ASHA sweeps (the first of POINTS)."""
    sweep_budget: Budget
    parallel_budget: Budget
    eval_per_split: int
    """Prompts per eval split for batched vs one-by-one generation."""
    train_steps: int
    """Timed training steps per padding variant."""
    driver_scales: tuple[tuple[int, int], ...] = ((10, 5), (100, 1), (1000, 1))
    """(trials, repeats) of the driver-cost figure (`bench.driver_scale`): a small sweep is
    run several times, so that it counts enough results to compare."""
    proposal_trials: int = 1000
    """Trials Optuna proposes in the proposal-time figure (`bench.proposals`)."""
    concurrency: int = 2
    threads: int = 1
    """torch threads per trial: the demo's `search.resources.cpu`."""
    asha: dict = field(
        default_factory=lambda: {"kind": "asha", "grace_period": 1, "reduction_factor": 2}
    )


FULL = Settings(
    quick=False,
    sweep_trials=8,
    # 6 reports per trial: ASHA's rungs at reports 1, 2 and 4 (grace 1, halving).
    sweep_budget=Budget(max_steps=30, report_every=5, num_examples=480, eval_size=16),
    parallel_budget=Budget(max_steps=24, report_every=24, num_examples=384, eval_size=16),
    eval_per_split=32,
    train_steps=12,
)
QUICK = Settings(
    quick=True,
    sweep_trials=4,
    sweep_budget=Budget(max_steps=4, report_every=1, num_examples=64, eval_size=2),
    parallel_budget=Budget(max_steps=4, report_every=4, num_examples=64, eval_size=4),
    eval_per_split=6,
    train_steps=3,
    driver_scales=((10, 2), (50, 1)),
    proposal_trials=200,
)
