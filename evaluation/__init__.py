"""Evaluation: batched greedy generation, BLEU / ROUGE-L / METEOR as local `evaluate`
modules (`metrics/`), scoring, the paired bootstrap, per-example error flags, and the metric
names (`metric_names`), defined once here.

May import `common`; imports nothing of `training`, `mlflow_server` or `sweeps`.
"""
