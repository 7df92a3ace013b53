"""Flagged cohorts in the registry: who is at risk, how much, in which stage, tier and for what reason.

A cohort is replaced as a whole in one transaction, so experiments that target it always see one
consistent scoring run.
"""
from __future__ import annotations

import json
import os

import pandas as pd

from experiments.db import audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError

COHORT_COLUMNS = ("user_id", "risk", "stage", "tier", "reason", "model", "scored_at")
REQUIRED_COHORT_COLUMNS = COHORT_COLUMNS[:5]  # model and scored_at may be left out


def write_cohort(frame: pd.DataFrame, cohort_key: str, db: str | os.PathLike[str] | None = None) -> int:
    """Replace cohort `cohort_key` with the rows of `frame` (user_id, risk, stage, tier, reason[, model, scored_at])."""
    if not cohort_key or not str(cohort_key).strip():
        raise ExperimentError("a cohort needs a non-empty key")
    missing = [c for c in REQUIRED_COHORT_COLUMNS if c not in frame.columns]
    if missing:
        raise ExperimentError(f"cohort frame lacks column(s): {', '.join(missing)}")
    if frame["user_id"].duplicated().any():
        dup = frame.loc[frame["user_id"].duplicated(), "user_id"].iloc[0]
        raise ExperimentError(f"user '{dup}' appears twice in cohort '{cohort_key}'")
    rows = frame.copy()
    rows["model"] = rows["model"] if "model" in rows.columns else None
    rows["scored_at"] = rows["scored_at"] if "scored_at" in rows.columns else utc_now()
    risk = pd.to_numeric(rows["risk"]).astype(float)
    values = zip(
        [cohort_key] * len(rows), rows["user_id"].astype("str").tolist(),
        risk.astype(object).where(risk.notna(), None).tolist(),
        *(rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in COHORT_COLUMNS[2:]),
    )
    database = open_registry(db)
    with transaction(database) as conn:
        conn.execute("DELETE FROM cohorts WHERE cohort_key = ?", (cohort_key,))
        conn.executemany(
            "INSERT INTO cohorts (cohort_key, user_id, risk, stage, tier, reason, model, scored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        audit(conn, "replace", "cohort", cohort_key, json.dumps({"users": len(rows)}))
    return len(rows)


def read_cohort(cohort_key: str, db: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The rows of a cohort, highest risk first; a clear error lists the cohorts that exist."""
    database = open_registry(db)
    frame = pd.read_sql_query(
        f"SELECT {', '.join(COHORT_COLUMNS)} FROM cohorts WHERE cohort_key = ? "
        "ORDER BY risk DESC, user_id",
        database.conn, params=(cohort_key,),
    )
    if frame.empty:
        known = [r[0] for r in database.execute("SELECT DISTINCT cohort_key FROM cohorts ORDER BY 1")]
        raise ExperimentError(f"cohort '{cohort_key}' is empty or unknown; known cohorts: {', '.join(known) or 'none'}")
    frame["user_id"] = frame["user_id"].astype("str")
    return frame


def list_cohorts(db: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every cohort with its size, mean risk, model and scoring time."""
    database = open_registry(db)
    return pd.read_sql_query(
        "SELECT cohort_key, COUNT(*) AS users, AVG(risk) AS mean_risk, MAX(model) AS model, MAX(scored_at) AS scored_at "
        "FROM cohorts GROUP BY cohort_key ORDER BY cohort_key",
        database.conn,
    )
