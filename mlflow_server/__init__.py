"""Everything that talks to MLflow."""

import os

# Progress bars on every artifact download would bury sweeplab's own one-line messages.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
