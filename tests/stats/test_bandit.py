"""stats.bandit: the stratified combination (against the plain estimate, a hand-worked Simpson's paradox and
stats.compare), Thompson weights on net value (control share, floor, cost-awareness, determinism), burn-in and SRM."""
from __future__ import annotations

import math

import numpy as np
import pytest

from stats import Moments, compare, srm
from stats.bandit import (
    burn_in_weights,
    combined_effects,
    floored_weights,
    net_values,
    period_srm,
    stratified_means,
    thompson_weights,
    winner,
)
from stats.errors import StatsError


def binary(n: int, retained: int) -> Moments:
    return Moments(n, float(retained))


def test_constant_weights_give_the_plain_estimate_exactly_when_every_period_splits_alike() -> None:
    # Three periods with the same 1:2 split in each: the stratified means are the pooled means exactly
    # (Σ_p (N_p/N) s_pk/n_pk = Σ_p s_pk / n_k when n_pk / N_p is the same in every period).
    cells = [[binary(100, 30), binary(200, 80)], [binary(300, 60), binary(600, 150)], [binary(50, 20), binary(100, 45)]]
    strat = stratified_means(cells)
    assert strat.means[0] == pytest.approx((30 + 60 + 20) / 450, rel=1e-12)
    assert strat.means[1] == pytest.approx((80 + 150 + 45) / 900, rel=1e-12)
    assert strat.shares == pytest.approx((300 / 1350, 900 / 1350, 150 / 1350))
    assert strat.n == (450, 900) and strat.dropped == ()


def test_one_period_gives_compare_s_effect_and_standard_error() -> None:
    control, treatment = binary(1000, 250), binary(800, 260)
    (effect,) = combined_effects([[control, treatment]], control=0)
    plain = compare(control, treatment, relative=False)
    assert effect.effect == pytest.approx(plain.effect, rel=1e-12)
    assert effect.std_error == pytest.approx(plain.std_error, rel=1e-12)
    # Normal interval (z = 1.959964 for 95%), against compare's Welch t: nearly the same at these sizes.
    assert effect.ci_low == pytest.approx(effect.effect - 1.959963984540054 * effect.std_error, rel=1e-12)
    assert effect.ci_low == pytest.approx(plain.ci_low, rel=1e-3)


def test_stratification_undoes_simpson_s_paradox() -> None:
    # Period 1: easy users (70% retained whatever the arm), weights 50/50. Period 2: hard users (10% retained),
    # the bandit gave the treatment 90%. Truth: no effect in either period. Pooled, the treatment looks worse
    # (more of its users are hard ones): 0.1 x 900 + 0.7 x 500 = 440 of 1400 against 0.1 x 100 + 0.7 x 500 = 360
    # of 600. Stratified by period it is exactly 0.
    cells = [[binary(500, 350), binary(500, 350)], [binary(100, 10), binary(900, 90)]]
    pooled = 440 / 1400 - 360 / 600
    assert pooled == pytest.approx(-0.2857142857, rel=1e-9)
    (effect,) = combined_effects(cells, control=0)
    assert effect.effect == pytest.approx(0.0, abs=1e-15)
    # Its variance: Σ s_p² (p(1-p)/n_c + p(1-p)/n_t), with s = (1000/2000, 1000/2000).
    expected = 0.25 * (0.21 / 500 + 0.21 / 500) + 0.25 * (0.09 / 100 + 0.09 / 900)
    assert effect.std_error == pytest.approx(math.sqrt(expected), rel=1e-12)


def test_a_period_where_an_arm_has_nobody_is_left_out_and_named() -> None:
    cells = [[binary(100, 30), binary(0, 0)], [binary(100, 30), binary(100, 40)]]
    strat = stratified_means(cells)
    assert strat.dropped == (0,) and strat.shares == (0.0, 1.0) and strat.n == (100, 100)
    (effect,) = combined_effects(cells, control=0)
    assert effect.effect == pytest.approx(0.10)
    (empty,) = combined_effects([[binary(0, 0), binary(10, 3)]], control=0)
    assert math.isnan(empty.effect) and empty.reason == "undefined: no period has users in every arm"


def test_burn_in_and_floored_weights() -> None:
    assert burn_in_weights(4, 0, 0.2) == pytest.approx((0.2, 0.8 / 3, 0.8 / 3, 0.8 / 3))
    weights = floored_weights([0.0, 1.0, 0.0, 0.0], control=0, control_share=0.2, floor=0.05)
    assert weights == pytest.approx((0.2, 0.05 + 0.65, 0.05, 0.05))
    assert sum(floored_weights([0.0, 0.3, 0.3, 0.4], 0, 0.25, 0.1)) == pytest.approx(1.0)
    with pytest.raises(StatsError, match="floors"):
        floored_weights([0.0, 0.5, 0.5], control=0, control_share=0.5, floor=0.3)
    with pytest.raises(StatsError, match="control_share"):
        burn_in_weights(3, 0, 1.0)


def test_thompson_keeps_the_control_share_and_the_floor_and_favours_the_best_net_value() -> None:
    cells = [[binary(2000, 600), binary(2000, 700), binary(2000, 620), binary(2000, 900)]]
    update = thompson_weights(cells, control=0, unit_costs=[0, 1, 1, 1], value_per_retained=100, control_share=0.2,
                              floor=0.05, draws=20_000, seed=1)
    assert update.weights[0] == 0.2 and sum(update.weights) == pytest.approx(1.0)
    assert min(update.weights[1:]) >= 0.05
    assert update.p_best[3] > 0.999 and update.weights[3] == pytest.approx(0.05 + 0.65 * update.p_best[3])
    # Net value against control, posterior mean: 100 x (0.45 - 0.30) - 1 = 14, up to the prior's pull.
    assert update.net_mean[3] == pytest.approx(14.0, abs=0.2)
    again = thompson_weights(cells, control=0, unit_costs=[0, 1, 1, 1], value_per_retained=100, control_share=0.2,
                             floor=0.05, draws=20_000, seed=1)
    assert again == update  # deterministic for a seed


def test_thompson_weighs_cost_a_better_retainer_that_costs_more_than_it_earns_loses() -> None:
    # Arm 1 retains 10 points more than arm 2 but costs 30 more per user; at 100 per retained user that is
    # worth 10, so arm 2 has the higher net value (100 x 0.05 - 1 = 4 against 100 x 0.15 - 31 = -16).
    cells = [[binary(5000, 1500), binary(5000, 2250), binary(5000, 1750)]]
    update = thompson_weights(cells, control=0, unit_costs=[0, 31, 1], value_per_retained=100, control_share=0.3,
                              floor=0.05, seed=2)
    assert update.p_best[2] > 0.999 and update.weights[2] > update.weights[1]
    free = thompson_weights(cells, control=0, unit_costs=[0, 0, 0], value_per_retained=100, control_share=0.3,
                            floor=0.05, seed=2)
    assert free.p_best[1] > 0.999  # without costs the better retainer wins


def test_without_data_every_treatment_is_equally_likely_best() -> None:
    cells = [[binary(0, 0), binary(0, 0), binary(0, 0)]]
    update = thompson_weights(cells, control=0, unit_costs=[0, 1, 1], value_per_retained=50, control_share=0.2,
                              floor=0.05, draws=40_000, seed=3)
    assert update.p_best[1] == pytest.approx(0.5, abs=0.02) and update.weights[0] == 0.2


def test_net_values_and_winner() -> None:
    cells = [[binary(4000, 1200), binary(4000, 1300), binary(4000, 1600)]]
    nets = net_values(cells, value_per_retained=100, unit_costs=[0, 2, 2], control=0)
    assert nets[1].net == pytest.approx(100 * 0.10 - 2)
    assert nets[1].p_best > 0.999 and nets[1].p_holm < 0.05
    assert winner(nets) == 2
    # A/A: identical arms never name a winner here (no significant net value).
    same = [[binary(4000, 1200), binary(4000, 1200), binary(4000, 1201)]]
    assert winner(net_values(same, value_per_retained=100, unit_costs=[0, 0, 0], control=0)) is None


def test_period_srm_checks_each_period_against_its_own_weights() -> None:
    counts = [[200, 400, 400], [200, 700, 100]]
    weights = [[0.2, 0.4, 0.4], [0.2, 0.7, 0.1]]
    p = period_srm(counts, weights)
    assert p == (srm(counts[0], weights[0]), srm(counts[1], weights[1]))
    assert p[1] == pytest.approx(1.0)  # exactly as planned
    # Against the first period's weights the second would be a glaring mismatch.
    assert srm(counts[1], weights[0]) < 1e-10
    assert math.isnan(period_srm([[0, 0]], [[0.5, 0.5]])[0])


def test_stratified_interval_covers_under_drift_and_moving_weights() -> None:
    """Simulated: 2,000 experiments of 4 periods whose base rate drifts and whose treatment share moves with it;
    the 95% interval of the stratified effect covers the true +0.05 in about 95% of them."""
    rng = np.random.default_rng(0)
    base, share = np.array([0.6, 0.4, 0.3, 0.2]), np.array([0.5, 0.7, 0.8, 0.9])
    covered = 0
    for _ in range(2000):
        cells = []
        for b, s in zip(base, share, strict=True):
            n_t = int(1000 * s)
            n_c = 1000 - n_t
            cells.append([binary(n_c, int(rng.binomial(n_c, b))), binary(n_t, int(rng.binomial(n_t, b + 0.05)))])
        (effect,) = combined_effects(cells, control=0)
        covered += effect.ci_low <= 0.05 <= effect.ci_high
    assert 0.93 <= covered / 2000 <= 0.97
