"""Published numbers (shared/REFERENCES.md) and peer libraries (statsmodels, R) for every stats method."""
from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.weightstats import ttest_ind

from stats import Moments, compare


def from_mean_var(n: int, mean: float, var: float) -> Moments:
    """Moments from n, mean and sample variance (ddof=1), the form gbstats' tests state them in."""
    return Moments(n, n * mean, var * (n - 1) + n * mean**2)


WELCH_C, WELCH_T = from_mean_var(3407, 0.41, 15.21), from_mean_var(3461, 0.70, 38.44)
BAYES_C, BAYES_T = from_mean_var(10, 10.0, 0.25), from_mean_var(10, 10.5, 1.0)


def check(result, **expected: float) -> None:
    for field, value in expected.items():
        assert getattr(result, field) == pytest.approx(value, abs=1e-5), field


def test_welch_relative() -> None:
    # REFERENCES.md "Welch, relative" (gbstats tests): effect 0.70732, CI (-0.03526, 1.44989), p 0.06191
    check(compare(WELCH_C, WELCH_T), effect=0.70732, ci_low=-0.03526, ci_high=1.44989, p_value=0.06191)


def test_welch_absolute() -> None:
    # REFERENCES.md "Welch, absolute": effect 0.29, CI (0.04538, 0.53462), p 0.02016
    check(compare(WELCH_C, WELCH_T, relative=False), effect=0.29, ci_low=0.04538, ci_high=0.53462, p_value=0.02016)


def test_binomial_relative() -> None:
    # REFERENCES.md "binomial, relative": 14/28 vs 16/30 -> effect 0.06667, CI (-0.47767, 0.61101), p 0.80707
    check(compare(Moments(28, 14), Moments(30, 16)), effect=0.06667, ci_low=-0.47767, ci_high=0.61101,
          p_value=0.80707)


def test_sequential_relative() -> None:
    # REFERENCES.md "sequential, tuning 5000, relative": 1396/3000 vs 2422/3461 -> 0.50386, CI (0.40098, 0.60675)
    result = compare(Moments(3000, 1396), Moments(3461, 2422), method="sequential", tuning=5000)
    check(result, effect=0.50386, ci_low=0.40098, ci_high=0.60675)
    assert result.p_value < 1e-10  # an effect 15 standard errors from 0


def test_bayesian_flat_prior() -> None:
    # REFERENCES.md "Bayesian, flat prior": effect 0.05, CI (-0.02, 0.12), ctw 0.91923, risk [0.05131, 0.00131]
    result = compare(BAYES_C, BAYES_T, method="bayesian")
    check(result, effect=0.05, ci_low=-0.02, ci_high=0.12, chance_to_win=0.91923, risk_control=0.05131, risk=0.00131)
    assert math.isnan(result.p_value) and "no p-value" in result.reason


def test_bayesian_binomial() -> None:
    # REFERENCES.md "Bayesian binomial, flat prior": 49/100 vs 51/100 -> 0.04082, CI (-0.24779, 0.32943), ctw 0.60918
    check(compare(Moments(100, 49), Moments(100, 51), method="bayesian"),
          effect=0.04082, ci_low=-0.24779, ci_high=0.32943, chance_to_win=0.60918)


def test_bayesian_proper_prior() -> None:
    # REFERENCES.md "Bayesian, proper prior N(0.1, 0.1)": 0.05063, CI (-0.01893, 0.12019), ctw 0.92315
    check(compare(BAYES_C, BAYES_T, method="bayesian", prior_mean=0.1, prior_variance=0.1),
          effect=0.05063, ci_low=-0.01893, ci_high=0.12019, chance_to_win=0.92315)


def test_absolute_welch_matches_statsmodels_ttest_ind() -> None:
    # peer: statsmodels ttest_ind(usevar="unequal") on the raw users must equal the sums-only answer
    rng = np.random.default_rng(7)
    x, y = rng.gamma(2.0, 3.0, 800), rng.gamma(2.2, 3.0, 950)
    _, p_value, _ = ttest_ind(y, x, usevar="unequal")
    result = compare(Moments(len(x), x.sum(), (x**2).sum()), Moments(len(y), y.sum(), (y**2).sum()), relative=False)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.effect == pytest.approx(y.mean() - x.mean(), rel=1e-12)


def test_frequentist_fields_bayesian_only_are_nan_with_reason() -> None:
    result = compare(WELCH_C, WELCH_T)
    assert math.isnan(result.chance_to_win) and math.isnan(result.risk)
    assert "Bayesian only" in result.reason


def test_zero_control_mean_is_undefined_not_fake() -> None:
    result = compare(Moments(100, 0), Moments(100, 3))
    assert math.isnan(result.effect) and math.isnan(result.p_value)
    assert "control mean is 0" in result.reason
    assert compare(Moments(100, 0), Moments(100, 3), relative=False).effect == pytest.approx(0.03)


def test_cuped_shrinks_the_interval_for_correlated_pre_period() -> None:
    # CUPED variance = Var(post)(1 - rho^2) for the pooled theta; with rho ~ 0.8 the CI must shrink
    rng = np.random.default_rng(3)
    arms = []
    for lift in (0.0, 0.5):
        pre = rng.normal(10, 3, 2000)
        post = 0.8 * pre + rng.normal(2 + lift, 1.8, 2000)
        arms.append(Moments(2000, post.sum(), (post**2).sum(), pre.sum(), (pre**2).sum(), (pre * post).sum()))
    plain, adjusted = compare(*arms), compare(*arms, cuped=True)
    assert adjusted.cuped and adjusted.theta == pytest.approx(0.8, abs=0.05)
    assert (adjusted.ci_high - adjusted.ci_low) < 0.7 * (plain.ci_high - plain.ci_low)
