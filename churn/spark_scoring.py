"""Churn risk, stage, tier and reason for every user, computed inside Spark (issue 14).

The features come from the same SQL as on DuckDB (rendered for Spark), the fitted model is broadcast and
applied with `mapInPandas`, and the scores are written as Parquet by the executors; the result frame is
lazy, so nothing per user reaches the driver unless the caller asks.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.features import features_query, parse_as_of, tidy_features
from churn.model import ChurnModel
from churn.segments import TierRule, segment
from warehouse.spark_scoring import map_with_model

if TYPE_CHECKING:
    from warehouse.spark_engine import SparkWarehouse

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py

SCORE_SCHEMA = "user_id string, risk double, stage string, tier string, reason string"


# Tiers by the fixed monthly amount: a rule of each row alone. The shop-wide rules (top share by spend or
# by customer value) need every user at once, which a batch does not see; they are not computed in Spark.
ROW_WISE_TIERS = TierRule(basis="monthly")


def _score_batch(model: ChurnModel, batch: pd.DataFrame, tiers: TierRule = ROW_WISE_TIERS) -> pd.DataFrame:
    """One Arrow batch of feature rows → user_id, risk, stage, tier, reason (as `churn.pipeline.score`)."""
    features = tidy_features(batch)
    out = pd.DataFrame({"user_id": features.index.astype("str"), "risk": model.predict_risk(features)})
    segments = segment(features, model.rules_, tiers).reset_index(drop=True)
    out = pd.concat([out, segments], axis=1)
    return out[["user_id", "risk", "stage", "tier", "reason"]].astype(
        {"user_id": object, "stage": object, "tier": object, "reason": object})


def score_in_spark(model: ChurnModel, warehouse: SparkWarehouse, as_of: str | pd.Timestamp) -> DataFrame:
    """A lazy Spark DataFrame of scores for every user with history on or before `as_of`."""
    sql, params = features_query(warehouse, as_of)
    return map_with_model(warehouse.sql(sql, params), model, _score_batch, SCORE_SCHEMA)


def write_scores(scores: DataFrame, path: str | os.PathLike[str]) -> None:
    """Write per-user scores as Parquet (a folder of part files, written by the executors)."""
    scores.write.mode("overwrite").parquet(str(path))


@dataclass(frozen=True)
class ScoreSummary:
    """What a Parquet scoring run wrote (only this small summary comes back to the caller)."""

    engine: str
    as_of: str
    n_scored: int
    path: str


def score_to_parquet(model: str, as_of: str | pd.Timestamp, path: str | os.PathLike[str], *, engine: str = "duckdb",
                     warehouse=None, db=None, events=None) -> ScoreSummary:
    """Churn scores of every user as Parquet: DuckDB scores locally, Spark inside the cluster.

    Both engines tier by the fixed monthly amount and skip customer value (see ROW_WISE_TIERS), so their
    files agree; `winback churn score` keeps the shop-wide tiers and customer value.
    """
    from churn.pipeline import load_churn_model, score
    from warehouse.engine import open_engine

    stamp = parse_as_of(as_of)
    wh = open_engine(engine, warehouse=warehouse, db=db, events=events)
    if wh.engine == "spark":
        scores = score_in_spark(load_churn_model(model, db), wh, stamp)
        write_scores(scores, path)
        n = int(wh.spark.read.parquet(str(path)).count())
    else:
        scored = score(model, wh, stamp, db, tiers=ROW_WISE_TIERS, clv=None)  # the same rules as in Spark
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        scored.to_parquet(path, index=False)
        n = len(scored)
    return ScoreSummary(engine=wh.engine, as_of=str(stamp.date()), n_scored=n, path=str(path))
