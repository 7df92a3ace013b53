"""Scores for allocation: calibrated uplift per treatment and, for calibrated models, each value's standard error."""
from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from experiments.models import ModelRecord
from uplift.errors import UpliftError
from uplift.plan_inputs import CLV_COLUMN
from uplift.planning import SE_PREFIX
from uplift.store import score_uplift


def score_users(model, record: ModelRecord, data: pd.DataFrame, *, id_col: str, chunk_size: int = 500_000,
                progress: bool = True) -> pd.DataFrame:
    """Id, one uplift column per treatment, then `se:<treatment>` columns when the model is calibrated."""
    if not hasattr(model, "predict_with_se"):
        return score_uplift(model, record, data, id_col=id_col, chunk_size=chunk_size, progress=progress)
    missing = [c for c in record.features if c not in data.columns]
    if missing:
        raise UpliftError(f"data lacks column(s) {_some(missing)} that model '{record.name}' was fitted on; "
                          f"expected features: {_some(record.features)}")
    if id_col not in data.columns:
        raise UpliftError(f"data lacks the id column '{id_col}'")
    values, errors = [], []
    starts = np.arange(0, len(data), chunk_size)
    for start in tqdm(starts, desc="scoring", unit="chunk", disable=not progress or len(starts) < 2):
        value, se = model.predict_with_se(data.iloc[start : start + chunk_size][record.features])
        values.append(value)
        errors.append(se.add_prefix(SE_PREFIX))
    body = pd.concat([pd.concat(values), pd.concat(errors)], axis=1).reset_index(drop=True)
    return pd.concat([data[[id_col]].reset_index(drop=True), body], axis=1)


def _some(names: list[str], shown: int = 10) -> str:
    """The first `shown` names and how many there are in all: a churn-features model has ~90."""
    return ", ".join(names[:shown]) + (f", ... ({len(names)} in all)" if len(names) > shown else "")


def attach_clv(scores: pd.DataFrame, values: pd.DataFrame, *, id_col: str, source: str) -> pd.DataFrame:
    """The scores with each user's `clv` from `churn score`'s output (`user_id` and `clv` columns), so that
    `allocate --value-per-retained clv` can weigh users by their value; every scored user must have one."""
    key = "user_id"  # the id column `churn score` writes
    missing = [c for c in (key, CLV_COLUMN) if c not in values.columns]
    if missing:
        raise UpliftError(f"{source}: no column {' or '.join(missing)}; expected the output of `winback churn score` "
                          f"(user_id, ..., clv)")
    if values[key].duplicated().any():
        raise UpliftError(f"{source}: user {values[key][values[key].duplicated()].iloc[0]!r} appears twice")
    clv = pd.to_numeric(values[CLV_COLUMN], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(clv.to_numpy(float)) | (clv.to_numpy(float) < 0))
    if len(bad):
        raise UpliftError(f"{source}: row {int(bad[0]) + 1}, column {CLV_COLUMN}: expected a non-negative number, "
                          f"got {values[CLV_COLUMN].iloc[int(bad[0])]!r}")
    by_user = pd.Series(clv.to_numpy(float), index=values[key].astype(str))
    found = scores[id_col].astype(str).map(by_user)
    absent = scores[id_col][found.isna()]
    if len(absent):
        raise UpliftError(f"{source}: {len(absent):,} scored user(s) have no clv, e.g. {absent.iloc[0]!r}; score "
                          f"the same users with `winback churn score`")
    return scores.assign(**{CLV_COLUMN: found.to_numpy(float)})

