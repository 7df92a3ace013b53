"""experiments.metrics: SQL sufficient statistics checked against numpy on the same synthetic users."""
from __future__ import annotations

from pathlib import Path

import pytest
from seeded_registry import ARMS, Users, seed_registry

from experiments.db import open_registry
from experiments.errors import ExperimentError
from experiments.metrics import collect


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Users]:
    path = tmp_path / "r.db"
    return path, seed_registry(path)


def test_moments_match_numpy_on_the_same_users(seeded) -> None:
    path, users = seeded
    data = collect("exp1", path)
    for index, (arm, *_rest) in enumerate(ARMS):
        mask = users.arm == index
        assert data.count(arm) == mask.sum()
        retained = data.moments_for(arm, "retained")
        # expected: numpy sums over the arm's users, zeros included for users without an outcome row
        assert retained.is_binary and retained.n == mask.sum() and retained.sum == users.retained[mask].sum()
        revenue = data.moments_for(arm, "revenue")
        post, pre = users.revenue[mask], users.revenue_pre[mask]
        assert revenue.sum == pytest.approx(post.sum()) and revenue.sum_squares == pytest.approx((post**2).sum())
        assert revenue.pre_sum == pytest.approx(pre.sum()) and revenue.pre_post_sum == pytest.approx((pre * post).sum())
        assert revenue.variance == pytest.approx(post.var(ddof=1))
    assert [m.key for m in data.metrics] == ["retained", "unsubscribed", "revenue"]
    assert {m.key: (m.kind, m.registered) for m in data.metrics}["revenue"] == ("continuous", False)


def test_costs_from_deliveries_else_unit_cost(seeded) -> None:
    path, users = seeded
    data = collect("exp1", path)
    assert data.cost_sources == {"control": "none", "coupon": "deliveries", "email": "unit_cost"}
    assert data.cost("coupon") == pytest.approx(2.0 * users.delivered.sum())
    assert data.cost("email") == pytest.approx(0.1 * (users.arm == 2).sum())
    assert data.cost("control") == 0.0


def test_segments_split_and_pool_back(seeded) -> None:
    path, users = seeded
    data = collect("exp1", path, segment_by="stage")
    assert data.segments == ("(none)", "active", "lapsing", "new")
    for segment in data.segments:
        mask = (users.arm == 1) & (users.stage == segment)
        m = data.moments_for("coupon", "retained", segment)
        assert (m.n, m.sum) == (mask.sum(), users.retained[mask].sum())
        assert data.cost("coupon", segment) == pytest.approx(2.0 * (users.delivered & (users.stage == segment)).sum())
    total = collect("exp1", path).moments_for("coupon", "revenue")
    assert data.moments_for("coupon", "revenue").sum == pytest.approx(total.sum)  # segments pool with +
    post_only = collect("exp1", path, pre_period=False).moments_for("coupon", "revenue")
    assert post_only.sum == pytest.approx(total.sum) and not post_only.has_pre and total.has_pre


def test_unknown_experiment_and_missing_cohort_are_clear_errors(seeded, tmp_path: Path) -> None:
    path, _ = seeded
    with pytest.raises(ExperimentError, match="no experiment 'nope' in the registry"):
        collect("nope", path)
    open_registry(path).conn.execute("UPDATE experiments SET target_cohort = NULL")
    with pytest.raises(ExperimentError, match="has no target cohort, so it has no tier segments"):
        collect("exp1", path, segment_by="tier")


def test_binary_metric_with_other_values_is_rejected(seeded) -> None:
    path, _ = seeded
    open_registry(path).conn.execute("UPDATE outcomes SET value = 2 WHERE metric = 'unsubscribed' AND user_id = 'u00001'")
    with pytest.raises(ExperimentError, match="metric 'unsubscribed' is registered as binary but 1 users"):
        collect("exp1", path)
