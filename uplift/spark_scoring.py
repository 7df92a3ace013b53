"""Uplift scores inside Spark: the fitted model broadcast once and applied with `mapInPandas` (issue 14).

The per-user scores stay in the cluster (write them as Parquet); the columns are the id and one
predicted uplift per treatment, exactly as `uplift.store.score_uplift` returns them locally.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd

from uplift.errors import UpliftError
from uplift.learners import UpliftModel
from warehouse.spark_scoring import map_with_model

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py


def _predict(model: UpliftModel, batch: pd.DataFrame, *, features: list[str], id_col: str) -> pd.DataFrame:
    """One Arrow batch → id and one uplift column per treatment."""
    scores = model.predict(batch[features]).reset_index(drop=True)
    ids = batch[[id_col]].astype(str).astype(object).reset_index(drop=True)
    return pd.concat([ids, scores.astype(float)], axis=1)


def score_uplift_in_spark(model: UpliftModel, features: list[str], frame: DataFrame, *, id_col: str) -> DataFrame:
    """A lazy Spark DataFrame of per-user uplift for every treatment the model knows."""
    missing = [c for c in [id_col, *features] if c not in frame.columns]
    if missing:
        raise UpliftError(f"the Spark data lacks column(s) {', '.join(missing)} the model needs")
    schema = ", ".join([f"`{id_col}` string", *(f"`{t}` double" for t in model.treatments_)])
    return map_with_model(frame, model, partial(_predict, features=list(features), id_col=id_col), schema)
