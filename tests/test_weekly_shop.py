"""The weekly shop: deterministic, its events match its totals, the holdout is never sent, and the truth holds."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from experiments.assignment import hash_ids
from simulator.weekly import EVENT_COLUMNS, WeeklyShop, WeeklyShopConfig, run_oracle_programme
from warehouse.event_vocabulary import EVENT_TYPES

SMALL = WeeklyShopConfig(n_users=4000, weeks=6, seed=3)


@pytest.fixture(scope="module")
def shop_weeks() -> tuple[WeeklyShop, list]:
    shop = WeeklyShop(SMALL)
    return shop, list(shop.weeks())


def test_same_seed_same_shop_other_seed_other_shop() -> None:
    first, first_weeks = run_oracle_programme(SMALL, with_events=True)
    again, again_weeks = run_oracle_programme(SMALL, with_events=True)
    other, _ = run_oracle_programme(replace(SMALL, seed=4))
    assert first.groups == again.groups and first.truth == again.truth
    pd.testing.assert_frame_equal(first_weeks[2].events, again_weeks[2].events)
    assert other.groups != first.groups


def test_events_speak_the_vocabulary_and_stay_in_their_week(shop_weeks) -> None:
    shop, weeks = shop_weeks
    for week in weeks:
        assert tuple(week.events.columns) == EVENT_COLUMNS
        assert set(week.events["event_type"]) <= set(EVENT_TYPES)
        assert week.events["ts"].min() >= week.start
        assert week.events["ts"].max() < week.start + pd.Timedelta(days=7)
    history = shop.history()
    assert set(history["event_type"]) == {"signup", "order"}
    assert history["ts"].max() < shop.start


def test_the_totals_are_the_events_spend_and_nobody_shops_after_churning(shop_weeks) -> None:
    shop, weeks = shop_weeks
    events = pd.concat([w.events for w in weeks])
    orders = events[events["event_type"] == "order"]
    totals = shop.totals()
    assert sum(p.spend_sum + h.spend_sum for p, h in totals.values()) == pytest.approx(orders["amount"].sum())
    assert sum(p.churned + h.churned for p, h in totals.values()) == sum(w.churned.size for w in weeks)
    churned_at = {uid: w.start for w in weeks for uid in w.churned}
    late = orders[orders["user_id"].map(churned_at).le(orders["ts"])]
    assert late.empty


def test_tiers_come_from_the_history_monthly_spend(shop_weeks) -> None:
    shop, _ = shop_weeks
    history = shop.history()
    orders = history[history["event_type"] == "order"].groupby("user_id")["amount"].sum()
    monthly = orders.reindex(shop.user_ids, fill_value=0.0) / 3  # 90 days of history = 3 months
    expected = np.where(monthly.to_numpy() > 500, "high_value", "regular")
    assert (shop.users["tier"].to_numpy() == expected).all()
    assert 0.15 < shop.high_value.mean() < 0.35


def test_the_holdout_is_the_growthbook_hash_and_is_never_sent(shop_weeks) -> None:
    shop, weeks = shop_weeks
    expected = hash_ids("programme", shop.user_ids, 2) < 0.10
    assert (shop.holdout == expected).all()
    assert (WeeklyShop(replace(SMALL, seed=9)).holdout == shop.holdout).all()  # the shop's seed does not move it
    sent = np.concatenate([w.sent for w in weeks])
    assert sent.size > 0 and not set(sent) & set(shop.user_ids[shop.holdout])


def test_no_user_is_sent_twice_within_the_contact_window(shop_weeks) -> None:
    shop, _ = shop_weeks
    for user_weeks in (np.flatnonzero(row) for row in shop.sent[shop.sent.any(axis=1)]):
        assert (np.diff(user_weeks) >= SMALL.effect_weeks).all()


def test_no_effect_and_no_flags_have_a_true_effect_of_zero() -> None:
    null = replace(SMALL, churn_effect={"high_value": 0.0, "regular": 0.0},
                   spend_effect={"high_value": 0.0, "regular": 0.0})
    run, _ = run_oracle_programme(null)
    assert all(t.churn_reduction == 0.0 and t.ltv_change == 0.0 for t in run.truth.values())
    shop = WeeklyShop(SMALL)
    week = shop.step(np.zeros(SMALL.n_users, dtype=bool))
    assert week.sent.size == 0 and shop.truth()["high_value"].churn_reduction == 0.0
    with pytest.raises(ValueError, match="boolean mask over 4000 users"):
        shop.step(np.zeros(3, dtype=bool))


def test_the_analytic_churn_chance_matches_the_realized_churn() -> None:
    # Law of large numbers: realized churn of each group is a sum of independent Bernoulli(p_i), so it lies
    # within 4 standard deviations sqrt(sum p_i (1 - p_i)) of sum p_i (programme users get p_churn_with,
    # holdout users p_churn_without). 50,000 users, 12 weeks, seed 5.
    shop = WeeklyShop(WeeklyShopConfig(seed=5))
    for _ in shop.weeks(events=False):
        pass
    expected = shop.expected()
    churned = ~shop.alive
    for group, column in ((~shop.holdout, "p_churn_with"), (shop.holdout, "p_churn_without")):
        p = expected[column].to_numpy()[group]
        assert abs(churned[group].sum() - p.sum()) < 4 * math.sqrt((p * (1 - p)).sum())
    truth = shop.truth()
    assert 0.05 < truth["high_value"].churn_reduction < 0.40 and 0.0 < truth["regular"].ltv_change < 0.30


def test_the_true_effect_grows_with_the_treatment_effect() -> None:
    strong = replace(SMALL, churn_effect={"high_value": 0.9, "regular": 0.9})
    weak, _ = run_oracle_programme(SMALL)
    big, _ = run_oracle_programme(strong)
    assert big.truth["regular"].churn_reduction > weak.truth["regular"].churn_reduction > 0


def test_bad_configs_are_named() -> None:
    with pytest.raises(ValueError, match="churn_effect needs exactly the tiers"):
        WeeklyShopConfig(churn_effect={"gold": 0.4})
    with pytest.raises(ValueError, match="holdout_share must be in"):
        WeeklyShopConfig(holdout_share=0.0)


def test_the_history_and_each_week_load_into_the_warehouse(shop_weeks, tmp_path) -> None:
    from churn.ingest import load_events

    shop, weeks = shop_weeks
    warehouse = tmp_path / "warehouse.duckdb"
    first = load_events(shop.history(), warehouse, name="history")
    assert first.rows_written == len(shop.history())
    total = first.total_rows
    for week in weeks[:2]:
        result = load_events(week.events, warehouse, name=f"week {week.index}", mode="append")
        assert result.rows_written == len(week.events) > 0
        total += len(week.events)
        assert result.total_rows == total


def test_a_programme_of_its_own_flags_sends_to_everyone_flagged_but_the_holdout_and_the_gone() -> None:
    shop = WeeklyShop(SMALL)
    first = shop.step(np.ones(SMALL.n_users, dtype=bool))
    alive_before = shop.alive.copy()
    assert set(first.sent) == set(shop.user_ids[~shop.holdout])  # everyone is alive at week 0
    second = shop.step(np.ones(SMALL.n_users, dtype=bool))
    assert second.sent.size == 0  # all inside the 4-week contact window
    for _ in range(SMALL.effect_weeks - 2):
        shop.step(np.zeros(SMALL.n_users, dtype=bool))
    again = shop.step(np.ones(SMALL.n_users, dtype=bool))
    assert 0 < again.sent.size and set(again.sent) <= set(shop.user_ids[~shop.holdout & alive_before])
    assert not set(again.sent) & set(np.concatenate([first.churned, second.churned]))
