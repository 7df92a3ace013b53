"""experiments.spark_facts.spark_sql: SQLite's TOTAL() spelled for Spark, nested parentheses kept whole."""
from __future__ import annotations

from experiments.spark_facts import spark_sql


def test_total_becomes_a_float_sum_with_zero_over_no_rows() -> None:
    sql = "SELECT TOTAL(u.post NOT IN (0.0, 1.0) OR u.pre NOT IN (0.0, 1.0)), TOTAL(TOTAL(x) * 2), subtotal(y) FROM t"
    assert spark_sql(sql) == (
        "SELECT COALESCE(SUM(CAST((u.post NOT IN (0.0, 1.0) OR u.pre NOT IN (0.0, 1.0)) AS DOUBLE)), CAST(0 AS DOUBLE)), "
        "COALESCE(SUM(CAST((COALESCE(SUM(CAST((x) AS DOUBLE)), CAST(0 AS DOUBLE)) * 2) AS DOUBLE)), CAST(0 AS DOUBLE)), "
        "subtotal(y) FROM t")
