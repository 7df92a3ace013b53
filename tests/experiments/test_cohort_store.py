"""Stored cohort summaries (experiments/cohort_store.py): written with each version, recomputed after other writes.

Expected numbers are the cohort rows themselves (counts and means computed here by hand)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from experiments.cohort_summary import risk_breakdown
from experiments.cohorts import list_cohorts, write_cohort
from experiments.db import open_registry, transaction


def _cohort(n: int, risk: float) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [f"u{i}" for i in range(n)], "risk": [risk] * n,
                         "stage": ["active", "lapsing"] * (n // 2), "tier": "gold", "reason": "price"})


def test_summaries_are_stored_with_the_version_and_follow_other_writes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    write_cohort(_cohort(10, 0.75), "c1", db)
    database = open_registry(db)
    assert database.execute("SELECT COUNT(*) FROM cohort_summaries").fetchone()[0] == 1
    listed = list_cohorts(db)
    assert listed[["cohort_key", "version", "users", "mean_risk"]].values.tolist() == [["c1", 1, 10, 0.75]]
    stage = risk_breakdown(database, "c1").query("dimension == 'stage'")
    assert stage[["value", "users", "high_risk_users"]].values.tolist() == [["active", 5, 5], ["lapsing", 5, 5]]
    with transaction(database) as conn:  # a version written without the service: the store notices and recomputes
        conn.execute("INSERT INTO cohorts (cohort_key, version, user_id, risk, stage, tier, reason) "
                     "VALUES ('c1', 2, 'x', 0.25, 'new', 'gold', 'price')")
    listed = list_cohorts(db)
    assert listed[["version", "users", "mean_risk"]].values.tolist() == [[2, 1, 0.25]]
    assert risk_breakdown(database, "c1").query("dimension == 'stage'")["value"].tolist() == ["new"]
    with transaction(database) as conn:
        conn.execute("DELETE FROM cohorts WHERE version = 2")
    assert list_cohorts(db)[["version", "users"]].values.tolist() == [[1, 10]]
