"""Analysis snapshots: an experiment's analysis computed once per refresh and stored, as GrowthBook does.

A snapshot keeps the engine, method and options that produced it, who asked for it and when, the full
report as strict JSON, its flat rows (the CSV), the health checks, the cumulative effect by day and the
recommended winner with what blocks each arm (`experiments.decisions.advise`). Pages and the REST API
read snapshots; only a refresh (the UI's button or `winback analyze KEY --save`) aggregates raw outcomes again.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlite_utils

from common.jsonable import to_jsonable
from common.settings import resolve_actor
from experiments.analysis import ExperimentReport, analyze_experiment
from experiments.choices import SegmentBy
from experiments.db import audit, transaction, utc_now
from experiments.decisions import advise
from experiments.errors import ExperimentError
from experiments.health import health_checks
from experiments.report_rows import report_rows
from experiments.timeline import cumulative_by_day
from stats import Method

ENGINE = "registry-sqlite"  # sufficient statistics computed by SQL GROUP BY on the registry file
SNAPSHOT_COLUMNS = ("id, experiment_key, engine, method, cuped, segment_by, options, created_at, created_by, "
                    "report, rows, health, cumulative, recommendation")


@dataclass(frozen=True)
class Snapshot:
    """One stored analysis; `report`, `rows`, `health` and `cumulative` are strict-JSON structures."""

    id: int
    experiment_key: str
    engine: str
    method: Method
    cuped: bool
    segment_by: SegmentBy | None
    options: dict[str, Any]
    created_at: str
    created_by: str
    report: dict[str, Any] = field(repr=False)
    rows: list[dict[str, Any]] = field(repr=False)
    health: list[dict[str, Any]] = field(default_factory=list, repr=False)
    cumulative: list[dict[str, Any]] = field(default_factory=list, repr=False)
    recommendation: dict[str, Any] | None = field(default=None, repr=False)  # WinnerAdvice as JSON; None in older snapshots

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def take_snapshot(
    database: sqlite_utils.Database,
    key: str,
    *,
    method: Method = "ttest",
    cuped: bool = False,
    segment_by: SegmentBy | None = None,
    value_per_retained: float | None = None,
    actor: str | None = None,
) -> Snapshot:
    """Analyse experiment `key` now and store the result (audited); returns the stored snapshot."""
    report = analyze_experiment(key, database, method=method, cuped=cuped, segment_by=segment_by,
                                value_per_retained=value_per_retained)
    return store_snapshot(database, report, value_per_retained=value_per_retained, actor=actor)


def store_snapshot(database: sqlite_utils.Database, report: ExperimentReport, *,
                   value_per_retained: float | None = None, engine: str | None = None,
                   actor: str | None = None) -> Snapshot:
    """Store an analysis already computed (e.g. by `winback analyze --save`) with its rows, as one snapshot.

    `engine` names where the sufficient statistics were computed (default: SQL on the registry)."""
    key = report.key
    options = {"value_per_retained": value_per_retained, "alpha": report.alpha, "relative": report.relative}
    rows = report_rows(report).to_dict(orient="records")
    health = health_checks(database, key).to_dict()["checks"]
    primary = next(iter(report.results), None)
    cumulative = (cumulative_by_day(database, key, method=report.method, relative=report.relative,
                                    alpha=report.alpha).to_dict(orient="records") if primary else [])
    recommendation = advise(report)
    created = utc_now()
    with transaction(database) as conn:
        cursor = conn.execute(
            "INSERT INTO analysis_snapshots (experiment_key, engine, method, cuped, segment_by, options, created_at, "
            "created_by, report, rows, health, cumulative, recommendation) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, engine or ENGINE, report.method, int(report.cuped), report.segment_by, _dumps(options), created,
             _actor(actor), _dumps(report), _dumps(rows), _dumps(health), _dumps(cumulative), _dumps(recommendation)),
        )
        snapshot_id = int(cursor.lastrowid or 0)
        audit(conn, "snapshot", "experiment", key,
              json.dumps({"snapshot": snapshot_id, "method": report.method, "cuped": report.cuped,
                          "segment_by": report.segment_by}), actor)
    found = get_snapshot(database, snapshot_id)
    if found is None:
        raise ExperimentError(f"snapshot {snapshot_id} of '{key}' was not stored")
    return found


def get_snapshot(database: sqlite_utils.Database, snapshot_id: int) -> Snapshot | None:
    """One snapshot by id."""
    row = database.execute(f"SELECT {SNAPSHOT_COLUMNS} FROM analysis_snapshots WHERE id = ?", (snapshot_id,)).fetchone()
    return _snapshot(row) if row else None


def latest_snapshot(
    database: sqlite_utils.Database,
    key: str,
    *,
    method: Method | None = None,
    cuped: bool | None = None,
    segment_by: SegmentBy | None = None,
    any_segment: bool = False,
) -> Snapshot | None:
    """The newest snapshot of `key` made with these options (None = any method / CUPED setting)."""
    row = database.execute(
        f"SELECT {SNAPSHOT_COLUMNS} FROM analysis_snapshots WHERE experiment_key = ? "
        "AND (? IS NULL OR method = ?) AND (? IS NULL OR cuped = ?) "
        "AND (? OR segment_by IS ?) ORDER BY id DESC LIMIT 1",
        (key, method, method, None if cuped is None else int(cuped), None if cuped is None else int(cuped),
         int(any_segment), segment_by),
    ).fetchone()
    return _snapshot(row) if row else None


def snapshot_history(database: sqlite_utils.Database, key: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest snapshots of `key` without their payload: id, engine, method, options, when and by whom."""
    rows = database.execute(
        "SELECT id, engine, method, cuped, segment_by, options, created_at, created_by FROM analysis_snapshots "
        "WHERE experiment_key = ? ORDER BY id DESC LIMIT ?", (key, limit))
    return [{"id": r[0], "engine": r[1], "method": r[2], "cuped": bool(r[3]), "segment_by": r[4],
             "options": json.loads(r[5]), "created_at": r[6], "created_by": r[7]} for r in rows]


def _dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), allow_nan=False)


def _actor(actor: str | None) -> str:
    return resolve_actor(actor)


def _snapshot(row: tuple[Any, ...]) -> Snapshot:
    return Snapshot(
        id=row[0], experiment_key=row[1], engine=row[2], method=row[3], cuped=bool(row[4]), segment_by=row[5],
        options=json.loads(row[6]), created_at=row[7], created_by=row[8], report=json.loads(row[9]),
        rows=json.loads(row[10]), health=json.loads(row[11]), cumulative=json.loads(row[12]),
        recommendation=json.loads(row[13]) if row[13] else None,
    )
