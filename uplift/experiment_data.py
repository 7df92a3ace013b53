"""An uplift training table built from the registry and the warehouse, with no hand-written SQL or CSV.

The experiment's assignments and primary-metric outcomes come from the registry
(`experiments.plans.experiment_training_rows`); each user's churn features are computed in the
warehouse as of the day the user was assigned (`churn.features.compute_features`), so nothing that
happened after the treatment leaks into the features. Arms are named by their catalog treatment key,
so the model's uplift columns, the costs and the plan all speak in treatment keys.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd
from tqdm.auto import tqdm

from churn.features import compute_features, model_columns
from experiments.plans import TrainingRows, experiment_training_rows
from uplift.errors import UpliftError
from warehouse.engine import Warehouse, open_warehouse
from warehouse.events_table import event_time_range

ARM_COLUMN = "arm"
OUTCOME_COLUMN = "outcome"


@dataclass(frozen=True)
class ExperimentTable:
    """Features, arm (treatment key or control) and outcome per assigned user, with the known arm weights."""

    source: TrainingRows = field(repr=False)
    data: pd.DataFrame = field(repr=False)  # user_id, features..., arm, outcome
    notes: tuple[str, ...] = ()  # what the user should know about the features, e.g. events that end early

    @property
    def control(self) -> str:
        return self.source.control

    @property
    def weights(self) -> dict[str, float]:
        return self.source.weights


def experiment_table(
    key: str,
    *,
    db: str | os.PathLike[str] | None = None,
    warehouse: str | os.PathLike[str] | Warehouse | None = None,
    progress: bool = True,
) -> ExperimentTable:
    """Join an experiment's users and outcomes with their churn features as of each assignment day."""
    rows = experiment_training_rows(db, key)
    wh = open_warehouse(warehouse, db)
    users = rows.rows.copy()
    users["as_of"] = pd.to_datetime(users["assigned_at"], utc=True, format="ISO8601").dt.tz_localize(None).dt.normalize()
    parts = []
    days = sorted(users["as_of"].unique())
    for day in tqdm(days, desc="features as of assignment", unit="day", disable=not progress or len(days) < 2):
        features = compute_features(wh, pd.Timestamp(day))
        features = features[model_columns(features)]
        mine = users[users["as_of"] == day]
        parts.append(mine[["user_id"]].merge(features, left_on="user_id", right_index=True, how="left"))
    table = pd.concat(parts, ignore_index=True)
    missing = int(table.drop(columns="user_id").isna().all(axis=1).sum())
    if missing == len(table):
        raise UpliftError(f"no assigned user of experiment '{key}' has events in the warehouse {wh.path}; "
                          "load the shop's events first (winback churn load --events FILE)")
    out = table.merge(users[["user_id", ARM_COLUMN, OUTCOME_COLUMN]], on="user_id", how="left")
    return ExperimentTable(rows, out, _stale_events_note(wh, days))


def _stale_events_note(wh: Warehouse, days: list) -> tuple[str, ...]:
    """A note when the warehouse's events end days before the users were assigned: their features then count
    the days without data as days of inactivity, and users scored with features as of the events' last day
    (what `churn features` gives for the shop's today) look different to the model than the users it learnt on."""
    _, last = event_time_range(wh)
    if last is None:
        return ()
    last_day = pd.Timestamp(last).normalize()
    first_day = pd.Timestamp(min(days))
    gap = (first_day - last_day).days
    if gap <= 1:
        return ()
    return (f"the warehouse's events end {last_day.date()}, {gap} days before the first assignment day "
            f"{first_day.date()}: the model learns from features as of the assignment days, so score users with "
            f"features as of that day too (`winback churn features --as-of {first_day.date()}`), or load the "
            "events up to the assignment day and fit again",)
