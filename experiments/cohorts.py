"""Flagged cohorts in the registry: who is at risk, how much, in which stage, tier and for what reason.

Cohorts are versioned: flagging into a cohort name adds version N+1 in one transaction and never touches
earlier versions, so an experiment keeps exactly the users of the version it started with (pinned in
`experiments.cohort_version`) while later flag runs refresh the cohort for new experiments. Each write is
audited under the cohort and under every experiment that targets it.
"""
from __future__ import annotations

import json
import os
import sqlite3

import pandas as pd

from experiments.db import audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import check_ids, check_name

COHORT_COLUMNS = ("user_id", "risk", "stage", "tier", "reason", "model", "scored_at")
REQUIRED_COHORT_COLUMNS = COHORT_COLUMNS[:5]  # model and scored_at may be left out


def latest_version(conn: sqlite3.Connection, cohort_key: str) -> int | None:
    """The newest version of a cohort, None when it has none."""
    return conn.execute("SELECT MAX(version) FROM cohorts WHERE cohort_key = ?", (cohort_key,)).fetchone()[0]


def write_cohort(frame: pd.DataFrame, cohort_key: str, db: str | os.PathLike[str] | None = None) -> int:
    """Add a new version of cohort `cohort_key` holding the rows of `frame` (user_id, risk, stage, tier, reason
    [, model, scored_at]); returns how many users it holds."""
    check_name(cohort_key, "cohort name")
    missing = [c for c in REQUIRED_COHORT_COLUMNS if c not in frame.columns]
    if missing:
        raise ExperimentError(f"cohort frame lacks column(s): {', '.join(missing)}")
    check_ids(frame["user_id"].astype(object), f"cohort '{cohort_key}'", "user_id")
    if frame["user_id"].duplicated().any():
        dup = frame.loc[frame["user_id"].duplicated(), "user_id"].iloc[0]
        raise ExperimentError(f"user '{dup}' appears twice in cohort '{cohort_key}'")
    rows = frame.copy()
    rows["model"] = rows["model"] if "model" in rows.columns else None
    rows["scored_at"] = rows["scored_at"] if "scored_at" in rows.columns else utc_now()
    risk = pd.to_numeric(rows["risk"]).astype(float)
    database = open_registry(db)
    with transaction(database) as conn:
        version = (latest_version(conn, cohort_key) or 0) + 1
        values = zip(
            [cohort_key] * len(rows), [version] * len(rows), rows["user_id"].astype("str").tolist(),
            risk.astype(object).where(risk.notna(), None).tolist(),
            *(rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in COHORT_COLUMNS[2:]),
        )
        conn.executemany(
            "INSERT INTO cohorts (cohort_key, version, user_id, risk, stage, tier, reason, model, scored_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        detail = {"cohort": cohort_key, "version": version, "users": len(rows)}
        audit(conn, "new_version", "cohort", cohort_key, json.dumps(detail))
        for key, pinned in conn.execute(
            "SELECT key, cohort_version FROM experiments WHERE target_cohort = ? ORDER BY key", (cohort_key,)
        ).fetchall():
            audit(conn, "cohort_version", "experiment", key, json.dumps({**detail, "experiment_uses_version": pinned}))
    return len(rows)


def read_cohort(cohort_key: str, db: str | os.PathLike[str] | None = None, version: int | None = None) -> pd.DataFrame:
    """The rows of a cohort version (default: the newest), highest risk first; a clear error lists the cohorts."""
    database = open_registry(db)
    if version is None:
        version = latest_version(database.conn, cohort_key)
    frame = pd.read_sql_query(
        f"SELECT {', '.join(COHORT_COLUMNS)} FROM cohorts WHERE cohort_key = ? AND version = ? "
        "ORDER BY risk DESC, user_id",
        database.conn, params=(cohort_key, version),
    )
    if frame.empty:
        known = [r[0] for r in database.execute("SELECT DISTINCT cohort_key FROM cohorts ORDER BY 1")]
        raise ExperimentError(f"cohort '{cohort_key}' is empty or unknown; known cohorts: {', '.join(known) or 'none'}")
    frame["user_id"] = frame["user_id"].astype("str")
    return frame


def list_cohorts(db: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every cohort's newest version with its size, mean risk, model and scoring time."""
    database = open_registry(db)
    return pd.read_sql_query(
        "SELECT c.cohort_key, c.version, COUNT(*) AS users, AVG(c.risk) AS mean_risk, MAX(c.model) AS model, "
        "MAX(c.scored_at) AS scored_at FROM cohorts c "
        "JOIN (SELECT cohort_key, MAX(version) AS version FROM cohorts GROUP BY cohort_key) v "
        "ON v.cohort_key = c.cohort_key AND v.version = c.version "
        "GROUP BY c.cohort_key, c.version ORDER BY c.cohort_key",
        database.conn,
    )
