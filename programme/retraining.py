"""A cycle's churn model, retrained when it has grown old: once the events hold `retrain_days` more days of labelled
data than the model learned from, the cycle fits a new model (`<programme>-churn-c<cycle>`) as of the newest date
whose churn horizon has passed, stores it beside the old one, and makes it the programme's model (a new, audited
programme version). A cycle interrupted after the fit adopts the stored model instead of fitting again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from churn.choices import DEFAULT_TARGET_PRECISION
from churn.pipeline import train
from experiments.db import open_registry
from experiments.errors import ExperimentError
from experiments.models import load_model_record
from experiments.programmes import Programme, save_programme
from warehouse.engine import Warehouse


@dataclass(frozen=True)
class ChurnModelChoice:
    """The churn model a cycle flags with; when it was retrained, the one it replaced and its validation."""

    name: str
    trained_as_of: str
    retrained_from: str | None = None
    roc_auc: float | None = None
    sha256: str | None = None  # of the model file: which version of the model flagged

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"churn_model": self.name, "churn_model_trained_as_of": self.trained_as_of,
                                  "churn_model_sha256": self.sha256}
        if self.retrained_from:
            out.update(retrained_from=self.retrained_from, retrained_roc_auc=self.roc_auc)
        return out


def freshest_training_date(as_of: pd.Timestamp, horizon_days: int) -> pd.Timestamp:
    """The newest date a churn model can be trained as of on `as_of`: its labels need the horizon after it."""
    return as_of - pd.Timedelta(days=int(horizon_days))


def needs_retraining(trained_as_of: str, as_of: pd.Timestamp, programme: Programme) -> bool:
    """True when the events could label at least `retrain_days` more days than the model learned from."""
    if programme.retrain_days <= 0:
        return False
    gap = freshest_training_date(as_of, programme.horizon_days) - pd.Timestamp(trained_as_of)
    return gap >= pd.Timedelta(days=int(programme.retrain_days))


def churn_model_for_cycle(db: str | os.PathLike[str] | None, programme: Programme, number: int, as_of: pd.Timestamp,
                          wh: Warehouse, *, progress: bool = False) -> tuple[Programme, ChurnModelChoice]:
    """The programme (with its model setting updated when a new model was fitted) and the model this cycle uses."""
    if not programme.churn_model:
        raise ExperimentError(f"programme '{programme.name}' has no churn_model to flag users with; set it with "
                              "`programme edit --churn-model NAME`")
    current = load_model_record(programme.churn_model, db)
    trained = str(current.metrics.get("trained_as_of", ""))
    name = f"{programme.name}-churn-c{number}"
    if current.name == name:  # this cycle retrained before an interruption: name the model it replaced
        return programme, ChurnModelChoice(name, trained, _previous_model(db, programme.name, name),
                                           sha256=current.sha256)
    if not trained or not needs_retraining(trained, as_of, programme):
        return programme, ChurnModelChoice(current.name, trained, sha256=current.sha256)
    train_date = freshest_training_date(as_of, programme.horizon_days)
    database = open_registry(db)
    if database.execute("SELECT 1 FROM models WHERE name = ? AND kind = 'churn'", (name,)).fetchone() is None:
        precision = current.metrics.get("validation", {}).get("target_precision")  # flag as the old model did
        train(wh, train_date, programme.horizon_days, name, db, model_dir=Path(current.path).parent, progress=progress,
              target_precision=float(precision) if precision else DEFAULT_TARGET_PRECISION)
    fitted = load_model_record(name, db)
    updated = save_programme(db, replace(programme, churn_model=name), actor=f"cycle {number}", new=False)
    auc = fitted.metrics.get("validation", {}).get("roc_auc")
    return updated, ChurnModelChoice(name, str(fitted.metrics.get("trained_as_of", train_date.date())),
                                     retrained_from=current.name, roc_auc=None if auc is None else float(auc),
                                     sha256=fitted.sha256)


def _previous_model(db: str | os.PathLike[str] | None, programme: str, name: str) -> str | None:
    """The churn model of the newest programme version that flagged with another model than `name`."""
    import json

    for (settings,) in open_registry(db).execute(
            "SELECT settings FROM programme_versions WHERE name = ? ORDER BY version DESC", (programme,)):
        model = json.loads(settings).get("churn_model")
        if model != name:
            return model
    return None
