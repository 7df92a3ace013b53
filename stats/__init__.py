"""Winback's statistics engine: sufficient statistics in, frozen dataclasses out (no SQL, no files).

Names load on first use (PEP 562), so `from stats.choices import METHODS` costs no scipy import.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Comparison": "stats.comparison", "compare": "stats.comparison",
    "Method": "stats.choices", "METHODS": "stats.choices", "Correction": "stats.choices", "Verdict": "stats.choices",
    "StatsError": "stats.errors",
    "guardrail_verdict": "stats.guardrails",
    "Moments": "stats.moments", "RatioMoments": "stats.moments",
    "Economics": "stats.money", "economics": "stats.money",
    "adjust_p_values": "stats.multiple",
    "PowerPlan": "stats.power", "duration_days": "stats.power", "minimum_detectable_effect": "stats.power",
    "proportion_power": "stats.power", "sample_size": "stats.power",
    "SRM_THRESHOLD": "stats.srm", "srm": "stats.srm", "srm_flagged": "stats.srm",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
