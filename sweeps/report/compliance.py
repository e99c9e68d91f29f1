"""A source dimension's effect on format compliance, from the per-example tables.

Format compliance (`evaluation.analysis`) is measured on short-form examples only (a label, a
date, a name, a one-line JSON or `Answer: ...` line): an example complies unless its answer
is a format violation. Trials that differ only in the dimension are compared on the same
examples, with a paired bootstrap over them (the same resampled indices for every pair).
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95


def compliance(rows: list[dict], dataset: str) -> np.ndarray:
    """1 where a short-form example of `dataset` complies with its format, 0 where not."""
    return np.array(
        [
            0.0 if r["format_violation"] else 1.0
            for r in rows
            if r["dataset"] == dataset and r["short_form"]
        ],
        dtype=float,
    )


def paired_compliance(
    pairs: list[tuple[np.ndarray, np.ndarray]], samples: int = 1000, seed: int = 0
) -> tuple[float | None, float | None, float | None]:
    """(effect, low, high) in points: treated minus control compliance, pooled over pairs."""
    found = compliance_boot(pairs, samples, seed)
    if found is None:
        return None, None, None
    point, boot = found
    lo, hi = np.percentile(boot, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return 100 * point, 100 * float(lo), 100 * float(hi)


def compliance_boot(
    pairs: list[tuple[np.ndarray, np.ndarray]], samples: int = 1000, seed: int = 0
) -> tuple[float, np.ndarray] | None:
    """(effect, bootstrap draws), 0..1 units, as `paired_compliance`; None without examples."""
    if not pairs or len(pairs[0][0]) == 0:
        return None
    diff = np.stack([t - c for c, t in pairs])
    idx = np.random.default_rng(seed).integers(0, diff.shape[1], size=(samples, diff.shape[1]))
    return float(diff.mean()), diff[:, idx].mean(axis=(0, 2))
