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


# Below this size a value's part to 6 decimals goes into an exact DECIMAL sum (100M rows of it stay far below DECIMAL's
# 1e32); what is left (under 5e-7 a row) and larger values are added as doubles.
_EXACT_BELOW = "1e20"


def compensated_sum(value: str) -> str:
    """A float sum accurate to about one unit in the last place, as SQLite's TOTAL and DuckDB's fsum are: Spark's
    SUM of doubles adds in partition order, and over 100M rows that moved effects in their 12th digit. Each value
    is split into its part to 6 decimals, summed exactly as DECIMAL(38, 6), and the tiny rest, summed as doubles."""
    v = f"CAST(({value}) AS DOUBLE)"
    exact = f"CASE WHEN ABS({v}) < {_EXACT_BELOW} THEN CAST({v} AS DECIMAL(38, 6)) END"
    rest = f"CASE WHEN ABS({v}) < {_EXACT_BELOW} THEN {v} - CAST(CAST({v} AS DECIMAL(38, 6)) AS DOUBLE) ELSE {v} END"
    return (f"(COALESCE(CAST(SUM({exact}) AS DOUBLE), CAST(0 AS DOUBLE)) + "
            f"COALESCE(SUM({rest}), CAST(0 AS DOUBLE)))")


def spark_sql(sql: str) -> str:
    """SQLite's TOTAL(x) (a float sum, 0 over no rows) spelled for Spark as a compensated sum; the rest of the fact
    SQL is standard."""
    out, start = [], 0
    for match in re.finditer(r"\bTOTAL\(", sql):
        if match.start() < start:
            continue
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        inner = spark_sql(sql[match.end():end - 1])
        out += [sql[start:match.start()], compensated_sum(inner)]
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
