"""Each cohort version's summary, computed once and stored: what the Overview page and `cohort list` show.

A cohort version never changes (a trigger refuses updates), so its size, mean risk and risk breakdown by stage,
tier and reason can be aggregated when it is written and read back in a few rows instead of scanning every user
per page view. The store remembers the cohorts table's highest rowid and change epoch (experiments/schema.py); a
write that did not go through `write_cohort` (or a registry from before the store) moves them, and the next read
recomputes the summaries from the rows with the same SQL and stores them again.
"""
from __future__ import annotations

import json
import sqlite3

import pandas as pd

from experiments.choices import SEGMENT_COLUMNS

HIGH_RISK = 0.5  # a user whose predicted churn probability is at least this counts as high risk
LIST_COLUMNS = ["cohort_key", "version", "users", "mean_risk", "model", "scored_at", "as_of"]
BREAKDOWN_COLUMNS = ["cohort_key", "dimension", "value", "users", "mean_risk", "high_risk_users"]
_NEWEST = "(SELECT MAX(version) FROM cohorts newest WHERE newest.cohort_key = cohorts.cohort_key)"


def _state(conn: sqlite3.Connection) -> tuple[int, int]:
    watermark, epoch = conn.execute(
        "SELECT (SELECT MAX(rowid) FROM cohorts), (SELECT epoch FROM fact_epochs WHERE table_name = 'cohorts')"
    ).fetchone()
    return int(watermark or 0), int(epoch or 0)


def _summaries(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """The newest version of every cohort, aggregated from its rows: list rows and breakdown rows, in order."""
    listed = conn.execute(
        "SELECT c.cohort_key, c.version, COUNT(*) AS users, AVG(c.risk) AS mean_risk, MAX(c.model) AS model, "
        "MAX(c.scored_at) AS scored_at, MAX(c.as_of) AS as_of FROM cohorts c "
        "JOIN (SELECT cohort_key, MAX(version) AS version FROM cohorts GROUP BY cohort_key) v "
        "ON v.cohort_key = c.cohort_key AND v.version = c.version "
        "GROUP BY c.cohort_key, c.version ORDER BY c.cohort_key").fetchall()
    parts = [
        f"SELECT cohort_key, '{column}' AS dimension, COALESCE({column}, '(none)') AS value, COUNT(*) AS users, "
        f"AVG(risk) AS mean_risk, SUM(risk >= ?) AS high_risk_users FROM cohorts WHERE version = {_NEWEST} "
        f"GROUP BY cohort_key, COALESCE({column}, '(none)')"
        for column in SEGMENT_COLUMNS  # fixed column names, never user input
    ]
    breakdown = conn.execute(" UNION ALL ".join(parts) + " ORDER BY cohort_key, dimension, users DESC",
                             [HIGH_RISK] * len(SEGMENT_COLUMNS)).fetchall()
    return {"list": [tuple(r) for r in listed], "breakdown": [tuple(r) for r in breakdown]}


def refresh_cohort_summaries(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Recompute and store the summaries (call inside the transaction that wrote a cohort version)."""
    summaries = _summaries(conn)
    watermark, epoch = _state(conn)
    conn.execute("DELETE FROM cohort_summaries")
    conn.execute("INSERT INTO cohort_summaries (watermark, epoch, summary) VALUES (?, ?, ?)",
                 (watermark, epoch, json.dumps(summaries)))
    return summaries


def cohort_summaries(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """The stored summaries when they match the cohorts table, else recomputed (and stored when the file is writable)."""
    stored = conn.execute("SELECT watermark, epoch, summary FROM cohort_summaries").fetchone()
    if stored is not None and (stored[0], stored[1]) == _state(conn):
        return {name: [tuple(r) for r in rows] for name, rows in json.loads(stored[2]).items()}
    if conn.in_transaction:
        return _summaries(conn)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:  # locked or read-only: answer from the rows this time
        return _summaries(conn)
    try:
        summaries = refresh_cohort_summaries(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return summaries


def cohort_list_frame(conn: sqlite3.Connection) -> pd.DataFrame:
    """Every cohort's newest version with its size, mean risk, model, scoring time and as-of date."""
    return pd.DataFrame.from_records(cohort_summaries(conn)["list"], columns=LIST_COLUMNS, coerce_float=True)


def breakdown_frame(conn: sqlite3.Connection, cohort_key: str | None = None) -> pd.DataFrame:
    """Users, mean risk and high-risk users per cohort × dimension × value (one cohort, or all)."""
    rows = [r for r in cohort_summaries(conn)["breakdown"] if cohort_key is None or r[0] == cohort_key]
    return pd.DataFrame.from_records(rows, columns=BREAKDOWN_COLUMNS, coerce_float=True)
