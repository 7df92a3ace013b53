"""The experiment list as people read it: status, owner, dates, days running, users per arm, decision, health."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from experiments.choices import Status
from experiments.db import RegistryLike, open_registry
from experiments.definitions import list_experiments


@dataclass(frozen=True)
class ExperimentSummary:
    """One row of the experiment list; `users_by_arm` in arm order, `winner` once decided."""

    key: str
    name: str
    status: Status
    owner: str
    layer: str
    target_cohort: str | None
    primary_metric: str
    created_at: str
    started_at: str | None
    stopped_at: str | None
    days_running: float | None
    users_by_arm: dict[str, int]
    users: int
    deliveries: int
    outcomes: int
    winner: str | None
    decided_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def days_between(start: str | None, end: str | None) -> float | None:
    """Days from `start` to `end` (or now), one decimal; None before the start."""
    if start is None:
        return None
    begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
    finish = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(UTC)
    return round((finish - begin).total_seconds() / 86400, 1)


def latest_decisions(database: sqlite_utils.Database) -> dict[str, tuple[str, str]]:
    """Each decided experiment's newest decision: key -> (winner arm, decided by)."""
    return {key: (winner, by) for key, winner, by in database.execute(
        "SELECT experiment_key, winner_arm, decided_by FROM decisions d WHERE id = "
        "(SELECT MAX(id) FROM decisions WHERE experiment_key = d.experiment_key)")}


def experiment_summaries(db: RegistryLike, status: Status | None = None) -> list[ExperimentSummary]:
    """Every experiment (or those in one status), newest first, in a fixed number of GROUP BY queries."""
    database = open_registry(db)
    experiments = list_experiments(database, status)
    counts: dict[str, dict[str, int]] = {}
    for key, arm, n in database.execute("SELECT experiment_key, arm_key, COUNT(*) FROM assignments GROUP BY 1, 2"):
        counts.setdefault(key, {})[arm] = n
    deliveries = dict(database.execute("SELECT experiment_key, COUNT(*) FROM deliveries GROUP BY 1").fetchall())
    outcomes = dict(database.execute("SELECT experiment_key, COUNT(*) FROM outcomes GROUP BY 1").fetchall())
    decisions = latest_decisions(database)
    out = []
    for e in experiments:
        by_arm = {arm.key: counts.get(e.key, {}).get(arm.key, 0) for arm in e.arms}
        winner, decided_by = decisions.get(e.key, (None, None))
        out.append(ExperimentSummary(
            key=e.key, name=e.name, status=e.status, owner=e.owner, layer=e.layer, target_cohort=e.target_cohort,
            primary_metric=e.primary_metric, created_at=e.created_at, started_at=e.started_at,
            stopped_at=e.stopped_at, days_running=days_between(e.started_at, e.stopped_at), users_by_arm=by_arm,
            users=sum(by_arm.values()), deliveries=int(deliveries.get(e.key, 0)), outcomes=int(outcomes.get(e.key, 0)),
            winner=winner, decided_by=decided_by))
    return out
