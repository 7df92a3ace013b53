"""Cost per retained user (Fieller), ROI, pooled moments, ratio metrics and guardrail verdicts."""
from __future__ import annotations

import math

import numpy as np
import pytest

from stats import Moments, RatioMoments, StatsError, compare, economics, guardrail_verdict


def test_cost_per_retained_user_inverts_the_uplift_interval() -> None:
    # 10,000 treated users, retention 0.30 -> 0.33; 15,000 spent. Expected values by hand from the
    # definitions: incremental retained = 10,000 x 0.03 = 300; cost per retained = 15,000 / 300 = 50
    control, treatment = Moments(10_000, 3_000), Moments(10_000, 3_300)
    comp = compare(control, treatment, relative=False)
    money = economics(comp, 15_000.0, value_per_retained=120.0)
    assert money.incremental_retained == pytest.approx(300.0)
    assert money.cost_per_retained == pytest.approx(50.0)
    # Fieller with a known numerator: cost / (n x uplift bound)
    assert money.cost_per_retained_ci_low == pytest.approx(15_000 / (10_000 * comp.ci_high))
    assert money.cost_per_retained_ci_high == pytest.approx(15_000 / (10_000 * comp.ci_low))
    # margin 120 x 300 - 15,000 = 21,000; ROI 1.4; break-even uplift 15,000 / (10,000 x 120) = 0.0125
    assert money.incremental_margin == pytest.approx(21_000.0)
    assert money.roi == pytest.approx(1.4)
    assert money.break_even_uplift == pytest.approx(0.0125)
    assert money.roi_ci_low < money.roi < money.roi_ci_high


def test_uplift_interval_touching_zero_gives_unbounded_cost() -> None:
    comp = compare(Moments(1000, 300), Moments(1000, 310), relative=False)
    money = economics(comp, 500.0)
    assert comp.ci_low < 0 < comp.effect
    assert money.cost_per_retained_ci_high == math.inf
    assert "no upper bound (Fieller)" in money.reason and "no value per retained user" in money.reason
    assert math.isnan(money.roi)


def test_negative_uplift_has_no_cost_per_retained_user() -> None:
    money = economics(compare(Moments(5000, 1500), Moments(5000, 1300), relative=False), 500.0)
    assert math.isnan(money.cost_per_retained) and "retained no extra users" in money.reason


def test_economics_rejects_relative_comparisons() -> None:
    with pytest.raises(StatsError, match="relative=False"):
        economics(compare(Moments(100, 30), Moments(100, 33)), 10.0)


def test_moments_pool_with_plus() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(3, 1, 300)
    a, b = x[:100], x[100:]
    pooled = Moments(100, a.sum(), (a**2).sum()) + Moments(200, b.sum(), (b**2).sum())
    assert pooled.mean == pytest.approx(x.mean()) and pooled.variance == pytest.approx(x.var(ddof=1))
    assert (Moments(10, 3) + Moments(10, 5)).variance == pytest.approx(0.4 * 0.6)  # binary: p(1-p)


def test_moment_validation_names_the_problem() -> None:
    with pytest.raises(StatsError, match="0 <= sum <= n"):
        Moments(10, 11)
    with pytest.raises(StatsError, match="both pre_sum and pre_post_sum"):
        Moments(10, 5.0, 30.0, pre_sum=4.0)
    with pytest.raises(StatsError, match="needs pre-period data"):
        compare(Moments(10, 5.0, 30.0), Moments(10, 6.0, 40.0), cuped=True)


def test_ratio_moments_delta_variance_matches_linearisation() -> None:
    # delta method: Var(M/D) per unit = Var(M - r D) / mean(D)^2 with r = sum(M)/sum(D) (Deng et al. 2018)
    rng = np.random.default_rng(2)
    d = rng.poisson(3, 500) + 1.0
    m = d * rng.gamma(2, 5, 500)
    ratio = RatioMoments(500, m.sum(), (m**2).sum(), d.sum(), (d**2).sum(), (m * d).sum())
    r = m.sum() / d.sum()
    assert ratio.mean == pytest.approx(r)
    assert ratio.variance == pytest.approx((m - r * d).var(ddof=1) / d.mean() ** 2)


@pytest.mark.parametrize("higher_is_better, treatment_sum, verdict", [
    (True, 2_000, "fail"),   # rate 0.30 -> 0.20: clearly worse
    (True, 2_980, "warn"),   # slightly worse, not significant
    (True, 3_300, "pass"),
    (False, 3_300, "fail"),  # e.g. unsubscribe rate up
    (False, 2_000, "pass"),
])
def test_guardrail_verdicts(higher_is_better: bool, treatment_sum: int, verdict: str) -> None:
    comp = compare(Moments(10_000, 3_000), Moments(10_000, treatment_sum))
    assert guardrail_verdict(comp, higher_is_better) == verdict


def test_guardrail_undefined_without_estimate() -> None:
    assert guardrail_verdict(compare(Moments(10, 0), Moments(10, 2))) == "undefined"


def test_free_treatment_with_uncertain_uplift_has_no_cost_per_retained_user():
    # Nothing spent and an uplift interval reaching 0: "0 per retained user" would be a plausible fake.
    from stats import Moments, compare, economics

    flat = compare(Moments(1000, 300), Moments(1000, 305), relative=False)
    assert flat.ci_low < 0
    money = economics(flat, 0.0)
    assert math.isnan(money.cost_per_retained) and "nothing was spent" in money.reason
    sure = compare(Moments(1000, 300), Moments(1000, 400), relative=False)
    assert economics(sure, 0.0).cost_per_retained == 0.0


def test_an_unknown_cost_leaves_every_cost_field_nan_with_a_reason() -> None:
    # total_cost=None: the cost was not given, which is not "nothing was spent" (that reads 0.0 per retained user).
    sure = compare(Moments(1000, 300), Moments(1000, 400), relative=False)
    money = economics(sure, None, value_per_retained=50.0)
    assert money.incremental_retained == pytest.approx(100.0)  # 1,000 x 0.10, by hand: no cost needed
    for name in ("total_cost", "cost_per_retained", "cost_per_retained_ci_low", "cost_per_retained_ci_high",
                 "incremental_margin", "roi", "break_even_uplift"):
        assert math.isnan(getattr(money, name)), name
    assert money.reason == "no cost given: cost per retained user, margin, ROI and break-even need one"
