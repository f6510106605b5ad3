"""Bootstrap confidence intervals, single-run and paired.

Percentile bootstrap over items (Efron & Tibshirani): resample items with replacement, recompute
the aggregate, take the alpha/2 and 1-alpha/2 quantiles. The aggregate is any function of the
selected per-item rows, so corpus BLEU (summed statistics) and means share one code path. The
paired version resamples the *same* item indices in both runs, which is what makes a small
regression on the same test set detectable (Koehn 2004).
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

Aggregate = Callable[[np.ndarray], float]


@dataclass(slots=True, frozen=True)
class Interval:
    value: float
    low: float
    high: float
    confidence: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x))


def _indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_ci(
    values: np.ndarray | list[float],
    aggregate: Aggregate = _mean,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Point estimate and percentile-bootstrap interval of `aggregate` over item rows."""
    x = np.asarray(values, dtype=np.float64)
    assert x.ndim in (1, 2) and 0 < confidence < 1, (x.shape, confidence)
    n = len(x)
    if n == 0:
        return Interval(0.0, 0.0, 0.0, confidence, 0)
    point = aggregate(x)
    if n == 1:
        return Interval(point, point, point, confidence, 1)
    if aggregate is _mean and x.ndim == 1:  # vectorised fast path for the common case
        boots = x[_indices(n, n_boot, seed)].mean(axis=1)
    else:
        boots = np.array([aggregate(x[idx]) for idx in _indices(n, n_boot, seed)])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    return Interval(point, float(low), float(high), confidence, n)


@dataclass(slots=True, frozen=True)
class PairedDelta:
    """B minus A on the same items: the difference, its interval and a two-sided p-value."""

    a: float
    b: float
    delta: float
    low: float
    high: float
    p_value: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def paired_bootstrap(
    a: np.ndarray | list[float],
    b: np.ndarray | list[float],
    aggregate: Aggregate = _mean,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDelta:
    """Difference aggregate(b) - aggregate(a) with a paired percentile-bootstrap interval.

    p_value: twice the share of resamples whose difference has the opposite sign of the observed
    one (clipped to 1), the usual bootstrap sign test.
    """
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert xa.shape == xb.shape, f"paired samples differ in shape: {xa.shape} vs {xb.shape}"
    n = len(xa)
    va, vb = aggregate(xa), aggregate(xb)
    delta = vb - va
    if n < 2:
        return PairedDelta(va, vb, delta, delta, delta, 1.0, n)
    idx = _indices(n, n_boot, seed)
    if aggregate is _mean and xa.ndim == 1:
        diffs = xb[idx].mean(axis=1) - xa[idx].mean(axis=1)
    else:
        diffs = np.array([aggregate(xb[i]) - aggregate(xa[i]) for i in idx])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    flips = float(np.mean(np.sign(diffs) != np.sign(delta)))
    p = 1.0 if delta == 0 else min(1.0, 2 * flips)
    return PairedDelta(va, vb, delta, float(low), float(high), p, n)
