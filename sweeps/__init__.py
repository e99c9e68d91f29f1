"""Sweeps: the configs, the CLI, and the three jobs a user runs.

- `sweeps.run`: a sweep on Ray Tune (Optuna + ASHA), each trial a TRL LoRA run, mirrored
  to MLflow through a durable outbox; resume after a kill.
- `sweeps.report`: a finished sweep read back from MLflow: leaderboard, effects, plots,
  `sweeplab report`.
- `sweeps.promote`: the best trial into the model registry, and what a promoted model runs.

May import `training`, `evaluation`, `mlflow_server` and `common`; nothing imports `sweeps`.
Only `sweeps.run` imports Ray. `sweeps.config` and `sweeps.cli` import no heavy library at
module level, so reading commands stay fast.
"""
