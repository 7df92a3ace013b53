"""Experiment definitions: an experiment (its key is the hash seed) and its arms, created as drafts."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Literal

from experiments.db import audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError

Status = Literal["draft", "running", "stopped", "concluded"]


@dataclass(frozen=True)
class Arm:
    """One arm: which treatment it gives (None for a pure control), its traffic weight, control or not."""

    key: str
    treatment: str | None
    weight: float
    is_control: bool = False

    def to_dict(self) -> dict:
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
    extra: dict = field(default_factory=dict)

    @property
    def weights(self) -> list[float]:
        return [arm.weight for arm in self.arms]

    @property
    def control(self) -> Arm:
        return next(arm for arm in self.arms if arm.is_control)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("extra")
        return data


def validate_definition(experiment: Experiment, known_treatments: set[str]) -> None:
    """Reject a definition that could not run: bad arms, weights, coverage or unknown treatments."""
    key = experiment.key
    if not key.strip():
        raise ExperimentError("an experiment needs a non-empty key (it is the hash seed)")
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


def create_experiment(experiment: Experiment, db: str | os.PathLike[str] | None = None) -> Experiment:
    """Store a new draft experiment and its arms in one transaction (audited)."""
    database = open_registry(db)
    with transaction(database) as conn:
        known = {row[0] for row in conn.execute("SELECT key FROM treatments")}
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
        conn.executemany(
            "INSERT INTO arms (experiment_key, arm_key, position, treatment_key, weight, is_control) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(experiment.key, arm.key, i, arm.treatment, arm.weight, int(arm.is_control))
             for i, arm in enumerate(experiment.arms)],
        )
        audit(conn, "create", "experiment", experiment.key, json.dumps(experiment.to_dict()))
    return get_experiment(experiment.key, db)


def get_experiment(key: str, db: str | os.PathLike[str] | None = None) -> Experiment:
    """Read one experiment with its arms in position order."""
    database = open_registry(db)
    row = database.execute(
        "SELECT key, name, primary_metric, hypothesis, owner, target_cohort, guardrail_metrics, layer, coverage, "
        "hash_version, value_per_retained, status, created_at, started_at, stopped_at, concluded_at "
        "FROM experiments WHERE key = ?",
        (key,),
    ).fetchone()
    if row is None:
        known = [r[0] for r in database.execute("SELECT key FROM experiments ORDER BY key")]
        raise ExperimentError(f"unknown experiment '{key}'; known experiments: {', '.join(known) or 'none'}")
    arms = tuple(
        Arm(arm_key, treatment, weight, bool(control))
        for arm_key, treatment, weight, control in database.execute(
            "SELECT arm_key, treatment_key, weight, is_control FROM arms WHERE experiment_key = ? ORDER BY position",
            (key,),
        )
    )
    return Experiment(
        key=row[0], name=row[1], primary_metric=row[2], arms=arms, hypothesis=row[3], owner=row[4],
        target_cohort=row[5], guardrail_metrics=tuple(json.loads(row[6])), layer=row[7], coverage=row[8],
        hash_version=row[9], value_per_retained=row[10], status=row[11], created_at=row[12], started_at=row[13],
        stopped_at=row[14], concluded_at=row[15],
    )


def list_experiments(db: str | os.PathLike[str] | None = None, status: Status | None = None) -> list[Experiment]:
    """Every experiment, newest first, optionally only those in one status."""
    database = open_registry(db)
    keys = [
        r[0]
        for r in database.execute(
            "SELECT key FROM experiments WHERE (? IS NULL OR status = ?) ORDER BY created_at DESC, key",
            (status, status),
        )
    ]
    return [get_experiment(k, db) for k in keys]
