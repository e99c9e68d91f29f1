"""MLflow tag names that a writer and its readers both import (one spelling each)."""

PARETO_TAG = "sweeplab.pareto"
"""On each trial run: `true` when it is on the sweep's Pareto front (non-dominated among the
finished trials on the objectives, every constraint respected), else `false`."""
DOMINATED_BY_TAG = "sweeplab.dominated_by"
"""On a trial run not on the front because another dominates it: that front member's trial id."""
