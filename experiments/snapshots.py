"""Analysis snapshots: an experiment's analysis computed once per refresh and stored, as GrowthBook does.

A snapshot keeps the engine, method and options that produced it, who asked for it and when, the full
report as strict JSON, its flat rows (the CSV), the health checks and the cumulative effect by day.
Pages and the REST API read snapshots; only a refresh (the UI's button or `winback analyze KEY --save`)
aggregates raw outcomes again.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

import sqlite_utils

from common.settings import resolve_actor
from experiments.analysis import ExperimentReport, analyze_experiment
from experiments.db import audit, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.metrics import SegmentBy
from stats import Method

ENGINE = "registry-sqlite"  # sufficient statistics computed by SQL GROUP BY on the registry file
SNAPSHOT_COLUMNS = ("id, experiment_key, engine, method, cuped, segment_by, options, created_at, created_by, "
                    "report, rows, health, cumulative")


@dataclass(frozen=True)
class Snapshot:
    """One stored analysis; `report`, `rows`, `health` and `cumulative` are strict-JSON structures."""

    id: int
    experiment_key: str
    engine: str
    method: Method
    cuped: bool
    segment_by: SegmentBy | None
    options: dict
    created_at: str
    created_by: str
    report: dict = field(repr=False)
    rows: list[dict] = field(repr=False)
    health: list[dict] = field(default_factory=list, repr=False)
    cumulative: list[dict] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
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
    rows = report_rows(report)
    created = utc_now()
    with transaction(database) as conn:
        cursor = conn.execute(
            "INSERT INTO analysis_snapshots (experiment_key, engine, method, cuped, segment_by, options, created_at, "
            "created_by, report, rows, health, cumulative) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, engine or ENGINE, report.method, int(report.cuped), report.segment_by, _dumps(options), created,
             _actor(actor), _dumps(report), _dumps(rows), "[]", "[]"),
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


def snapshot_history(database: sqlite_utils.Database, key: str, limit: int = 20) -> list[dict]:
    """The newest snapshots of `key` without their payload: id, engine, method, options, when and by whom."""
    rows = database.execute(
        "SELECT id, engine, method, cuped, segment_by, options, created_at, created_by FROM analysis_snapshots "
        "WHERE experiment_key = ? ORDER BY id DESC LIMIT ?", (key, limit))
    return [{"id": r[0], "engine": r[1], "method": r[2], "cuped": bool(r[3]), "segment_by": r[4],
             "options": json.loads(r[5]), "created_at": r[6], "created_by": r[7]} for r in rows]


def report_rows(report: ExperimentReport) -> list[dict[str, Any]]:
    """One flat row per arm × metric (segment 'all') and per arm × segment of the primary metric: the CSV."""
    money = {m.arm_key: m.economics for m in report.economics}
    rows = []
    for result in report.results:
        c = result.comparison
        rows.append({"arm": result.arm_key, "metric": result.metric, "segment": "all", "role": result.role,
                     **_comparison_fields(c), "p_holm": result.p_holm, "p_bh": result.p_bh,
                     "guardrail": result.guardrail or "",
                     **_money_fields(money.get(result.arm_key) if result.role == "primary" else None)})
    for segment in report.segments:
        rows.append({"arm": segment.arm_key, "metric": report.primary_metric, "segment": segment.segment,
                     "role": "primary", **_comparison_fields(segment.comparison), "p_holm": math.nan,
                     "p_bh": math.nan, "guardrail": "", **_money_fields(segment.economics)})
    return [_clean(row) for row in rows]


def _comparison_fields(c) -> dict[str, Any]:
    return {"n_control": c.n_control, "n_treatment": c.n_treatment, "mean_control": c.mean_control,
            "mean_treatment": c.mean_treatment, "effect": c.effect, "ci_low": c.ci_low, "ci_high": c.ci_high,
            "p_value": c.p_value, "chance_to_win": c.chance_to_win}


def _money_fields(e) -> dict[str, Any]:
    names = ("total_cost", "cost_per_retained", "cost_per_retained_ci_low", "cost_per_retained_ci_high",
             "incremental_margin", "incremental_margin_ci_low", "incremental_margin_ci_high", "roi", "roi_ci_low",
             "roi_ci_high")
    return {name: (math.nan if e is None else getattr(e, name)) for name in names}


def _clean(value: Any) -> Any:
    """Dataclasses to dicts, non-finite floats to None: strict JSON."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_clean(value), allow_nan=False)


def _actor(actor: str | None) -> str:
    return resolve_actor(actor)


def _snapshot(row: tuple) -> Snapshot:
    return Snapshot(
        id=row[0], experiment_key=row[1], engine=row[2], method=row[3], cuped=bool(row[4]), segment_by=row[5],
        options=json.loads(row[6]), created_at=row[7], created_by=row[8], report=json.loads(row[9]),
        rows=json.loads(row[10]), health=json.loads(row[11]), cumulative=json.loads(row[12]),
    )
