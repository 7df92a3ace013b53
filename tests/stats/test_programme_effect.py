"""Programme against holdout per tier: reference numbers (statsmodels, hand formulas) and coverage by simulation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from stats.errors import StatsError
from stats.programme_effect import GroupTotals, programme_effect, tier_effect, verdict

# 1,000 programme users with 90 churned against 1,000 holdout users with 150 churned.
PROG = GroupTotals(1000, 90, 50_000.0, 4_000_000.0)
HOLD = GroupTotals(1000, 150, 45_000.0, 3_500_000.0)


def test_reduction_and_interval_match_statsmodels_log_ratio() -> None:
    # statsmodels 0.15.0: confint_proportions_2indep(90, 1000, 150, 1000, compare='ratio', method='log')
    # = (0.4690640447064667, 0.7674858136382691); test_proportions_2indep(..., compare='ratio', method='log')
    # .pvalue = 4.76689703546766e-05. The reduction is 1 - ratio: 1 - 0.09 / 0.15 = 0.40.
    effect = tier_effect("high_value", PROG, HOLD)
    assert effect.churn_programme == pytest.approx(0.09)
    assert effect.churn_holdout == pytest.approx(0.15)
    assert effect.reduction == pytest.approx(0.40)
    assert effect.ci_low == pytest.approx(1 - 0.7674858136382691, rel=1e-12)
    assert effect.ci_high == pytest.approx(1 - 0.4690640447064667, rel=1e-12)
    assert effect.p_value == pytest.approx(4.76689703546766e-05, rel=1e-9)
    assert effect.significant


def test_incremental_retained_users_are_the_wald_difference_with_welch_t() -> None:
    # statsmodels 0.15.0: confint_proportions_2indep(90, 1000, 150, 1000, compare='diff', method='wald')
    # = (-0.08836197237593588, -0.03163802762406412), i.e. se = width / (2 x 1.959964). Winback reads the
    # difference as stats.compare does (Welch t, Satterthwaite df from p(1-p)/n per arm), so the half-width is
    # t(0.975, df) x that se; retained = 1000 x (0.15 - 0.09) = 60.
    se = (0.08836197237593588 - 0.03163802762406412) / (2 * sps.norm.ppf(0.975))
    a, b = 0.09 * 0.91 / 1000, 0.15 * 0.85 / 1000
    half = sps.t.ppf(0.975, (a + b) ** 2 / (a**2 / 999 + b**2 / 999)) * se
    effect = tier_effect("high_value", PROG, HOLD)
    assert effect.incremental_retained == pytest.approx(60.0)
    assert effect.incremental_retained_ci_low == pytest.approx(1000 * (0.06 - half), rel=1e-9)
    assert effect.incremental_retained_ci_high == pytest.approx(1000 * (0.06 + half), rel=1e-9)
    assert math.isnan(effect.cost_per_retained) and math.isnan(effect.roi)


def test_cost_per_retained_user_and_roi_from_the_spend() -> None:
    # By hand from stats.money's definitions: 3,000 spent for 60 retained users = 50 each, Fieller bounds
    # 3,000 / the retained bounds; ROI = (200 x 60 - 3,000) / 3,000 = 3.0, its bounds linear in the retained ones.
    effect = tier_effect("high_value", PROG, HOLD, spend=3000.0, value_per_retained=200.0)
    assert effect.spend == 3000.0 and effect.cost_per_retained == pytest.approx(50.0)
    assert effect.cost_per_retained_ci_low == pytest.approx(3000 / effect.incremental_retained_ci_high)
    assert effect.cost_per_retained_ci_high == pytest.approx(3000 / effect.incremental_retained_ci_low)
    assert effect.roi == pytest.approx(3.0)
    assert effect.roi_ci_low == pytest.approx((200 * effect.incremental_retained_ci_low - 3000) / 3000)
    pooled = programme_effect({"high_value": (PROG, HOLD), "regular": (PROG, HOLD)},
                              spend={"high_value": 3000.0, "regular": 1000.0}).overall
    assert pooled.spend == 4000.0 and pooled.cost_per_retained == pytest.approx(4000 / 120)
    with pytest.raises(StatsError, match="spend must name every tier"):
        programme_effect({"high_value": (PROG, HOLD), "regular": (PROG, HOLD)}, spend={"high_value": 1.0})


def test_ltv_change_is_the_delta_method_on_the_ratio_of_means() -> None:
    # By hand from the sums: means 50 and 45, sample variances (4e6 - 50,000^2/1000)/999 = 1501.5015
    # and (3.5e6 - 45,000^2/1000)/999 = 1476.4765; delta method (gbstats' relative effect)
    # Var = v_p/(m_h^2 n_p) + v_h m_p^2/(m_h^4 n_h); Welch-Satterthwaite degrees of freedom for the t quantile.
    v_p, v_h = 1_500_000 / 999, 1_475_000 / 999
    var = v_p / (45**2 * 1000) + v_h * 50**2 / (45**4 * 1000)
    a, b = v_p / 1000, v_h / 1000
    dof = (a + b) ** 2 / (a**2 / 999 + b**2 / 999)
    half = sps.t.ppf(0.975, dof) * math.sqrt(var)
    effect = tier_effect("high_value", PROG, HOLD, ltv_target=0.30)
    assert effect.ltv_change == pytest.approx(50 / 45 - 1)
    assert effect.ltv_ci_low == pytest.approx(50 / 45 - 1 - half, rel=1e-9)
    assert effect.ltv_ci_high == pytest.approx(50 / 45 - 1 + half, rel=1e-9)
    assert effect.ltv_ci_high < 0.30 and effect.ltv_verdict == "off track"
    assert effect.reason == ""


@pytest.mark.parametrize(("low", "high", "target", "expected"), [
    (0.42, 0.60, 0.40, "met"), (0.40, 0.60, 0.40, "met"), (0.10, 0.39, 0.40, "off track"),
    (0.30, 0.50, 0.40, "not shown"), (math.nan, math.nan, 0.40, "not shown"), (0.1, 0.2, None, "no target"),
])
def test_verdict_against_a_target(low: float, high: float, target: float | None, expected: str) -> None:
    assert verdict(low, high, target) == expected


def test_targets_per_tier_and_the_pooled_tier() -> None:
    other_prog, other_hold = GroupTotals(4000, 600, 80_000.0, 3_000_000.0), GroupTotals(4000, 800, 60_000.0, 2e6)
    result = programme_effect({"high_value": (PROG, HOLD), "other": (other_prog, other_hold)},
                              targets={"high_value": 0.40, "other": 0.25}, ltv_target=0.30)
    high, other, pooled = result.tier("high_value"), result.tier("other"), result.overall
    assert high.target == 0.40 and high.verdict == "not shown"  # 0.23 .. 0.53 straddles 0.40
    assert other.reduction == pytest.approx(1 - 0.15 / 0.20)
    # pooled by adding the sums: 690 / 5000 against 950 / 5000
    assert pooled.tier == "all" and pooled.reduction == pytest.approx(1 - 690 / 950)
    assert pooled.verdict == "no target" and math.isnan(pooled.target)
    assert [t["tier"] for t in result.to_dict()["tiers"]] == ["high_value", "other"]


def test_undefined_values_are_nan_with_a_reason() -> None:
    none_churned = tier_effect("x", GroupTotals(100, 5), GroupTotals(100, 0))
    assert math.isnan(none_churned.reduction) and none_churned.verdict == "no target"
    assert "no holdout user churned" in none_churned.reason
    empty = tier_effect("x", GroupTotals(0, 0), GroupTotals(100, 10))
    assert math.isnan(empty.reduction) and math.isnan(empty.ltv_change) and "no users" in empty.reason
    all_churned = tier_effect("x", GroupTotals(40, 40), GroupTotals(30, 30))
    assert all_churned.reduction == 0.0 and math.isnan(all_churned.ci_low) and "every user churned" in all_churned.reason


def test_a_group_where_nobody_or_everybody_churned_gets_the_half_cell_correction() -> None:
    """metafor's escalc(measure="RR") default (add = 1/2 to every cell of a table with a zero cell, to = "only0";
    Viechtbauer 2010): log RR = log(((a+.5)/(n1+1)) / ((c+.5)/(n2+1))), var = 1/(a+.5) - 1/(n1+1) + 1/(c+.5) -
    1/(n2+1); the expected numbers below are that formula with z = 1.959964 (hand-computed, not by this module)."""
    zero_prog = tier_effect("x", GroupTotals(100, 0), GroupTotals(100, 10), target=0.25)
    assert zero_prog.reduction == 1.0 and zero_prog.verdict == "not shown"
    assert (zero_prog.ci_low, zero_prog.ci_high) == pytest.approx((0.19822320565753926, 0.9971718142603456), abs=1e-12)
    assert zero_prog.p_value == pytest.approx(0.03457370805743503, abs=1e-12)
    assert "adds 1/2 to each cell (metafor)" in zero_prog.reason
    # Every holdout user churned (the CLI walk's regular tier): without the correction the holdout's variance is 0
    # and the interval far too narrow; with it the interval is [-1.1%, +3.8%] around the plain +2.1%.
    walk = tier_effect("regular", GroupTotals(577, 565), GroupTotals(62, 62))
    assert walk.reduction == pytest.approx(1 - 565 / 577)
    assert (walk.ci_low, walk.ci_high) == pytest.approx((-0.011362160149679168, 0.03833478915284272), abs=1e-12)
    assert walk.ci_low < walk.reduction < walk.ci_high


def test_bad_inputs_are_named() -> None:
    with pytest.raises(StatsError, match="churned \\(11\\) cannot exceed users \\(10\\)"):
        GroupTotals(10, 11)
    with pytest.raises(StatsError, match="GroupTotals.users must be a whole number"):
        GroupTotals(-1, 0)
    with pytest.raises(StatsError, match="unknown tiers \\['gold'\\]"):
        programme_effect({"high_value": (PROG, HOLD)}, targets={"gold": 0.4})
    with pytest.raises(StatsError, match="reserved"):
        programme_effect({"all": (PROG, HOLD)})


def _draws(p_prog: float, p_hold: float, n_prog: int, n_hold: int, draws: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    churned_prog, churned_hold = rng.binomial(n_prog, p_prog, draws), rng.binomial(n_hold, p_hold, draws)
    intervals = []
    for c_p, c_h in zip(churned_prog, churned_hold, strict=True):
        effect = tier_effect("t", GroupTotals(n_prog, int(c_p)), GroupTotals(n_hold, int(c_h)))
        intervals.append((effect.ci_low, effect.ci_high))
    return intervals


def test_interval_covers_the_true_reduction_in_about_95_percent_of_draws() -> None:
    # True reduction 1 - 0.12/0.20 = 0.40 with a 10% holdout (9,000 vs 1,000 users); 2,000 draws, seed 7.
    # Binomial sd of the coverage at 0.95 over 2,000 draws is 0.0049: accept 0.935 .. 0.965 (about 3 sd).
    intervals = _draws(0.12, 0.20, 9000, 1000, 2000, seed=7)
    coverage = np.mean([low <= 0.40 <= high for low, high in intervals])
    assert 0.935 <= coverage <= 0.965, coverage


def test_a_zero_effect_is_flagged_in_about_5_percent_of_draws() -> None:
    # No effect (0.15 in both groups); the two-sided 95% interval should exclude 0 in about 5% of draws
    # (binomial sd 0.0049 over 2,000 draws: accept 0.035 .. 0.065).
    intervals = _draws(0.15, 0.15, 9000, 1000, 2000, seed=11)
    flagged = np.mean([low > 0 or high < 0 for low, high in intervals])
    assert 0.035 <= flagged <= 0.065, flagged


def test_the_detectable_reduction_is_the_one_the_groups_show_at_80_percent_power() -> None:
    """Round trip through statsmodels (the power of the arcsine test at the returned rates is 0.80), and by
    simulation: the report's own log-ratio interval excludes 0 in about 80% of draws at that reduction."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    from stats.programme_effect import detectable_reduction

    n_prog, n_hold, p0 = 2486, 591, 0.574  # the weekly shop's regular tier (docs/programme_end_to_end.md, seed 0)
    r = detectable_reduction(n_prog, n_hold, p0)
    p1 = p0 * (1 - r)
    power = NormalIndPower().power(proportion_effectsize(p0, p1), nobs1=n_hold, alpha=0.05, ratio=n_prog / n_hold)
    assert power == pytest.approx(0.8, abs=1e-6)  # solve_power stops within about 1e-7
    rng = np.random.default_rng(11)
    a, c = rng.binomial(n_prog, p1, 20_000), rng.binomial(n_hold, p0, 20_000)
    # The report's interval (the log-ratio Wald interval, checked against statsmodels above), vectorized over draws.
    upper_log_rr = np.log((a / n_prog) / (c / n_hold)) + 1.959964 * np.sqrt(1 / a - 1 / n_prog + 1 / c - 1 / n_hold)
    assert 0.78 <= np.mean(upper_log_rr < 0) <= 0.82
    one = tier_effect("regular", GroupTotals(n_prog, int(a[0])), GroupTotals(n_hold, int(c[0])))
    assert (one.ci_low > 0) == (upper_log_rr[0] < 0)
    assert tier_effect("x", GroupTotals(n_prog, 1000), GroupTotals(n_hold, 339)).detectable_reduction == pytest.approx(
        detectable_reduction(n_prog, n_hold, 339 / n_hold))
    assert math.isnan(detectable_reduction(0, 10, 0.5)) and math.isnan(detectable_reduction(10, 10, 1.0))
    assert detectable_reduction(3, 3, 0.05) == 1.0  # a tiny holdout with rare churn: not even no churn is enough
