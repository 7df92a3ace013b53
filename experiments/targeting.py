"""Assigning a flagged cohort to a running experiment, behind the guard rails.

Guard rails (`experiments.send_gate`, the same gate budget plans pass), applied before hashing so randomization
stays valid among the eligible: opt-outs and programme holdouts are never assigned; a user is in at most one running
experiment per layer; a user already given `contact_cap` treatments (non-control assignments) in the last
`cap_window_days` is skipped.
Users already assigned in this experiment keep their arm, so re-running is idempotent.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from experiments.assignment import assign
from experiments.bandit_weights import weights_in_force
from experiments.choices import (
    DEFAULT_CAP_WINDOW_DAYS,
    DEFAULT_CONTACT_CAP,
    MAX_CAP_WINDOW_DAYS,
    MAX_CONTACT_CAP,
    MIN_CAP_WINDOW_DAYS,
    MIN_CONTACT_CAP,
)
from experiments.db import RegistryLike, audit, open_registry, transaction
from experiments.definitions import get_experiment
from experiments.errors import ExperimentError, ImportDataError
from experiments.identity import check_ids
from experiments.send_gate import fill_candidates, mark_fates, window_start
from experiments.table_files import read_text_table


@dataclass(frozen=True)
class AssignmentSummary:
    """What one assignment run did, user counts by fate, and the arm sizes after it."""

    experiment_key: str
    candidates: int
    already_assigned: int
    newly_assigned: int
    excluded_opt_out: int
    excluded_layer: int
    excluded_contact_cap: int
    outside_coverage: int
    arm_sizes: dict[str, int] = field(default_factory=dict)
    outside_cohort: int = 0  # newly assigned users who are not in the experiment's target cohort
    excluded_holdout: int = 0  # in a programme's holdout: kept out of everything

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_user_ids(path: str | os.PathLike[str], column: str = "user_id") -> np.ndarray:
    """User ids from a CSV or Parquet file, as exact strings (leading zeros kept, nothing stripped)."""
    frame = read_text_table(path, error=ImportDataError)
    if column not in frame.columns:
        raise ImportDataError(str(path), None, column, f"missing column; the file has: {', '.join(map(str, frame.columns))}")
    check_ids(frame[column], str(path), column)
    return frame[column].to_numpy(dtype=object)


def read_cohort_ids(cohort_key: str, db: RegistryLike = None, version: int | None = None) -> np.ndarray:
    """User ids of one version (default: the newest) of a flagged cohort in the registry's cohorts table."""
    database = open_registry(db)
    ids = [r[0] for r in database.execute(
        "SELECT user_id FROM cohorts WHERE cohort_key = ? AND version = "
        "COALESCE(?, (SELECT MAX(version) FROM cohorts WHERE cohort_key = ?))", (cohort_key, version, cohort_key))]
    if not ids:
        known = [r[0] for r in database.execute("SELECT DISTINCT cohort_key FROM cohorts ORDER BY 1")]
        raise ExperimentError(f"cohort '{cohort_key}' is empty or unknown; known cohorts: {', '.join(known) or 'none'}")
    return np.asarray(ids, dtype=object)


def assign_users(
    key: str,
    user_ids: np.ndarray | list[str] | None = None,
    *,
    db: RegistryLike = None,
    contact_cap: int = DEFAULT_CONTACT_CAP,
    cap_window_days: int = DEFAULT_CAP_WINDOW_DAYS,
    now: datetime | None = None,
    actor: str | None = None,
) -> AssignmentSummary:
    """Assign users (default: the experiment's target cohort) to the running experiment `key`."""
    experiment = get_experiment(key, db)
    if experiment.status != "running":
        raise ExperimentError(f"experiment '{key}' is {experiment.status}; start it before assigning users")
    if not MIN_CONTACT_CAP <= contact_cap <= MAX_CONTACT_CAP:
        raise ExperimentError(f"--contact-cap must be between {MIN_CONTACT_CAP} and {MAX_CONTACT_CAP}, got {contact_cap}")
    if not MIN_CAP_WINDOW_DAYS <= cap_window_days <= MAX_CAP_WINDOW_DAYS:
        raise ExperimentError(f"--cap-window-days must be between {MIN_CAP_WINDOW_DAYS} and {MAX_CAP_WINDOW_DAYS} "
                              f"(a window of 0 or fewer days would switch the contact cap off), got {cap_window_days}")
    cohort_version = experiment.cohort_version
    from_cohort = user_ids is None
    if user_ids is None:
        if not experiment.target_cohort:
            raise ExperimentError(f"experiment '{key}' has no target cohort; pass users from a file")
        user_ids = read_cohort_ids(experiment.target_cohort, db, cohort_version)
    else:
        check_ids(user_ids, "user ids", "user_id")
    candidates = pd.unique(pd.Series(user_ids, dtype=object))
    now = now or datetime.now(UTC)
    since = window_start(cap_window_days, now)
    assigned_at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    database = open_registry(db)
    with transaction(database) as conn:
        status = conn.execute("SELECT status FROM experiments WHERE key = ?", (key,)).fetchone()[0]
        if status != "running":  # re-read under the write lock: it may have been stopped meanwhile
            raise ExperimentError(f"experiment '{key}' is {status}; start it before assigning users")
        fill_candidates(conn, candidates)
        fates = mark_fates(conn, experiment_key=key, layer=experiment.layer, contact_cap=contact_cap,
                           since=since)
        eligible = np.asarray([r[0] for r in conn.execute("SELECT user_id FROM candidate WHERE fate IS NULL")], dtype=object)
        weights = weights_in_force(database, key) or experiment.weights  # a bandit's period in force (bandit_weights)
        arm_index = assign(
            eligible, seed=experiment.key, weights=weights,
            coverage=experiment.coverage, hash_version=experiment.hash_version,
        )
        inside = arm_index >= 0
        arm_keys = np.asarray([arm.key for arm in experiment.arms], dtype=object)
        rows = zip(eligible[inside], arm_keys[arm_index[inside]])
        conn.executemany(
            "INSERT OR IGNORE INTO assignments (experiment_key, user_id, arm_key, assigned_at) VALUES (?, ?, ?, ?)",
            ((key, user, arm, assigned_at) for user, arm in rows),
        )
        outside_cohort = 0
        if experiment.target_cohort:
            outside_cohort = conn.execute(
                "SELECT COUNT(*) FROM assignments a WHERE a.experiment_key = ? AND a.assigned_at = ? AND NOT EXISTS "
                "(SELECT 1 FROM cohorts c WHERE c.cohort_key = ? AND c.user_id = a.user_id AND c.version = "
                "COALESCE(?, (SELECT MAX(version) FROM cohorts WHERE cohort_key = c.cohort_key)))",
                (key, assigned_at, experiment.target_cohort, cohort_version)).fetchone()[0]
        arm_sizes = dict(
            conn.execute(
                "SELECT arm_key, COUNT(*) FROM assignments WHERE experiment_key = ? GROUP BY arm_key", (key,)
            ).fetchall()
        )
        summary = AssignmentSummary(
            experiment_key=key,
            candidates=len(candidates),
            already_assigned=fates.get("already", 0),
            newly_assigned=int(inside.sum()),
            outside_cohort=int(outside_cohort),
            excluded_opt_out=fates.get("opt_out", 0),
            excluded_layer=fates.get("layer", 0),
            excluded_contact_cap=fates.get("cap", 0),
            excluded_holdout=fates.get("holdout", 0),
            outside_coverage=int((~inside).sum()),
            arm_sizes={arm.key: arm_sizes.get(arm.key, 0) for arm in experiment.arms},
        )
        conn.execute("DROP TABLE candidate")
        if experiment.target_cohort and cohort_version is None:  # started before its cohort existed: pin it now
            conn.execute("UPDATE experiments SET cohort_version = (SELECT MAX(version) FROM cohorts "
                         "WHERE cohort_key = ?) WHERE key = ?", (experiment.target_cohort, key))
        rules = {"contact_cap": contact_cap, "cap_window_days": cap_window_days,
                 "override": (contact_cap, cap_window_days) != (DEFAULT_CONTACT_CAP, DEFAULT_CAP_WINDOW_DAYS),
                 "source": "cohort" if from_cohort else "user list"}
        audit(conn, "assign", "experiment", key, json.dumps({**summary.to_dict(), **rules}), actor)
    return summary


def arm_of_users(key: str, db: RegistryLike = None) -> pd.DataFrame:
    """Every assignment of an experiment: user_id, arm_key, assigned_at."""
    database = open_registry(db)
    return pd.read_sql_query(
        "SELECT user_id, arm_key, assigned_at FROM assignments WHERE experiment_key = ? ORDER BY user_id",
        database.conn, params=(key,), dtype={"user_id": str},
    )
