"""How sure a fit's choice and forecast are, in sentences: which candidates the experiment cannot tell apart, and
how precise the forecast of the chosen plan is (with the experiment size a forecast within ±15 % would take).

A forecast's 95 % half-width shrinks as 1/√n with the experiment's users (its terms are a mean over them), so
the users needed for a half-width of `target` are today's times (half-width / target)²: the precision form of
the sample-size formula n = (z·σ / E)². The CLI (`uplift fit`) and the models page print the same sentences.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

PROMISE_TARGET = 0.15  # a promise within ±15 % of what happens is what a finance reviewer can plan on


@dataclass(frozen=True)
class ForecastPrecision:
    """A forecast's 95 % half-width relative to its value, and the experiment size a `target` half-width needs."""

    value: float  # forecast per user
    ci_low: float
    ci_high: float
    relative_half_width: float  # (ci_high − ci_low) / 2 / |value|; inf when the value is 0
    target: float
    users_factor: float  # the experiment's users times this reach the target (1 when it already does)

    @property
    def covers_zero(self) -> bool:
        return self.ci_low <= 0 <= self.ci_high

    @property
    def within_target(self) -> bool:
        return self.relative_half_width <= self.target

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "covers_zero": self.covers_zero, "within_target": self.within_target}


def forecast_precision(estimate: Mapping[str, Any], target: float = PROMISE_TARGET) -> ForecastPrecision | None:
    """The precision of a stored forecast (`PolicyEstimate.to_dict()`), or None when it lacks a finite interval."""
    try:
        value, low, high = (float(estimate[k]) for k in ("value_per_user", "ci_low", "ci_high"))
    except (KeyError, TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (value, low, high)) or high < low:
        return None
    half = (high - low) / 2
    relative = half / abs(value) if value != 0 else math.inf
    factor = max(1.0, (relative / target) ** 2) if math.isfinite(relative) else math.inf
    return ForecastPrecision(value, low, high, relative, target, factor)


def precision_note(precision: ForecastPrecision | None) -> str | None:
    """A sentence when the forecast is too wide to plan on within the target (None when it is within it)."""
    if precision is None or precision.within_target:
        return None
    if precision.covers_zero:
        return ("the forecast's 95% interval includes 0: this experiment does not show that the chosen plan retains "
                "anyone it would not have retained anyway; treat the plan as a test, not a promise")
    factor = precision.users_factor
    return (f"the forecast is ±{precision.relative_half_width:.0%} (95%), wider than ±{precision.target:.0%}: "
            f"what happens may differ from it by that much; a forecast within ±{precision.target:.0%} needs about "
            f"{factor:.1f}x this experiment's users in every arm")


def tie_note(chosen: str, tied: Sequence[str], candidates: int) -> str | None:
    """A sentence naming the candidates the experiment cannot tell from the chosen one (None when there are none)."""
    if not tied:
        return None
    others = candidates - 1
    names = ", ".join(tied[:4]) + (f" and {len(tied) - 4} more" if len(tied) > 4 else "")
    share = "every other candidate" if len(tied) >= others else f"{len(tied)} of the {others} other candidates"
    return (f"the experiment cannot tell {chosen}'s plan from {share} ({names}): the 95% interval of each paired gap "
            f"covers 0, so which of them is kept is close to a coin toss; the forecast is made on users the choice "
            f"did not see, so it does not carry the winner's luck")
