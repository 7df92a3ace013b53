"""The demo experiment's true effects and simulated outcomes follow docs in notes/demo_contract.md."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator.experiment import (
    DEMO_ARMS,
    DEMO_METRICS,
    DEMO_TREATMENTS,
    simulate_deliveries,
    simulate_outcomes,
    true_uplift,
)
from uplift.errors import UpliftError


def make_users(n: int, seed: int = 0) -> pd.DataFrame:
    """A users frame with the demo shop contract's columns (traits uniform, heavy-tailed value)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": [f"{i:07d}" for i in range(n)],
            "signup_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D"),
            "price_sensitivity": rng.random(n),
            "service_unhappy": rng.random(n),
            "needs_changed": rng.random(n),
            "monthly_value": rng.lognormal(5.0, 1.0, n),
            "p_churn": rng.uniform(0.05, 0.95, n),
            "true_reason": rng.choice(["none", "price_sensitive", "unhappy_service", "needs_changed"], n),
        }
    )


def assign(users: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    arms = [a for a, _, _, _ in DEMO_ARMS]
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"user_id": users["user_id"], "arm_key": rng.choice(arms, len(users))})


def test_catalog_matches_contract():
    # The contract (notes/demo_contract.md) names these four treatments, one control and three metrics.
    assert list(DEMO_TREATMENTS["key"]) == ["coupon_10", "vip_care", "reco_email", "care_content"]
    assert [a[0] for a in DEMO_ARMS if a[3]] == ["control"]
    assert {a[1] for a in DEMO_ARMS if not a[3]} == set(DEMO_TREATMENTS["key"])
    assert sum(a[2] for a in DEMO_ARMS) == pytest.approx(1.0)
    assert [m[0] for m in DEMO_METRICS] == ["retained", "revenue", "unsubscribed"]


def test_true_uplift_is_heterogeneous_and_keeps_probabilities_valid():
    users = make_users(5000)
    truth = true_uplift(users)
    assert list(truth.columns) == ["user_id", *DEMO_TREATMENTS["key"]]
    p_retained = 1 - users["p_churn"].to_numpy()[:, None] + truth.iloc[:, 1:].to_numpy()
    assert p_retained.min() >= 0 and p_retained.max() <= 1
    # Coupon helps the price-sensitive far more than the rest (the contract's design).
    sensitive = users["price_sensitivity"] > 0.8
    assert truth.loc[sensitive, "coupon_10"].mean() > 3 * truth.loc[~sensitive, "coupon_10"].mean()
    # VIP care helps unhappy high-value users most.
    vip_target = (users["service_unhappy"] > 0.8) & (users["monthly_value"] > 500)
    assert truth.loc[vip_target, "vip_care"].mean() > 2 * truth["vip_care"].mean()
    # Recommendations help users whose needs changed.
    drifted = users["true_reason"] == "needs_changed"
    assert truth.loc[drifted, "reco_email"].mean() > 3 * truth.loc[~drifted, "reco_email"].mean()
    # Some treatments hurt some users.
    assert (truth["care_content"] < 0).any() and (truth["coupon_10"] < 0).any()


def test_retention_per_arm_matches_truth():
    users = make_users(40_000)
    assignments = assign(users)
    outcomes = simulate_outcomes(users, assignments, seed=3)
    assert len(outcomes) == 4 * len(users)
    retained = outcomes[outcomes["metric"] == "retained"].set_index("user_id")["value"]
    truth = true_uplift(users).set_index("user_id")
    p = 1 - users.set_index("user_id")["p_churn"]
    arm = assignments.set_index("user_id")["arm_key"]
    for arm_key, treatment, _, _ in DEMO_ARMS:
        ids = arm.index[arm == arm_key]
        expected = (p[ids] + (truth.loc[ids, treatment] if treatment else 0)).mean()
        observed = retained[ids].mean()
        # Binomial standard error sqrt(p(1-p)/n) with n ~ 8,000: 4 SE is about 0.022.
        assert abs(observed - expected) < 4 * np.sqrt(0.25 / len(ids))


def test_outcomes_are_reproducible_and_shaped_for_import():
    users = make_users(500)
    assignments = assign(users)
    first = simulate_outcomes(users, assignments, seed=11)
    pd.testing.assert_frame_equal(first, simulate_outcomes(users, assignments, seed=11))
    assert list(first.columns) == ["user_id", "metric", "period", "value", "observed_at"]
    assert set(zip(first["metric"], first["period"])) == {
        ("retained", "post"), ("revenue", "pre"), ("revenue", "post"), ("unsubscribed", "post")
    }
    post_revenue = first[(first["metric"] == "revenue") & (first["period"] == "post")].set_index("user_id")
    kept = first[first["metric"] == "retained"].set_index("user_id")["value"]
    assert (post_revenue.loc[kept.index[kept == 0], "value"] == 0).all()
    assert first.loc[first["period"] == "post", "observed_at"].iloc[0] == "2026-08-29T00:00:00.000000Z"


def test_deliveries_one_per_treated_user_at_unit_cost():
    users = make_users(1000)
    assignments = assign(users)
    deliveries = simulate_deliveries(assignments, seed=5)
    treated = assignments[assignments["arm_key"] != "control"]
    assert len(deliveries) == len(treated)
    assert list(deliveries["user_id"]) == list(treated["user_id"])
    costs = DEMO_TREATMENTS.set_index("key")["unit_cost"]
    assert (deliveries["cost"].to_numpy() == costs[deliveries["treatment_key"]].to_numpy()).all()
    assert deliveries["sent_at"].str.startswith("2026-06-30T").all()


def test_unknown_arm_and_missing_column_are_clear_errors():
    users = make_users(10)
    bad = pd.DataFrame({"user_id": ["0000001"], "arm_key": ["free_gift"]})
    with pytest.raises(UpliftError, match="unknown arm\\(s\\) free_gift in assignments; the demo arms are control"):
        simulate_outcomes(users, bad, seed=1)
    with pytest.raises(UpliftError, match="users frame lacks column\\(s\\) p_churn"):
        true_uplift(users.drop(columns="p_churn"))


def test_runs_on_the_demo_shop_users():
    # The contract's users frame (simulator/shop.py, owned by the churn engineer) feeds true_uplift directly.
    from simulator.shop import generate_shop

    users = generate_shop(2000, seed=3).users
    truth = true_uplift(users)
    assert len(truth) == len(users) and truth["user_id"].equals(users["user_id"])
    outcomes = simulate_outcomes(users, assign(users), seed=4)
    assert set(outcomes["metric"]) == {"retained", "revenue", "unsubscribed"}
