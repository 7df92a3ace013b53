"""Flagged cohorts in the registry: who is at risk, how much, in which stage, tier and for what reason.

Cohorts are versioned: flagging into a cohort name adds version N+1 in one transaction and never touches
earlier versions, so an experiment keeps exactly the users of the version it started with (pinned in
`experiments.cohort_version`) while later flag runs refresh the cohort for new experiments. Each write is
audited under the cohort and under every experiment that targets it.

Each row carries the as-of date its risk was scored for (`churn flag --as-of`), besides the time of scoring;
one version has one as-of date, and rows flagged before the registry recorded it have none ("unknown").
"""
from __future__ import annotations

import json
import sqlite3

import pandas as pd

from experiments.cohort_store import cohort_list_frame, refresh_cohort_summaries
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import check_ids, check_name

COHORT_COLUMNS = ("user_id", "risk", "stage", "tier", "reason", "model", "scored_at", "as_of")
REQUIRED_COHORT_COLUMNS = COHORT_COLUMNS[:5]  # model, scored_at and as_of may be left out
UNKNOWN_AS_OF = "unknown"  # how a cohort without a recorded as-of date is shown


def latest_version(conn: sqlite3.Connection, cohort_key: str) -> int | None:
    """The newest version of a cohort, None when it has none."""
    return conn.execute("SELECT MAX(version) FROM cohorts WHERE cohort_key = ?", (cohort_key,)).fetchone()[0]


def cohort_as_of(values: pd.Series, cohort_key: str) -> str | None:
    """The one as-of date (YYYY-MM-DD) of a cohort's rows, None when every row leaves it blank; an error names the
    row whose value is not a calendar day or differs from the others (rows count from 1)."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    given = text[text != ""]
    if given.empty:
        return None
    days = {}
    for position, value in enumerate(text.tolist(), start=1):
        if value == "":
            raise ExperimentError(f"cohort '{cohort_key}' row {position}: as_of is blank while other rows have "
                                  f"{given.iloc[0]!r}; give every row the date the risk was scored for, or none")
        if value not in days:
            try:
                stamp = pd.Timestamp(value)
            except (ValueError, TypeError):
                stamp = None
            if stamp is None or pd.isna(stamp) or stamp != stamp.normalize():
                raise ExperimentError(f"cohort '{cohort_key}' row {position}: as_of {value!r} is not a date; "
                                      "use YYYY-MM-DD")
            days[value] = str(stamp.date())
    distinct = sorted(set(days.values()))
    if len(distinct) > 1:
        raise ExperimentError(f"cohort '{cohort_key}' mixes as-of dates {', '.join(distinct)}; a cohort version is "
                              "scored for one date, so write one version per date")
    return distinct[0]


def write_cohort(frame: pd.DataFrame, cohort_key: str, db: RegistryLike = None) -> int:
    """Add a new version of cohort `cohort_key` holding the rows of `frame` (user_id, risk, stage, tier, reason
    [, model, scored_at, as_of]); returns how many users it holds. `as_of`, when given, is one date for all rows."""
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
    as_of = cohort_as_of(rows["as_of"], cohort_key) if "as_of" in rows.columns else None
    rows["as_of"] = as_of
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
            f"INSERT INTO cohorts (cohort_key, version, {', '.join(COHORT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * (len(COHORT_COLUMNS) + 2))})",
            values,
        )
        refresh_cohort_summaries(conn)
        detail = {"cohort": cohort_key, "version": version, "users": len(rows), "as_of": as_of}
        audit(conn, "new_version", "cohort", cohort_key, json.dumps(detail))
        for key, pinned in conn.execute(
            "SELECT key, cohort_version FROM experiments WHERE target_cohort = ? ORDER BY key", (cohort_key,)
        ).fetchall():
            audit(conn, "cohort_version", "experiment", key, json.dumps({**detail, "experiment_uses_version": pinned}))
    return len(rows)


def read_cohort(cohort_key: str, db: RegistryLike = None, version: int | None = None) -> pd.DataFrame:
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


def list_cohorts(db: RegistryLike = None) -> pd.DataFrame:
    """Every cohort's newest version with its size, mean risk, model, scoring time and as-of date (None: unknown)."""
    database = open_registry(db)
    frame = cohort_list_frame(database.conn)  # stored with each version (experiments/cohort_store.py)
    frame["as_of"] = frame["as_of"].astype(object).where(frame["as_of"].notna(), None)  # None, not NaN: unknown
    return frame
