"""Sample ratio mismatch: do the arm sizes fit the planned weights? (chi-square goodness of fit)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from stats.errors import StatsError

SRM_THRESHOLD = 0.001
"""p-values below this flag a mismatch (GrowthBook's default): assignment or logging is broken."""


def srm(counts: Sequence[float], weights: Sequence[float]) -> float:
    """p-value of the observed arm counts under the planned weights (normalised to sum to 1).

    nan when no unit was counted yet (nothing to test).
    """
    observed = np.asarray(counts, dtype=float)
    planned = np.asarray(weights, dtype=float)
    if observed.ndim != 1 or observed.shape != planned.shape or observed.size < 2:
        raise StatsError(f"srm needs one count and one weight per arm (at least 2 arms), got {len(counts)} counts and {len(weights)} weights")
    if (observed < 0).any() or not np.isfinite(observed).all():
        raise StatsError(f"srm counts must be finite and >= 0, got {list(counts)}")
    if (planned <= 0).any() or not np.isfinite(planned).all():
        raise StatsError(f"srm weights must be > 0, got {list(weights)}")
    total = observed.sum()
    if total == 0:
        return math.nan
    expected = planned / planned.sum() * total
    return float(sps.chisquare(observed, expected).pvalue)


def srm_flagged(p_value: float, threshold: float = SRM_THRESHOLD) -> bool:
    """True when the p-value is below the threshold (nan never flags)."""
    return bool(p_value < threshold)
