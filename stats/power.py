"""Power: sample size for a minimum detectable effect (MDE), the MDE for a sample size, and duration.

- Binary metrics use the normal approximation of R's `power.prop.test` (pooled variance under the
  null, unpooled under the alternative), generalised to unequal arms with `ratio = n_t / n_c`.
- Continuous metrics use statsmodels' `TTestIndPower` (two-sample t, common variance), whose
  numbers match tea-tasting's power analysis.
All tests are two-sided at level `alpha`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import optimize
from scipy import stats as sps

from stats.errors import StatsError


@dataclass(frozen=True)
class PowerPlan:
    """How many units an experiment needs (or what it can detect), and for how long it runs."""

    binary: bool
    baseline_mean: float
    variance: float
    mde_absolute: float
    mde_relative: float
    alpha: float
    power: float
    ratio: float
    n_control_exact: float
    n_control: int
    n_treatment: int
    n_total: int
    daily_traffic: float
    days: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def _check(baseline_mean: float, variance: float | None, alpha: float, power: float, ratio: float) -> None:
    if not 0 < alpha < 1:
        raise StatsError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not 0 < power < 1:
        raise StatsError(f"power must be between 0 and 1, got {power!r}")
    if not ratio > 0:
        raise StatsError(f"ratio (n_treatment / n_control) must be > 0, got {ratio!r}")
    if variance is None and not 0 < baseline_mean < 1:
        raise StatsError(f"a binary metric (variance=None) needs a baseline rate strictly between 0 and 1, got {baseline_mean!r}")
    if variance is not None and not variance > 0:
        raise StatsError(f"variance must be > 0, got {variance!r}")


def _absolute(baseline_mean: float, mde: float, relative: bool) -> float:
    delta = mde * baseline_mean if relative else mde
    if delta == 0 or not math.isfinite(delta):
        raise StatsError(f"the minimum detectable effect must be a non-zero number, got {mde!r}")
    return delta


def proportion_power(n_control: float, p_control: float, p_treatment: float, *, alpha: float = 0.05,
                     ratio: float = 1.0) -> float:
    """Power of the two-sided two-proportion z-test (R power.prop.test when ratio=1)."""
    n_t = ratio * n_control
    p_bar = (p_control * n_control + p_treatment * n_t) / (n_control + n_t)
    null_sd = math.sqrt(p_bar * (1 - p_bar) * (1 / n_control + 1 / n_t))
    alt_sd = math.sqrt(p_control * (1 - p_control) / n_control + p_treatment * (1 - p_treatment) / n_t)
    z = sps.norm.ppf(1 - alpha / 2)
    return float(sps.norm.cdf((abs(p_treatment - p_control) - z * null_sd) / alt_sd))


def _proportion_n(p_control: float, p_treatment: float, alpha: float, power: float, ratio: float) -> float:
    """Control-arm size solving proportion_power(n) = power (closed form)."""
    p_bar = (p_control + ratio * p_treatment) / (1 + ratio)
    z_a, z_b = sps.norm.ppf(1 - alpha / 2), sps.norm.ppf(power)
    root = (z_a * math.sqrt(p_bar * (1 - p_bar) * (1 + 1 / ratio))
            + z_b * math.sqrt(p_control * (1 - p_control) + p_treatment * (1 - p_treatment) / ratio))
    return float((root / abs(p_treatment - p_control)) ** 2)


def _plan(binary: bool, baseline: float, variance: float, delta: float, alpha: float, power: float,
          ratio: float, n_control: float, daily_traffic: float | None, method: str) -> PowerPlan:
    n_c, n_t = math.ceil(n_control - 1e-9), math.ceil(ratio * n_control - 1e-9)
    total = n_c + n_t
    return PowerPlan(
        binary=binary, baseline_mean=baseline, variance=variance, mde_absolute=delta,
        mde_relative=delta / baseline if baseline else math.nan, alpha=alpha, power=power, ratio=ratio,
        n_control_exact=n_control, n_control=n_c, n_treatment=n_t, n_total=total,
        daily_traffic=math.nan if daily_traffic is None else float(daily_traffic),
        days=math.nan if daily_traffic is None else duration_days(total, daily_traffic), method=method,
    )


def sample_size(baseline_mean: float, mde: float, *, variance: float | None = None, relative: bool = True,
                alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
                daily_traffic: float | None = None) -> PowerPlan:
    """Units needed to detect `mde` (relative to the baseline unless relative=False) with the given power.

    `variance=None` means a binary metric with baseline rate `baseline_mean`.
    """
    _check(baseline_mean, variance, alpha, power, ratio)
    delta = _absolute(baseline_mean, mde, relative)
    if variance is None:
        p_t = baseline_mean + delta
        if not 0 < p_t < 1:
            raise StatsError(f"baseline {baseline_mean} plus the effect gives a rate of {p_t}, outside (0, 1)")
        n_c = _proportion_n(baseline_mean, p_t, alpha, power, ratio)
        return _plan(True, baseline_mean, baseline_mean * (1 - baseline_mean), delta, alpha, power, ratio, n_c,
                     daily_traffic, "two-proportion z-test (R power.prop.test)")
    from statsmodels.stats.power import TTestIndPower  # here, not at the top: analyses need not load statsmodels

    n_c = TTestIndPower().solve_power(effect_size=abs(delta) / math.sqrt(variance), alpha=alpha, power=power,
                                      ratio=ratio, alternative="two-sided")
    return _plan(False, baseline_mean, variance, delta, alpha, power, ratio, float(n_c), daily_traffic,
                 "two-sample t-test (statsmodels TTestIndPower)")


def minimum_detectable_effect(baseline_mean: float, n_control: float, *, variance: float | None = None,
                              alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0,
                              daily_traffic: float | None = None) -> PowerPlan:
    """Smallest upward effect detectable with `n_control` control units (and ratio × as many treated)."""
    _check(baseline_mean, variance, alpha, power, ratio)
    if not n_control >= 2:
        raise StatsError(f"n_control must be at least 2, got {n_control!r}")
    if variance is None:
        def gap(p_t: float) -> float:
            return proportion_power(n_control, baseline_mean, p_t, alpha=alpha, ratio=ratio) - power
        upper = 1 - 1e-12
        if gap(upper) < 0:
            raise StatsError(f"{n_control} units per arm cannot reach power {power} even for a rate of 1")
        p_t = optimize.brentq(gap, baseline_mean + 1e-12, upper, xtol=1e-14)
        return _plan(True, baseline_mean, baseline_mean * (1 - baseline_mean), p_t - baseline_mean, alpha,
                     power, ratio, float(n_control), daily_traffic, "two-proportion z-test (R power.prop.test)")
    from statsmodels.stats.power import TTestIndPower

    d = TTestIndPower().solve_power(nobs1=n_control, alpha=alpha, power=power, ratio=ratio,
                                    alternative="two-sided")
    return _plan(False, baseline_mean, variance, float(d) * math.sqrt(variance), alpha, power, ratio,
                 float(n_control), daily_traffic, "two-sample t-test (statsmodels TTestIndPower)")


def duration_days(n_total: float, daily_traffic: float) -> float:
    """Whole days of traffic (eligible units per day, all arms) needed to enrol n_total units."""
    if not daily_traffic > 0:
        raise StatsError(f"daily_traffic must be > 0 units per day, got {daily_traffic!r}")
    return float(math.ceil(n_total / daily_traffic))
