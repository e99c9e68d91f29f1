"""Reading a sweep back from MLflow: its runs and per-example tables, the leaderboard, the
effect of each searched dimension with intervals (format compliance too, for data-source
dimensions), the plots, and `sweeplab report` built
from small section functions.

Imports neither torch, transformers, TRL, PEFT nor Ray: only what is in the store.
"""
