"""The churn package's closed choices, declared once: segments, flagging and the CLI read them from here.

Kept free of heavy imports so that command modules can build their options without loading pandas.
"""
from __future__ import annotations

from typing import Literal, get_args

DEFAULT_TARGET_PRECISION = 0.7  # precision the per-stage thresholds and the flagged cohort aim for

Stage = Literal["new", "growing", "mature", "at_risk", "churned"]
STAGES: tuple[Stage, ...] = get_args(Stage)
# Users gone for good ('churned': no order for 180+ days) are win-back targets, not early warnings.
DEFAULT_FLAG_STAGES: tuple[Stage, ...] = ("new", "growing", "mature", "at_risk")
Tier = Literal["high_value", "regular", "prospect"]
TierBasis = Literal["clv", "spend", "monthly"]
TIER_BASES: tuple[TierBasis, ...] = get_args(TierBasis)
Reason = Literal["price_sensitive", "unhappy_service", "needs_changed", "unknown"]
FlagRule = Literal["precision", "stage-thresholds", "tier-share"]
FLAG_RULES: tuple[FlagRule, ...] = get_args(FlagRule)
