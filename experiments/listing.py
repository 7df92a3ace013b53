"""The experiment list the web UI shows: definitions, users per arm and health from each experiment's newest
analysis snapshot, and the decision, in a fixed number of queries that never scan assignments or outcomes.

`experiments.summaries.experiment_summaries` counts live rows instead (a full GROUP BY over assignments,
deliveries and outcomes); that is right for the CLI, but a page that many people reload must not
re-aggregate raw rows, so the list reads what the last refresh stored.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict

import sqlite_utils

from experiments.choices import Status
from experiments.definitions import list_experiments
from experiments.summaries import days_between, latest_decisions


class HealthProblem(TypedDict):
    """A health check of the latest snapshot that warns or fails (srm has its own field)."""

    name: str
    title: str
    count: int
    status: str


@dataclass(frozen=True)
class ExperimentListing:
    """One row of the experiment list; the `snapshot_*` and health fields are None before the first analysis."""

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
    snapshot_id: int | None
    snapshot_at: str | None
    users_by_arm: dict[str, int] = field(default_factory=dict)
    srm: str | None = None  # ok / fail from the snapshot's health checks
    srm_p_value: float | None = None
    guardrail_failures: list[str] = field(default_factory=list)  # "arm: metric" that fail a guardrail
    guardrail_verdicts: dict[str, int] = field(default_factory=dict)  # arm × guardrail rows per verdict (pass/warn/...)
    problems: list[HealthProblem] = field(default_factory=list)  # health checks that warn or fail: name, title, count
    winner: str | None = None
    decided_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def experiment_listing(database: sqlite_utils.Database, status: Status | None = None, *, owner: str | None = None,
                       text: str | None = None) -> list[ExperimentListing]:
    """Every experiment (filtered by status, owner substring, key/name substring), newest first."""
    experiments = [e for e in list_experiments(database, status)
                   if (not owner or owner.lower() in e.owner.lower())
                   and (not text or text.lower() in f"{e.key} {e.name}".lower())]
    latest = {row[0]: row[1:] for row in database.execute(
        "SELECT experiment_key, id, created_at, json_extract(report, '$.arms'), json_extract(report, '$.results'), "
        "health FROM analysis_snapshots s WHERE id = (SELECT MAX(id) FROM analysis_snapshots "
        "WHERE experiment_key = s.experiment_key)")}
    decisions = latest_decisions(database)
    rows = []
    for e in experiments:
        snapshot_id, snapshot_at, arms, results, health = latest.get(e.key, (None, None, None, None, None))
        checks = json.loads(health) if health else []
        srm = next((c for c in checks if c["name"] == "srm"), None)
        winner, decided_by = decisions.get(e.key, (None, None))
        judged = [r for r in json.loads(results or "[]") if r.get("guardrail")]
        rows.append(ExperimentListing(
            key=e.key, name=e.name, status=e.status, owner=e.owner, layer=e.layer, target_cohort=e.target_cohort,
            primary_metric=e.primary_metric, created_at=e.created_at, started_at=e.started_at,
            stopped_at=e.stopped_at, days_running=days_between(e.started_at, e.stopped_at), snapshot_id=snapshot_id,
            snapshot_at=snapshot_at,
            users_by_arm={a["arm_key"]: a["n"] for a in json.loads(arms)} if arms else {},
            srm=None if srm is None or srm["status"] == "not_checked" else ("fail" if srm["status"] == "fail" else "ok"),
            srm_p_value=(srm or {}).get("detail", {}).get("p_value"),
            guardrail_failures=sorted({f"{r['arm_key']}: {r['metric']}" for r in judged if r["guardrail"] == "fail"}),
            guardrail_verdicts=dict(Counter(r["guardrail"] for r in judged)),
            problems=[{"name": c["name"], "title": c["title"], "count": c["count"], "status": c["status"]}
                      for c in checks if c["status"] in ("warn", "fail") and c["name"] != "srm"],
            winner=winner, decided_by=decided_by))
    return rows
