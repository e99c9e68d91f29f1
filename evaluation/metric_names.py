"""The metrics every eval set is scored with, named once for the whole project.

MLflow metric names are `dataset/metric` (`openorca/meteor`), so the UI groups them.
"""

from __future__ import annotations

from collections.abc import Iterable

METRICS = ("meteor", "bleu", "rougeL")
"""What each eval set reports (keys of `evaluate_all`'s metrics, after the dataset)."""
LABELS = {"meteor": "METEOR", "rougeL": "ROUGE-L", "bleu": "BLEU"}
"""How a report prints each metric."""


def metric_keys(datasets: Iterable[str]) -> list[str]:
    """`dataset/metric` for every dataset and metric, datasets first."""
    return [f"{d}/{m}" for d in datasets for m in METRICS]
