"""Transparent segment rules on the features: lifecycle stage, value tier and likely churn reason.

Every rule is a threshold a growth manager can read and change (SegmentRules); they are applied with
vectorized numpy, first matching rule wins.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from churn.choices import TIER_BASES, TierBasis
from churn.errors import ChurnError


@dataclass(frozen=True)
class SegmentRules:
    """The thresholds behind stage, tier and reason (defaults documented in docs/churn.md)."""

    new_days: float = 30.0  # first seen at most this many days ago: 'new'
    churned_days: float = 180.0  # no order for this long (or never, after new_days): 'churned'
    overdue_factor: float = 2.0  # days since last order above this many typical gaps: 'at_risk'
    single_order_overdue_days: float = 60.0  # one order only and none since this many days: 'at_risk'
    activity_drop: float = 0.5  # sessions in the last 30 days below this share of the usual month: 'at_risk'
    growing_ratio: float = 1.25  # orders in the last 90 days above this multiple of the 90 before: 'growing'
    price_coupon_share: float = 0.5  # share of orders with a coupon
    price_unused_coupons: float = 2.0  # coupons claimed and not used in 90 days
    unhappy_score: float = 2.0  # complaints + returns + 0.5 * chats + low ratings in 90 days
    needs_new_category_share: float = 0.5  # share of recent category activity in categories new in 90 days
    needs_top_category_share: float = 0.35  # ... while the formerly most-used category gets at most this share
    needs_min_events: float = 3.0  # category events in 90 days needed to judge a drift

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_RULES = SegmentRules()


@dataclass(frozen=True)
class TierRule:
    """Who is high value: the top share of buyers by predicted value (clv) or monthly spend, or a fixed amount.

    'clv' and 'spend' follow the shop's own distribution (the top `high_value_share` of users who ever
    ordered, with a value above 0); 'monthly' is the seed's fixed rule (average monthly spend above
    `high_value_monthly`, 500 by default).
    """

    basis: TierBasis = "clv"
    high_value_share: float = 0.2
    high_value_monthly: float = 500.0

    def __post_init__(self) -> None:
        if self.basis not in TIER_BASES:
            raise ChurnError(f"unknown tier basis {self.basis!r}; choose one of {', '.join(TIER_BASES)}")
        if not 0 < self.high_value_share < 1:
            raise ChurnError(f"--high-value-share must be between 0 and 1, got {self.high_value_share}")
        if self.high_value_monthly < 0:
            raise ChurnError(f"--high-value-monthly must be at least 0, got {self.high_value_monthly}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TierCut:
    """The value a user needs to be high value under a rule, and the rule in words."""

    basis: TierBasis
    cutoff: float
    description: str

    def to_dict(self) -> dict:
        return asdict(self)


def _f(features: pd.DataFrame, column: str) -> np.ndarray:
    return features[column].to_numpy(dtype=float)


def lifecycle_stage(features: pd.DataFrame, rules: SegmentRules = DEFAULT_RULES) -> pd.Series:
    """new, growing, mature, at_risk or churned, from tenure, recency, rhythm and activity trend."""
    tenure, recency = _f(features, "tenure_days"), _f(features, "recency_days")
    orders, ipt = _f(features, "orders"), _f(features, "ipt_days")
    sessions, sessions_30 = _f(features, "sessions"), _f(features, "sessions_30")
    orders_90, orders_180 = _f(features, "orders_90"), _f(features, "orders_180")
    never = orders == 0
    new = tenure <= rules.new_days
    churned = np.where(never, tenure > rules.churned_days, recency > rules.churned_days)
    usual_month = (sessions - sessions_30) * 30.4 / np.maximum(tenure - 30.0, 30.4)
    dropping = (usual_month >= 1.0) & (sessions_30 < rules.activity_drop * usual_month)
    overdue = np.where(
        orders >= 2, recency > rules.overdue_factor * np.maximum(ipt, 1.0),
        recency > rules.single_order_overdue_days,
    )
    at_risk = overdue | dropping | (never & (tenure > rules.new_days))
    growing = (orders_90 > rules.growing_ratio * (orders_180 - orders_90)) & (orders_90 >= 2)
    stage = np.select([new, churned, at_risk, growing], ["new", "churned", "at_risk", "growing"], "mature")
    return pd.Series(stage, index=features.index, name="stage")


def _tier_values(features: pd.DataFrame, rule: TierRule, clv: pd.Series | None) -> np.ndarray:
    """The per-user value the tier rule ranks: predicted value for 'clv', else average monthly spend."""
    if rule.basis != "clv":
        return np.nan_to_num(_f(features, "monthly_spend"))
    if clv is None:
        raise ChurnError("tiers by customer value need the clv column; compute it, or use tiers by spend")
    return np.nan_to_num(clv.reindex(features.index).to_numpy(dtype=float))


def tier_cut(features: pd.DataFrame, rule: TierRule, clv: pd.Series | None = None) -> TierCut:
    """The high-value cut-off under `rule` for these users (a quantile of the buyers' values, or the fixed amount)."""
    if rule.basis == "monthly":
        return TierCut("monthly", rule.high_value_monthly,
                       f"average monthly spend above {rule.high_value_monthly:,.2f}")
    values = _tier_values(features, rule, clv)
    buyers = values[(_f(features, "orders") > 0) & (values > 0)]
    cutoff = float(np.quantile(buyers, 1 - rule.high_value_share)) if buyers.size else float("inf")
    what = "predicted customer value (clv)" if rule.basis == "clv" else "average monthly spend"
    return TierCut(rule.basis, cutoff, f"top {rule.high_value_share:.0%} of buyers by {what}: at least {cutoff:,.2f}")


def value_tier(features: pd.DataFrame, rule: TierRule | None = None, clv: pd.Series | None = None) -> pd.Series:
    """high_value at or above the rule's cut-off (above it for the fixed monthly amount), prospect when never ordered."""
    rule = rule or TierRule(basis="spend")
    values, orders = _tier_values(features, rule, clv), _f(features, "orders")
    cut = tier_cut(features, rule, clv).cutoff
    high = values > cut if rule.basis == "monthly" else (values >= cut) & (values > 0)
    tier = np.select([orders == 0, high], ["prospect", "high_value"], "regular")
    return pd.Series(tier, index=features.index, name="tier")


def reason_scores(features: pd.DataFrame, rules: SegmentRules = DEFAULT_RULES) -> pd.DataFrame:
    """Each reason's signal divided by its threshold (>= 1 means the rule fires)."""
    orders = _f(features, "orders")
    coupon_share = np.nan_to_num(_f(features, "coupon_share")) * (orders >= 2)
    price = np.maximum(coupon_share / rules.price_coupon_share,
                       np.clip(_f(features, "coupons_unused_90"), 0, None) / rules.price_unused_coupons)
    unhappy = (_f(features, "complaints_90") + _f(features, "returns_90") + 0.5 * _f(features, "chats_90")
               + _f(features, "low_ratings_90")) / rules.unhappy_score
    judged = (_f(features, "categories_before_90") > 0) & (np.nan_to_num(_f(features, "category_events_90")) >= rules.needs_min_events)
    new_share = np.nan_to_num(_f(features, "new_category_share_90")) / rules.needs_new_category_share
    left_top = (1 - np.nan_to_num(_f(features, "top_category_share_90"), nan=1.0)) / (1 - rules.needs_top_category_share)
    needs = np.minimum(new_share, left_top) * judged
    return pd.DataFrame({"price_sensitive": price, "unhappy_service": unhappy, "needs_changed": needs},
                        index=features.index)


def likely_reason(features: pd.DataFrame, rules: SegmentRules = DEFAULT_RULES) -> pd.Series:
    """The reason whose rule fires most strongly; 'unknown' when none fires."""
    scores = reason_scores(features, rules)
    best = scores.to_numpy().argmax(axis=1)
    fired = scores.to_numpy().max(axis=1) >= 1.0
    reason = np.where(fired, np.asarray(scores.columns)[best], "unknown")
    return pd.Series(reason, index=features.index, name="reason")


def segment(features: pd.DataFrame, rules: SegmentRules = DEFAULT_RULES, tiers: TierRule | None = None,
            clv: pd.Series | None = None) -> pd.DataFrame:
    """stage, tier and reason for every user in `features` (tiers by spend quantile unless a rule is given)."""
    return pd.concat(
        [lifecycle_stage(features, rules), value_tier(features, tiers, clv), likely_reason(features, rules)], axis=1
    )
