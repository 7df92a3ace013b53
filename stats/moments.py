"""Sufficient statistics per arm: the only input the statistics engine needs.

SQL (or anything else) reduces users to `n, sum, sum_squares` (plus pre-period sums for CUPED and
numerator/denominator sums for ratio metrics); means and variances are derived properties, and two
sets of moments pool with `+` (e.g. segments into a total, or two arms into the CUPED pool).
Variance conventions follow gbstats: sample variance (ddof=1) for continuous metrics, p(1-p) for
binary ones, covariance with ddof=1.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from stats.errors import StatsError


def _sample_variance(n: int, total: float, squares: float) -> float:
    """Unbiased variance from sums; 0 for fewer than two units (nothing to spread)."""
    if n <= 1:
        return 0.0
    return (squares - total * total / n) / (n - 1)


def _covariance(n: int, sum_x: float, sum_y: float, cross: float) -> float:
    """Unbiased covariance from sums; 0 for fewer than two units."""
    if n <= 1:
        return 0.0
    return (cross - sum_x * sum_y / n) / (n - 1)


def _check_count(n: int, name: str) -> None:
    if isinstance(n, bool) or not float(n).is_integer() or n < 0:
        raise StatsError(f"{name}.n must be a whole number >= 0, got {n!r}")


def _check_finite(value: float | None, field: str) -> None:
    if value is not None and not math.isfinite(value):
        raise StatsError(f"Moments.{field} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class Moments:
    """n units with `sum` and `sum_squares` of a metric; `sum_squares=None` means a 0/1 metric.

    `pre_sum`, `pre_sum_squares` (None for a 0/1 pre-period metric) and `pre_post_sum` carry the
    same metric measured before assignment, which CUPED uses as its covariate.
    """

    n: int
    sum: float
    sum_squares: float | None = None
    pre_sum: float | None = None
    pre_sum_squares: float | None = None
    pre_post_sum: float | None = None

    def __post_init__(self) -> None:
        _check_count(self.n, "Moments")
        for field in ("sum", "sum_squares", "pre_sum", "pre_sum_squares", "pre_post_sum"):
            _check_finite(getattr(self, field), field)
        if (self.pre_sum is None) != (self.pre_post_sum is None):
            raise StatsError(
                "Moments: give both pre_sum and pre_post_sum for CUPED, or neither "
                f"(got pre_sum={self.pre_sum!r}, pre_post_sum={self.pre_post_sum!r})"
            )
        if self.pre_sum_squares is not None and self.pre_sum is None:
            raise StatsError("Moments: pre_sum_squares needs pre_sum and pre_post_sum as well")
        if self.is_binary and self.n and not 0 <= self.sum <= self.n:
            raise StatsError(
                f"Moments: a binary metric (sum_squares=None) needs 0 <= sum <= n, got sum={self.sum}, n={self.n}"
            )

    @property
    def is_binary(self) -> bool:
        """True for a 0/1 metric (no sum of squares given)."""
        return self.sum_squares is None

    @property
    def has_pre(self) -> bool:
        """True when pre-period sums are present, so CUPED can use them."""
        return self.pre_sum is not None

    @property
    def mean(self) -> float:
        """Mean per unit; nan when there are no units."""
        return self.sum / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Per-unit variance: p(1-p) for a binary metric, sample variance (ddof=1) otherwise."""
        if self.n == 0:
            return math.nan
        if self.sum_squares is None:  # a 0/1 metric
            return self.mean * (1 - self.mean)
        return _sample_variance(self.n, self.sum, self.sum_squares)

    @property
    def pre_mean(self) -> float:
        """Pre-period mean per unit; nan without pre-period data or units."""
        if self.pre_sum is None or self.n == 0:
            return math.nan
        return self.pre_sum / self.n

    @property
    def pre_variance(self) -> float:
        """Pre-period variance, with the same binary/continuous convention as `variance`."""
        if self.pre_sum is None or self.n == 0:
            return math.nan
        if self.pre_sum_squares is None:
            return self.pre_mean * (1 - self.pre_mean)
        return _sample_variance(self.n, self.pre_sum, self.pre_sum_squares)

    @property
    def covariance(self) -> float:
        """Covariance of the post- and pre-period metric (ddof=1); nan without pre-period data."""
        if self.pre_sum is None or self.pre_post_sum is None:
            return math.nan
        return _covariance(self.n, self.sum, self.pre_sum, self.pre_post_sum)

    def __add__(self, other: Moments) -> Moments:
        """Pool two disjoint groups of units (sums add; kinds and pre-period fields must agree)."""
        if not isinstance(other, Moments):
            return NotImplemented
        if self.is_binary != other.is_binary or self.has_pre != other.has_pre:
            raise StatsError("Moments: cannot pool a binary with a continuous metric, or with/without pre-period data")

        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Moments(
            n=self.n + other.n,
            sum=self.sum + other.sum,
            sum_squares=add(self.sum_squares, other.sum_squares),
            pre_sum=add(self.pre_sum, other.pre_sum),
            pre_sum_squares=add(self.pre_sum_squares, other.pre_sum_squares),
            pre_post_sum=add(self.pre_post_sum, other.pre_post_sum),
        )

    def to_dict(self) -> dict[str, Any]:
        """Fields plus derived mean and variance, for JSON."""
        return {**asdict(self), "mean": self.mean, "variance": self.variance}


@dataclass(frozen=True)
class RatioMoments:
    """A ratio metric (e.g. revenue per order): per-unit numerator and denominator sums and their cross sum.

    The mean is sum(numerator) / sum(denominator); its per-unit variance comes from the delta method
    (Deng et al. 2018), so it plugs into the same comparisons as `Moments`.
    """

    n: int
    numerator_sum: float
    numerator_sum_squares: float
    denominator_sum: float
    denominator_sum_squares: float
    cross_sum: float

    def __post_init__(self) -> None:
        _check_count(self.n, "RatioMoments")
        for field in ("numerator_sum", "numerator_sum_squares", "denominator_sum",
                      "denominator_sum_squares", "cross_sum"):
            value = getattr(self, field)
            if not math.isfinite(value):
                raise StatsError(f"RatioMoments.{field} must be a finite number, got {value!r}")

    is_binary = False
    has_pre = False

    @property
    def mean(self) -> float:
        """sum(numerator) / sum(denominator); nan when the denominator sums to 0."""
        return self.numerator_sum / self.denominator_sum if self.denominator_sum else math.nan

    @property
    def variance(self) -> float:
        """Per-unit delta-method variance of the ratio (divide by n for the variance of the mean)."""
        if self.n <= 1 or self.denominator_sum == 0:
            return math.nan
        m_mean, d_mean = self.numerator_sum / self.n, self.denominator_sum / self.n
        m_var = _sample_variance(self.n, self.numerator_sum, self.numerator_sum_squares)
        d_var = _sample_variance(self.n, self.denominator_sum, self.denominator_sum_squares)
        cov = _covariance(self.n, self.numerator_sum, self.denominator_sum, self.cross_sum)
        return (
            m_var / d_mean**2
            - 2 * cov * m_mean / d_mean**3
            + m_mean**2 * d_var / d_mean**4
        )

    def __add__(self, other: RatioMoments) -> RatioMoments:
        """Pool two disjoint groups of units."""
        if not isinstance(other, RatioMoments):
            return NotImplemented
        return RatioMoments(
            n=self.n + other.n,
            numerator_sum=self.numerator_sum + other.numerator_sum,
            numerator_sum_squares=self.numerator_sum_squares + other.numerator_sum_squares,
            denominator_sum=self.denominator_sum + other.denominator_sum,
            denominator_sum_squares=self.denominator_sum_squares + other.denominator_sum_squares,
            cross_sum=self.cross_sum + other.cross_sum,
        )

    def to_dict(self) -> dict[str, Any]:
        """Fields plus derived mean and variance, for JSON."""
        return {**asdict(self), "mean": self.mean, "variance": self.variance}
