"""How sure a fit's choice and forecast are: the precision of the forecast, the experiment size a ±15 % forecast
takes, and which candidates tie with the chosen one."""
from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.weightstats import DescrStatsW

from uplift.choice_notes import forecast_precision, precision_note, tie_note
from uplift.policy_value import interval


def _estimate(value: float, low: float, high: float) -> dict:
    return {"policy": "chosen plan, nested", "estimator": "dr", "value_per_user": value, "ci_low": low,
            "ci_high": high, "n": 40_000}


def test_the_users_needed_for_a_15_percent_forecast_grow_with_the_square_of_the_relative_width() -> None:
    precision = forecast_precision(_estimate(0.020, 0.011, 0.029))  # ±0.009 on 0.020: ±45 %
    assert precision is not None
    assert precision.relative_half_width == pytest.approx(0.45)
    assert precision.users_factor == pytest.approx(9.0)  # (0.45 / 0.15)² = 9: n = (z·σ / E)² with E a third of today's
    assert not precision.within_target and not precision.covers_zero
    assert precision_note(precision) == (
        "the forecast is ±45% (95%), wider than ±15%: what happens may differ from it by that much; a forecast within "
        "±15% needs about 9.0x this experiment's users in every arm")


def test_the_factor_is_what_a_bigger_experiment_really_reaches() -> None:
    # Simulated per-user DR terms: the 95 % half-width at n users, then at n × factor users, is the target share
    # of the mean. The interval is checked against statsmodels' z interval of the same terms.
    rng = np.random.default_rng(3)
    terms = rng.normal(0.02, 1.0, 20_000)
    estimate = interval("plan", "dr", terms, 0.05)
    low, high = DescrStatsW(terms).zconfint_mean(alpha=0.05)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), rel=1e-9)
    precision = forecast_precision(estimate.to_dict(), target=0.15)
    assert precision is not None and precision.users_factor > 1
    n_needed = int(math.ceil(len(terms) * precision.users_factor))
    half_then = 1.959964 * terms.std(ddof=1) / math.sqrt(n_needed)
    assert half_then / abs(estimate.value_per_user) == pytest.approx(0.15, rel=1e-3)


def test_a_forecast_within_the_target_says_nothing_and_one_that_includes_zero_says_so() -> None:
    precise = forecast_precision(_estimate(0.040, 0.036, 0.044))
    assert precise is not None and precise.within_target and precise.users_factor == 1.0
    assert precision_note(precise) is None
    around_zero = forecast_precision(_estimate(0.002, -0.004, 0.008))
    assert around_zero is not None and around_zero.covers_zero
    note = precision_note(around_zero)
    assert note is not None and note.startswith("the forecast's 95% interval includes 0")


@pytest.mark.parametrize("stored", [{}, {"value_per_user": None}, _estimate(math.nan, 0.0, 1.0),
                                    _estimate(0.01, 0.02, 0.0)])
def test_a_forecast_without_a_finite_interval_has_no_precision(stored: dict) -> None:
    assert forecast_precision(stored) is None
    assert precision_note(None) is None


def test_a_zero_forecast_needs_more_users_than_any_number() -> None:
    precision = forecast_precision(_estimate(0.0, -0.01, 0.01))
    assert precision is not None and precision.relative_half_width == math.inf and precision.users_factor == math.inf


def test_the_tie_note_names_the_tied_candidates_and_says_how_many_of_the_others_they_are() -> None:
    assert tie_note("s", [], 10) is None
    assert tie_note("s", ["logit", "s_coarse"], 10) == (
        "the experiment cannot tell s's plan from 2 of the 9 other candidates (logit, s_coarse): the 95% interval of "
        "each paired gap covers 0, so which of them is kept is close to a coin toss; the forecast is made on users "
        "the choice did not see, so it does not carry the winner's luck")
    many = tie_note("s", ["a", "b", "c", "d", "e", "f"], 7)
    assert many is not None and "from every other candidate (a, b, c, d and 2 more)" in many
