"""Winback's statistics engine: sufficient statistics in, frozen dataclasses out (no SQL, no files)."""
from stats.choices import Correction, Method, Verdict
from stats.comparison import Comparison, compare
from stats.errors import StatsError
from stats.guardrails import guardrail_verdict, stricter_verdict
from stats.moments import Moments, RatioMoments
from stats.money import Economics, economics
from stats.multiple import adjust_p_values
from stats.power import PowerPlan, duration_days, minimum_detectable_effect, proportion_power, sample_size
from stats.srm import SRM_THRESHOLD, srm, srm_flagged

__all__ = [
    "SRM_THRESHOLD", "Comparison", "Correction", "Economics", "Method", "Moments", "PowerPlan",
    "RatioMoments", "StatsError", "Verdict", "adjust_p_values", "compare", "duration_days", "economics",
    "guardrail_verdict", "stricter_verdict", "minimum_detectable_effect", "proportion_power", "sample_size", "srm", "srm_flagged",
]
