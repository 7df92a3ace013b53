"""Metadata of fitted models (churn and uplift) in the registry's `models` table.

The fitted objects themselves live on disk (joblib); this module only records and finds them.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from experiments.db import RegistryLike, audit, open_registry, registry, transaction, utc_now
from experiments.errors import ExperimentError
from experiments.identity import check_name

ModelKind = Literal["churn", "uplift"]


@dataclass(frozen=True)
class ModelRecord:
    """One stored model: what it is, what it was fitted on, how well it did, where it lies."""

    name: str
    kind: ModelKind
    learner: str
    features: list[str]
    fingerprint: str
    metrics: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    experiment_key: str | None = None
    created_at: str = ""
    sha256: str | None = None  # of the model file, recorded at save and checked before it is loaded

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a frame's columns and values, to tell which data a model saw."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def check_model_name(name: str, kind: ModelKind, db: RegistryLike = None) -> str:
    """Refuse, before any work, a name that breaks the name rule or belongs to a model of the other kind."""
    check_name(name, "model name")
    with registry(db) as database:
        row = database.execute("SELECT kind FROM models WHERE name = ?", (name,)).fetchone()
    if row is not None and row[0] != kind:
        raise ExperimentError(f"model name '{name}' is taken by a {row[0]} model; pick another name for this {kind} model")
    return name


def save_model_record(record: ModelRecord, db: RegistryLike = None) -> ModelRecord:
    """Insert or replace the metadata of a model (re-fitting under the same name and kind replaces it)."""
    check_name(record.name, "model name")
    database = open_registry(db)
    stored = ModelRecord(**{**record.to_dict(), "created_at": record.created_at or utc_now()})
    row = stored.to_dict()
    row["features"] = json.dumps(row["features"])
    row["metrics"] = json.dumps(row["metrics"], default=float)
    with transaction(database) as conn:
        taken = conn.execute("SELECT kind FROM models WHERE name = ?", (stored.name,)).fetchone()
        if taken is not None and taken[0] != stored.kind:
            raise ExperimentError(f"model name '{stored.name}' is taken by a {taken[0]} model; "
                                  f"pick another name for this {stored.kind} model")
        conn.execute(
            "INSERT OR REPLACE INTO models (name, kind, experiment_key, learner, features, fingerprint, "
            "metrics, path, created_at, sha256) VALUES (:name, :kind, :experiment_key, :learner, :features, "
            ":fingerprint, :metrics, :path, :created_at, :sha256)",
            row,
        )
        audit(conn, "save", "model", stored.name,
              json.dumps({"kind": stored.kind, "learner": stored.learner, "path": stored.path, "sha256": stored.sha256}))
    return stored


def load_model_record(name: str, db: RegistryLike = None) -> ModelRecord:
    """The metadata of a stored model; a clear error names the models that do exist."""
    database = open_registry(db)
    row = database.execute(
        "SELECT name, kind, learner, features, fingerprint, metrics, path, experiment_key, created_at, sha256 "
        "FROM models WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        known = [r[0] for r in database.execute("SELECT name FROM models ORDER BY name")]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExperimentError(
            f"no model named '{name}' in the registry{hint}; known models: {', '.join(known) or 'none'}"
        )
    return ModelRecord(
        name=row[0], kind=row[1], learner=row[2], features=json.loads(row[3]), fingerprint=row[4],
        metrics=json.loads(row[5]), path=row[6], experiment_key=row[7], created_at=row[8], sha256=row[9],
    )


def list_model_records(db: RegistryLike = None, kind: ModelKind | None = None) -> list[ModelRecord]:
    """Every stored model, newest first, optionally of one kind."""
    database = open_registry(db)
    names = [
        r[0]
        for r in database.execute(
            "SELECT name FROM models WHERE (? IS NULL OR kind = ?) ORDER BY created_at DESC", (kind, kind)
        )
    ]
    return [load_model_record(n, db) for n in names]
