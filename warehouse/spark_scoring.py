"""Batch scoring inside Spark: a fitted model broadcast once, applied batch by batch with `mapInPandas`.

The per-user rows never reach the driver; callers write the result as Parquet and bring home only
aggregates. The scoring function must be importable on the executors (install Winback there too).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd

DataFrame = Any  # a pyspark.sql.DataFrame; pyspark itself is imported only by warehouse/spark_engine.py


def map_with_model(frame: DataFrame, model: Any, predict: Callable[[Any, pd.DataFrame], pd.DataFrame],
                   schema: str) -> DataFrame:
    """`predict(model, batch)` over every Arrow batch of `frame`, the model shipped once per executor."""
    shared = frame.sparkSession.sparkContext.broadcast(model)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        fitted = shared.value
        for batch in batches:
            if len(batch):
                yield predict(fitted, batch)

    return frame.mapInPandas(run, schema)
