"""Flagging a cohort, the same at every door: score with a stored churn model, pick the users at risk, write them.

`winback churn flag`, the Overview page's "Flag a cohort" form, the REST API and programme cycles call
`flag_cohort`, so a cohort flagged anywhere is the same rows in the registry.
"""
from __future__ import annotations

import os

import pandas as pd

from churn.clv import ClvSettings
from churn.flagging import FlagSpec
from churn.pipeline import DEFAULT_CLV, FlagResult, flag
from churn.segments import TierRule
from experiments.cohorts import write_cohort
from experiments.identity import check_name
from warehouse.engine import Warehouse

PathLike = str | os.PathLike[str]


def flag_cohort(model: str, as_of: str | pd.Timestamp, cohort_key: str, db: PathLike | None = None, *,
                warehouse: PathLike | Warehouse | None = None, spec: FlagSpec | None = None,
                tiers: TierRule | None = None, clv: ClvSettings | None = DEFAULT_CLV,
                progress: bool = False) -> FlagResult:
    """Flag the users at risk as of `as_of` with stored model `model` and write them as a new version of
    `cohort_key` (the name is checked before any scoring)."""
    check_name(cohort_key, "cohort name")
    result = flag(model, None, as_of, db, warehouse=warehouse, spec=spec, tiers=tiers, clv=clv, progress=progress)
    write_cohort(result.users, cohort_key, db)
    return result
