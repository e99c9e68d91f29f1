"""Everything that talks to MLflow: the tracking client (`tracking`), the durable outbox
(`outbox`), dataset inputs from plain dicts (`datasets`), system metrics sampled by MLflow's
monitors where nothing may write to the store (`system_metrics`), the model registry
(`registry`) and the tracking server (`server`).

The only package that imports MLflow. May import `common`; imports nothing of `training`,
`evaluation` or `sweeps`.
"""

import os

# Progress bars on every artifact download would bury sweeplab's own one-line messages.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
