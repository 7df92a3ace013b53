"""The allocation's prices found by aggregate passes in Spark equal the in-memory allocator's.

Expected values: the in-memory allocator's bisection (`uplift.allocation._multipliers`, what `allocate`
runs below its warm-start size) on the same scores in this process, at a coarser tolerance than the
default so the test needs fewer Spark passes; prices compared exactly and the priced choice per user.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uplift.allocation import _choose, _multipliers, make_problem

pytestmark = pytest.mark.xdist_group("spark")


def test_prices_and_priced_choices_match_the_in_memory_allocator(spark):
    from uplift.spark_allocation import priced_choices, prices_in_spark

    rng = np.random.default_rng(21)
    n = 2000
    scores = pd.DataFrame({"user_id": [f"u{i:05d}" for i in range(n)],
                           "coupon": rng.normal(0.04, 0.05, n), "vip": rng.normal(0.08, 0.08, n)})
    costs, capacity, budget, value = {"coupon": 5.0, "vip": 20.0}, {"vip": 60}, 6_000.0, 150.0
    problem = make_problem(scores[["coupon", "vip"]], costs, budget, value, capacity)
    lam, mu = _multipliers(problem, problem.net, 0.0, np.zeros(2), max_rounds=1, rel=1e-2)
    remote = prices_in_spark(spark.createDataFrame(scores).repartition(1), ["coupon", "vip"], costs, budget, value,
                             capacity, max_rounds=1, rel=1e-2)
    assert remote.budget_multiplier == lam > 0  # the budget binds, so the price is not trivial
    assert remote.capacity_multipliers == {"vip": mu[1]} and mu[1] > 0  # and so does vip's capacity
    choice = _choose(problem.net, problem.costs, lam, mu)
    assert remote.counts == {t: int((choice == i).sum()) for i, t in enumerate(["coupon", "vip"])}
    assert remote.spend <= budget and remote.counts["vip"] <= capacity["vip"]
    assert 2 < remote.passes <= 5  # the bounds pass, then one pass per several bisection steps (uplift/prices.py)
    picked = (priced_choices(spark.createDataFrame(scores), "user_id", ["coupon", "vip"], costs, remote, value)
              .toPandas().set_index("user_id").loc[scores["user_id"], "treatment"])
    expected = np.where(choice >= 0, np.array(["coupon", "vip"], dtype=object)[np.maximum(choice, 0)], None)
    assert (picked.fillna("control").to_numpy() == pd.Series(expected).fillna("control").to_numpy()).all()
