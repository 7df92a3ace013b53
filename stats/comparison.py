"""`compare(control, treatment)`: one call for Welch t-test, sequential and Bayesian reads, with optional CUPED.

Conventions (the same as GrowthBook's gbstats, and checked against it to 1e-6):
- effect is `(mean_t - mean_c) / mean_c` when `relative=True` (else `mean_t - mean_c`); under CUPED the
  means are adjusted and the denominator stays the unadjusted control mean.
- the variance of a relative effect comes from the delta method,
  Var = var_t / (mean_c^2 n_t) + var_c mean_t^2 / (mean_c^4 n_c), so every interval is symmetric
  around the effect (tea-tasting's log-scale interval is not; Winback uses the symmetric one).
- ttest: Welch's unequal-variance t, Welch-Satterthwaite degrees of freedom.
- sequential: asymptotic confidence sequence of Waudby-Smith et al. (2023, eq. 9 and 155), tuned for
  `tuning` total units; valid however often it is looked at.
- bayesian: Gaussian posterior of the effect; flat prior unless `prior_variance` is given (prior in
  the effect's own units); chance to win, credible interval and risk (expected loss).
Fields a method does not define are nan, and `reason` says why.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from scipy import stats as sps

from stats.choices import METHODS, Method
from stats.cuped import Adjusted, adjust, pooled_theta
from stats.errors import StatsError
from stats.moments import Moments, RatioMoments

NAN = math.nan


@dataclass(frozen=True)
class Comparison:
    """Treatment versus control on one metric; undefined fields are nan and `reason` says why."""

    method: Method
    relative: bool
    alpha: float
    n_control: int
    n_treatment: int
    mean_control: float
    mean_treatment: float
    effect: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    chance_to_win: float
    risk: float
    risk_control: float
    cuped: bool
    theta: float
    reason: str = ""

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0 (frequentist, sequential and Bayesian alike)."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def compare(
    control: Moments | RatioMoments,
    treatment: Moments | RatioMoments,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    method: Method = "ttest",
    cuped: bool = False,
    tuning: float = 5000,
    prior_mean: float = 0.0,
    prior_variance: float | None = None,
) -> Comparison:
    """Compare treatment with control from sufficient statistics alone.

    `risk` is the expected loss (in effect units) of shipping the treatment, `risk_control` that of
    keeping control; both are Bayesian only.
    """
    _validate(control, treatment, alpha, method, cuped, tuning, prior_variance)
    reasons: list[str] = []
    adjusted = _cuped(control, treatment, reasons) if cuped else None
    a, b, theta = adjusted if adjusted is not None else (_plain(control), _plain(treatment), NAN)
    # Every estimate undefined until computed below; each return fills in what its method defines.
    base = Comparison(
        method=method, relative=relative, alpha=alpha, n_control=control.n, n_treatment=treatment.n,
        mean_control=a.unadjusted_mean, mean_treatment=b.unadjusted_mean, effect=NAN, std_error=NAN, ci_low=NAN,
        ci_high=NAN, p_value=NAN, chance_to_win=NAN, risk=NAN, risk_control=NAN, cuped=adjusted is not None,
        theta=theta,
    )
    undefined = _undefined_reason(a, b, relative)
    if undefined:
        return replace(base, reason="; ".join([*reasons, undefined]))
    try:
        effect = (b.mean - a.mean) / a.unadjusted_mean if relative else b.mean - a.mean
        variance = _effect_variance(a, b, relative)
        degenerate = _degenerate_reason(effect, variance, relative)
    except (ZeroDivisionError, OverflowError):  # a mean so near 0 that its square or 4th power underflows
        effect, variance = NAN, NAN
        degenerate = (f"undefined: the control mean ({a.unadjusted_mean:.3g}) is too close to 0 for a relative "
                      "effect in floating point; read the absolute difference (relative=False; `winback analyze --absolute`)")
    if degenerate:
        return replace(base, reason="; ".join([*reasons, degenerate]))
    if method == "bayesian":
        return _bayesian(base, effect, variance, alpha, prior_mean, prior_variance, reasons)
    if method == "sequential":
        low, high, p_value = _sequential(effect, variance, a.n + b.n, alpha, tuning)
    else:
        low, high, p_value = _welch(effect, variance, a, b, alpha)
    reasons.append("frequentist read: chance to win and risk are Bayesian only")
    return replace(base, effect=effect, std_error=math.sqrt(variance), ci_low=low, ci_high=high, p_value=p_value,
                   reason="; ".join(reasons))


def _validate(control: Any, treatment: Any, alpha: float, method: str, cuped: bool, tuning: float,
              prior_variance: float | None) -> None:
    if not 0 < alpha < 1:
        raise StatsError(f"alpha must be between 0 and 1, got {alpha!r}")
    if method not in METHODS:
        raise StatsError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not tuning > 0:
        raise StatsError(f"tuning (the sample size the sequential test is tuned for) must be > 0, got {tuning!r}")
    if prior_variance is not None and not prior_variance > 0:
        raise StatsError(f"prior_variance must be > 0 (or None for a flat prior), got {prior_variance!r}")
    kinds = (Moments, RatioMoments)
    if not isinstance(control, kinds) or not isinstance(treatment, kinds):
        raise StatsError("control and treatment must be stats.Moments or stats.RatioMoments")
    if type(control) is not type(treatment) or control.is_binary != treatment.is_binary:
        raise StatsError("control and treatment must be the same kind of metric (binary, continuous or ratio)")


def _cuped(control: Moments | RatioMoments, treatment: Moments | RatioMoments,
           reasons: list[str]) -> tuple[Adjusted, Adjusted, float] | None:
    """Both arms adjusted by the pooled theta, and theta; None (with the reason noted) when CUPED cannot adjust."""
    if not (isinstance(control, Moments) and isinstance(treatment, Moments)):
        raise StatsError("cuped=True works on Moments with pre-period sums, not on RatioMoments")
    theta = pooled_theta(control, treatment)
    if theta == 0.0:
        reasons.append("CUPED not applied: the pooled pre- or post-period metric has no variance")
        return None
    try:
        return adjust(control, theta), adjust(treatment, theta), theta
    except OverflowError:  # a pre-period variance so near 0 (subnormal) that theta squared overflows
        reasons.append("CUPED not applied: the pooled pre-period metric's variance is too close to 0 to adjust "
                       "with in floating point")
        return None


def _plain(moments: Moments | RatioMoments) -> Adjusted:
    return Adjusted(moments.n, moments.mean, moments.variance, moments.mean)


def _undefined_reason(a: Adjusted, b: Adjusted, relative: bool) -> str:
    if a.n < 2 or b.n < 2:
        return f"undefined: each arm needs at least 2 units (control {a.n}, treatment {b.n})"
    if not (math.isfinite(a.mean) and math.isfinite(b.mean)):
        return "undefined: a ratio metric's denominator sums to 0 in one arm"
    if relative and a.unadjusted_mean == 0:
        return ("undefined: control mean is 0, so a relative lift has no meaning; read the absolute difference "
                "(relative=False; `winback analyze --absolute`)")
    if not (a.variance >= 0 and b.variance >= 0) or a.variance + b.variance <= 0:
        return "undefined: the metric has no variance in either arm"
    return ""


def _degenerate_reason(effect: float, variance: float, relative: bool) -> str:
    """Why an effect has no usable standard error (0, overflow), or '' when it has one."""
    if not (math.isfinite(effect) and math.isfinite(variance)):
        return "undefined: the sums are too large to compute an effect and its variance in floating point"
    if variance <= 0:
        if relative:
            return ("undefined: the relative effect's standard error is 0 (the treatment arm's mean is 0 with no "
                    "variance, so the delta method gives no spread); read the absolute difference (relative=False; "
                    "`winback analyze --absolute`)")
        return "undefined: the effect's standard error is 0"
    return ""


def _effect_variance(a: Adjusted, b: Adjusted, relative: bool) -> float:
    """Variance of the effect estimate; delta method for the relative lift."""
    if relative:
        mc, mt = a.unadjusted_mean, b.unadjusted_mean
        return b.variance / (mc**2 * b.n) + a.variance * mt**2 / (mc**4 * a.n)
    return b.variance / b.n + a.variance / a.n


def _welch(effect: float, variance: float, a: Adjusted, b: Adjusted, alpha: float) -> tuple[float, float, float]:
    """Welch's t: Satterthwaite degrees of freedom from the two arms' variances of the mean."""
    va, vb = a.variance / a.n, b.variance / b.n
    top = max(va, vb)  # scale out before squaring, so tiny variances do not underflow to 0 / 0
    va, vb = va / top, vb / top
    dof = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    se = math.sqrt(variance)
    half = float(sps.t.ppf(1 - alpha / 2, dof)) * se
    p_value = float(2 * sps.t.sf(abs(effect) / se, dof))
    return effect - half, effect + half, p_value


def _sequential(effect: float, variance: float, n: int, alpha: float, tuning: float) -> tuple[float, float, float]:
    """Waudby-Smith et al. asymptotic confidence sequence (eq. 9) and its always-valid p-value (eq. 155)."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s2 = variance * n
    scale = n * rho2 + 1
    half = math.sqrt(s2) * math.sqrt(2 * scale * math.log(math.sqrt(scale) / alpha) / (n**2 * rho2))
    st2 = effect**2 * n / variance
    log_e_value = rho2 * st2 / (2 * scale) - 0.5 * math.log(scale)
    p_value = float(min(1.0, math.exp(-log_e_value)))
    return effect - half, effect + half, p_value


def _bayesian(base: Comparison, effect: float, variance: float, alpha: float, prior_mean: float,
              prior_variance: float | None, reasons: list[str]) -> Comparison:
    """Gaussian posterior of the effect (conjugate update of a Gaussian prior, or the likelihood alone)."""
    if prior_variance is None:
        post_mean, post_var = effect, variance
    else:
        precision = 1 / variance + 1 / prior_variance
        post_mean = (effect / variance + prior_mean / prior_variance) / precision
        post_var = 1 / precision
    sd = math.sqrt(post_var)
    posterior = sps.norm(loc=post_mean, scale=sd)
    low, high = (float(x) for x in posterior.ppf([alpha / 2, 1 - alpha / 2]))
    p_lose = float(posterior.cdf(0.0))
    # Expected loss = partial expectations of the Gaussian posterior: E[max(d, 0)] and E[max(-d, 0)].
    z = post_mean / sd
    density = sd * float(sps.norm.pdf(z))
    risk_control = post_mean * float(sps.norm.cdf(z)) + density
    risk = -post_mean * float(sps.norm.cdf(-z)) + density
    reasons.append("Bayesian read: no p-value (use chance_to_win and risk)")
    return replace(base, effect=post_mean, std_error=sd, ci_low=low, ci_high=high, chance_to_win=1 - p_lose,
                   risk=risk, risk_control=risk_control, reason="; ".join(reasons))
