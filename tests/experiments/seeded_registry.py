"""A registry seeded by plain SQL (no service layer) with known synthetic users, for metric and analysis tests."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.db import open_registry, transaction
from experiments.metrics import NO_SEGMENT

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
        conn.executemany("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) VALUES ('exp1', ?, ?, ?, ?, ?)", [(*r, NOW) for r in rows])
        conn.executemany("INSERT INTO deliveries (experiment_key, user_id, treatment_key, sent_at, cost, channel) VALUES ('exp1', ?, 'coupon', ?, 2.0, 'email')",
                         [(u, NOW) for u in ids[delivered]])
        # outcomes of a user who was never assigned must be ignored
        conn.execute("INSERT INTO outcomes (experiment_key, user_id, metric, period, value, observed_at) VALUES ('exp1', 'stranger', 'retained', 'post', 1.0, ?)", (NOW,))
    stage = np.where(has_cohort, stage, NO_SEGMENT)
    return Users(ids, arm, stage, retained, revenue_pre, revenue, unsubscribed, delivered)
