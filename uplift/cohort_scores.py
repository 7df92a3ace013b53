"""Uplift scores for a flagged cohort from a stored model, with no file in between: what the Budget page plans on.

The cohort's users get their churn features from the warehouse as of the cohort's own date (the day it was
flagged; the events' last day when it has none), then the stored model scores them
(`uplift.scoring.score_users`), exactly as `winback churn features` + `winback uplift score --cohort` would.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from churn.features import compute_features, model_columns
from experiments.cohorts import read_cohort
from uplift.errors import UpliftError
from uplift.scoring import score_users
from uplift.store import load_uplift_model
from warehouse.engine import Warehouse, open_warehouse
from warehouse.events_table import event_time_range


@dataclass(frozen=True)
class CohortScores:
    """One calibrated uplift column per treatment for each cohort user the warehouse knows, and what to know."""

    model: str
    cohort: str
    as_of: str
    scores: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = ()


def score_cohort(model_name: str, cohort_key: str, *, db: str | os.PathLike[str] | None = None,
                 warehouse: str | os.PathLike[str] | Warehouse | None = None) -> CohortScores:
    """Score the newest version of `cohort_key` with the stored uplift model `model_name`."""
    model, record = load_uplift_model(model_name, db)
    if record.kind != "uplift":
        raise UpliftError(f"model '{model_name}' is a {record.kind} model; a plan needs an uplift model")
    cohort = read_cohort(cohort_key, db)
    wh = open_warehouse(warehouse, db)
    as_of_text = next((str(v) for v in cohort["as_of"].dropna().unique()), None)
    if as_of_text is None:
        _, last = event_time_range(wh)
        if last is None:
            raise UpliftError("the warehouse holds no events to compute the cohort's features from; load the "
                              "shop's events first (winback churn load --events FILE)")
        as_of = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    else:
        as_of = pd.Timestamp(as_of_text)
    features = compute_features(wh, as_of)
    features = features[model_columns(features)]
    members = cohort[["user_id"]]
    table = members.merge(features, left_on="user_id", right_index=True, how="inner")
    if table.empty:
        raise UpliftError(f"none of the {len(members):,} users of cohort '{cohort_key}' has events in the "
                          f"warehouse {wh.path} as of {as_of.date()}")
    notes = []
    if len(table) < len(members):
        notes.append(f"{len(members) - len(table):,} of the cohort's {len(members):,} users have no events before "
                     f"{as_of.date()} and are not scored")
    scores = score_users(model, record, table, id_col="user_id")
    return CohortScores(model_name, cohort_key, str(as_of.date()), scores, tuple(notes))
