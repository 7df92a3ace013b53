"""Churn risk of a flagged cohort broken down by lifecycle stage, value tier and likely reason, from the summaries
stored with each cohort version (experiments/cohort_store.py), so a page view reads a few rows, not every user."""
from __future__ import annotations

import pandas as pd
import sqlite_utils

from experiments.cohort_store import BREAKDOWN_COLUMNS, HIGH_RISK, breakdown_frame

__all__ = ["BREAKDOWN_COLUMNS", "HIGH_RISK", "risk_breakdown"]


def risk_breakdown(database: sqlite_utils.Database, cohort_key: str | None = None) -> pd.DataFrame:
    """Users, mean risk and high-risk users per cohort × dimension (stage, tier, reason) × value."""
    return breakdown_frame(database.conn, cohort_key)[BREAKDOWN_COLUMNS]
