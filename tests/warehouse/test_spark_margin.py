"""A whole allocation in Spark (prices, repair, greedy fill) is the in-memory `allocate`'s plan.

Expected values: `uplift.allocation.allocate` on the same scores in this process, with the same options
(its exact path, below the warm-start size): the same treatment for every user, the same prices, counts
and notes, totals within 1e-9 relative (the engines add in another order). Scores are continuous draws,
so no two users tie.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uplift.allocation import _choose, _fill, _repair, allocate, make_problem

pytestmark = pytest.mark.xdist_group("spark")

N = 2000
COSTS = {"coupon": 5.0, "vip": 20.0}


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(21)
    return pd.DataFrame({"user_id": [f"u{i:05d}" for i in range(N)], "coupon": rng.normal(0.04, 0.05, N),
                         "vip": rng.normal(0.08, 0.08, N), "clv": rng.gamma(2.0, 80.0, N)})


@pytest.fixture(scope="module")
def remote(spark, scores):
    frame = spark.createDataFrame(scores).repartition(2).cache()
    frame.count()
    yield frame
    frame.unpersist()


def both(scores, remote, budget, value, capacity, **options):
    """(in-memory Allocation, SparkAllocation, Spark's treatment per user in the scores' order)."""
    from uplift.spark_margin import allocate_in_spark, final_choices

    local_value = scores["clv"].to_numpy() if value == "clv" else value
    local = allocate(scores[list(COSTS)], COSTS, budget, local_value, capacity, **options)
    spark = allocate_in_spark(remote, "user_id", COSTS, budget, value, capacity, **options)
    plan = final_choices(remote, "user_id", spark).toPandas().set_index("user_id").loc[scores["user_id"]]
    return local, spark, plan


def assert_same_plan(local, spark, plan, budget, capacity):
    assert (plan["treatment"].fillna("control").to_numpy() == local.labels()).all()
    assert plan["expected_uplift"].to_numpy() == pytest.approx(local.expected_uplift, rel=1e-12)
    assert plan["cost"].to_numpy() == pytest.approx(local.cost, rel=1e-12)
    assert spark.budget_multiplier == local.budget_multiplier
    assert spark.capacity_multipliers == local.capacity_multipliers
    assert spark.counts == local.counts and spark.notes == local.notes and spark.users == N
    assert spark.total_cost == pytest.approx(local.total_cost, rel=1e-9)
    assert spark.expected_retained == pytest.approx(local.expected_retained, rel=1e-9)
    assert spark.expected_value == pytest.approx(local.expected_value, rel=1e-9, nan_ok=True)
    assert spark.total_cost <= budget
    assert all(spark.counts[t] <= c for t, c in (capacity or {}).items())


def test_binding_budget_with_a_value_per_retained_user(scores, remote):
    local, spark, plan = both(scores, remote, 6_000.0, 150.0, None)
    assert_same_plan(local, spark, plan, 6_000.0, None)
    assert local.budget_multiplier > 0 and local.total_cost > 6_000.0 - 20.0  # binding: under a vip's cost left
    assert spark.margin_rows < 20  # the fill brought home a few candidates, not the table


def test_binding_budget_and_capacity_maximizing_retained_users(scores, remote):
    # Two rounds of prices (allocate's max_rounds, as the Spark call's): each round is a Spark pass per few steps
    local, spark, plan = both(scores, remote, 3_000.0, None, {"coupon": 200}, max_rounds=2)
    assert_same_plan(local, spark, plan, 3_000.0, {"coupon": 200})
    assert local.objective == "retained" and local.counts["coupon"] == 200 and local.budget_multiplier > 0


def test_slack_budget_with_a_per_user_value_column_and_a_binding_capacity(scores, remote):
    local, spark, plan = both(scores, remote, 1e6, "clv", {"vip": 50})
    assert_same_plan(local, spark, plan, 1e6, {"vip": 50})
    assert local.budget_multiplier == 0 and local.counts["vip"] == 50 and local.notes  # says why budget is left


def test_capacity_repair_and_fill_after_one_round_of_prices(scores, remote):
    # One round: vip's price, set after coupon's, moves users to coupon past its capacity, so the repair
    # drops coupon's least valuable users and the fill spends what that frees (allocate does the same).
    capacity = {"coupon": 300, "vip": 60}
    local, spark, plan = both(scores, remote, 6_000.0, 150.0, capacity, max_rounds=1)
    assert_same_plan(local, spark, plan, 6_000.0, capacity)
    assert list(spark.overrides.values()).count(-1) == 8 and spark.margin_rows < 100  # the 8 over coupon's capacity


def test_budget_repair_and_fill_at_prices_that_overspend(scores, remote):
    """Expected: the in-memory `_fill(_repair(_choose(...)))` at the same (too low) prices."""
    from uplift.spark_allocation import SparkPrices, net_gains
    from uplift.spark_margin import margin_overrides

    capacity = {"coupon": 400}
    problem = make_problem(scores[list(COSTS)], COSTS, 3_000.0, None, capacity)
    lam, mu = 0.011, np.array([0.02, 0.0])  # too low: 477 coupons, 3,380 spent even at coupon's capacity
    priced = _choose(problem.net, problem.costs, lam, mu)
    expected = _fill(problem, problem.net, _repair(problem, problem.net, priced))
    counts = np.bincount(priced[priced >= 0], minlength=2)
    assert counts @ problem.costs > 3_000.0 and counts[0] > 400  # both the capacity and the budget need repair
    prices = SparkPrices(lam, {"coupon": mu[0]}, float(counts @ problem.costs), dict(zip(COSTS, counts.tolist())), 0)
    _, gains = net_gains(list(COSTS), COSTS, 3_000.0, None, capacity)
    overrides, rows_home, _ = margin_overrides(remote, "user_id", gains, prices, problem)
    got = priced.copy()
    index = {u: i for i, u in enumerate(scores["user_id"])}
    for user, t in overrides.items():
        got[index[user]] = t
    assert (got == expected).all()
    # rows home: coupon's excess (77), then at most 380 / 5 + 1 for the budget, at most one vip to fill
    assert list(overrides.values()).count(-1) > 77 and rows_home <= 77 + 77 + 1 + 1


def test_tied_users_at_the_margin_are_taken_the_same_way_whatever_the_partitioning(spark):
    """Stepwise scores tie; the repair and the fill break ties by user id, so the plan does not depend on how
    Spark happens to split or order the rows."""
    from uplift.spark_margin import allocate_in_spark, final_choices

    ids = [f"u{i:04d}" for i in range(600)]
    tied = pd.DataFrame({"user_id": ids, "coupon": np.repeat([0.10, 0.05, 0.02], 200), "vip": 0.0})
    plans = []
    for parts, seed in ((1, 0), (3, 1), (5, 2)):
        shuffled = tied.sample(frac=1.0, random_state=seed)
        remote = spark.createDataFrame(shuffled).repartition(parts)
        result = allocate_in_spark(remote, "user_id", COSTS, 5.0 * 250, None, {})  # 250 of the 600 get a coupon
        plan = final_choices(remote, "user_id", result).toPandas().set_index("user_id").loc[ids]
        plans.append(plan["treatment"].fillna("control").to_numpy())
        assert (plan["treatment"] == "coupon").sum() == 250
    assert (plans[0] == plans[1]).all() and (plans[0] == plans[2]).all()
    # The 200 best are all taken; the other 50 are the 0.05 users with the smallest ids.
    taken = set(np.asarray(ids)[plans[0] == "coupon"])
    assert taken == set(ids[:200]) | set(ids[200:250])
