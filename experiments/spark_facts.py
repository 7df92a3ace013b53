"""The registry's fact SQL on Spark, over the fact mirror's Parquet files: `analyze --engine spark` reduces the
imported outcomes where they live (files a cluster can read) instead of shipping rows through the driver."""
from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa

from warehouse.dialect import Dialect

DIALECT = Dialect("spark")
_SPARK_TYPES = {pa.string(): "string", pa.int64(): "bigint", pa.float64(): "double"}


def spark_sql(sql: str) -> str:
    """SQLite's TOTAL(x) (a float sum, 0 over no rows) spelled for Spark; the rest of the fact SQL is standard."""
    out, start = [], 0
    for match in re.finditer(r"\bTOTAL\(", sql):
        if match.start() < start:
            continue
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        inner = spark_sql(sql[match.end():end - 1])
        out += [sql[start:match.start()], f"COALESCE(SUM(CAST(({inner}) AS DOUBLE)), CAST(0 AS DOUBLE))"]
        start = end
    return "".join(out) + sql[start:]


class SparkFacts:
    """A fact source (experiments/fact_source.py) whose tables are Spark views over the mirror's Parquet files."""

    engine = "spark"

    def __init__(self, spark: Any, files: Mapping[str, list[str]], design: Mapping[str, pa.Table]) -> None:
        self.spark = spark
        from experiments.fact_copy import VIEWS, mirror_view_sql

        for table, paths in files.items():
            spark.read.parquet(*paths).createOrReplaceTempView(table)
        for view in VIEWS:
            spark.sql(mirror_view_sql(view)).createOrReplaceTempView(view)
        for table, frame in design.items():
            schema = ", ".join(f"{f.name} {_SPARK_TYPES[f.type]}" for f in frame.schema)
            spark.createDataFrame(frame.to_pylist(), schema=schema).createOrReplaceTempView(table)

    def rows(self, sql: str, params: Mapping[str, object] | None = None) -> list[tuple[Any, ...]]:
        rows = self.spark.sql(DIALECT.bind(spark_sql(sql), params)).collect()
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]  # 0.0 is a DECIMAL
