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


SEVERITY: dict[Verdict, int] = {"undefined": 0, "pass": 1, "warn": 2, "fail": 3}


def stricter_verdict(shown: Comparison, other: Comparison, higher_is_better: bool = True) -> tuple[Verdict, bool]:
    """The stricter verdict of two reads of one guardrail (the relative and the absolute comparison), and whether
    the read not shown decided it. The delta method's relative interval can be too wide to fail for a rare event
    (or undefined with a control mean of 0), and the narrower one for a metric that drops; keeping the stricter
    makes the verdict independent of which effect is displayed."""
    first, second = guardrail_verdict(shown, higher_is_better), guardrail_verdict(other, higher_is_better)
    return (second, True) if SEVERITY[second] > SEVERITY[first] else (first, False)

