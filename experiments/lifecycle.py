"""Status changes (draft → running → stopped → concluded) and the decision that concludes an experiment."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from experiments.db import audit, open_registry, transaction, utc_now
from experiments.definitions import Experiment, Status, get_experiment
from experiments.errors import ExperimentError

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

    def to_dict(self) -> dict:
        return asdict(self)


def _move(key: str, target: Status, db: str | os.PathLike[str] | None, actor: str | None) -> Experiment:
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
        conn.execute(f"UPDATE experiments SET status = ?, {column} = ? WHERE key = ?", (target, utc_now(), key))
        audit(conn, target, "experiment", key, json.dumps({"from": current, "to": target}), actor)
    return get_experiment(key, db)


def start_experiment(key: str, db: str | os.PathLike[str] | None = None, actor: str | None = None) -> Experiment:
    """draft → running: from now on arms and weights are frozen (the schema enforces it too)."""
    return _move(key, "running", db, actor)


def stop_experiment(key: str, db: str | os.PathLike[str] | None = None, actor: str | None = None) -> Experiment:
    """running → stopped: no new assignments; deliveries and outcomes may still be imported."""
    return _move(key, "stopped", db, actor)


def record_decision(
    key: str, winner_arm: str, rationale: str, decided_by: str, db: str | os.PathLike[str] | None = None
) -> Decision:
    """Record the winning arm of a stopped experiment and conclude it, in one transaction."""
    experiment = get_experiment(key, db)
    if winner_arm not in {arm.key for arm in experiment.arms}:
        raise ExperimentError(
            f"experiment '{key}' has no arm '{winner_arm}'; its arms: {', '.join(a.key for a in experiment.arms)}"
        )
    if not rationale.strip():
        raise ExperimentError("a decision needs a rationale (what the evidence was)")
    database = open_registry(db)
    decision = Decision(key, winner_arm, rationale, decided_by, utc_now())
    with transaction(database) as conn:
        # Read the status under the write lock, so two concurrent decisions cannot both conclude it.
        status = conn.execute("SELECT status FROM experiments WHERE key = ?", (key,)).fetchone()[0]
        if status != "stopped":
            raise ExperimentError(f"experiment '{key}' is {status}; stop it before recording a decision")
        conn.execute(
            "INSERT INTO decisions (experiment_key, winner_arm, rationale, decided_by, decided_at) VALUES (?, ?, ?, ?, ?)",
            (decision.experiment_key, decision.winner_arm, decision.rationale, decision.decided_by, decision.decided_at),
        )
        conn.execute(
            "UPDATE experiments SET status = 'concluded', concluded_at = ? WHERE key = ? AND status = 'stopped'",
            (decision.decided_at, key),
        )
        audit(conn, "decide", "experiment", key, json.dumps(decision.to_dict()), decided_by)
    return decision


def list_decisions(key: str, db: str | os.PathLike[str] | None = None) -> list[Decision]:
    """Decisions recorded for an experiment, oldest first."""
    database = open_registry(db)
    rows = database.execute(
        "SELECT experiment_key, winner_arm, rationale, decided_by, decided_at FROM decisions "
        "WHERE experiment_key = ? ORDER BY id",
        (key,),
    ).fetchall()
    return [Decision(*row) for row in rows]
