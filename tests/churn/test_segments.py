"""Segment rules on hand-made feature rows: each row is built to trip exactly one rule (SegmentRules defaults)."""
from __future__ import annotations

import math

import pandas as pd

from churn.segments import SegmentRules, segment

NAN = math.nan
BASE = dict(tenure_days=400.0, recency_days=10.0, orders=10, ipt_days=20.0, sessions=100, sessions_30=8,
            orders_90=3, orders_180=6, monthly_spend=100.0, coupon_share=0.1, coupons_unused_90=0,
            complaints_90=0, returns_90=0, chats_90=0, low_ratings_90=0, categories_before_90=3,
            category_events_90=10, new_category_share_90=0.1, top_category_share_90=0.7)


def frame(**rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **changes} for changes in rows.values()], index=list(rows))


def test_stages_follow_the_documented_rules():
    f = frame(
        newbie=dict(tenure_days=12.0, orders=1, recency_days=5.0, ipt_days=NAN),
        gone=dict(recency_days=200.0),  # no order for more than 180 days
        overdue=dict(recency_days=45.0),  # 45 > 2 x the usual 20-day gap
        one_timer=dict(orders=1, ipt_days=NAN, recency_days=70.0),  # single order, none for 60+ days
        fading=dict(sessions_30=1),  # usual month 99 * 30.4 / 370 = 8.1 sessions; 1 < half of it
        growing=dict(orders_90=5, orders_180=7),  # 5 in the last 90 days > 1.25 x 2 before
        steady=dict(),
        window_shopper=dict(orders=0, recency_days=NAN, ipt_days=NAN, tenure_days=100.0),
    )
    assert segment(f)["stage"].to_dict() == {
        "newbie": "new", "gone": "churned", "overdue": "at_risk", "one_timer": "at_risk", "fading": "at_risk",
        "growing": "growing", "steady": "mature", "window_shopper": "at_risk",
    }


def test_tier_threshold_is_configurable():
    f = frame(big=dict(monthly_spend=501.0), small=dict(monthly_spend=499.0), none=dict(orders=0))
    assert segment(f)["tier"].to_dict() == {"big": "high_value", "small": "regular", "none": "prospect"}
    assert segment(f, SegmentRules(high_value_monthly=300.0))["tier"]["small"] == "high_value"


def test_reasons_from_transparent_signals():
    f = frame(
        coupons=dict(coupon_share=0.8),
        hoarder=dict(coupons_unused_90=3),
        angry=dict(complaints_90=1, returns_90=1),
        drifted=dict(new_category_share_90=0.7, top_category_share_90=0.1),
        new_user_all_new=dict(new_category_share_90=1.0, top_category_share_90=NAN, categories_before_90=0),
        quiet=dict(),
    )
    assert segment(f)["reason"].to_dict() == {
        "coupons": "price_sensitive", "hoarder": "price_sensitive", "angry": "unhappy_service",
        "drifted": "needs_changed", "new_user_all_new": "unknown", "quiet": "unknown",
    }
