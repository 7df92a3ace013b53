"""Metadata of fitted models (churn and uplift) in the registry's `models` table.

The fitted objects themselves live on disk (joblib); this module only records and finds them.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Literal

import pandas as pd

from experiments.db import audit, open_registry, transaction, utc_now
from experiments.errors import ExperimentError

ModelKind = Literal["churn", "uplift"]


@dataclass(frozen=True)
class ModelRecord:
    """One stored model: what it is, what it was fitted on, how well it did, where it lies."""

    name: str
    kind: ModelKind
    learner: str
    features: list[str]
    fingerprint: str
    metrics: dict = field(default_factory=dict)
    path: str = ""
    experiment_key: str | None = None
    created_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def data_fingerprint(frame: pd.DataFrame) -> str:
    """A stable SHA-256 of a frame's columns and values, to tell which data a model saw."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def save_model_record(record: ModelRecord, db: str | os.PathLike[str] | None = None) -> ModelRecord:
    """Insert or replace the metadata of a model (re-fitting under the same name replaces it)."""
    database = open_registry(db)
    stored = ModelRecord(**{**record.to_dict(), "created_at": record.created_at or utc_now()})
    row = stored.to_dict()
    row["features"] = json.dumps(row["features"])
    row["metrics"] = json.dumps(row["metrics"], default=float)
    with transaction(database) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO models (name, kind, experiment_key, learner, features, fingerprint, "
            "metrics, path, created_at) VALUES (:name, :kind, :experiment_key, :learner, :features, "
            ":fingerprint, :metrics, :path, :created_at)",
            row,
        )
        audit(conn, "save", "model", stored.name, json.dumps({"kind": stored.kind, "learner": stored.learner}))
    return stored


def load_model_record(name: str, db: str | os.PathLike[str] | None = None) -> ModelRecord:
    """The metadata of a stored model; a clear error names the models that do exist."""
    database = open_registry(db)
    row = database.execute(
        "SELECT name, kind, learner, features, fingerprint, metrics, path, experiment_key, created_at "
        "FROM models WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        known = [r[0] for r in database.execute("SELECT name FROM models ORDER BY name")]
        raise ExperimentError(
            f"no model named '{name}' in the registry; known models: {', '.join(known) or 'none'}"
        )
    return ModelRecord(
        name=row[0], kind=row[1], learner=row[2], features=json.loads(row[3]), fingerprint=row[4],
        metrics=json.loads(row[5]), path=row[6], experiment_key=row[7], created_at=row[8],
    )


def list_model_records(db: str | os.PathLike[str] | None = None, kind: ModelKind | None = None) -> list[ModelRecord]:
    """Every stored model, newest first, optionally of one kind."""
    database = open_registry(db)
    names = [
        r[0]
        for r in database.execute(
            "SELECT name FROM models WHERE (? IS NULL OR kind = ?) ORDER BY created_at DESC", (kind, kind)
        )
    ]
    return [load_model_record(n, db) for n in names]
