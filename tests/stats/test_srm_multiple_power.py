"""SRM, multiple-testing adjustment and power against published numbers (REFERENCES.md, R docs)."""
from __future__ import annotations

import math

import pytest

from stats import (
    StatsError,
    adjust_p_values,
    duration_days,
    minimum_detectable_effect,
    proportion_power,
    sample_size,
    srm,
    srm_flagged,
)


@pytest.mark.parametrize("counts, weights, expected", [
    # REFERENCES.md "SRM" (GrowthBook packages/back-end/test/stats.test.ts)
    ([1000, 1200], [0.5, 0.5], 0.000020079),
    ([135, 115], [0.5, 0.5], 0.205903211),
    ([310, 98], [0.75, 0.25], 0.647434186),
    ([500, 500, 600], [0.34, 0.33, 0.33], 0.000592638),
])
def test_srm_matches_growthbook(counts, weights, expected) -> None:
    assert srm(counts, weights) == pytest.approx(expected, abs=1e-9)
    assert srm_flagged(srm(counts, weights)) == (expected < 0.001)


def test_srm_without_units_is_nan_and_bad_weights_raise() -> None:
    assert math.isnan(srm([0, 0], [1, 1]))
    with pytest.raises(StatsError, match="weights must be > 0"):
        srm([10, 10], [1, 0])


def test_holm_and_bh_match_growthbook() -> None:
    # REFERENCES.md "Multiple testing", GrowthBook packages/shared/test/experiments.test.ts
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005, 0.55, 0.6], "holm") == pytest.approx(
        [0.05, 0.12, 0.12, 0.03, 1, 1])
    assert adjust_p_values([0.898, 0.138, 0.007, 0.964, 0.538, 0.006, 0.138], "bh") == pytest.approx(
        [0.964, 0.2415, 0.0245, 0.964, 0.7532, 0.0245, 0.2415])


def test_holm_and_bh_match_tea_tasting() -> None:
    # REFERENCES.md "Multiple testing", tea-tasting tests/test_multiplicity.py
    p = [0.005, 0.06, 0.007, 0.04, 0.01, 0.03]
    assert adjust_p_values(p, "bh") == pytest.approx([0.02, 0.06, 0.02, 0.048, 0.02, 0.045])
    assert adjust_p_values(p, "holm") == pytest.approx([0.03, 0.09, 0.035, 0.09, 0.04, 0.09])


def test_holm_and_bh_equal_statsmodels_to_the_bit() -> None:
    """stats.multiple reproduces statsmodels' multipletests (the source of the numbers before issue 24), ties included."""
    import numpy as np
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(24)
    for size in (1, 2, 3, 7, 12, 40):
        for p in (rng.random(size), np.round(rng.random(size), 1), rng.random(size) ** 8):
            for ours, theirs in (("holm", "holm"), ("bh", "fdr_bh")):
                assert adjust_p_values(list(p), ours) == [float(v) for v in multipletests(p, method=theirs)[1]]


def test_nan_p_values_are_left_out_of_the_family() -> None:
    adjusted = adjust_p_values([0.01, math.nan, 0.04], "holm")
    assert math.isnan(adjusted[1]) and adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)


def test_power_prop_test_numbers() -> None:
    # R documentation examples of power.prop.test (stats package):
    #   power.prop.test(n = 50, p1 = .50, p2 = .75)     => power = 0.740
    #   power.prop.test(p1 = .50, p2 = .75, power = .90) => n = 76.7
    #   power.prop.test(n = 50, p1 = .5, power = .90)    => p2 = 0.8026
    assert proportion_power(50, 0.5, 0.75) == pytest.approx(0.7401659, abs=1e-6)
    plan = sample_size(0.5, 0.25, relative=False, power=0.9)
    assert plan.n_control_exact == pytest.approx(76.7, abs=0.05) and plan.n_control == 77
    assert 0.5 + minimum_detectable_effect(0.5, 50, power=0.9).mde_absolute == pytest.approx(0.8026, abs=1e-4)


def test_continuous_sample_size_matches_tea_tasting() -> None:
    # REFERENCES.md "Power" (tea-tasting tests/metrics/test_mean.py): mean 0.47, variance 0.6556565657,
    # alpha 0.05, power 0.8 -> 8236 observations in total. 8236 is reached for an effect of 0.05 in
    # absolute terms (0.05 / 0.47 = 10.6% relative); a 5% relative effect would need 37,278.
    plan = sample_size(0.47, 0.05, variance=0.6556565657, relative=False, daily_traffic=1000)
    assert plan.n_total == 8236 and plan.days == 9
    assert sample_size(0.47, 0.05, variance=0.6556565657).n_total == 37278
    assert minimum_detectable_effect(0.47, 4118, variance=0.6556565657).mde_absolute == pytest.approx(0.05, abs=1e-4)


def test_duration_rounds_up_whole_days() -> None:
    assert duration_days(1001, 100) == 11
    with pytest.raises(StatsError, match="daily_traffic must be > 0"):
        duration_days(10, 0)
