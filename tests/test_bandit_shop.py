"""The simulated bandit (simulator.bandit_shop) and the weekly shop's per-user treatments it needs: the truth it
scores against matches what the shop realizes, the fixed policy never moves, the bandit does, and runs repeat."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.bandit_shop import BanditScenario, run_bandit
from simulator.weekly import WeeklyShop, WeeklyShopConfig

SMALL = BanditScenario(n_users=12_000, users_per_cycle=300, cycles=5, draws=2_000)


def test_set_treatment_and_churn_probability_agree_with_the_realized_churn() -> None:
    """Half of the riskiest users get a hazard cut of 60% for two weeks: the realized two-week churn of each half
    matches the mean of WeeklyShop.churn_probability within 3 standard errors."""
    shop = WeeklyShop(WeeklyShopConfig(n_users=40_000, weeks=3, seed=5))
    flagged = shop.oracle_flags() & ~shop.holdout
    treated = flagged & (np.arange(flagged.size) % 2 == 0)
    shop.set_treatment(flagged, np.where(treated, 0.4, 1.0))
    expected = {"treated": shop.churn_probability(0, 2, 0.4)[treated].mean(),
                "untreated": shop.churn_probability(0, 2, 1.0)[flagged & ~treated].mean()}
    gone: list[np.ndarray] = []
    for _ in range(2):
        gone.append(shop.step(flagged, events=False).churned)
    churned = np.isin(shop.user_ids, np.concatenate(gone))
    for name, group in (("treated", treated), ("untreated", flagged & ~treated)):
        p = expected[name]
        se = np.sqrt(p * (1 - p) / group.sum())
        assert abs(churned[group].mean() - p) < 3 * se, name
    assert expected["treated"] < expected["untreated"]
    with pytest.raises(ValueError, match="outside the shop"):
        shop.churn_probability(2, 2)


def test_the_fixed_split_never_moves_and_the_bandit_starves_the_money_loser() -> None:
    fixed = run_bandit(SMALL, 1, "fixed")
    assert all(w == pytest.approx([0.2, 0.8 / 3, 0.8 / 3, 0.8 / 3]) for w in fixed.weights)
    bandit = run_bandit(SMALL, 1, "bandit")
    # Burn-in (cycle 0) and no outcomes yet (cycle 1: the two-week window has not ended): the equal split.
    assert bandit.weights[0] == fixed.weights[0] and bandit.weights[1] == fixed.weights[1]
    assert all(w[0] == 0.2 and min(w[1:]) >= 0.05 - 1e-12 for w in bandit.weights)
    assert bandit.weights[-1][3] < 0.1  # the call loses money (true net value < 0): down near its floor
    assert bandit.true_net[3] < 0 < min(bandit.true_net[1:3])
    assert 0 < bandit.regret < fixed.regret
    assert run_bandit(SMALL, 1, "bandit") == bandit  # the same seed runs the same way


def test_the_a_a_scenario_has_no_true_effect() -> None:
    null = run_bandit(SMALL.null(), 2, "bandit")
    assert null.true_uplift == [0.0, 0.0, 0.0, 0.0] and null.regret == 0.0
    assert all(e["true_net"] == 0.0 for e in null.estimate)
    assert replace(SMALL, arms=SMALL.null().arms).arms[1].unit_cost == 0.0
