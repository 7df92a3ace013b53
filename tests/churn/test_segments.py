"""Segment rules on hand-made feature rows: each row is built to trip exactly one rule (SegmentRules defaults)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.segments import TierRule, segment, tier_cut

NAN = math.nan
BASE = {"tenure_days": 400.0, "recency_days": 10.0, "orders": 10, "ipt_days": 20.0, "sessions": 100, "sessions_30": 8,
            "orders_90": 3, "orders_180": 6, "monthly_spend": 100.0, "coupon_share": 0.1, "coupons_unused_90": 0,
            "complaints_90": 0, "returns_90": 0, "chats_90": 0, "low_ratings_90": 0, "categories_before_90": 3,
            "category_events_90": 10, "new_category_share_90": 0.1, "top_category_share_90": 0.7}


def frame(**rows: dict) -> pd.DataFrame:
    return pd.DataFrame([{**BASE, **changes} for changes in rows.values()], index=list(rows))


def test_stages_follow_the_documented_rules():
    f = frame(
        newbie={"tenure_days": 12.0, "orders": 1, "recency_days": 5.0, "ipt_days": NAN},
        gone={"recency_days": 200.0},  # no order for more than 180 days
        overdue={"recency_days": 45.0},  # 45 > 2 x the usual 20-day gap
        one_timer={"orders": 1, "ipt_days": NAN, "recency_days": 70.0},  # single order, none for 60+ days
        fading={"sessions_30": 1},  # usual month 99 * 30.4 / 370 = 8.1 sessions; 1 < half of it
        growing={"orders_90": 5, "orders_180": 7},  # 5 in the last 90 days > 1.25 x 2 before
        steady={},
        window_shopper={"orders": 0, "recency_days": NAN, "ipt_days": NAN, "tenure_days": 100.0},
    )
    assert segment(f)["stage"].to_dict() == {
        "newbie": "new", "gone": "churned", "overdue": "at_risk", "one_timer": "at_risk", "fading": "at_risk",
        "growing": "growing", "steady": "mature", "window_shopper": "at_risk",
    }


def test_fixed_monthly_tier_is_the_seeds_500_a_month_and_configurable():
    f = frame(big={"monthly_spend": 501.0}, small={"monthly_spend": 499.0}, none={"orders": 0})
    monthly = TierRule(basis="monthly")  # the seed's rule: above 500 a month
    assert segment(f, tiers=monthly)["tier"].to_dict() == {"big": "high_value", "small": "regular", "none": "prospect"}
    assert segment(f, tiers=TierRule(basis="monthly", high_value_monthly=300.0))["tier"]["small"] == "high_value"


def test_spend_tier_is_the_top_share_of_buyers_of_this_shop():
    # ten buyers spending 10..100 a month, one buyer at 0 and one prospect: the cut-off is numpy's
    # 0.8-quantile (linear interpolation) of the positive values 10, ..., 100: 90 - 0.2 * 10 = 82
    rows = {f"u{k}": {"monthly_spend": 10.0 * k} for k in range(11)} | {"p": {"orders": 0, "monthly_spend": 0.0}}
    f = frame(**rows)
    cut = tier_cut(f, TierRule(basis="spend"))
    assert cut.cutoff == pytest.approx(np.quantile(np.arange(1, 11) * 10.0, 0.8))  # buyers with spend > 0 only
    tiers = segment(f, tiers=TierRule(basis="spend"))["tier"]
    assert set(tiers[tiers == "high_value"].index) == {"u9", "u10"} and tiers["p"] == "prospect"
    assert tiers["u0"] == "regular"  # an old buyer with no recent spend is never high value
    assert cut.description == "top 20% of buyers by average monthly spend: at least 82.00"


def test_clv_tier_needs_the_clv_column_and_ranks_by_it():
    f = frame(a={"monthly_spend": 900.0}, b={"monthly_spend": 1.0}, c={"monthly_spend": 1.0},
              d={"monthly_spend": 1.0}, e={"monthly_spend": 1.0})
    clv = pd.Series({"a": 1.0, "b": 50.0, "c": 40.0, "d": 30.0, "e": 20.0})
    tiers = segment(f, tiers=TierRule(basis="clv", high_value_share=0.2), clv=clv)["tier"]
    assert tiers[tiers == "high_value"].index.tolist() == ["b"]  # by predicted value, not by past spend
    with pytest.raises(ChurnError, match="tiers by customer value need the clv column"):
        segment(f, tiers=TierRule(basis="clv"))
    with pytest.raises(ChurnError, match="--high-value-share must be between 0 and 1, got 1.5"):
        TierRule(high_value_share=1.5)


def test_reasons_from_transparent_signals():
    f = frame(
        coupons={"coupon_share": 0.8},
        hoarder={"coupons_unused_90": 3},
        angry={"complaints_90": 1, "returns_90": 1},
        drifted={"new_category_share_90": 0.7, "top_category_share_90": 0.1},
        new_user_all_new={"new_category_share_90": 1.0, "top_category_share_90": NAN, "categories_before_90": 0},
        quiet={},
    )
    assert segment(f)["reason"].to_dict() == {
        "coupons": "price_sensitive", "hoarder": "price_sensitive", "angry": "unhappy_service",
        "drifted": "needs_changed", "new_user_all_new": "unknown", "quiet": "unknown",
    }
