"""CUPED (Deng et al. 2013): regression adjustment on the pre-period metric, theta pooled over both arms.

theta = Cov(post, pre) / Var(pre) over the two arms taken as one sample (as gbstats does), so the
adjustment does not depend on which arm is which. Each arm's adjusted mean is
mean(post) - theta * mean(pre) and its per-unit variance is
Var(post) + theta^2 Var(pre) - 2 theta Cov(post, pre).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from stats.errors import StatsError
from stats.moments import Moments


@dataclass(frozen=True)
class Adjusted:
    """One arm after CUPED: adjusted mean, per-unit variance, and the unadjusted mean kept for relative lifts."""

    n: int
    mean: float
    variance: float
    unadjusted_mean: float


def pooled_theta(control: Moments, treatment: Moments) -> float:
    """Regression slope of post on pre over both arms pooled; 0 when either period has no variance."""
    for name, moments in (("control", control), ("treatment", treatment)):
        if not isinstance(moments, Moments) or not moments.has_pre:
            raise StatsError(
                f"cuped=True needs pre-period data: give {name} Moments(pre_sum=..., pre_post_sum=...)"
            )
    pooled = control + treatment
    pre_variance, post_variance = pooled.pre_variance, pooled.variance
    if not pre_variance > 0 or not post_variance > 0:
        return 0.0
    return pooled.covariance / pre_variance


def adjust(moments: Moments, theta: float) -> Adjusted:
    """Apply a given theta to one arm."""
    if moments.n == 0:
        return Adjusted(0, math.nan, math.nan, math.nan)
    variance = (
        moments.variance + theta**2 * moments.pre_variance - 2 * theta * moments.covariance
        if moments.n > 1 else 0.0
    )
    return Adjusted(
        n=moments.n,
        mean=moments.mean - theta * moments.pre_mean,
        variance=variance,
        unadjusted_mean=moments.mean,
    )
