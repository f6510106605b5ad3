"""Binary detection metrics, overall and per group (corpus, attack category)."""

from collections import defaultdict
from collections.abc import Sequence

import numpy as np


def binary_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float | int]:
    """Precision, recall, F1 and false-positive rate of boolean predictions `pred` vs labels `y`."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(pred).astype(bool)
    tp = int((y & pred).sum())
    fp = int((~y & pred).sum())
    fn = int((y & ~pred).sum())
    tn = int((~y & ~pred).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {
        "n": len(y),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "fpr": round(fpr, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
    }


def by_group(
    groups: Sequence[str], y: np.ndarray, pred: np.ndarray
) -> dict[str, dict[str, float | int]]:
    """`binary_metrics` within each group (an attack-only category reports just recall)."""
    idx: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        idx[g].append(i)
    return {g: binary_metrics(y[ix], pred[ix]) for g, ix in sorted(idx.items())}
