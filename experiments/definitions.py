"""Experiment definitions: an experiment (its key is the hash seed) and its arms, created as drafts."""
from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import sqlite_utils

from experiments.choices import Status
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import TEXT_LIMITS, check_experiment_key, check_id, check_name, check_text
from experiments.lookup import check_known, unknown_name


@dataclass(frozen=True)
class Arm:
    """One arm: which treatment it gives (None for a pure control), its traffic weight, control or not."""

    key: str
    treatment: str | None
    weight: float
    is_control: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Experiment:
    """A retention experiment as stored in the registry; `key` is also the assignment hash seed."""

    key: str
    name: str
    primary_metric: str
    arms: tuple[Arm, ...]
    hypothesis: str = ""
    owner: str = ""
    target_cohort: str | None = None
    guardrail_metrics: tuple[str, ...] = ()
    layer: str = "default"
    coverage: float = 1.0
    hash_version: int = 2
    value_per_retained: float | None = None  # what one retained user is worth (finance's figure, for ROI)
    status: Status = "draft"
    created_at: str = ""
    started_at: str | None = None
    stopped_at: str | None = None
    concluded_at: str | None = None
    cohort_version: int | None = None  # the target cohort's version pinned when the experiment started
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def weights(self) -> list[float]:
        return [arm.weight for arm in self.arms]

    @property
    def control(self) -> Arm:
        return next(arm for arm in self.arms if arm.is_control)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return data


def parse_arm(text: str) -> Arm:
    """`NAME:TREATMENT:WEIGHT` (TREATMENT '-' for none) → Arm (not yet marked control)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ExperimentError(f"arm '{text}' must look like NAME:TREATMENT:WEIGHT (TREATMENT '-' for none)")
    name, treatment_key, weight = parts
    try:
        value = float(weight)
    except ValueError:
        raise ExperimentError(f"arm '{text}': weight '{weight}' is not a number") from None
    return Arm(name, None if treatment_key in ("", "-") else treatment_key, value)


def build_arms(specs: list[str] | tuple[str, ...], control: str | None = None) -> tuple[Arm, ...]:
    """Arms from `NAME:TREATMENT:WEIGHT` texts; `control` names the control arm (default: the first)."""
    if not specs:
        raise ExperimentError("an experiment needs arms: give NAME:TREATMENT:WEIGHT for each")
    parsed = [parse_arm(text) for text in specs]
    control_key = control or parsed[0].key
    if control_key not in {arm.key for arm in parsed}:
        raise ExperimentError(f"control '{control_key}' is not one of the arms: {', '.join(a.key for a in parsed)}")
    return tuple(Arm(a.key, a.treatment, a.weight, a.key == control_key) for a in parsed)


def check_references(experiment: Experiment, conn: sqlite3.Connection) -> None:
    """Refuse names the registry does not know: treatments, primary metric, guardrails and target cohort."""
    treatments = {row[0] for row in conn.execute("SELECT key FROM treatments")}
    for arm in experiment.arms:
        if arm.treatment is not None:
            check_known("treatment", arm.treatment, treatments, "add it first with `winback treatment add`",
                        f"experiment '{experiment.key}', arm '{arm.key}'")
    metrics = {row[0] for row in conn.execute("SELECT key FROM metrics")}
    hint = "declare it first with `winback metric add`"
    where = f"experiment '{experiment.key}'"
    check_known("metric", experiment.primary_metric, metrics, hint, f"{where}, primary metric")
    for guardrail in experiment.guardrail_metrics:
        check_known("metric", guardrail, metrics, hint, f"{where}, guardrail")
    if experiment.primary_metric in experiment.guardrail_metrics:
        raise ExperimentError(f"experiment '{experiment.key}': the primary metric '{experiment.primary_metric}' "
                              "cannot also be a guardrail")
    if experiment.target_cohort is not None:
        cohorts = {row[0] for row in conn.execute("SELECT DISTINCT cohort_key FROM cohorts")}
        check_known("cohort", experiment.target_cohort, cohorts, "flag one with `winback churn flag --cohort NAME`",
                    f"{where}, target cohort")


def validate_definition(experiment: Experiment, known_treatments: set[str]) -> None:
    """Reject a definition that could not run: bad arms, weights, coverage or unknown treatments."""
    key = experiment.key
    if not key.strip():
        raise ExperimentError("an experiment needs a non-empty key (it is the hash seed)")
    check_experiment_key(key)
    for text_field, size in (("name", "short"), ("hypothesis", "long"), ("owner", "short"), ("layer", "short")):
        check_text(getattr(experiment, text_field), f"experiment '{key}', {text_field}", TEXT_LIMITS[size])
    for arm in experiment.arms:
        check_id(arm.key, f"experiment '{key}', arm key")
    for metric in (experiment.primary_metric, *experiment.guardrail_metrics):
        check_id(metric, f"experiment '{key}', metric")
    if experiment.target_cohort is not None:
        check_name(experiment.target_cohort, f"experiment '{key}', cohort name")
    if len(experiment.arms) < 2:
        raise ExperimentError(f"experiment '{key}': needs at least two arms, got {len(experiment.arms)}")
    arm_keys = [arm.key for arm in experiment.arms]
    if len(set(arm_keys)) != len(arm_keys):
        raise ExperimentError(f"experiment '{key}': arm keys must be unique, got {', '.join(arm_keys)}")
    controls = [arm.key for arm in experiment.arms if arm.is_control]
    if len(controls) != 1:
        raise ExperimentError(f"experiment '{key}': exactly one arm must be the control, got {len(controls)}")
    for arm in experiment.arms:
        if not math.isfinite(arm.weight) or arm.weight <= 0:
            raise ExperimentError(f"experiment '{key}', arm '{arm.key}': weight must be > 0, got {arm.weight}")
        if arm.treatment is not None and arm.treatment not in known_treatments:
            raise ExperimentError(
                f"experiment '{key}', arm '{arm.key}': unknown treatment '{arm.treatment}'; "
                f"add it first with `winback treatment add`"
            )
        if arm.treatment is None and not arm.is_control:
            raise ExperimentError(f"experiment '{key}', arm '{arm.key}': a non-control arm needs a treatment")
    if abs(sum(experiment.weights) - 1.0) > 0.01:
        raise ExperimentError(
            f"experiment '{key}': arm weights must sum to 1 (GrowthBook falls back to equal weights otherwise), "
            f"got {sum(experiment.weights):g}"
        )
    if not 0 < experiment.coverage <= 1:
        raise ExperimentError(f"experiment '{key}': coverage must be in (0, 1], got {experiment.coverage}")
    if experiment.value_per_retained is not None and not (
        math.isfinite(experiment.value_per_retained) and experiment.value_per_retained >= 0
    ):
        raise ExperimentError(
            f"experiment '{key}': value per retained user must be an amount >= 0, got {experiment.value_per_retained}"
        )
    if experiment.hash_version not in (1, 2):
        raise ExperimentError(f"experiment '{key}': hash version must be 1 or 2, got {experiment.hash_version}")


def create_experiment(experiment: Experiment, db: RegistryLike = None, actor: str | None = None) -> Experiment:
    """Store a new draft experiment and its arms in one transaction (audited)."""
    database = open_registry(db)
    with transaction(database) as conn:
        known = {row[0] for row in conn.execute("SELECT key FROM treatments")}
        check_references(experiment, conn)
        validate_definition(experiment, known)
        if conn.execute("SELECT 1 FROM experiments WHERE key = ?", (experiment.key,)).fetchone():
            raise ExperimentError(f"experiment '{experiment.key}' already exists; pick another key")
        now = utc_now()
        conn.execute(
            "INSERT INTO experiments (key, name, hypothesis, owner, target_cohort, primary_metric, "
            "guardrail_metrics, layer, coverage, hash_version, value_per_retained, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?)",
            (experiment.key, experiment.name, experiment.hypothesis, experiment.owner, experiment.target_cohort,
             experiment.primary_metric, json.dumps(list(experiment.guardrail_metrics)), experiment.layer,
             experiment.coverage, experiment.hash_version, experiment.value_per_retained, now),
        )
        _insert_arms(conn, experiment)
        audit(conn, "create", "experiment", experiment.key, json.dumps(experiment.to_dict()), actor)
    return get_experiment(experiment.key, db)


def _insert_arms(conn: sqlite3.Connection, experiment: Experiment) -> None:
    conn.executemany(
        "INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(experiment.key, arm.key, i, arm.treatment, arm.weight, int(arm.is_control))
         for i, arm in enumerate(experiment.arms)],
    )


_COLUMNS = ("key, name, primary_metric, hypothesis, owner, target_cohort, guardrail_metrics, layer, coverage, "
            "hash_version, value_per_retained, status, created_at, started_at, stopped_at, concluded_at, cohort_version")


def _experiment(row: tuple[Any, ...], arms: tuple[Arm, ...]) -> Experiment:
    return Experiment(
        key=row[0], name=row[1], primary_metric=row[2], arms=arms, hypothesis=row[3], owner=row[4],
        target_cohort=row[5], guardrail_metrics=tuple(json.loads(row[6])), layer=row[7], coverage=row[8],
        hash_version=row[9], value_per_retained=row[10], status=row[11], created_at=row[12], started_at=row[13],
        stopped_at=row[14], concluded_at=row[15], cohort_version=row[16],
    )


def _arms_by_experiment(database: sqlite_utils.Database, keys: list[str] | None) -> dict[str, list[Arm]]:
    where, params = ("", ()) if keys is None else (f"WHERE experiment_key IN ({', '.join('?' * len(keys))})", tuple(keys))
    arms: dict[str, list[Arm]] = {}
    for key, arm_key, treatment, weight, control in database.execute(
        f"SELECT experiment_key, arm_key, treatment_key, weight, is_control FROM arms {where} "
        "ORDER BY experiment_key, position", params,
    ):
        arms.setdefault(key, []).append(Arm(arm_key, treatment, weight, bool(control)))
    return arms


def get_experiment(key: str, db: RegistryLike = None) -> Experiment:
    """Read one experiment with its arms in position order."""
    database = open_registry(db)
    row = database.execute(f"SELECT {_COLUMNS} FROM experiments WHERE key = ?", (key,)).fetchone()
    if row is None:
        known = [r[0] for r in database.execute("SELECT key FROM experiments ORDER BY key")]
        raise unknown_name("experiment", key, known)
    return _experiment(row, tuple(_arms_by_experiment(database, [key]).get(key, [])))


def list_experiments(db: RegistryLike = None, status: Status | None = None) -> list[Experiment]:
    """Every experiment, newest first, optionally only those in one status (two queries, whatever the count)."""
    database = open_registry(db)
    rows = database.execute(
        f"SELECT {_COLUMNS} FROM experiments WHERE (? IS NULL OR status = ?) ORDER BY created_at DESC, key",
        (status, status),
    ).fetchall()
    arms = _arms_by_experiment(database, None)
    return [_experiment(row, tuple(arms.get(row[0], []))) for row in rows]


def update_draft(key: str, db: RegistryLike = None, *, actor: str | None = None, **changes: Any) -> Experiment:
    """Edit a draft: any definition field (name, arms, primary_metric, guardrail_metrics, target_cohort, ...).

    Validated as a new definition would be; audited with the fields that changed. Only drafts can change.
    """
    allowed = {"name", "hypothesis", "owner", "target_cohort", "primary_metric", "guardrail_metrics", "layer",
               "coverage", "hash_version", "value_per_retained", "arms"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ExperimentError(f"cannot change {', '.join(unknown)}; editable fields: {', '.join(sorted(allowed))}")
    database = open_registry(db)
    with transaction(database) as conn:
        current = get_experiment(key, database)
        if current.status != "draft":
            raise ExperimentError(f"experiment '{key}' is {current.status}; only drafts can be edited")
        updated = replace(current, **{k: v for k, v in changes.items() if v is not None})
        known = {row[0] for row in conn.execute("SELECT key FROM treatments")}
        check_references(updated, conn)
        validate_definition(updated, known)
        conn.execute(
            "UPDATE experiments SET name = ?, hypothesis = ?, owner = ?, target_cohort = ?, primary_metric = ?, "
            "guardrail_metrics = ?, layer = ?, coverage = ?, hash_version = ?, value_per_retained = ? WHERE key = ?",
            (updated.name, updated.hypothesis, updated.owner, updated.target_cohort, updated.primary_metric,
             json.dumps(list(updated.guardrail_metrics)), updated.layer, updated.coverage, updated.hash_version,
             updated.value_per_retained, key),
        )
        if updated.arms != current.arms:
            conn.execute("DELETE FROM arms WHERE experiment_key = ?", (key,))
            _insert_arms(conn, updated)
        before, after = current.to_dict(), updated.to_dict()
        diff = {field: {"from": before[field], "to": after[field]} for field in after if before[field] != after[field]}
        audit(conn, "edit", "experiment", key, json.dumps(diff), actor)
    return get_experiment(key, database)


def delete_draft(key: str, db: RegistryLike = None, actor: str | None = None) -> None:
    """Delete a draft and its arms (audited with its definition); experiments that started are kept for good."""
    database = open_registry(db)
    with transaction(database) as conn:
        current = get_experiment(key, database)
        if current.status != "draft":
            raise ExperimentError(f"experiment '{key}' is {current.status}; only drafts can be deleted "
                                  "(a started experiment's assignments and outcomes are evidence)")
        conn.execute("DELETE FROM arms WHERE experiment_key = ?", (key,))
        conn.execute("DELETE FROM experiments WHERE key = ?", (key,))
        audit(conn, "delete", "experiment", key, json.dumps(current.to_dict()), actor)
