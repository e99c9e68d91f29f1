"""Evaluation: batched greedy generation, METEOR / BLEU / ROUGE-L / chrF as local `evaluate`
modules (`metrics/`), the metric registry (`metric_registry`: each metric's name, label,
per-example statistics and corpus aggregation, defined once here), scoring, the paired
bootstrap and per-example error flags.

May import `common`; imports nothing of `training`, `mlflow_server` or `sweeps`.
"""
