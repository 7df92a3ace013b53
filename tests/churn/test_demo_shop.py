"""The demo shop honours its contract (docs in /work/notes/demo_contract.md) and its churn truth is real."""
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from simulator.shop import DEMO_EVENT_TYPES, DemoShop, generate_shop, simulate
from warehouse.event_vocabulary import EVENT_TYPES

USER_COLUMNS = ["user_id", "signup_date", "price_sensitivity", "service_unhappy", "needs_changed",
                "monthly_value", "p_churn", "true_reason"]


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return generate_shop(3_000, seed=11, as_of="2026-06-30", horizon_days=60)


def test_contract_columns_and_types(shop):
    assert list(shop.users.columns[: len(USER_COLUMNS)]) == USER_COLUMNS
    assert list(shop.events.columns) == ["user_id", "event_type", "ts", "amount", "item", "category", "channel"]
    assert shop.users["user_id"].str.fullmatch(r"\d{7}").all()
    assert shop.users["user_id"].iloc[42] == "0000042"
    assert shop.users["user_id"].is_unique
    assert pd.api.types.is_datetime64_any_dtype(shop.users["signup_date"])
    assert pd.api.types.is_datetime64_any_dtype(shop.events["ts"])
    for trait in ("price_sensitivity", "service_unhappy", "needs_changed", "p_churn"):
        assert shop.users[trait].between(0, 1).all(), trait
    assert set(shop.users["true_reason"]) == {"price_sensitive", "unhappy_service", "needs_changed", "none"}
    assert shop.as_of == pd.Timestamp("2026-06-30") and shop.horizon_days == 60
    assert set(shop.events["user_id"]) <= set(shop.users["user_id"])


def test_twenty_plus_event_types_all_present(shop):
    assert DEMO_EVENT_TYPES == EVENT_TYPES
    assert len(DEMO_EVENT_TYPES) >= 20
    assert set(shop.events["event_type"]) == set(DEMO_EVENT_TYPES)


def test_no_event_after_as_of_and_history_spans_months(shop):
    assert shop.events["ts"].max() <= shop.as_of
    assert shop.events["ts"].min() >= shop.as_of - pd.Timedelta(days=540)


def test_amounts_are_money_on_orders_and_zero_where_not_applicable(shop):
    ev = shop.events
    assert (ev["amount"] >= 0).all()
    assert (ev.loc[ev.event_type == "order", "amount"] > 0).all()
    assert (ev.loc[ev.event_type.isin(["login", "session_start", "push_open", "complaint"]), "amount"] == 0).all()
    stars = ev.loc[ev.event_type == "rating", "amount"]
    assert stars.between(1, 5).all()


def test_same_seed_same_shop_other_seed_other_shop():
    a, b, c = generate_shop(500, seed=3), generate_shop(500, seed=3), generate_shop(500, seed=4)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert not a.users["p_churn"].equals(c.users["p_churn"])


def test_high_value_share_near_fifteen_percent(shop):
    # the contract asks for ~15% of users above 500 a month
    assert 0.10 < (shop.users["monthly_value"] > 500).mean() < 0.20


def test_p_churn_matches_the_simulated_future():
    # p_churn is P(no order in the horizon) under the generator: check it against the generator's own future
    users, future = simulate(4_000, seed=5, as_of="2026-06-30", horizon_days=60, extra_days=60)
    order = EVENT_TYPES.index("order")
    after = (future.event_type == order) & (future.ts >= np.datetime64("2026-06-30T00:00:00"))
    ordered = np.zeros(len(users), bool)
    ordered[future.user[after]] = True
    churned = ~ordered
    assert abs(churned.mean() - users["p_churn"].mean()) < 0.03
    assert roc_auc_score(churned, users["p_churn"]) > 0.9


def test_slipping_users_show_their_reason_in_the_events(shop):
    ev = shop.events.merge(shop.users[["user_id", "true_reason"]], on="user_id")
    per_user = ev.groupby("user_id").agg(
        reason=("true_reason", "first"),
        complaints=("event_type", lambda s: (s == "complaint").sum()),
        claims=("event_type", lambda s: (s == "coupon_claim").sum()),
    )
    by_reason = per_user.groupby("reason")[["complaints", "claims"]].mean()
    assert by_reason.loc["unhappy_service", "complaints"] > 2 * by_reason.loc["none", "complaints"]
    assert by_reason.loc["price_sensitive", "claims"] > 2 * by_reason.loc["none", "claims"]
