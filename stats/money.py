"""Money: cost per incremental retained user, incremental margin, ROI and break-even uplift.

Input is an *absolute* comparison of the retention rate (treatment minus control, any method, with or
without CUPED), the treated arm's size and what was spent on it.

- incremental retained users = n_treatment × uplift (retained because of the treatment);
- cost per incremental retained user = total cost / incremental retained users;
- incremental margin = value_per_retained × incremental retained users − total cost; ROI = margin / cost;
- break-even uplift = total cost / (n_treatment × value_per_retained), the uplift at which margin is 0.

Confidence interval for the cost per retained user: **Fieller**. The cost is known (it is what was
paid), so the ratio cost / (n × uplift) has a fixed numerator and Fieller's interval reduces to
inverting the uplift's interval: (cost / (n × high), cost / (n × low)). It is exact wherever the uplift
interval is, stays positive, and becomes unbounded (upper = inf) when the uplift interval reaches 0 -
which is the honest answer when the uplift may be nil. The delta method would give a symmetric
interval around a heavily skewed quantity, including negative costs, exactly when it matters.
Margin and ROI are linear in the uplift, so their intervals map the uplift interval directly.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from stats.comparison import Comparison
from stats.errors import StatsError

NAN = math.nan


@dataclass(frozen=True)
class Economics:
    """What the incremental retained users cost and earn; undefined fields are nan and `reason` says why."""

    n_treatment: int
    total_cost: float
    uplift: float
    uplift_ci_low: float
    uplift_ci_high: float
    incremental_retained: float
    incremental_retained_ci_low: float
    incremental_retained_ci_high: float
    cost_per_retained: float
    cost_per_retained_ci_low: float
    cost_per_retained_ci_high: float
    value_per_retained: float
    incremental_margin: float
    incremental_margin_ci_low: float
    incremental_margin_ci_high: float
    roi: float
    roi_ci_low: float
    roi_ci_high: float
    break_even_uplift: float
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def economics(comparison: Comparison, total_cost: float | None, *,
              value_per_retained: float | None = None) -> Economics:
    """Cost per incremental retained user (Fieller CI), margin, ROI and break-even from an absolute comparison.

    `total_cost=None` means the cost is not known (not that nothing was spent): every field that needs it is nan.
    """
    if comparison.relative:
        raise StatsError("economics needs an absolute comparison of the retention rate: compare(..., relative=False)")
    if total_cost is not None and not (math.isfinite(total_cost) and total_cost >= 0):
        raise StatsError(f"total_cost must be a finite amount >= 0, got {total_cost!r}")
    if value_per_retained is not None and not (math.isfinite(value_per_retained) and value_per_retained >= 0):
        raise StatsError(f"value_per_retained must be a finite amount >= 0, got {value_per_retained!r}")
    n = comparison.n_treatment
    uplift, low, high = comparison.effect, comparison.ci_low, comparison.ci_high
    reasons: list[str] = []
    if math.isnan(uplift):
        reasons.append(f"no uplift estimate ({comparison.reason})")
    value = NAN if value_per_retained is None else float(value_per_retained)
    if total_cost is None:
        reasons.append("no cost given: cost per retained user, margin, ROI and break-even need one")
        cost = cost_low = cost_high = NAN
    else:
        cost, cost_low, cost_high = _cost_per_retained(total_cost, n, uplift, low, high, reasons)
    spent = NAN if total_cost is None else float(total_cost)
    if value_per_retained is None:
        reasons.append("no value per retained user given: margin, ROI and break-even need one")
    margin = [value * n * u - spent for u in (uplift, low, high)]
    if spent > 0:
        roi = [m / spent for m in margin]
    else:
        roi = [NAN] * 3
        if spent == 0:
            reasons.append("nothing was spent: ROI is undefined")
    if value_per_retained is None or total_cost is None:
        break_even = NAN
    elif value > 0 and n > 0:
        break_even = spent / (n * value)
    else:
        break_even = NAN
        reasons.append("break-even needs a positive value per retained user and treated units")
    return Economics(
        n_treatment=n, total_cost=spent, uplift=uplift, uplift_ci_low=low, uplift_ci_high=high,
        incremental_retained=n * uplift, incremental_retained_ci_low=n * low, incremental_retained_ci_high=n * high,
        cost_per_retained=cost, cost_per_retained_ci_low=cost_low, cost_per_retained_ci_high=cost_high,
        value_per_retained=value, incremental_margin=margin[0], incremental_margin_ci_low=margin[1],
        incremental_margin_ci_high=margin[2], roi=roi[0], roi_ci_low=roi[1], roi_ci_high=roi[2],
        break_even_uplift=break_even, reason="; ".join(reasons),
    )


def _cost_per_retained(cost: float, n: int, uplift: float, low: float, high: float,
                       reasons: list[str]) -> tuple[float, float, float]:
    """Point estimate and Fieller interval (inversion of the uplift interval, cost being known)."""
    if math.isnan(uplift) or n == 0:
        return NAN, NAN, NAN
    if cost == 0 and low > 0:
        return 0.0, 0.0, 0.0
    if cost == 0:
        reasons.append("nothing was spent and the uplift interval reaches 0: cost per retained user is undefined")
        return NAN, NAN, NAN
    if high <= 0:
        reasons.append("the treatment retained no extra users (uplift interval at or below 0): "
                       "cost per retained user is undefined")
        return NAN, NAN, NAN
    point = cost / (n * uplift) if uplift > 0 else math.inf
    if uplift <= 0:
        reasons.append("the uplift estimate is not positive: cost per retained user is unbounded")
    upper = cost / (n * low) if low > 0 else math.inf
    if low <= 0:
        reasons.append("the uplift interval includes 0: the cost per retained user has no upper bound (Fieller)")
    return point, cost / (n * high), upper
