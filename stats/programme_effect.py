"""The programme against its holdout, per value tier: churn reduction, incremental retained users, LTV change.

Inputs are sufficient statistics per group (users, churned users, spend sum and sum of squares per user
over the horizon). Formulas:
- relative churn reduction r = 1 - p_prog / p_hold; its interval is the delta method on the log ratio,
  log(RR) ± z·sqrt(1/c_p - 1/n_p + 1/c_h - 1/n_h), mapped to r = 1 - RR (statsmodels
  `confint_proportions_2indep(compare='ratio', method='log')`), so it never leaves (-inf, 1];
- incremental retained users = n_prog·(p_hold - p_prog): the retention difference (`stats.compare`,
  absolute, Welch) scaled by n_prog; given the programme's spend, cost per incremental retained user
  (Fieller) and ROI come from `stats.economics` on the same difference;
- LTV change = mean spend prog / mean spend hold - 1, the delta method on the ratio of means
  (`stats.compare(relative=True)`, the gbstats convention);
- verdict against a target: "met" when the interval's lower bound reaches it, "off track" when the upper
  bound is below it, "not shown" otherwise (also when the value is undefined, with the reason).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from scipy import stats as sps

from stats.comparison import compare
from stats.errors import StatsError
from stats.moments import Moments
from stats.money import economics

NAN = math.nan
OVERALL = "all"
TargetVerdict = Literal["met", "not shown", "off track", "no target"]


@dataclass(frozen=True)
class GroupTotals:
    """One group (programme or holdout) in one tier: users, churned users, spend sum and sum of squares."""

    users: int
    churned: int
    spend_sum: float = 0.0
    spend_sum_squares: float = 0.0

    def __post_init__(self) -> None:
        for name in ("users", "churned"):
            value = getattr(self, name)
            if isinstance(value, bool) or not float(value).is_integer() or value < 0:
                raise StatsError(f"GroupTotals.{name} must be a whole number >= 0, got {value!r}")
        if self.churned > self.users:
            raise StatsError(f"GroupTotals: churned ({self.churned}) cannot exceed users ({self.users})")
        for name in ("spend_sum", "spend_sum_squares"):
            if not math.isfinite(getattr(self, name)):
                raise StatsError(f"GroupTotals.{name} must be a finite number, got {getattr(self, name)!r}")

    def __add__(self, other: GroupTotals) -> GroupTotals:
        """Pool two tiers into one group."""
        return GroupTotals(self.users + other.users, self.churned + other.churned,
                           self.spend_sum + other.spend_sum, self.spend_sum_squares + other.spend_sum_squares)

    @property
    def churn_rate(self) -> float:
        """Churned users / users; nan for an empty group."""
        return self.churned / self.users if self.users else NAN

    @property
    def spend_per_user(self) -> float:
        """Mean spend per user over the horizon (the LTV measure); nan for an empty group."""
        return self.spend_sum / self.users if self.users else NAN


@dataclass(frozen=True)
class TierEffect:
    """Programme against holdout in one tier; undefined fields are nan and `reason` says why."""

    tier: str
    alpha: float
    users_programme: int
    users_holdout: int
    churn_programme: float
    churn_holdout: float
    reduction: float
    ci_low: float
    ci_high: float
    p_value: float
    target: float
    verdict: TargetVerdict
    incremental_retained: float
    incremental_retained_ci_low: float
    incremental_retained_ci_high: float
    spend: float
    cost_per_retained: float
    cost_per_retained_ci_low: float
    cost_per_retained_ci_high: float
    value_per_retained: float
    roi: float
    roi_ci_low: float
    roi_ci_high: float
    spend_per_user_programme: float
    spend_per_user_holdout: float
    ltv_change: float
    ltv_ci_low: float
    ltv_ci_high: float
    ltv_target: float
    ltv_verdict: TargetVerdict
    reason: str = ""
    detectable_reduction: float = NAN  # the smallest reduction these group sizes show at 80% power (arcsine test)

    @property
    def significant(self) -> bool:
        """True when the reduction's interval excludes 0 (either side)."""
        return bool(self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (JSON-ready apart from nan)."""
        return asdict(self)


@dataclass(frozen=True)
class ProgrammeEffect:
    """Every tier's effect plus the pooled one (tier `all`, no churn target unless one is given)."""

    tiers: tuple[TierEffect, ...]
    overall: TierEffect

    def tier(self, name: str) -> TierEffect:
        """The effect of one tier by name (`all` for the pooled one)."""
        for effect in (*self.tiers, self.overall):
            if effect.tier == name:
                return effect
        raise StatsError(f"no tier named {name!r}; tiers are {[t.tier for t in self.tiers]}")

    def to_dict(self) -> dict[str, Any]:
        """{'tiers': [...], 'overall': {...}} as plain dicts."""
        return {"tiers": [t.to_dict() for t in self.tiers], "overall": self.overall.to_dict()}


def verdict(low: float, high: float, target: float | None) -> TargetVerdict:
    """met (low >= target), off track (high < target), not shown otherwise or when undefined."""
    if target is None or math.isnan(target):
        return "no target"
    if math.isnan(low) or math.isnan(high):
        return "not shown"
    if low >= target:
        return "met"
    if high < target:
        return "off track"
    return "not shown"


DETECTION_POWER = 0.8


def detectable_reduction(users_programme: int, users_holdout: int, churn_holdout: float, *, alpha: float = 0.05,
                         power: float = DETECTION_POWER) -> float:
    """The smallest churn reduction (1 - p_programme / p_holdout) that groups of these sizes show with `power`: the
    two-sample arcsine (Cohen's h) test solved by statsmodels' NormalIndPower, turned back into churn rates.
    nan when a group is empty or nobody (or everybody) churned in the holdout; 1.0 when even no churn is not enough."""
    if users_programme < 1 or users_holdout < 1 or not 0 < churn_holdout < 1:
        return NAN
    from statsmodels.stats.power import NormalIndPower

    h = float(NormalIndPower().solve_power(effect_size=None, nobs1=users_holdout, alpha=alpha, power=power,
                                           ratio=users_programme / users_holdout, alternative="two-sided"))
    angle = math.asin(math.sqrt(churn_holdout)) - h / 2
    return 1.0 if angle <= 0 else 1 - math.sin(angle) ** 2 / churn_holdout


def tier_effect(tier: str, programme: GroupTotals, holdout: GroupTotals, *, target: float | None = None,
                ltv_target: float | None = None, spend: float | None = None,
                value_per_retained: float | None = None, alpha: float = 0.05) -> TierEffect:
    """Churn reduction (log-ratio interval), incremental retained users, their cost and ROI, and LTV change.

    `spend` is what the programme spent on this tier's users; `value_per_retained` what a retained user is worth.
    """
    if not 0 < alpha < 1:
        raise StatsError(f"alpha must be between 0 and 1, got {alpha!r}")
    z = float(sps.norm.ppf(1 - alpha / 2))
    reasons: list[str] = []
    reduction, low, high, p_value = _reduction(programme, holdout, z, reasons)
    incremental, money = _incremental(programme, holdout, alpha, spend, value_per_retained, reasons)
    ltv = _ltv(programme, holdout, alpha, reasons)
    tgt = NAN if target is None else float(target)
    ltv_tgt = NAN if ltv_target is None else float(ltv_target)
    return TierEffect(
        tier=tier, alpha=alpha, users_programme=programme.users, users_holdout=holdout.users,
        churn_programme=programme.churn_rate, churn_holdout=holdout.churn_rate,
        reduction=reduction, ci_low=low, ci_high=high, p_value=p_value, target=tgt,
        verdict=verdict(low, high, target), incremental_retained=incremental[0],
        incremental_retained_ci_low=incremental[1], incremental_retained_ci_high=incremental[2],
        spend=NAN if spend is None else float(spend), cost_per_retained=money[0], cost_per_retained_ci_low=money[1],
        cost_per_retained_ci_high=money[2], value_per_retained=NAN if value_per_retained is None else value_per_retained,
        roi=money[3], roi_ci_low=money[4], roi_ci_high=money[5],
        spend_per_user_programme=programme.spend_per_user, spend_per_user_holdout=holdout.spend_per_user,
        ltv_change=ltv[0], ltv_ci_low=ltv[1], ltv_ci_high=ltv[2], ltv_target=ltv_tgt,
        ltv_verdict=verdict(ltv[1], ltv[2], ltv_target), reason="; ".join(reasons),
        detectable_reduction=detectable_reduction(programme.users, holdout.users, holdout.churn_rate, alpha=alpha),
    )


def programme_effect(groups: Mapping[str, tuple[GroupTotals, GroupTotals]], *,
                     targets: Mapping[str, float] | None = None, ltv_target: float | None = None,
                     spend: Mapping[str, float] | None = None, value_per_retained: float | None = None,
                     alpha: float = 0.05) -> ProgrammeEffect:
    """Each tier's (programme, holdout) totals against its target, plus the pooled tier `all`.

    Tiers are any names (a value tier, or tier × lifecycle stage). `targets` maps a tier to its churn-reduction
    target (e.g. {"high_value": 0.40, "regular": 0.25}); a target under `all` applies to the pooled effect.
    `ltv_target` (e.g. 0.30) applies to every tier. `spend` maps each tier to what the programme spent on it
    (all tiers or none; the pooled tier gets the sum).
    """
    if not groups:
        raise StatsError("programme_effect needs at least one tier of (programme, holdout) totals")
    if OVERALL in groups:
        raise StatsError(f"tier name {OVERALL!r} is reserved for the pooled effect; rename that tier")
    targets = dict(targets or {})
    unknown = sorted(set(targets) - set(groups) - {OVERALL})
    if unknown:
        raise StatsError(f"targets name unknown tiers {unknown}; tiers are {sorted(groups)}")
    if spend is not None and set(spend) != set(groups):
        raise StatsError(f"spend must name every tier {sorted(groups)} (or be left out), got {sorted(spend)}")
    cost = dict(spend) if spend is not None else {}

    def one(name: str, prog: GroupTotals, hold: GroupTotals, tier_spend: float | None) -> TierEffect:
        return tier_effect(name, prog, hold, target=targets.get(name), ltv_target=ltv_target, spend=tier_spend,
                           value_per_retained=value_per_retained, alpha=alpha)

    tiers = tuple(one(name, prog, hold, cost.get(name)) for name, (prog, hold) in groups.items())
    pooled_prog = sum((prog for prog, _ in groups.values()), GroupTotals(0, 0))
    pooled_hold = sum((hold for _, hold in groups.values()), GroupTotals(0, 0))
    overall = one(OVERALL, pooled_prog, pooled_hold, sum(cost.values()) if spend is not None else None)
    return ProgrammeEffect(tiers=tiers, overall=overall)


def _reduction(prog: GroupTotals, hold: GroupTotals, z: float,
               reasons: list[str]) -> tuple[float, float, float, float]:
    """1 - RR with the log-ratio delta-method interval and Wald p-value for RR = 1."""
    if prog.users == 0 or hold.users == 0:
        reasons.append("the programme or the holdout has no users: no churn reduction")
        return NAN, NAN, NAN, NAN
    if hold.churned == 0:
        reasons.append("no holdout user churned: the relative reduction is undefined")
        return NAN, NAN, NAN, NAN
    reduction = 1 - prog.churn_rate / hold.churn_rate
    if prog.churned == prog.users and hold.churned == hold.users:
        reasons.append("every user churned in both groups: the interval is undefined")
        return reduction, NAN, NAN, NAN
    a, n1, c, n2 = float(prog.churned), float(prog.users), float(hold.churned), float(hold.users)
    if min(a, n1 - a, c, n2 - c) == 0:
        # A group where nobody or everybody churned: the log ratio's variance has a zero cell (a zero-width or
        # undefined interval). Add 1/2 to every cell of the 2x2 table, as metafor's escalc(measure="RR") does by
        # default (add = 1/2, to = "only0"; Viechtbauer 2010).
        a, n1, c, n2 = a + 0.5, n1 + 1, c + 0.5, n2 + 1
        reasons.append("a group where nobody or everybody churned: the interval adds 1/2 to each cell (metafor)")
    log_rr = math.log((a / n1) / (c / n2))
    se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    p_value = float(2 * sps.norm.sf(abs(log_rr) / se))
    return reduction, 1 - math.exp(log_rr + z * se), 1 - math.exp(log_rr - z * se), p_value


def _incremental(prog: GroupTotals, hold: GroupTotals, alpha: float, spend: float | None,
                 value: float | None, reasons: list[str]) -> tuple[tuple[float, float, float], tuple[float, ...]]:
    """n_prog·(retention difference) with its interval; cost per retained user (Fieller) and ROI when spend is given."""
    no_money = (NAN,) * 6
    if prog.users == 0 or hold.users == 0:
        return (NAN, NAN, NAN), no_money
    retention = compare(Moments(hold.users, hold.users - hold.churned), Moments(prog.users, prog.users - prog.churned),
                        relative=False, alpha=alpha)
    n = prog.users
    incremental = (n * retention.effect, n * retention.ci_low, n * retention.ci_high)
    if spend is None:
        if value is not None:
            reasons.append("no spend given: cost per retained user and ROI need one")
        return incremental, no_money
    money = economics(retention, spend, value_per_retained=value)
    if money.reason:
        reasons.append(money.reason)
    return incremental, (money.cost_per_retained, money.cost_per_retained_ci_low, money.cost_per_retained_ci_high,
                         money.roi, money.roi_ci_low, money.roi_ci_high)


def _ltv(prog: GroupTotals, hold: GroupTotals, alpha: float, reasons: list[str]) -> tuple[float, float, float]:
    """Relative change of spend per user (delta method on the ratio of means, via stats.compare)."""
    if prog.users == 0 or hold.users == 0:
        return NAN, NAN, NAN
    comparison = compare(Moments(hold.users, hold.spend_sum, hold.spend_sum_squares),
                         Moments(prog.users, prog.spend_sum, prog.spend_sum_squares), relative=True, alpha=alpha)
    if math.isnan(comparison.effect) or math.isnan(comparison.ci_low):
        reasons.append(f"LTV: {comparison.reason}")
    return comparison.effect, comparison.ci_low, comparison.ci_high
