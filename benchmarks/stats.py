"""Statistics for learning benchmarks: interquartile mean and percentile-bootstrap CIs over seeds (Agarwal et al. 2021)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import trim_mean

IQM_TRIM = 0.25
BOOTSTRAP_RESAMPLES = 2000


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy trim_mean, 25% cut each side)."""
    return float(trim_mean(np.asarray(x, dtype=float), IQM_TRIM))


def bootstrap_ci(x: np.ndarray, stat: Callable[[np.ndarray], float] = iqm, n: int = BOOTSTRAP_RESAMPLES, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat`` over runs resampled with replacement (seeds are the unit)."""
    x = np.asarray(x, dtype=float)
    rng = np.random.default_rng(seed)
    stats = [stat(rng.choice(x, size=len(x), replace=True)) for _ in range(n)]
    lo, hi = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)
