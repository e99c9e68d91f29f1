"""Small helpers every sweeplab package may import: one home each.

Imports nothing of the project (and nothing heavier than the standard library), so
`training`, `evaluation`, `mlflow_server` and `sweeps` can all use it without an import
arrow between them.
"""
