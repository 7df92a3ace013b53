"""Status changes (draft → running → stopped → concluded) and the decision that concludes an experiment."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from experiments.choices import Status
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.definitions import Experiment, get_experiment
from experiments.errors import ExperimentError
from experiments.identity import check_text
from experiments.lookup import check_known

# Each status and the one status it may move to, with the timestamp column that move sets.
TRANSITIONS: dict[Status, tuple[Status, str]] = {
    "draft": ("running", "started_at"),
    "running": ("stopped", "stopped_at"),
    "stopped": ("concluded", "concluded_at"),
}


@dataclass(frozen=True)
class Decision:
    """The recorded outcome of an experiment: which arm won, why, who decided and when."""

    experiment_key: str
    winner_arm: str
    rationale: str
    decided_by: str
    decided_at: str
    override: str | None = None  # the reason given for overriding a failed guardrail or SRM check

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _move(key: str, target: Status, db: RegistryLike, actor: str | None) -> Experiment:
    database = open_registry(db)
    with transaction(database) as conn:
        row = conn.execute("SELECT status FROM experiments WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise ExperimentError(f"unknown experiment '{key}'")
        current = row[0]
        allowed, column = TRANSITIONS.get(current, (None, ""))
        if allowed != target:
            raise ExperimentError(
                f"experiment '{key}' is {current}; it cannot become {target} "
                f"(lifecycle: draft → running → stopped → concluded)"
            )
        if target == "running":
            _freeze_costs_and_metric_kinds(conn, key)
        conn.execute(f"UPDATE experiments SET status = ?, {column} = ? WHERE key = ?", (target, utc_now(), key))
        if target == "running":  # the experiment keeps the cohort version it started with
            conn.execute("UPDATE experiments SET cohort_version = (SELECT MAX(version) FROM cohorts "
                         "WHERE cohort_key = experiments.target_cohort) WHERE key = ?", (key,))
        audit(conn, target, "experiment", key, json.dumps({"from": current, "to": target}), actor)
    return get_experiment(key, db)


def _freeze_costs_and_metric_kinds(conn: sqlite3.Connection, key: str) -> None:
    """Copy each arm's unit cost and every metric's kind and direction into the experiment as it starts, so a
    later `treatment update` or `metric add` does not rewrite a running experiment's economics."""
    conn.execute(
        "UPDATE arms SET unit_cost = (SELECT unit_cost FROM treatments t WHERE t.key = arms.treatment_key) "
        "WHERE experiment_key = ?", (key,))
    kinds = {name: {"kind": kind, "higher_is_better": bool(hib)}
             for name, kind, hib in conn.execute("SELECT key, kind, higher_is_better FROM metrics")}
    conn.execute("UPDATE experiments SET metric_kinds = ? WHERE key = ?", (json.dumps(kinds), key))


def start_experiment(key: str, db: RegistryLike = None, actor: str | None = None) -> Experiment:
    """draft → running: from now on arms and weights are frozen (the schema enforces it too)."""
    from experiments.bandit_weights import check_bandit_draft

    check_bandit_draft(db, key)  # a bandit's draft may have been edited since it was created
    return _move(key, "running", db, actor)


def stop_experiment(key: str, db: RegistryLike = None, actor: str | None = None) -> Experiment:
    """running → stopped: no new assignments; deliveries and outcomes may still be imported."""
    return _move(key, "stopped", db, actor)


def record_decision(
    key: str, winner_arm: str, rationale: str, decided_by: str, db: RegistryLike = None,
    override: str | None = None,
) -> Decision:
    """Record the winning arm of a stopped experiment and conclude it, in one transaction.

    A winner that fails a guardrail, or any winner under a sample ratio mismatch, is refused unless `override`
    gives the reason to go ahead anyway; the override is stored with the decision and in the audit log.
    """
    from experiments.analysis import analyze_experiment
    from experiments.decisions import decision_blockers

    database = open_registry(db)
    experiment = get_experiment(key, database)
    check_known("arm", winner_arm, [arm.key for arm in experiment.arms], where=f"experiment '{key}'")
    if not rationale.strip():
        raise ExperimentError("a decision needs a rationale (what the evidence was)")
    check_text(rationale, "the rationale")
    check_text(override, "the override reason")
    if override is not None and not override.strip():
        raise ExperimentError("an override needs a reason")
    blockers = decision_blockers(analyze_experiment(key, database), winner_arm)
    if blockers and override is None:
        raise ExperimentError(f"experiment '{key}': cannot declare '{winner_arm}' the winner: {'; '.join(blockers)}. "
                              "Give an override reason to record it anyway (--override \"reason\" on the command line, the "
                              "override box on the strategy page)")
    decision = Decision(key, winner_arm, rationale, decided_by, utc_now(), override if blockers else None)
    with transaction(database) as conn:
        # Read the status under the write lock, so two concurrent decisions cannot both conclude it.
        status = conn.execute("SELECT status FROM experiments WHERE key = ?", (key,)).fetchone()[0]
        if status != "stopped":
            raise ExperimentError(_not_decidable(conn, key, status))
        conn.execute(
            "INSERT INTO decisions (experiment_key, winner_arm, rationale, decided_by, decided_at, override) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (decision.experiment_key, decision.winner_arm, decision.rationale, decision.decided_by,
             decision.decided_at, decision.override),
        )
        conn.execute(
            "UPDATE experiments SET status = 'concluded', concluded_at = ? WHERE key = ? AND status = 'stopped'",
            (decision.decided_at, key),
        )
        detail = {**decision.to_dict(), "overridden": blockers if decision.override else []}
        audit(conn, "decide", "experiment", key, json.dumps(detail), decided_by)
    return decision


def _not_decidable(conn: sqlite3.Connection, key: str, status: str) -> str:
    """Why an experiment in `status` cannot take a decision now, and what would let it."""
    if status == "concluded":
        winner, by, at = conn.execute(
            "SELECT winner_arm, decided_by, decided_at FROM decisions WHERE experiment_key = ? ORDER BY id DESC LIMIT 1",
            (key,)).fetchone()
        return f"experiment '{key}' is already concluded: winner '{winner}', decided by {by} at {at}; a decision is final"
    if status == "draft":
        return f"experiment '{key}' is draft; start it, let it run, then stop it before recording a decision"
    return f"experiment '{key}' is {status}; stop it before recording a decision"


def list_decisions(key: str, db: RegistryLike = None) -> list[Decision]:
    """Decisions recorded for an experiment, oldest first."""
    database = open_registry(db)
    rows = database.execute(
        "SELECT experiment_key, winner_arm, rationale, decided_by, decided_at, override FROM decisions "
        "WHERE experiment_key = ? ORDER BY id",
        (key,),
    ).fetchall()
    return [Decision(*row) for row in rows]
