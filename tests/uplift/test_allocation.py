"""Budget allocation: Lagrangian vs the LP optimum (scipy HiGHS), constraints, and input errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uplift.allocation import allocate, lp_bound
from uplift.errors import UpliftError
from uplift.frontier import budget_frontier, plot_frontier

COSTS = {"coupon": 8.0, "vip": 25.0, "reco": 0.5, "care": 0.2}


def instance(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    uplift = pd.DataFrame(rng.normal(0.04, 0.08, (n, 4)), columns=list(COSTS))
    return uplift, rng.lognormal(4.5, 1.0, n)


@pytest.mark.parametrize(
    "n, budget_per_user, capacity, seed",
    [
        (2000, 0.5, None, 0),
        (3000, 1.0, {"vip": 40}, 1),
        (5000, 0.8, {"vip": 100, "reco": 800}, 2),
        (3000, 5.0, {"coupon": 100, "vip": 20, "reco": 200, "care": 300}, 3),
        (4000, 50.0, None, 4),  # budget not binding: every positive-net user treated
    ],
)
def test_lagrangian_within_half_percent_of_lp_and_feasible(n, budget_per_user, capacity, seed):
    uplift, value = instance(n, seed)
    budget = n * budget_per_user
    result = allocate(uplift, COSTS, budget, value, capacity)
    bound = lp_bound(uplift, COSTS, budget, value, capacity)
    # The LP relaxation (scipy.optimize.linprog, method="highs") bounds every integer allocation from above.
    assert result.net_value <= bound.net_value * (1 + 1e-9)
    assert result.net_value >= 0.995 * bound.net_value  # issue 5: within 0.5% of the LP optimum
    assert result.total_cost <= budget + 1e-6
    for key, limit in (capacity or {}).items():
        assert result.counts[key] <= limit
    treated = result.choice >= 0
    net = uplift.to_numpy()[treated, result.choice[treated]] * value[treated] - result.cost[treated]
    assert (net > 0).all()  # never treat a user whose expected net value is negative


def test_single_treatment_budget_takes_best_users_first():
    # Hand-checkable: one treatment at cost 1, value 10; net = 10u - 1 -> users with u > 0.1 qualify,
    # budget 2 buys the two best (u = 0.5 and 0.4).
    uplift = pd.DataFrame({"a": [0.05, 0.5, 0.2, 0.4, -0.3]})
    result = allocate(uplift, {"a": 1.0}, budget=2.0, value_per_retained=10.0)
    assert list(result.labels()) == ["control", "a", "control", "a", "control"]
    assert result.expected_retained == pytest.approx(0.9)
    assert result.net_value == pytest.approx(10 * 0.9 - 2)
    frame = result.to_frame(["u1", "u2", "u3", "u4", "u5"])
    assert list(frame.columns) == ["user_id", "treatment", "expected_uplift", "cost"]


def test_per_user_value_changes_the_choice():
    uplift = pd.DataFrame({"a": [0.2, 0.2]})
    result = allocate(uplift, {"a": 5.0}, budget=5.0, value_per_retained=np.array([10.0, 100.0]))
    assert list(result.labels()) == ["control", "a"]  # 0.2*10-5 < 0, 0.2*100-5 > 0


@pytest.mark.parametrize(
    "costs, capacity, budget, message",
    [
        ({"coupon": 8.0}, None, 10.0, "no unit cost for treatment\\(s\\) vip, reco, care; add them to the costs"),
        ({**COSTS, "gift": 3.0}, None, 10.0, "cost given for treatment\\(s\\) gift but the scores lack column\\(s\\) gift"),
        ({**COSTS, "vip": -1.0}, None, 10.0, "unit costs must be finite and non-negative: vip=-1.0"),
        (COSTS, {"gift": 10}, 10.0, "capacity given for unknown treatment 'gift'"),
        (COSTS, None, -5.0, "budget must be a non-negative number, got -5.0"),
    ],
)
def test_bad_input_is_a_clear_error(costs, capacity, budget, message):
    uplift, value = instance(50, 0)
    with pytest.raises(UpliftError, match=message):
        allocate(uplift, costs, budget, value, capacity)


def test_missing_values_in_scores_are_refused():
    uplift, value = instance(20, 0)
    uplift.loc[3, "reco"] = np.nan
    with pytest.raises(UpliftError, match="uplift column 'reco' has missing or infinite values"):
        allocate(uplift, COSTS, 100.0, value)


def test_warm_started_large_instance_stays_feasible_and_close_to_lp():
    uplift, value = instance(20_000, 5)
    budget, capacity = 20_000 * 0.8, {"vip": 100}
    result = allocate(uplift, COSTS, budget, value, capacity, warm_start_size=4_000)
    bound = lp_bound(uplift, COSTS, budget, value, capacity)
    assert result.total_cost <= budget + 1e-6 and result.counts["vip"] <= 100
    assert result.net_value >= 0.995 * bound.net_value


def test_frontier_targeted_beats_blanket_and_chart_is_written(tmp_path):
    uplift, value = instance(3000, 6)
    frontier = budget_frontier(uplift, COSTS, [500.0, 2000.0], value, {"vip": 50}, seed=1)
    assert set(frontier["policy"]) == {"targeted", "blanket coupon", "blanket vip", "blanket reco", "blanket care", "random"}
    for budget, part in frontier.groupby("budget"):
        part = part.set_index("policy")
        assert (part["cost"] <= budget + 1e-6).all()
        assert part.loc["targeted", "incremental_value"] - part.loc["targeted", "cost"] >= (
            part["incremental_value"] - part["cost"]).max() - 1e-6
    path = plot_frontier(frontier, tmp_path / "frontier.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
