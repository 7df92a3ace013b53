"""Scores for allocation: calibrated uplift per treatment and, for calibrated models, each value's standard error."""
from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from experiments.models import ModelRecord
from uplift.errors import UpliftError
from uplift.planning import SE_PREFIX
from uplift.store import score_uplift


def score_users(model, record: ModelRecord, data: pd.DataFrame, *, id_col: str, chunk_size: int = 500_000,
                progress: bool = True) -> pd.DataFrame:
    """Id, one uplift column per treatment, then `se:<treatment>` columns when the model is calibrated."""
    if not hasattr(model, "predict_with_se"):
        return score_uplift(model, record, data, id_col=id_col, chunk_size=chunk_size, progress=progress)
    missing = [c for c in record.features if c not in data.columns]
    if missing:
        raise UpliftError(f"data lacks column(s) {', '.join(missing)} that model '{record.name}' was fitted on; "
                          f"expected features: {', '.join(record.features)}")
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
