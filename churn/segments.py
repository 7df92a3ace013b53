"""Transparent segment rules on the features: lifecycle stage, value tier and likely churn reason.

Every rule is a threshold a growth manager can read and change (SegmentRules); they are applied with
vectorized numpy, first matching rule wins.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

Stage = Literal["new", "growing", "mature", "at_risk", "churned"]
Tier = Literal["high_value", "regular", "prospect"]
Reason = Literal["price_sensitive", "unhappy_service", "needs_changed", "unknown"]


@dataclass(frozen=True)
class SegmentRules:
    """The thresholds behind stage, tier and reason (defaults documented in docs/churn.md)."""

    new_days: float = 30.0  # first seen at most this many days ago: 'new'
    churned_days: float = 180.0  # no order for this long (or never, after new_days): 'churned'
    overdue_factor: float = 2.0  # days since last order above this many typical gaps: 'at_risk'
    single_order_overdue_days: float = 60.0  # one order only and none since this many days: 'at_risk'
    activity_drop: float = 0.5  # sessions in the last 30 days below this share of the usual month: 'at_risk'
    growing_ratio: float = 1.25  # orders in the last 90 days above this multiple of the 90 before: 'growing'
    high_value_monthly: float = 500.0  # average monthly spend above this: 'high_value'
    price_coupon_share: float = 0.5  # share of orders with a coupon
    price_unused_coupons: float = 2.0  # coupons claimed and not used in 90 days
    unhappy_score: float = 2.0  # complaints + returns + 0.5 * chats + low ratings in 90 days
    needs_new_category_share: float = 0.5  # share of recent category activity in categories new in 90 days
    needs_top_category_share: float = 0.35  # ... while the formerly most-used category gets at most this share
    needs_min_events: float = 3.0  # category events in 90 days needed to judge a drift

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_RULES = SegmentRules()


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


def value_tier(features: pd.DataFrame, rules: SegmentRules = DEFAULT_RULES) -> pd.Series:
    """high_value above the monthly-spend threshold, prospect when never ordered, else regular."""
    monthly, orders = _f(features, "monthly_spend"), _f(features, "orders")
    tier = np.select([orders == 0, monthly > rules.high_value_monthly], ["prospect", "high_value"], "regular")
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


def segment(features: pd.DataFrame, rules: SegmentRules = DEFAULT_RULES) -> pd.DataFrame:
    """stage, tier and reason for every user in `features`."""
    return pd.concat(
        [lifecycle_stage(features, rules), value_tier(features, rules), likely_reason(features, rules)], axis=1
    )
