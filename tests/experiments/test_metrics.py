"""experiments.metrics: SQL sufficient statistics checked against numpy on the same synthetic users."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from experiments.db import open_registry, transaction
from experiments.errors import ExperimentError
from experiments.metrics import NO_SEGMENT, collect

NOW = "2026-11-25T00:00:00.000000Z"
ARMS = (("control", None, 0.5, 1), ("coupon", "coupon", 0.25, 0), ("email", "email", 0.25, 0))


@dataclass
class Users:
    """The synthetic users behind a seeded registry, kept for independent numpy checks."""

    ids: np.ndarray
    arm: np.ndarray
    stage: np.ndarray
    retained: np.ndarray
    revenue_pre: np.ndarray
    revenue: np.ndarray
    unsubscribed: np.ndarray
    delivered: np.ndarray


def seed_registry(path: Path, n: int = 4000, seed: int = 5, lift: float = 0.06) -> Users:
    """Write one running experiment 'exp1' with rows inserted directly by SQL (no service layer)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"u{i:05d}" for i in range(n)])
    arm = rng.choice(3, size=n, p=[0.5, 0.25, 0.25])
    stage = rng.choice(np.array(["new", "active", "lapsing"]), size=n)
    has_cohort = rng.random(n) < 0.9
    retained = (rng.random(n) < 0.30 + lift * (arm > 0)).astype(float)
    revenue_pre = rng.gamma(2.0, 15.0, n)
    revenue = np.where(retained == 1, 0.6 * revenue_pre + rng.gamma(2.0, 10.0, n), 0.0)
    unsubscribed = (rng.random(n) < 0.02 + 0.02 * (arm == 1)).astype(float)
    delivered = (arm == 1) & (rng.random(n) < 0.9)
    database = open_registry(path)
    with transaction(database) as conn:
        conn.executemany("INSERT INTO treatments (key, name, kind, unit_cost, created_at) VALUES (?, ?, ?, ?, ?)",
                         [("coupon", "Coupon", "coupon", 2.0, NOW), ("email", "E-mail", "care_content", 0.1, NOW)])
        conn.executemany("INSERT INTO metrics (key, kind, higher_is_better) VALUES (?, ?, ?)",
                         [("retained", "binary", 1), ("unsubscribed", "binary", 0)])
        conn.execute("INSERT INTO experiments (key, name, target_cohort, primary_metric, guardrail_metrics, "
                     "status, created_at) VALUES ('exp1', 'Exp 1', 'c1', 'retained', ?, 'draft', ?)",
                     (json.dumps(["unsubscribed"]), NOW))
        conn.executemany("INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
                         "VALUES ('exp1', ?, ?, ?, ?, ?)", [(k, i, t, w, c) for i, (k, t, w, c) in enumerate(ARMS)])
        conn.execute("UPDATE experiments SET status = 'running' WHERE key = 'exp1'")
        conn.executemany("INSERT INTO assignments VALUES ('exp1', ?, ?, ?)",
                         [(u, ARMS[a][0], NOW) for u, a in zip(ids, arm)])
        conn.executemany("INSERT INTO cohorts (cohort_key, user_id, stage, tier, reason) VALUES ('c1', ?, ?, 'gold', 'price')",
                         [(u, s) for u, s, h in zip(ids, stage, has_cohort) if h])
        rows = [(u, "retained", "post", 1.0) for u, r in zip(ids, retained) if r == 1]  # zeros have no row
        rows += [(u, "revenue", "post", float(v)) for u, v in zip(ids, revenue) if v > 0]
        rows += [(u, "revenue", "pre", float(v)) for u, v in zip(ids, revenue_pre)]
        rows += [(u, "unsubscribed", "post", float(v)) for u, v in zip(ids, unsubscribed)]
        conn.executemany("INSERT INTO outcomes VALUES ('exp1', ?, ?, ?, ?, ?)", [(*r, NOW) for r in rows])
        conn.executemany("INSERT INTO deliveries VALUES ('exp1', ?, 'coupon', ?, 2.0, 'email')",
                         [(u, NOW) for u in ids[delivered]])
        # outcomes of a user who was never assigned must be ignored
        conn.execute("INSERT INTO outcomes VALUES ('exp1', 'stranger', 'retained', 'post', 1.0, ?)", (NOW,))
    stage = np.where(has_cohort, stage, NO_SEGMENT)
    return Users(ids, arm, stage, retained, revenue_pre, revenue, unsubscribed, delivered)


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
