"""Guardrail verdicts: a guardrail metric must not get worse, whichever direction 'worse' is."""
from __future__ import annotations

import math

from stats.choices import Verdict
from stats.comparison import Comparison


def guardrail_verdict(comparison: Comparison, higher_is_better: bool = True) -> Verdict:
    """fail: the interval lies wholly on the bad side; warn: the estimate is on the bad side but the
    interval still includes 0; pass: the estimate is neutral or good; undefined: no estimate.

    Guardrails use the unadjusted interval on purpose: for a safety check, extra caution is the point.
    """
    if any(math.isnan(x) for x in (comparison.effect, comparison.ci_low, comparison.ci_high)):
        return "undefined"
    sign = 1.0 if higher_is_better else -1.0
    best = max(sign * comparison.ci_low, sign * comparison.ci_high)
    if best < 0:
        return "fail"
    if sign * comparison.effect < 0:
        return "warn"
    return "pass"
