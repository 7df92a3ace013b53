"""Churn risk of a flagged cohort broken down by lifecycle stage, value tier and likely reason (one SQL pass each)."""
from __future__ import annotations

import pandas as pd
import sqlite_utils

from experiments.metrics import SEGMENT_COLUMNS

BREAKDOWN_COLUMNS = ["cohort_key", "dimension", "value", "users", "mean_risk", "high_risk_users"]
HIGH_RISK = 0.5  # a user whose predicted churn probability is at least this counts as high risk


def risk_breakdown(database: sqlite_utils.Database, cohort_key: str | None = None) -> pd.DataFrame:
    """Users, mean risk and high-risk users per cohort × dimension (stage, tier, reason) × value."""
    parts = [
        f"SELECT cohort_key, '{column}' AS dimension, COALESCE({column}, '(none)') AS value, COUNT(*) AS users, "
        f"AVG(risk) AS mean_risk, SUM(risk >= ?) AS high_risk_users FROM cohorts "
        f"WHERE (? IS NULL OR cohort_key = ?) AND version = "
        f"(SELECT MAX(version) FROM cohorts newest WHERE newest.cohort_key = cohorts.cohort_key) "
        f"GROUP BY cohort_key, COALESCE({column}, '(none)')"
        for column in SEGMENT_COLUMNS  # fixed column names, never user input
    ]
    params: list = []
    for _ in SEGMENT_COLUMNS:
        params += [HIGH_RISK, cohort_key, cohort_key]
    frame = pd.read_sql_query(" UNION ALL ".join(parts) + " ORDER BY cohort_key, dimension, users DESC",
                              database.conn, params=params)
    return frame[BREAKDOWN_COLUMNS]
