"""The treatment catalog and metric definitions: what can be given, at what unit cost, and what is measured."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from experiments.choices import METRIC_KINDS, TREATMENT_KINDS, MetricKind, TreatmentKind
from experiments.db import RegistryLike, audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import check_id
from experiments.lookup import unknown_name


@dataclass(frozen=True)
class Treatment:
    """A retention treatment a user can receive, with what one delivery costs."""

    key: str
    name: str
    kind: TreatmentKind
    unit_cost: float
    capacity: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Metric:
    """An outcome metric: binary (a proportion) or continuous, and which direction is good."""

    key: str
    kind: MetricKind
    higher_is_better: bool = True
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_treatment(treatment: Treatment) -> None:
    """Reject a treatment the catalog cannot hold, saying which field is wrong."""
    if not treatment.key.strip():
        raise ExperimentError("a treatment needs a non-empty key")
    check_id(treatment.key, "treatment key")
    if treatment.kind not in TREATMENT_KINDS:
        raise ExperimentError(
            f"treatment '{treatment.key}': unknown kind '{treatment.kind}'; use one of {', '.join(TREATMENT_KINDS)}"
        )
    if not math.isfinite(treatment.unit_cost) or treatment.unit_cost < 0:
        raise ExperimentError(f"treatment '{treatment.key}': unit cost must be a number >= 0, got {treatment.unit_cost}")
    if treatment.capacity is not None and treatment.capacity < 0:
        raise ExperimentError(f"treatment '{treatment.key}': capacity must be >= 0, got {treatment.capacity}")


def save_treatment(treatment: Treatment, db: RegistryLike = None, actor: str | None = None) -> Treatment:
    """Add a new treatment to the catalog (audited); an existing key is refused: change it with `update_treatment`."""
    validate_treatment(treatment)
    database = open_registry(db)
    with transaction(database) as conn:
        if conn.execute("SELECT 1 FROM treatments WHERE key = ?", (treatment.key,)).fetchone():
            raise ExperimentError(
                f"treatment '{treatment.key}' already exists; change it with `winback treatment update "
                f"{treatment.key}` (running experiments keep the unit cost they started with)"
            )
        conn.execute(
            "INSERT INTO treatments (key, name, kind, unit_cost, capacity, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (treatment.key, treatment.name, treatment.kind, treatment.unit_cost, treatment.capacity, utc_now()),
        )
        audit(conn, "create", "treatment", treatment.key, json.dumps(treatment.to_dict()), actor)
    return treatment


def update_treatment(key: str, db: RegistryLike = None, *, name: str | None = None, kind: str | None = None,
                     unit_cost: float | None = None, capacity: int | None = None,
                     actor: str | None = None) -> Treatment:
    """Change a treatment's name, kind, unit cost or capacity (audited with the old and new values).

    Experiments that have started keep the unit cost frozen in their arms when they started.
    """
    database = open_registry(db)
    with transaction(database) as conn:
        row = conn.execute("SELECT key, name, kind, unit_cost, capacity FROM treatments WHERE key = ?",
                           (key,)).fetchone()
        if row is None:
            raise unknown_name("treatment", key, [r[0] for r in conn.execute("SELECT key FROM treatments")])
        old = Treatment(*row)
        new = Treatment(key, old.name if name is None else name, old.kind if kind is None else kind,  # type: ignore[arg-type]
                        old.unit_cost if unit_cost is None else unit_cost,
                        old.capacity if capacity is None else capacity)
        validate_treatment(new)
        conn.execute("UPDATE treatments SET name = ?, kind = ?, unit_cost = ?, capacity = ? WHERE key = ?",
                     (new.name, new.kind, new.unit_cost, new.capacity, key))
        audit(conn, "update", "treatment", key, json.dumps({"from": old.to_dict(), "to": new.to_dict()}), actor)
    return new


def list_treatments(db: RegistryLike = None) -> list[Treatment]:
    """Every treatment in the catalog, by key."""
    database = open_registry(db)
    rows = database.execute("SELECT key, name, kind, unit_cost, capacity FROM treatments ORDER BY key").fetchall()
    return [Treatment(*row) for row in rows]


def get_treatment(key: str, db: RegistryLike = None) -> Treatment:
    """One treatment; a clear error lists the known keys when it does not exist."""
    known = {t.key: t for t in list_treatments(db)}
    if key not in known:
        raise unknown_name("treatment", key, known)
    return known[key]


def save_metric(metric: Metric, db: RegistryLike = None) -> Metric:
    """Declare a metric's kind and direction (used by analysis and guardrails)."""
    if metric.kind not in METRIC_KINDS:
        raise ExperimentError(f"metric '{metric.key}': kind must be binary or continuous, got '{metric.kind}'")
    check_id(metric.key, "metric key")
    database = open_registry(db)
    with transaction(database) as conn:
        conn.execute(
            "INSERT INTO metrics (key, kind, higher_is_better, description) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET kind = excluded.kind, higher_is_better = excluded.higher_is_better, "
            "description = excluded.description",
            (metric.key, metric.kind, int(metric.higher_is_better), metric.description),
        )
        audit(conn, "save", "metric", metric.key, json.dumps(metric.to_dict()))
    return metric


def list_metrics(db: RegistryLike = None) -> list[Metric]:
    """Every declared metric, by key."""
    database = open_registry(db)
    rows = database.execute("SELECT key, kind, higher_is_better, description FROM metrics ORDER BY key").fetchall()
    return [Metric(key, kind, bool(hib), desc) for key, kind, hib, desc in rows]
